#!/usr/bin/env bash
# Run the demo provider and the public proxy, then the hub in the foreground with the demo
# project (called by `make up`).
set -euo pipefail
cd "$(dirname "$0")/.."

state=${HDS_STATE_DIR:?HDS_STATE_DIR must be set (make up sets it to ./var)}
mkdir -p "$state/demo-oidc"
chmod 700 "$state"
hds demo-dataset "$state/datasets/demo-cohort"

# Secrets made once per state folder, readable by root only.
umask 077
secret_file() { [ -s "$1" ] || python3 -c "import secrets; print(secrets.token_hex(32))" >"$1"; cat "$1"; }
export JUPYTERHUB_CRYPT_KEY=$(secret_file "$state/jupyterhub_crypt_key")
export HDS_DEMO_OIDC_CLIENT_SECRET=$(secret_file "$state/demo-oidc/client_secret")

# The hub's public address (the shipped config reads the same variable).
export HDS_PUBLIC_URL=${HDS_PUBLIC_URL:-http://127.0.0.1:8000}
hub=$HDS_PUBLIC_URL
port=${HDS_DEMO_OIDC_PORT:-8100}
export HDS_DEMO_OIDC_ISSUER=http://127.0.0.1:$port
cat >"$state/demo-oidc/clients.json" <<JSON
[{"client_id": "jupyter-hds-demo", "client_secret": "$HDS_DEMO_OIDC_CLIENT_SECRET",
  "client_name": "Jupyter HDS (demo)",
  "redirect_uris": ["$hub/hub/oauth_callback"], "post_logout_redirect_uris": ["$hub/hub/login"],
  "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"]}]
JSON

DEMO_OIDC_PORT=$port DEMO_OIDC_CLIENTS="$state/demo-oidc/clients.json" \
  node demo/oidc-provider/server.mjs >"$state/demo-oidc/provider.log" 2>&1 &
provider=$!
trap 'kill $provider 2>/dev/null; wait $provider 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  if python3 -c "import urllib.request as u; u.urlopen('$HDS_DEMO_OIDC_ISSUER/.well-known/openid-configuration', timeout=1)" 2>/dev/null; then
    break
  fi
  kill -0 $provider 2>/dev/null || { cat "$state/demo-oidc/provider.log"; exit 1; }
  sleep 0.2
done

# The public proxy runs apart from the hub, as jupyter-hds-proxy.service does in production:
# the hub uses it and never starts its own (docs/operating.md, "Restarts").
export CONFIGPROXY_AUTH_TOKEN=${CONFIGPROXY_AUTH_TOKEN:-$(secret_file "$state/proxy_auth_token")}
python3 -m jupyter_hds.operations.proxy >"$state/proxy.log" 2>&1 &
proxy=$!
trap 'kill $provider $proxy 2>/dev/null; wait $provider $proxy 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  grep -q "Proxy API at" "$state/proxy.log" && break
  kill -0 $proxy 2>/dev/null || { cat "$state/proxy.log"; exit 1; }
  sleep 0.2
done

cat <<MSG

  Jupyter HDS is starting on $hub
  Log in with the demo identity provider ($HDS_DEMO_OIDC_ISSUER), user name / password:
    researcher / researcher-demo     researcher2 / researcher2-demo
    admin / admin-demo (hosting team)   auditor / auditor-demo
  Stop with Ctrl-C. State: $state

MSG
jupyterhub -f hub/jupyterhub_config.py --ConfigurableHTTPProxy.should_start=False
