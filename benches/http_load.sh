#!/usr/bin/env bash
# Per-request overhead of the server layer, measured with a load generator:
# the same axum route served plain, with distributed_tracing's ServerTraceLayer, and
# with the usual hand-rolled upstream stack (examples/http_bench_server.rs).
# The server runs on core 0 (a current_thread runtime), wrk on core 1, so the
# server's CPU time per request is 1 / (requests per second).
#
#   bash benches/http_load.sh            # needs wrk (apt-get install wrk)
#
# Each mode gets a traceparent on every request, as behind another service.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk"; exit 1; }
cargo build -q --release --example http_bench_server --features reqwest
bin=target/release/examples/http_bench_server
duration="${DURATION:-10s}"
declare -A rps
port=18080
for mode in plain ours upstream axum-otel; do
  port=$((port + 1))
  taskset -c 0 "$bin" "$mode" "127.0.0.1:$port" > /dev/null &
  pid=$!
  sleep 1
  # warm-up, then the measured run
  taskset -c 1 wrk -t1 -c16 -d2s -H "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" \
    "http://127.0.0.1:$port/hello" > /dev/null
  out=$(taskset -c 1 wrk -t1 -c16 -d"$duration" --latency \
    -H "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" \
    "http://127.0.0.1:$port/hello")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rps[$mode]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}')
  echo "$mode: ${rps[$mode]} requests/s, p50 $p50"
done
python3 - "${rps[plain]}" "${rps[ours]}" "${rps[upstream]}" "${rps[axum-otel]}" <<'PY'
import sys
plain, ours, upstream, axum_otel = map(float, sys.argv[1:5])
cost = lambda r: 1e6 / r  # microseconds of server CPU per request
print()
print("| server | requests/s | µs per request | overhead over plain axum, µs |")
print("|---|---|---|---|")
for name, r in [("plain axum", plain), ("ServerTraceLayer (ours)", ours), ("upstream hand-rolled", upstream), ("axum-tracing-opentelemetry", axum_otel)]:
    print(f"| {name} | {r:,.0f} | {cost(r):.2f} | {cost(r) - cost(plain):.2f} |")
o, u = cost(ours) - cost(plain), cost(upstream) - cost(plain)
print()
a = cost(axum_otel) - cost(plain)
print(f"ours / upstream overhead: {o / u:.2f}; ours / axum-tracing-opentelemetry: {o / a:.2f}")
PY
