#!/usr/bin/env bash
# Installs the real browser of the browser tests (tests/waterfall_browser.rs):
# Debian's `chromium` package (/usr/bin/chromium) and one font
# (fonts-dejavu-core, the font the pages name), with apt-get, and prints its
# version. As root, or through sudo when not root and sudo is there.
# Idempotent: when /usr/bin/chromium is there, nothing is installed. The
# browser tests run it first (as the e2e tests run scripts/e2e-tools.sh).
#
# The tests use /usr/bin/chromium, or the browser DT_CHROMIUM names (then
# this script only checks that it runs). On Ubuntu the `chromium` package is
# a snap; install Chromium another way there and set DT_CHROMIUM.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tests run in parallel and may all ask at once: one installs, the others wait.
mkdir -p target
exec 9>target/e2e-browser.lock
flock 9

if [ -n "${DT_CHROMIUM:-}" ]; then
  [ -x "$DT_CHROMIUM" ] || { echo "e2e-browser: DT_CHROMIUM=$DT_CHROMIUM is not an executable" >&2; exit 1; }
  chromium=$DT_CHROMIUM
else
  chromium=/usr/bin/chromium
  if [ ! -x "$chromium" ]; then
    if [ "$(id -u)" -eq 0 ]; then
      as_root=()
    elif command -v sudo >/dev/null; then
      as_root=(sudo)
    else
      echo "e2e-browser: installing chromium needs root (or sudo)" >&2; exit 1
    fi
    command -v apt-get >/dev/null \
      || { echo "e2e-browser: no apt-get: install Chromium and set DT_CHROMIUM to its binary" >&2; exit 1; }
    start=$(date +%s)
    ${as_root[@]+"${as_root[@]}"} apt-get update -qq
    ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
    echo "e2e-browser: chromium installed in $(( $(date +%s) - start )) s"
  fi
fi
echo "e2e-browser: $chromium: $("$chromium" --version 2>/dev/null)"
