//! Mermaid diagrams of every scenario (being written).
