#!/usr/bin/env bash
# The Linux reference harness: runs each case under tests/linux/cases/
# against the kernel's TCP in two network namespaces joined by a veth pair,
# captures it with tshark, runs simnet's scenario for the same case, and
# compares the two as qualitative facts (tools/linux-ref). Writes the
# results table to book/src/generated/linux-reference.md.
#
#   sudo tests/linux/run.sh           # run, print the table, write the page
#   sudo tests/linux/run.sh --check   # ... and fail if the page is not current
#   sudo tests/linux/run.sh CASE...   # only these case files (no page written)
#
# Exits non-zero when a fact's verdict (agree / differs) is not the one its
# case file declares, or (with --check) when the page is stale. When the
# machine cannot run it (not root, no network namespaces, no tshark), it
# says why on one "SKIPPED" line and exits 0.
set -euo pipefail

check=0
cases=()
for arg in "$@"; do
    case "$arg" in
        --check) check=1 ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        -*) echo "run.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
        *)
            [ -f "$arg" ] || { echo "run.sh: no case file $arg" >&2; exit 2; }
            cases+=("$(realpath "$arg")")
            ;;
    esac
done
cd "$(dirname "$0")/../.."
partial=0
if [ ${#cases[@]} -eq 0 ]; then
    mapfile -t cases < <(ls tests/linux/cases/*.toml | sort)
else
    partial=1
fi

skip() {
    echo "linux reference harness: SKIPPED: $*"
    exit 0
}

[ "$(id -u)" = 0 ] || skip "not root (network namespaces need root: sudo tests/linux/run.sh)"
for tool in ip ss tshark tc timeout; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
done

tag="lref$$"
ns_c="${tag}c"
ns_s="${tag}s"
work=$(mktemp -d "/tmp/linux-ref.XXXXXX")
pids=()

cleanup() {
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    ip netns del "$ns_c" 2>/dev/null || true
    ip netns del "$ns_s" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! ip netns add "$ns_c" 2>"$work/netns.err"; then
    skip "ip netns add refused: $(tr '\n' ' ' <"$work/netns.err")"
fi
ip netns add "$ns_s"

# Two namespaces, one veth pair: client 10.0.0.1 on vc, server 10.0.0.2 on
# vs. Fixed MAC addresses and permanent neighbour entries, so no ARP ever
# delays a segment or replaces it when the server vanishes; 10.0.0.9 is a
# black hole for the filler datagrams of shaped cases (the receiving veth
# drops frames for another MAC).
ip -n "$ns_c" link add vc address 02:00:00:00:00:01 type veth peer name vs address 02:00:00:00:00:02
ip -n "$ns_c" link set vs netns "$ns_s"
ip -n "$ns_c" addr add 10.0.0.1/24 dev vc
ip -n "$ns_s" addr add 10.0.0.2/24 dev vs
for ns in "$ns_c" "$ns_s"; do
    ip -n "$ns" link set lo up
done
ip -n "$ns_c" link set vc up
ip -n "$ns_s" link set vs up
ip -n "$ns_c" neigh replace 10.0.0.2 lladdr 02:00:00:00:00:02 dev vc nud permanent
ip -n "$ns_s" neigh replace 10.0.0.1 lladdr 02:00:00:00:00:01 dev vs nud permanent
ip -n "$ns_c" neigh replace 10.0.0.9 lladdr 02:00:00:00:00:09 dev vc nud permanent
ip -n "$ns_s" neigh replace 10.0.0.9 lladdr 02:00:00:00:00:09 dev vs nud permanent

# Delay: the scenarios' links have 10 ms of latency; netem gives the veth
# the same where the kernel has it. The facts compared are qualitative, so
# zero delay is fine for them; only simultaneous close needs the FINs to
# cross, and without netem a token bucket (tbf) holds them instead.
if ip netns exec "$ns_c" tc qdisc add dev vc root netem delay 10ms 2>/dev/null &&
    ip netns exec "$ns_s" tc qdisc add dev vs root netem delay 10ms 2>/dev/null; then
    netem=1
    echo "netem: 10 ms each way"
else
    netem=0
    ip netns exec "$ns_c" tc qdisc del dev vc root 2>/dev/null || true
    echo "netem: unavailable here (sch_netem missing); zero delay, token-bucket shaping for simultaneous close"
fi

echo "kernel: Linux $(uname -r)"
echo "building simnet and linux-ref"
cargo build --quiet -p simnet --bin simnet && cargo build --quiet -p linux-ref
simnet=target/debug/simnet
lref=$PWD/target/debug/linux-ref

now_ms() { date +%s%3N; }

# Waits (at most $2 tenths of a second) until file $1 contains $3.
wait_for() {
    local i
    for ((i = 0; i < $2; i++)); do
        grep -q "$3" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "timed out waiting for '$3' in $1:" >&2
    cat "$1" >&2 || true
    return 1
}

rows="$work/rows.tsv"
: >"$rows"
start=$(now_ms)
for case_file in "${cases[@]}"; do
    name=$(basename "$case_file" .toml)
    dir="$work/$name"
    mkdir -p "$dir"
    settings=$("$lref" case "$case_file")
    eval "$settings"
    printf '%-28s' "$name"
    t_case=$(now_ms)

    ip netns exec "$ns_c" sysctl -qw net.ipv4.tcp_syn_retries="${syn_retries:-6}"
    if [ "$shape" = 1 ] && [ "$netem" = 0 ]; then
        # 8 kbit/s with a bucket just over one full frame: after a peer's
        # filler datagram, a 66-byte segment waits about 60 ms.
        ip netns exec "$ns_c" tc qdisc add dev vc root tbf rate 8kbit burst 1540 limit 100000
        ip netns exec "$ns_s" tc qdisc add dev vs root tbf rate 8kbit burst 1540 limit 100000
    fi

    ip netns exec "$ns_c" tshark -i vc -w "$dir/linux.pcap" -q >"$dir/tshark.log" 2>&1 &
    tshark_pid=$!
    pids+=("$tshark_pid")
    # "Capturing on" comes before the capture really starts; this does not.
    wait_for "$dir/tshark.log" 100 "Capture started"
    sleep 0.1

    export LINUX_REF_T0_MS
    LINUX_REF_T0_MS=$(now_ms)
    server_pid=
    if [ -n "$server_args" ]; then
        # shellcheck disable=SC2086 # the actions are words
        ip netns exec "$ns_s" timeout "$seconds" "$lref" peer server $server_args >"$dir/server.log" 2>&1 &
        server_pid=$!
        pids+=("$server_pid")
        wait_for "$dir/server.log" 50 "listening"
    fi
    vanish_pid=
    if [ -n "$vanish_ms" ]; then
        (
            sleep "$(printf '%d.%03d' $((vanish_ms / 1000)) $((vanish_ms % 1000)))"
            ip -n "$ns_s" addr del 10.0.0.2/24 dev vs
        ) &
        vanish_pid=$!
        pids+=("$vanish_pid")
    fi
    # shellcheck disable=SC2086
    ip netns exec "$ns_c" timeout "$seconds" "$lref" peer client $client_args >"$dir/client.log" 2>&1 || true
    # Let the last segments land, then see who holds TIME-WAIT.
    sleep 0.3
    ip netns exec "$ns_c" ss -tanH >"$dir/ss-client.txt"
    ip netns exec "$ns_s" ss -tanH >"$dir/ss-server.txt"
    kill -INT "$tshark_pid"
    wait "$tshark_pid" || true
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ -n "$vanish_pid" ]; then
        wait "$vanish_pid" || true
        ip -n "$ns_s" addr add 10.0.0.2/24 dev vs 2>/dev/null || true
        ip -n "$ns_s" neigh replace 10.0.0.1 lladdr 02:00:00:00:00:01 dev vs nud permanent
    fi
    if [ "$shape" = 1 ] && [ "$netem" = 0 ]; then
        ip netns exec "$ns_c" tc qdisc del dev vc root
        ip netns exec "$ns_s" tc qdisc del dev vs root
    fi
    # Whatever the peers' exits sent must not reach the next capture.
    sleep 0.2

    "$simnet" run "$scenario" --format pcap --out "$dir/simnet.pcap" >"$dir/simnet.log"
    "$simnet" run "$scenario" --format jsonl --out "$dir/simnet.jsonl" >>"$dir/simnet.log"
    "$lref" compare --case "$case_file" \
        --linux-pcap "$dir/linux.pcap" \
        --linux-ss-client "$dir/ss-client.txt" --linux-ss-server "$dir/ss-server.txt" \
        --simnet-pcap "$dir/simnet.pcap" --simnet-jsonl "$dir/simnet.jsonl" >>"$rows"
    echo "$(( ($(now_ms) - t_case) / 100 ))" | sed 's/\(.\)$/.\1 s/'
    if [ -n "${LINUX_REF_KEEP:-}" ]; then
        mkdir -p "$LINUX_REF_KEEP"
        cp -r "$dir" "$LINUX_REF_KEEP/"
    fi
done
echo "all cases: $(( ($(now_ms) - start) / 1000 )) s"

page=book/src/generated/linux-reference.md
if [ "$partial" = 1 ]; then
    page="$work/partial.md"
fi
table_args=("$rows" --out "$page")
[ "$check" = 1 ] && [ "$partial" = 0 ] && table_args+=(--check)
"$lref" table "${table_args[@]}"
if [ "$partial" = 1 ]; then
    echo "(some cases only: $page is not the book's page, which is left as it is)"
fi
