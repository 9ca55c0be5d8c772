#!/usr/bin/env bash
# What the request metrics (`http.server.request.duration`) cost per request
# in the server layer: `ServerTraceLayer` with metrics on and off, against
# opentelemetry-instrumentation-tower 0.19 (contrib) recording the same
# histogram through the OpenTelemetry SDK, side by side in one run, in
# instructions (valgrind's callgrind, every thread of the server: the same
# count for the same binary and requests) and in CPU time.
#
#   bash benches/metrics_instructions.sh               # both (needs valgrind, taskset, python3)
#   bash benches/metrics_instructions.sh instructions  # callgrind only
#   bash benches/metrics_instructions.sh time          # CPU time only
#
# The server is examples/http_bench_server.rs (its header describes each
# mode; every request has a sampled traceparent). After every run the server
# prints how many measurements its histogram holds: it must be the run's
# requests (no mode wins by not recording).
#
# Instructions: each mode serves 200 then 2200 requests on one keep-alive
# connection, one at a time, then gets SIGTERM; the difference over 2000 is
# the cost of one request, start-up and shutdown excluded. PROFILES=<dir>
# keeps the 2200-request profiles there (callgrind_annotate them).
#
# Time: each mode natively, the server on core 0 and the client on core 1
# (HTTP/1.1 on one connection, 8 pipelined requests at a time), in ROUNDS
# rounds (default 5) of SECONDS_PER_RUN seconds (default 2) of load, the
# modes interleaved (each round in another order): the server's CPU time
# per request (user + system, all threads, from the start of the load to its
# exit, read from /proc), the median and the fastest of the rounds (other
# work on the machine only makes a run slower). It includes the kernel's
# work, which callgrind does not count. On two cores shared with anything
# else this is noisy: read it for differences of 10% or more, and trust the
# instructions.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-both}
case $what in
  both | instructions | time) ;;
  *) echo "usage: $0 [both|instructions|time]"; exit 2 ;;
esac
if [ "$what" != time ]; then
  command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind"; exit 1; }
fi
if [ "$what" != instructions ]; then
  command -v taskset >/dev/null || { echo "taskset is needed (util-linux)"; exit 1; }
fi
command -v python3 >/dev/null || { echo "python3 is needed"; exit 1; }
cargo build -q --release --example http_bench_server --features reqwest
bin=${CARGO_TARGET_DIR:-target}/release/examples/http_bench_server
rounds=${ROUNDS:-5}
seconds=${SECONDS_PER_RUN:-2}
for v in $(compgen -e | grep -E '^(OTEL_|DISTRIBUTED_TRACING_)' || true); do unset "$v"; done

modes=(plain ours-metrics-off ours contrib contrib+ours-off contrib-all)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cat > "$work/client.py" <<'PY'
import http.client, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", "/hello", headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PY
cat > "$work/time_client.py" <<'PY'
# port pid seconds -> "requests cpu-ticks": the requests answered in
# `seconds` of load and the server's CPU time at the start (user + system,
# all threads, in clock ticks).
import socket, sys, time
port, pid, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
DEPTH = 8
REQ = (b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n"
       b"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n")
END = b"\r\n\r\nhello"  # the end of one 200 answer
with open(f"/proc/{pid}/stat") as f:
    fields = f.read().rsplit(")", 1)[1].split()
ticks = int(fields[11]) + int(fields[12])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
s.settimeout(30)
until = time.perf_counter() + secs
sent = done = 0
tail = b""
# In lock step: DEPTH requests in one write, then their DEPTH answers.
while time.perf_counter() < until:
    s.sendall(REQ * DEPTH)
    sent += DEPTH
    while done < sent:
        data = s.recv(1 << 16)
        if not data:
            sys.exit("the server closed the connection")
        buf = tail + data
        done += buf.count(END)
        tail = buf[-(len(END) - 1):]
print(done, ticks)
PY

start() {  # mode port log [command prefix...] -> starts the server, sets $server
  local mode=$1 port=$2 log=$3
  shift 3
  "$@" "$bin" "$mode" "127.0.0.1:$port" > "$log" 2>&1 &
  server=$!
  for _ in $(seq 300); do grep -q LISTENING "$log" 2>/dev/null && return; sleep 0.1; done
  cat "$log" >&2
  fail "$mode did not start"
}

stop_and_check() {  # mode requests log: SIGTERM, then every request measured
  local mode=$1 n=$2 log=$3 got
  kill -TERM "$server"
  wait "$server" || { cat "$log" >&2; fail "$mode exited with an error"; }
  got=$(sed -n 's/^MEASURED \([0-9]*\) .*/\1/p' "$log")
  case $mode in
    plain | ours-metrics-off) [ -z "$got" ] || fail "$mode measured $got requests" ;;
    *) [ "$got" = "$n" ] || fail "$mode: its histogram holds ${got:-no} measurements for $n requests" ;;
  esac
}

declare -A per cpu measured
port=19500

if [ "$what" != time ]; then
  count() {  # mode requests port -> instructions of the whole run (all threads)
    local mode=$1 n=$2 out="$work/cg.$1.$2" log="$work/server.$1.$2.log"
    start "$mode" "$3" "$log" valgrind --tool=callgrind --callgrind-out-file="$out"
    python3 "$work/client.py" "$3" "$n"
    stop_and_check "$mode" "$n" "$log"
    awk '/^summary:|^totals:/ {print $2; exit}' "$out"
  }
  for mode in "${modes[@]}"; do
    port=$((port + 2))
    a=$(count "$mode" 200 "$port") || exit 1
    b=$(count "$mode" 2200 $((port + 1))) || exit 1
    per[$mode]=$(( (b - a) / 2000 ))
    measured[$mode]=$(sed -n 's/^MEASURED [0-9]* //p' "$work/server.$mode.2200.log")
    echo "$mode: ${per[$mode]} instructions per request${measured[$mode]:+ (measured: ${measured[$mode]})}"
    if [ -n "${PROFILES:-}" ]; then
      mkdir -p "$PROFILES"
      cp "$work/cg.$mode.2200" "$PROFILES/callgrind.$mode.2200"
      cp "$work/cg.$mode.200" "$PROFILES/callgrind.$mode.200"
    fi
  done
fi

if [ "$what" != instructions ]; then
  tick=$(getconf CLK_TCK)
  for ((r = 0; r < rounds; r++)); do
    # Round r starts at mode r: each mode runs early in some rounds, late in others.
    for ((i = 0; i < ${#modes[@]}; i++)); do
      mode=${modes[$(( (i + r) % ${#modes[@]} ))]}
      log="$work/time.$mode.log"
      port=$((port + 1))
      start "$mode" "$port" "$log" taskset -c 0
      read -r n ticks < <(taskset -c 1 python3 "$work/time_client.py" "$port" "$server" "$seconds") || true
      [ -n "${ticks:-}" ] || fail "$mode: the client failed"
      stop_and_check "$mode" "$n" "$log"
      end_ticks=$(sed -n 's/^CPU_TICKS //p' "$log")
      cpu[$mode]+="$(python3 -c "print(($end_ticks - $ticks) / $tick / $n * 1e6)") "
      unset ticks
    done
    echo "round $((r + 1))/$rounds done (every request measured)"
  done
fi

python3 - <<PY
from statistics import median
modes = [$(for m in "${modes[@]}"; do printf '"%s", ' "$m"; done)]
per = {$(for m in "${!per[@]}"; do printf '"%s": %s, ' "$m" "${per[$m]}"; done)}
cpu = {$(for m in "${!cpu[@]}"; do printf '"%s": [%s], ' "$m" "$(echo ${cpu[$m]} | tr ' ' ',')"; done)}
names = {
    "plain": "plain axum (no middleware)",
    "ours-metrics-off": "\`ServerTraceLayer\`, \`.metrics(false)\`",
    "ours": "\`ServerTraceLayer\`, metrics on (\`http.server.request.duration\`, exemplars)",
    "contrib": "opentelemetry-instrumentation-tower 0.19, the duration histogram only, no spans",
    "contrib+ours-off": "\`ServerTraceLayer\` \`.metrics(false)\` + contrib (histogram only)",
    "contrib-all": "opentelemetry-instrumentation-tower 0.19, its four instruments, no spans",
}
cols, sep = ["mode", "set-up"], ["---", "---"]
if per:
    cols += ["instructions per request", "over plain"]; sep += ["---:", "---:"]
if cpu:
    cols += [f"CPU µs per request, median of {len(next(iter(cpu.values())))}", "over plain, µs", "fastest", "over plain, µs"]; sep += ["---:"] * 4
print()
print("| " + " | ".join(cols) + " |")
print("|" + "|".join(sep) + "|")
for m in modes:
    row = [f"\`{m}\`", names[m]]
    if per:
        row += [f"{per[m]:,}", f"{per[m] - per['plain']:+,}" if m != "plain" else ""]
    if cpu:
        for f in (median, min):
            c, p = f(cpu[m]), f(cpu["plain"])
            row += [f"{c:.2f}", f"{c - p:+.2f}" if m != "plain" else ""]
    print("| " + " | ".join(row) + " |")
print()
def summary(unit, v, fmt):
    ours = v["ours"] - v["ours-metrics-off"]
    contrib = v["contrib"] - v["plain"]
    on_top = v["contrib+ours-off"] - v["ours-metrics-off"]
    print(f"{unit}: ours' metrics add {fmt(ours)} (ours - ours-metrics-off); contrib costs {fmt(contrib)} alone (contrib - plain), "
          f"{fmt(on_top)} on top of ours-metrics-off; ours / contrib: {ours / contrib:.2f} / {ours / on_top:.2f}")
if per:
    summary("instructions", per, lambda x: f"{x:,}")
if cpu:
    summary("CPU, medians", {m: median(c) for m, c in cpu.items()}, lambda x: f"{x:.2f} µs")
    summary("CPU, fastest runs", {m: min(c) for m, c in cpu.items()}, lambda x: f"{x:.2f} µs")
PY
