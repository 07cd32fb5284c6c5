//! tshark reads every scenario capture (being written).
