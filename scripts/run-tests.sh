#!/usr/bin/env bash
# `make test`: every tier, in two lanes at once, so the suite stays well under 30 minutes.
#   host lane:   unit, audit, extension, OIDC and in-process hub tests (CPU-bound)
#   docker lane: real containers and the browser journeys (mostly waiting on engines)
# then, alone, the engine restart test: it stops the engine the other tests use.
# Each lane has its own temporary folder. The docker lane prints as it goes; the host lane
# writes build/test-host.log, printed whole once both are done. The exit status is the first
# failing lane's. With arguments, runs only `pytest ARGS` (e.g. one file).
set -uo pipefail
cd "$(dirname "$0")/.."
pytest=.venv/bin/pytest
ALONE=tests/docker/test_engine_restart.py

if [ $# -gt 0 ]; then
  exec "$pytest" "$@"
fi

# Job control: without it, bash starts background jobs with SIGINT ignored, which the hubs
# and servers the tests start would inherit (and then not stop on SIGINT). Each lane is its
# own process group, so an interrupt of this script stops both.
set -m

# Start from empty folders: a killed run may have left project volumes mounted in them.
scripts/clear-test-folders.sh /tmp/hds-tests-host /tmp/hds-tests-docker /tmp/hds-tests-alone ||
  exit 1

trap 'kill -INT -- ${host:+-$host} ${docker:+-$docker} 2>/dev/null' INT TERM
started=$(date +%s)
mkdir -p build
"$pytest" -p no:cacheprovider --basetemp=/tmp/hds-tests-host \
  tests --ignore=tests/docker --ignore=tests/browser >build/test-host.log 2>&1 &
host=$!
echo "make test: the host lane (unit, audit, extension, OIDC, hub) runs beside this one;" \
  "its output follows at the end (build/test-host.log)"
"$pytest" -p no:cacheprovider --basetemp=/tmp/hds-tests-docker tests/docker tests/browser \
  --ignore=$ALONE &
docker=$!

wait "$host"
host_status=$?
wait "$docker"
docker_status=$?

echo "================================ host lane ================================="
cat build/test-host.log
echo "=========================== engine restart, alone =========================="
"$pytest" -p no:cacheprovider --basetemp=/tmp/hds-tests-alone "$ALONE"
alone_status=$?
elapsed=$(($(date +%s) - started))
echo "make test: host lane exit $host_status, docker lane exit $docker_status," \
  "engine restart exit $alone_status, $((elapsed / 60)) min $((elapsed % 60)) s"
[ "$host_status" -eq 0 ] || exit "$host_status"
[ "$docker_status" -eq 0 ] || exit "$docker_status"
exit "$alone_status"
