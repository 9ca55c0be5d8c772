#!/usr/bin/env bash
# Installs the real peers of the end-to-end tests from PyPI into a virtual
# environment (default: target/e2e-venv; override with DT_E2E_VENV):
#   - rotel: an OpenTelemetry collector written in Rust, shipped as a binary in its wheel;
#   - arize-phoenix: a trace backend storing OTLP spans in SQLite, with a REST API;
#   - the OpenTelemetry Python SDK and its OTLP/HTTP exporter (scripts/py_service.py).
# Idempotent: does nothing when the pinned versions are already there.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${DT_E2E_VENV:-target/e2e-venv}"
marker="$venv/.installed-rotel-0.0.1a15-phoenix-20.26.1-otel-1.45.2"
if [ -f "$marker" ]; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "rotel==0.0.1a15" "arize-phoenix==20.26.1" \
  "opentelemetry-sdk==1.45.2" "opentelemetry-exporter-otlp-proto-http==1.45.2"
touch "$marker"
echo "e2e tools installed in $venv"
