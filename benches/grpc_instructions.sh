#!/usr/bin/env bash
# Per-call cost of the gRPC server layers in instructions (valgrind's
# callgrind), which, unlike criterion's times, does not depend on what else
# the machine is doing: the same binary and calls give the same count.
#
#   bash benches/grpc_instructions.sh      # needs valgrind and python3
#
# The benchmark binary of benches/grpc_server.rs makes the same unary call as
# its criterion group, without criterion (GRPC_BENCH_CALLS="<variant> <n>"):
# each variant makes 200 then 2200 calls; the difference over 2000 is the
# cost of one call, start-up excluded.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind"; exit 1; }
bin=$(cargo bench -q --bench grpc_server --features grpc --no-run --message-format=json \
  | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "grpc_server" and m.get("executable"):
        print(m["executable"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
count() {  # variant calls -> instructions of the whole run
  local out="$work/cg.$1.$2"
  GRPC_BENCH_CALLS="$1 $2" valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" > "$work/log" 2>&1 \
    || { cat "$work/log"; exit 1; }
  awk '/^summary:|^totals:/ {print $2; exit}' "$out"
}
declare -A per
for variant in plain ours peer; do
  a=$(count "$variant" 200); b=$(count "$variant" 2200)
  per[$variant]=$(( (b - a) / 2000 ))
  echo "$variant: ${per[$variant]} instructions per call"
done
echo
echo "| server | instructions per call | overhead over plain tonic |"
echo "|---|---|---|"
echo "| plain tonic | ${per[plain]} | |"
echo "| GrpcServerLayer | ${per[ours]} | $(( per[ours] - per[plain] )) |"
echo "| tonic-tracing-opentelemetry | ${per[peer]} | $(( per[peer] - per[plain] )) |"
echo
python3 -c "print('GrpcServerLayer overhead / peer overhead: %.2f (goal: at most 0.50)' % ((${per[ours]} - ${per[plain]}) / (${per[peer]} - ${per[plain]})))"
