#!/usr/bin/env bash
# Renders every scenario's Mermaid diagram in headless Chromium with the real
# mermaid.js, and fails if any of them does not parse or draws wrongly.
#
#   tools/mermaid-check/run.sh            # check every diagram
#   tools/mermaid-check/run.sh --png DIR  # ... and save each one as DIR/<name>.png
#
# Steps: install Chromium (Debian package) and the pinned npm packages if they
# are missing; run `cargo test --test mermaid`, which writes every diagram to
# <target>/mermaid/<name>.mmd; render them all with check.mjs. Nothing is
# fetched at render time.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
chromium="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$chromium" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "mermaid-check: installing chromium" >&2
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
    else
        echo "mermaid-check: $chromium is missing; install it with: sudo apt-get install chromium" >&2
        exit 2
    fi
fi

if [ ! -d "$here/node_modules/mermaid" ] || [ ! -d "$here/node_modules/playwright-core" ]; then
    echo "mermaid-check: installing the pinned npm packages" >&2
    (cd "$here" && npm ci --no-audit --no-fund)
fi

rm -rf "$target/mermaid"
(cd "$root" && cargo test --quiet --test mermaid)

CHROMIUM="$chromium" node "$here/check.mjs" "$@" "$target/mermaid"
