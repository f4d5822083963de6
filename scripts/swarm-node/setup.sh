#!/usr/bin/env bash
# Make this host a Jupyter HDS swarm node (docs/scaling.md, "Adding a node"). Run as root on the
# NEW node, from a checkout of the same version as the hub's:
#   scripts/swarm-node/setup.sh JOIN-TOKEN MANAGER-ADDRESS:2377
# It restarts this host's Docker engine (daemon defaults): never run it on a busy host.
set -euo pipefail
token=${1:?usage: $0 JOIN-TOKEN MANAGER:2377}
manager=${2:?usage: $0 JOIN-TOKEN MANAGER:2377}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

scripts_dir="$root/scripts"
"$scripts_dir/ensure-host.sh"
"$scripts_dir/ensure-docker.sh"
# Engine defaults for every container of this node: what a Docker 20.10 swarm service cannot
# carry itself (no-new-privileges), and capped logs. Kept if the operator has a daemon.json.
if [ -e /etc/docker/daemon.json ] && ! cmp -s /etc/docker/daemon.json "$here/daemon.json"; then
  echo "node: /etc/docker/daemon.json exists; merge $here/daemon.json into it by hand" >&2
  exit 1
fi
install -m 0644 "$here/daemon.json" /etc/docker/daemon.json
systemctl restart docker
# The images, built here from Debian packages and pinned wheels (no registry needed).
make -C "$root" images
docker image inspect jupyter-hds/node:bookworm >/dev/null 2>&1 ||
  docker build -q -t jupyter-hds/node:bookworm "$root/images/node"
# Docker 20.10's `docker info` does not show it: a container does.
docker run --rm jupyter-hds/base:bookworm grep -q "NoNewPrivs:.1" /proc/self/status ||
  { echo "node: the engine did not take no-new-privileges from daemon.json" >&2; exit 1; }
# The agent: volumes under the same state folder as on the hub.
mkdir -p /var/lib/jupyter-hds
sed "s|@ROOT@|$root|" "$here/jupyter-hds-node-agent.service" \
  >/etc/systemd/system/jupyter-hds-node-agent.service
systemctl daemon-reload
systemctl enable --now jupyter-hds-node-agent
docker swarm join --token "$token" "$manager"
echo "node: joined; datasets must be synced to /var/lib/jupyter-hds/datasets (read-only)"
