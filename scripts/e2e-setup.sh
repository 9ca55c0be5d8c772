#!/usr/bin/env bash
# Installs the real peers of the end-to-end tests from PyPI into a virtual
# environment (default: target/e2e-venv; override with DT_E2E_VENV):
#   - rotel: an OpenTelemetry collector written in Rust, shipped as a binary in its wheel;
#   - the OpenTelemetry Python SDK and its OTLP/HTTP exporter (scripts/py_service.py);
#   - gRPC for Python with its code generator (grpcio-tools ships protoc) and the
#     standard health service, and the OpenTelemetry gRPC instrumentation whose
#     contrib version goes with that SDK (scripts/py_grpc.py);
#   - the NATS client for Python (nats-py), the Python peer of the messaging
#     tests (its headers carry the SDK's trace context).
# Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${DT_E2E_VENV:-target/e2e-venv}"
marker="$venv/.installed-rotel-0.0.1a15-otel-1.45.2-grpc-1.85-instr-0.66b2-nats-2.16.0"
# Tests run in parallel and may all ask at once: one installs, the others wait.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ -f "$marker" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "rotel==0.0.1a15" \
  "opentelemetry-sdk==1.45.2" "opentelemetry-exporter-otlp-proto-http==1.45.2" \
  "grpcio==1.85.3" "grpcio-tools==1.85.1" "grpcio-health-checking==1.85.1" "protobuf==7.36.2" \
  "opentelemetry-instrumentation-grpc==0.66b2" \
  "nats-py==2.16.0"
touch "$marker"
echo "e2e tools installed in $venv"
