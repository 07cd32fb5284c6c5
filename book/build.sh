#!/usr/bin/env bash
# Builds the book, and with --check proves it whole:
#
#   book/build.sh           # build into book/book (open book/book/index.html)
#   book/build.sh --check   # ... and fail if a generated file is stale, a
#                           # Rust example does not compile, or a page in
#                           # headless Chromium shows an undrawn diagram
#
# Installs what is missing: mdbook (pinned, with cargo install --locked) and
# the pinned mermaid.js npm package, which is copied next to book.toml so the
# built pages draw diagrams without fetching anything.
set -euo pipefail

MDBOOK_VERSION=0.4.52
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
tools="$root/tools/mermaid-check"

if [ "$(mdbook --version 2>/dev/null)" != "mdbook v$MDBOOK_VERSION" ]; then
    echo "book: installing mdbook $MDBOOK_VERSION" >&2
    cargo install --locked mdbook --version "$MDBOOK_VERSION"
fi
if [ ! -f "$tools/node_modules/mermaid/dist/mermaid.min.js" ]; then
    echo "book: installing the pinned npm packages" >&2
    (cd "$tools" && npm ci --no-audit --no-fund)
fi
cp "$tools/node_modules/mermaid/dist/mermaid.min.js" "$here/mermaid.min.js"

if [ "${1:-}" = "--check" ]; then
    (cd "$root" && cargo run --release --quiet -- book --check)
fi
mdbook build "$here"
if [ "${1:-}" = "--check" ]; then
    mdbook test "$here"
    CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" node "$tools/check-book.mjs" "$here/book"
fi
