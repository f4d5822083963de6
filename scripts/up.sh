#!/usr/bin/env bash
# Run the hub in the foreground with the demo project (called by `make up`, after the installs).
set -euo pipefail
cd "$(dirname "$0")/.."

state=${HDS_STATE_DIR:?HDS_STATE_DIR must be set (make up sets it to ./var)}
mkdir -p "$state"
chmod 700 "$state"
hds demo-dataset "$state/datasets/demo-cohort"

cat <<MSG

  Jupyter HDS is starting on http://127.0.0.1:8000
  DEMO LOGIN (this machine only): user "researcher" or "admin", any password.
  Stop with Ctrl-C. State: $state

MSG
exec jupyterhub -f hub/jupyterhub_config.py
