#!/usr/bin/env bash
# Make sure a Docker engine answers: install Debian's docker.io if missing, start dockerd if stopped.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null; then
  echo "docker: installing Debian's docker.io" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q docker.io >/dev/null
fi
if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  systemctl start docker
else
  # No init system (containers, CI): run dockerd in the background.
  echo "docker: starting dockerd (log: /var/log/dockerd.log)" >&2
  nohup dockerd >>/var/log/dockerd.log 2>&1 &
fi
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
echo "docker: the engine did not answer within 30 s; see /var/log/dockerd.log" >&2
exit 1
