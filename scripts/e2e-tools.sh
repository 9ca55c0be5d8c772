#!/usr/bin/env bash
# Builds the real trace backend, collector and message broker of the
# end-to-end tests from their Go modules (through the Go module proxy), into
# target/e2e-tools/ (override with DT_E2E_TOOLS):
#   - jaeger: Jaeger v2, github.com/jaegertracing/jaeger/cmd/jaeger, pinned by
#     scripts/e2e-tools/jaeger/go.mod and go.sum (module v1.75.0, the approved
#     release: the module proxy serves v1.76.0 too, not an approved one);
#   - otelcol: an OpenTelemetry Collector v0.165.0 with the components
#     otel-collector.yaml names (OTLP receiver; batch and memory_limiter
#     processors; debug, OTLP and, from contrib, Prometheus exporters), built
#     by the collector's builder (ocb) from
#     scripts/e2e-tools/otelcol-builder.yaml;
#   - nats-server: the NATS server (core NATS and JetStream),
#     github.com/nats-io/nats-server/v2, pinned by scripts/e2e-tools/nats/go.mod
#     and go.sum (module v2.15.3, the approved release; it asks for Go 1.26.0).
# Idempotent: a second run reuses what was built for the same pins. Prints how
# long each build took.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tools="${DT_E2E_TOOLS:-target/e2e-tools}"
mkdir -p "$tools"
tools=$(cd "$tools" && pwd)
# Tests run in parallel and may all ask at once: one builds, the others wait.
exec 9>"$tools/.lock"
flock 9
command -v go >/dev/null || { echo "e2e-tools: Go is needed (https://go.dev/dl/)" >&2; exit 1; }
# The machine's own Go (go.mod files here ask for no newer one).
export GOTOOLCHAIN=local
pin() { sha256sum "$@" | sha256sum | cut -c1-16; }

jaeger_pin=$(pin scripts/e2e-tools/jaeger/go.mod scripts/e2e-tools/jaeger/go.sum)
if [ ! -x "$tools/jaeger" ] || [ ! -f "$tools/.jaeger-$jaeger_pin" ]; then
  start=$(date +%s)
  (cd scripts/e2e-tools/jaeger && go build -trimpath -o "$tools/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger)
  rm -f "$tools"/.jaeger-*
  touch "$tools/.jaeger-$jaeger_pin"
  echo "e2e-tools: jaeger built in $(( $(date +%s) - start )) s"
fi

nats_pin=$(pin scripts/e2e-tools/nats/go.mod scripts/e2e-tools/nats/go.sum)
if [ ! -x "$tools/nats-server" ] || [ ! -f "$tools/.nats-server-$nats_pin" ]; then
  start=$(date +%s)
  (cd scripts/e2e-tools/nats && go build -trimpath -o "$tools/nats-server" github.com/nats-io/nats-server/v2)
  rm -f "$tools"/.nats-server-*
  touch "$tools/.nats-server-$nats_pin"
  echo "e2e-tools: nats-server built in $(( $(date +%s) - start )) s"
fi

ocb_version=v0.165.0
otelcol_pin=$(pin scripts/e2e-tools/otelcol-builder.yaml)-$ocb_version
if [ ! -x "$tools/otelcol" ] || [ ! -f "$tools/.otelcol-$otelcol_pin" ]; then
  start=$(date +%s)
  if [ ! -x "$tools/bin/builder-$ocb_version" ]; then
    GOBIN="$tools/bin" go install "go.opentelemetry.io/collector/cmd/builder@$ocb_version"
    mv "$tools/bin/builder" "$tools/bin/builder-$ocb_version"
  fi
  (cd "$tools" && rm -rf otelcol-src && "$tools/bin/builder-$ocb_version" --config "$repo/scripts/e2e-tools/otelcol-builder.yaml" > otelcol-build.log 2>&1) \
    || { tail -30 "$tools/otelcol-build.log" >&2; exit 1; }
  cp "$tools/otelcol-src/otelcol" "$tools/otelcol"
  rm -f "$tools"/.otelcol-*
  touch "$tools/.otelcol-$otelcol_pin"
  echo "e2e-tools: otelcol built in $(( $(date +%s) - start )) s"
fi
echo "e2e-tools: $tools/jaeger, $tools/otelcol, $tools/nats-server"
