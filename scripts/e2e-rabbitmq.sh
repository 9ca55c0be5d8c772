#!/usr/bin/env bash
# Installs the real broker of the AMQP tests (tests/messaging_amqp.rs):
# Debian's `rabbitmq-server` package (RabbitMQ 3.10.8 and its Erlang/OTP 25 on
# Debian 12), without its recommended packages, with apt-get, and prints its
# version. As root, or through sudo when not root and sudo is there.
# Idempotent: when /usr/lib/rabbitmq/bin/rabbitmq-server is there, nothing is
# installed. The AMQP tests run it first (tests/common/rabbitmq.rs).
#
# The tests never use a system RabbitMQ: each starts private nodes of its own
# (own HOME and Erlang cookie, own epmd, ports and directories; see
# tests/common/rabbitmq.rs). So the package's service is not wanted: its
# postinst runs `invoke-rc.d rabbitmq-server start`, which this script forbids
# with a policy-rc.d that answers 101 ("action forbidden") for the time of the
# install, when /usr/sbin/policy-rc.d is not there already (containers often
# have one that forbids every start). The postinst also enables the unit for
# the next boot under systemd; when systemd runs, the script disables it again
# and stops it if it runs anyway. A RabbitMQ that was installed before is left
# as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
# Tests run in parallel and may all ask at once: one installs, the others wait.
mkdir -p target
exec 9>target/e2e-rabbitmq.lock
flock 9

server=/usr/lib/rabbitmq/bin/rabbitmq-server
if [ ! -x "$server" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    echo "e2e-rabbitmq: installing rabbitmq-server needs root (or sudo)" >&2; exit 1
  fi
  command -v apt-get >/dev/null \
    || { echo "e2e-rabbitmq: no apt-get: install RabbitMQ 3.10 or later so that $server exists" >&2; exit 1; }
  policy=/usr/sbin/policy-rc.d
  ours=
  if [ ! -e "$policy" ]; then
    # Removed however the install ends.
    trap '${as_root[@]+"${as_root[@]}"} rm -f "$policy"' EXIT
    printf '#!/bin/sh\n# scripts/e2e-rabbitmq.sh: no service starts while rabbitmq-server installs\nexit 101\n' \
      | ${as_root[@]+"${as_root[@]}"} tee "$policy" >/dev/null
    ${as_root[@]+"${as_root[@]}"} chmod 755 "$policy"
    ours=1
  fi
  start=$(date +%s)
  ${as_root[@]+"${as_root[@]}"} apt-get update -qq
  ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends rabbitmq-server
  if [ -n "$ours" ]; then
    ${as_root[@]+"${as_root[@]}"} rm -f "$policy"
    trap - EXIT
  fi
  if [ -d /run/systemd/system ]; then
    # The unit the postinst enabled: not at the next boot, not now.
    ${as_root[@]+"${as_root[@]}"} systemctl disable --now rabbitmq-server.service >/dev/null 2>&1 || true
  fi
  echo "e2e-rabbitmq: rabbitmq-server installed in $(( $(date +%s) - start )) s (its service not started)"
fi
echo "e2e-rabbitmq: $server: RabbitMQ $(dpkg-query -W -f '${Version}' rabbitmq-server 2>/dev/null || echo '(not a Debian package)')"
