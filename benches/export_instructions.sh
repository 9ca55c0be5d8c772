#!/usr/bin/env bash
# The cost of a span after it ends (queue, size estimate, truncation, encoding,
# the request), this crate's against upstream's (opentelemetry-otlp behind the
# SDK's BatchSpanProcessor), in instructions per request (valgrind's
# callgrind, every thread of the server), which, unlike requests per second,
# does not depend on what else the machine is doing.
#
#   bash benches/export_instructions.sh          # needs valgrind and python3
#   bash benches/export_instructions.sh time     # requests/s instead, no valgrind
#
# The server is examples/export_bench_server.rs (its header describes each
# mode), the receiver examples/otlp_sink.rs, a process of its own (not
# measured) that decodes each request to count its spans and discards them.
# Each mode serves 200 then 2200 requests (one keep-alive connection, every
# request with a sampled traceparent, one log line each), then gets SIGTERM
# and exports what it still holds; the difference over 2000 is the cost of
# one request, start-up and shutdown excluded. After every run the receiver
# must have exactly the run's spans (a `*-noop` exporter: been given them):
# neither side may win by dropping.
#
# Both sides read the same OTEL_BSP_* variables (set below unless given; other
# OTEL_* and DISTRIBUTED_TRACING_* variables are cleared). The queue holds
# every span of a run, and the delay is longer than a run, so every batch but
# the last of a run is full (512 spans): batches are cut by count, never by
# time, which would make their size depend on how fast the server runs under
# valgrind (OTEL_BSP_SCHEDULE_DELAY=200 shows that case).
#
# `time`: each mode natively, the server (every thread) on core 0 and the
# client (HTTP/1.1 on one connection, 8 pipelined requests at a time) on core 1, in
# ROUNDS rounds (default 5) of SECONDS_PER_RUN seconds (default 2) of load,
# the modes interleaved (each round in another order). A run lasts until its
# server has exported every span and exited, so that an exporter that falls
# behind is not measured as faster: the queues hold a whole run (131072 spans
# a second; the crate's byte bound, which upstream has not, 1 GiB) and the
# shutdown may take 60 s. It prints the medians of requests/s (requests over
# the load and the shutdown) and of the server's CPU time per request (user +
# system, all threads, from the start of the load to the exit; the server
# reads it from /proc). Requests/s include the client's time (it waits for
# the 8 answers before sending the next 8): read the CPU time. It includes
# the kernel's work, which callgrind does not count. On two cores shared with
# anything else this is noisy: read it for differences of 10% or more, and
# trust the instructions.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-instructions}
case $what in
  instructions) command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind"; exit 1; } ;;
  time) command -v taskset >/dev/null || { echo "taskset is needed (util-linux)"; exit 1; } ;;
  *) echo "usage: $0 [instructions|time]"; exit 2 ;;
esac
command -v python3 >/dev/null || { echo "python3 is needed"; exit 1; }
cargo build -q --release --example export_bench_server --example otlp_sink
bin=target/release/examples/export_bench_server
sink_bin=target/release/examples/otlp_sink

rounds=${ROUNDS:-5}
seconds=${SECONDS_PER_RUN:-2}
default_queue=65536
[ "$what" = time ] && default_queue=$((131072 * seconds))
queue=${OTEL_BSP_MAX_QUEUE_SIZE:-$default_queue}
batch=${OTEL_BSP_MAX_EXPORT_BATCH_SIZE:-512}
delay=${OTEL_BSP_SCHEDULE_DELAY:-60000}
for v in $(compgen -e | grep -E '^(OTEL_|DISTRIBUTED_TRACING_)' || true); do unset "$v"; done
export OTEL_BSP_MAX_QUEUE_SIZE=$queue OTEL_BSP_MAX_EXPORT_BATCH_SIZE=$batch OTEL_BSP_SCHEDULE_DELAY=$delay
[ "$what" = time ] && export DISTRIBUTED_TRACING_MAX_QUEUE_BYTES=$((1 << 30))
echo "OTEL_BSP_MAX_QUEUE_SIZE=$queue OTEL_BSP_MAX_EXPORT_BATCH_SIZE=$batch OTEL_BSP_SCHEDULE_DELAY=$delay"

work=$(mktemp -d)
sink_pid=
cleanup() {
  [ -n "$sink_pid" ] && kill "$sink_pid" 2>/dev/null && wait "$sink_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

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
# port pid seconds -> "requests start cpu-ticks": the requests answered in
# `seconds` of load, the load's start (epoch seconds) and the server's CPU
# time then (user + system, all threads, in clock ticks).
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
start = time.time()
until = time.perf_counter() + secs
sent = done = 0
tail = b""
# In lock step: DEPTH requests in one write, then their DEPTH answers, so
# that the server reads them the same way whatever its speed (a client that
# tops up as answers come would send a fast server one request a read).
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
print(done, start, ticks)
PY

modes=(plain ours-none ours-noop ours-http ours-grpc upstream-none upstream-noop upstream-http upstream-grpc)
pin_sink=()
[ "$what" = time ] && pin_sink=(taskset -c 1)
"${pin_sink[@]}" "$sink_bin" 127.0.0.1:0 127.0.0.1:0 > "$work/sink.log" 2>&1 &
sink_pid=$!
for _ in $(seq 100); do grep -q LISTENING "$work/sink.log" 2>/dev/null && break; sleep 0.1; done
read -r sink_http sink_grpc < <(sed -n 's/^LISTENING http=\(.*\) grpc=\(.*\)$/\1 \2/p' "$work/sink.log")
[ -n "$sink_grpc" ] || { echo "the receiver did not start:"; cat "$work/sink.log"; exit 1; }
received() {  # [what] -> the spans (or `requests`) the receiver has had so far
  python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())' "http://$sink_http/${1:-count}"
}
receiver() {  # mode -> the receiver's address, if it exports
  case $1 in
    *-http) echo "$sink_http" ;;
    *-grpc) echo "$sink_grpc" ;;
  esac
}
fail() { echo "FAIL: $*" >&2; exit 1; }

start() {  # mode port log [command prefix...] -> starts the server, sets $server
  local mode=$1 port=$2 log=$3
  shift 3
  # shellcheck disable=SC2046 # no address for the modes that do not export
  "$@" "$bin" "$mode" "127.0.0.1:$port" $(receiver "$mode") > "$log" 2>&1 &
  server=$!
  for _ in $(seq 300); do grep -q LISTENING "$log" 2>/dev/null && return; sleep 0.1; done
  cat "$log" >&2
  fail "$mode did not start"
}

stop_and_check() {  # mode requests spans-before log: SIGTERM, then every span accounted for
  local mode=$1 n=$2 before=$3 log=$4 got
  kill -TERM "$server"
  wait "$server" || { cat "$log" >&2; fail "$mode exited with an error"; }
  exited_at=$EPOCHREALTIME
  grep -q "^SHUTDOWN $mode" "$log" || { tail "$log" >&2; fail "$mode did not shut down"; }
  got=$(( $(received) - before ))
  case $mode in
    *-http | *-grpc) [ "$got" -eq "$n" ] || fail "$mode: the receiver got $got spans for $n requests" ;;
    *) [ "$got" -eq 0 ] || fail "$mode: the receiver got $got spans, expected none" ;;
  esac
  case $mode in
    *-noop) grep -q "^SHUTDOWN $mode exported=$n\$" "$log" \
      || fail "$mode: its exporter was not given the $n spans: $(grep '^SHUTDOWN' "$log")" ;;
  esac
  got=$(grep -c '\] hello$' "$log" || true)
  [ "$got" -eq "$n" ] || fail "$mode: $got log lines for $n requests"
}

declare -A per
port=19400

if [ "$what" = instructions ]; then
  count() {  # mode requests port -> "instructions of the whole run (all threads) export-requests"
    local mode=$1 n=$2 out="$work/cg.$1.$2" log="$work/server.$1.$2.log" before requests
    before=$(received)
    requests=$(received requests)
    start "$mode" "$3" "$log" valgrind --tool=callgrind --callgrind-out-file="$out"
    python3 "$work/client.py" "$3" "$n"
    stop_and_check "$mode" "$n" "$before" "$log"
    echo "$(awk '/^summary:|^totals:/ {print $2; exit}' "$out") $(( $(received requests) - requests ))"
  }
  for mode in "${modes[@]}"; do
    port=$((port + 2))
    read -r a a_requests < <(count "$mode" 200 "$port") || true
    read -r b b_requests < <(count "$mode" 2200 $((port + 1))) || true
    [ -n "${a_requests:-}" ] && [ -n "${b_requests:-}" ] || fail "$mode: a run failed"
    per[$mode]=$(( (b - a) / 2000 ))
    case $mode in
      *-http | *-grpc) got=" (the receiver got every span, in $a_requests and $b_requests export requests)" ;;
      *) got= ;;
    esac
    echo "$mode: ${per[$mode]} instructions per request$got"
    unset a_requests b_requests
  done
  python3 - <<PY
import sys
per = {$(for m in "${modes[@]}"; do printf '"%s": %s, ' "$m" "${per[$m]}"; done)}
names = {
    "plain": "plain axum (no middleware)",
    "ours-none": "crate, ServerTraceLayer, TracesExporter::None",
    "ours-noop": "crate, ServerTraceLayer, no-op exporter behind the crate's queue",
    "ours-http": "crate, ServerTraceLayer, its OTLP/HTTP (protobuf)",
    "ours-grpc": "crate, ServerTraceLayer, its OTLP/gRPC",
    "upstream-none": "upstream middleware, provider without span processor",
    "upstream-noop": "upstream middleware, BatchSpanProcessor + no-op exporter",
    "upstream-http": "upstream middleware, BatchSpanProcessor + opentelemetry-otlp OTLP/HTTP (protobuf)",
    "upstream-grpc": "upstream middleware, BatchSpanProcessor + opentelemetry-otlp OTLP/gRPC (tonic)",
}
print()
print("| set-up | instructions per request | over plain axum | export path per span (minus the same side's \`none\`) | exporter per span (minus the same side's \`noop\`) |")
print("|---|---|---|---|---|")
for mode, name in names.items():
    side = mode.split("-")[0]
    path = per[mode] - per[side + "-none"] if side != "plain" and not mode.endswith("-none") else ""
    exporter = per[mode] - per[side + "-noop"] if mode.endswith(("-http", "-grpc")) else ""
    print(f"| {name} | {per[mode]} | {per[mode] - per['plain'] if mode != 'plain' else ''} | {path} | {exporter} |")
print()
for t in ("http", "grpc"):
    o, u = per[f"ours-{t}"] - per["ours-none"], per[f"upstream-{t}"] - per["upstream-none"]
    oe, ue = per[f"ours-{t}"] - per["ours-noop"], per[f"upstream-{t}"] - per["upstream-noop"]
    print(f"{t}: export path ours / upstream {o / u:.2f}; exporter alone ours / upstream {oe / ue:.2f}")
print()
print("The crate's no-op mode goes through its adapter of SDK exporters, which copies each batch")
print("(batch.to_vec()) and estimates each span's size again: its 'exporter' column is understated")
print("by that much. Compare the export paths.")
PY
  exit 0
fi

tick=$(getconf CLK_TCK)
declare -A rps cpu
for ((r = 0; r < rounds; r++)); do
  # Round r starts at mode r: each mode runs early in some rounds, late in others.
  for ((i = 0; i < ${#modes[@]}; i++)); do
    mode=${modes[$(( (i + r) % ${#modes[@]} ))]}
    log="$work/time.$mode.log"
    before=$(received)
    port=$((port + 1))
    start "$mode" "$port" "$log" taskset -c 0
    read -r n started ticks < <(taskset -c 1 python3 "$work/time_client.py" "$port" "$server" "$seconds") || true
    [ -n "${ticks:-}" ] || fail "$mode: the client failed"
    stop_and_check "$mode" "$n" "$before" "$log"
    end_ticks=$(sed -n 's/^CPU_TICKS //p' "$log")
    rps[$mode]+="$(python3 -c "print($n / ($exited_at - $started))") "
    cpu[$mode]+="$(python3 -c "print(($end_ticks - $ticks) / $tick / $n * 1e6)") "
  done
  echo "round $((r + 1))/$rounds done (every span received)"
done
python3 - <<PY
from statistics import median
rps = {$(for m in "${modes[@]}"; do printf '"%s": [%s], ' "$m" "$(echo ${rps[$m]} | tr ' ' ',')"; done)}
cpu = {$(for m in "${modes[@]}"; do printf '"%s": [%s], ' "$m" "$(echo ${cpu[$m]} | tr ' ' ',')"; done)}
print()
print("| mode | requests/s, load + shutdown (median of $rounds) | server CPU µs per request (median) | CPU over plain, µs | CPU µs per request, min-max |")
print("|---|---|---|---|---|")
plain = median(cpu["plain"])
for mode in rps:
    c = median(cpu[mode])
    print(f"| {mode} | {median(rps[mode]):,.0f} | {c:.2f} | {c - plain:+.2f} | {min(cpu[mode]):.2f}-{max(cpu[mode]):.2f} |")
PY
