#!/usr/bin/env bash
# Run the demo provider and the public proxy, then the hub in the foreground with the demo
# project (called by `make up`).
set -euo pipefail
cd "$(dirname "$0")/.."

state=${HDS_STATE_DIR:?HDS_STATE_DIR must be set (make up sets it to ./var)}
mkdir -p "$state/demo-oidc"
chmod 700 "$state"

# Secrets made once per state folder, readable by root only.
umask 077
secret_file() { [ -s "$1" ] || python3 -c "import secrets; print(secrets.token_hex(32))" >"$1"; cat "$1"; }
export JUPYTERHUB_CRYPT_KEY=$(secret_file "$state/jupyterhub_crypt_key")
export HDS_DEMO_OIDC_CLIENT_SECRET=$(secret_file "$state/demo-oidc/client_secret")
export HDS_DEMO_SETUP_TOKEN=$(secret_file "$state/demo-oidc/setup_token")

# Where the proxy listens (the shipped config reads the same variable), and the name people
# open: user servers live on its subdomains (<user>.hub.localhost), each its own web origin, as
# sharing a server for co-editing requires. Browsers resolve *.localhost to loopback themselves.
export HDS_PUBLIC_URL=${HDS_PUBLIC_URL:-http://127.0.0.1:8000}
export HDS_HUB_URL=${HDS_HUB_URL:-http://hub.localhost:${HDS_PUBLIC_URL##*:}}
hub=$HDS_HUB_URL
port=${HDS_DEMO_OIDC_PORT:-8100}
export HDS_DEMO_OIDC_ISSUER=http://127.0.0.1:$port
# The provider sends people back to the address they came from: the hub's name, or loopback.
cat >"$state/demo-oidc/clients.json" <<JSON
[{"client_id": "jupyter-hds-demo", "client_secret": "$HDS_DEMO_OIDC_CLIENT_SECRET",
  "client_name": "Jupyter HDS (demo)",
  "redirect_uris": ["$hub/hub/oauth_callback", "$HDS_PUBLIC_URL/hub/oauth_callback"],
  "post_logout_redirect_uris": ["$hub/hub/login", "$HDS_PUBLIC_URL/hub/login"],
  "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}]
JSON

DEMO_OIDC_PORT=$port DEMO_OIDC_CLIENTS="$state/demo-oidc/clients.json" \
  node demo/oidc-provider/server.mjs >"$state/demo-oidc/provider.log" 2>&1 &
provider=$!
trap 'kill $provider ${hub_pid:-} 2>/dev/null; wait $provider ${hub_pid:-} 2>/dev/null || true' EXIT
# wait_for WHAT PID LOG CHECK...: until CHECK succeeds (180 s at most, a loaded machine
# included); a process that ends, or a wait that runs out, stops `make up` with its log.
wait_for() {
  local what=$1 pid=$2 log=$3 deadline=$((SECONDS + 180))
  shift 3
  until "$@" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "up: the $what stopped while starting:" >&2; [ -f "$log" ] && cat "$log" >&2; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "up: the $what did not answer within 180 s:" >&2; [ -f "$log" ] && cat "$log" >&2; exit 1
    fi
    sleep 0.2
  done
}
answers() { python3 -c "import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=2)" "$1"; }
wait_for "demo identity provider" $provider "$state/demo-oidc/provider.log" \
  answers "$HDS_DEMO_OIDC_ISSUER/.well-known/openid-configuration"

# The public proxy runs apart from the hub, as jupyter-hds-proxy.service does in production:
# the hub uses it and never starts its own (docs/operating.md, "Restarts").
export CONFIGPROXY_AUTH_TOKEN=${CONFIGPROXY_AUTH_TOKEN:-$(secret_file "$state/proxy_auth_token")}
python3 -m jupyter_hds.operations.proxy >"$state/proxy.log" 2>&1 &
proxy=$!
trap 'kill $provider $proxy ${hub_pid:-} 2>/dev/null; wait $provider $proxy ${hub_pid:-} 2>/dev/null || true' EXIT
wait_for proxy $proxy "$state/proxy.log" grep -q "Proxy API at" "$state/proxy.log"

jupyterhub -f hub/jupyterhub_config.py --ConfigurableHTTPProxy.should_start=False &
hub_pid=$!
wait_for hub $hub_pid "" answers "$HDS_PUBLIC_URL/hub/api/"  # its log is on this terminal

# The demo dataset, the way a hosting team makes one: a raw extract (synthetic French
# identities) pseudonymised by `hds dataset import` for the demo project, with its spec.
export JUPYTERHUB_API_URL=$HDS_PUBLIC_URL/hub/api JUPYTERHUB_API_TOKEN=$HDS_DEMO_SETUP_TOKEN
if ! hds dataset show demo-cohort >/dev/null 2>&1; then
  python3 demo/raw-extract/make_extract.py "$state/demo-raw-extract"
  hds dataset import demo-cohort --project demo-cohort --spec demo/raw-extract/spec.toml \
    "$state"/demo-raw-extract/*.csv
  rm -rf "$state/demo-raw-extract"  # raw identities never stay beside the hub
fi
hds project set demo-cohort dataset=demo-cohort >/dev/null

cat <<MSG

  Jupyter HDS is starting on $hub (user servers on its subdomains; a browser resolves
  *.localhost itself, other tools need "127.0.0.1 hub.localhost <user>.hub.localhost" in /etc/hosts)
  Log in with the demo identity provider ($HDS_DEMO_OIDC_ISSUER), user name / password:
    researcher / researcher-demo     researcher2 / researcher2-demo  (both in demo-cohort: co-edit)
    admin / admin-demo (hosting team)   auditor / auditor-demo
    checker / checker-demo   checker2 / checker2-demo  (output checkers: /hub/hds/airlock)
  Stop with Ctrl-C. State: $state

MSG
wait $hub_pid
