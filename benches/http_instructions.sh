#!/usr/bin/env bash
# Per-request cost of the server layer in instructions (valgrind's callgrind),
# which, unlike requests per second, does not depend on what else the machine
# is doing: the same binary and requests give the same count.
#
#   bash benches/http_instructions.sh      # needs valgrind and python3
#
# Each mode serves 200 then 2200 requests (one keep-alive connection, every
# request with a traceparent); the difference over 2000 is the cost of one
# request, start-up excluded.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind"; exit 1; }
cargo build -q --release --example http_bench_server --features reqwest
bin=target/release/examples/http_bench_server
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/client.py" <<'PY'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", "/hello", headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
port=19300
count() {  # mode requests -> instructions of the whole run
  local mode=$1 n=$2 out="$work/cg.$1.$2"
  port=$((port + 1))
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$mode" "127.0.0.1:$port" > "$work/server.log" 2>&1 &
  local pid=$!
  for _ in $(seq 150); do grep -q LISTENING "$work/server.log" && break; sleep 0.2; done
  python3 "$work/client.py" "$port" "$n"
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  awk '/^summary:|^totals:/ {print $2; exit}' "$out"
}
declare -A per
for mode in plain ours upstream axum-otel; do
  a=$(count "$mode" 200); b=$(count "$mode" 2200)
  per[$mode]=$(( (b - a) / 2000 ))
  echo "$mode: ${per[$mode]} instructions per request"
done
echo
echo "| server | instructions per request | overhead over plain axum |"
echo "|---|---|---|"
for mode in plain ours upstream axum-otel; do
  echo "| $mode | ${per[$mode]} | $(( per[$mode] - per[plain] )) |"
done
