#!/usr/bin/env bash
# Drives the page `simnet run --format html` writes in headless Chromium and
# checks what it shows, event by event, against the same run's JSON Lines.
#
#   tools/html-check/run.sh                # check every page
#   tools/html-check/run.sh --screenshot   # ... and save book/src/images/viewer.png
#
# Steps: install Chromium (Debian package) and the pinned npm packages if they
# are missing; build simnet; write every scenario below as X.html and X.jsonl
# into <target>/html-check/; check them all with check.mjs. Nothing is fetched
# at check time: every request a page makes is aborted and fails the check.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
chromium="${CHROMIUM:-/usr/bin/chromium}"

screenshot=()
for arg in "$@"; do
    case "$arg" in
        --screenshot) screenshot=(--screenshot "$root/book/src/images/viewer.png") ;;
        *) echo "usage: tools/html-check/run.sh [--screenshot]" >&2; exit 2 ;;
    esac
done

if [ ! -x "$chromium" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "html-check: installing chromium" >&2
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
    else
        echo "html-check: $chromium is missing; install it with: sudo apt-get install chromium" >&2
        exit 2
    fi
fi

if [ ! -d "$here/node_modules/playwright-core" ]; then
    echo "html-check: installing the pinned npm packages" >&2
    (cd "$here" && npm ci --no-audit --no-fund)
fi

(cd "$root" && cargo build --release --quiet)
simnet="$target/release/simnet"

out="$target/html-check"
rm -rf "$out"
mkdir -p "$out"

# NAME FILE [simnet run options...]: writes NAME.html and NAME.jsonl. Every
# scenario here passes its expectations, so simnet's exit code is kept.
write() {
    local name="$1" file="$2"
    shift 2
    for format in html jsonl; do
        (cd "$root" && "$simnet" run "$file" "$@" --format "$format" --out "$out/$name.$format" >/dev/null) || {
            echo "html-check: simnet run $file $* --format $format failed" >&2
            exit 1
        }
    done
}

for scenario in \
    tcp/three-way-handshake \
    tcp/loss-retransmission \
    tcp/zero-window \
    tcp/close-client-first \
    http/keep-alive-vs-close \
    websocket/ping-pong \
    tls/https-request; do
    write "${scenario//\//-}" "scenarios/$scenario.toml"
done

# One run with a failed expectation, for the f key, the next-failed button
# and the expectations list's .failed: the server is claimed SYN-RECEIVED at
# 5 ms, 10 ms before its SYN arrives. simnet exits 1 when an expectation
# fails, so that exit code (and only that one) is accepted here.
for format in html jsonl; do
    rc=0
    (cd "$root" && "$simnet" run scenarios/tcp/three-way-handshake.toml --set 'expect[4].at=5ms' \
        --format "$format" --out "$out/failed-expectation.$format" >/dev/null) || rc=$?
    if [ "$rc" != 1 ]; then
        echo "html-check: the failed-expectation run exited with $rc, not 1 (an expectation failed)" >&2
        exit 1
    fi
done

# The scale run (over 100,000 events), for the size and speed checks only: a
# 32 MiB upload over a link that loses 1% of its packets; its one expectation
# is set to the new size so it passes too.
write big scenarios/sweeps/bulk-loss.toml \
    --set 'app[client].bytes=32MiB' --set 'expect[1].bytes_received=33554432'

# Every shipped scenario (all but the load tests, as the book): its page
# opens and steps without an error.
mkdir -p "$out/all"
while IFS= read -r file; do
    name="${file#scenarios/}"
    name="${name%.toml}"
    (cd "$root" && "$simnet" run "$file" --format html --out "$out/all/${name//\//-}.html" >/dev/null) || {
        echo "html-check: simnet run $file --format html failed" >&2
        exit 1
    }
done < <(cd "$root" && find scenarios -name '*.toml' -not -path '*/load/*' | sort)

# The detailed checks (check.mjs) and the every-page pass (all.mjs) share
# nothing, and neither asserts a speed: on two cores they run side by side,
# each with its own Chromium. The every-page pass's lines follow the
# detailed checks' once both are done; either failing fails the check.
CHROMIUM="$chromium" node "$here/all.mjs" "$out/all" >"$out/all.log" 2>&1 &
all_pid=$!
check_rc=0
CHROMIUM="$chromium" node "$here/check.mjs" --big big "${screenshot[@]}" "$out" || check_rc=$?
all_rc=0
wait "$all_pid" || all_rc=$?
cat "$out/all.log"
if [ "$check_rc" != 0 ] || [ "$all_rc" != 0 ]; then
    echo "html-check: failed (check.mjs exit $check_rc, all.mjs exit $all_rc)" >&2
    exit 1
fi
