#!/usr/bin/env bash
# Install Jupyter HDS as a systemd service (run by `make install`, as root). Idempotent.
#
#   PREFIX   the application: venv, proxy, shipped config, docs   (default /opt/jupyter-hds)
#   DESTDIR  write every file under this folder instead of / (to inspect or test an install)
#   HDS_INSTALL_APP=0  skip building the application (venv and proxy) under PREFIX
#
# Never overwrites the operator's configuration or secrets; units and the shipped config
# are replaced (that is an upgrade). Nothing is started: docs/operating.md says what next.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=${PREFIX:-/opt/jupyter-hds}
DESTDIR=${DESTDIR:-}
PYTHON=${PYTHON:-python3.11}
app=$DESTDIR$PREFIX
etc=$DESTDIR/etc/jupyter-hds
units=$DESTDIR/etc/systemd/system

step() { echo "install: $*" >&2; }

# -- the application --------------------------------------------------------------------
if [ "${HDS_INSTALL_APP:-1}" != 0 ]; then
  step "application in $app (Python venv, pinned requirements, the proxy)"
  install -d -m 0755 "$app"
  test -x "$app/venv/bin/python" || "$PYTHON" -m venv "$app/venv"
  "$app/venv/bin/pip" install --quiet --upgrade -r "$src/requirements/hub.txt"
  "$app/venv/bin/pip" install --quiet --upgrade --no-deps "$src"
  install -m 0644 "$src/package.json" "$src/package-lock.json" "$app/"
  npm ci --prefix "$app" --omit=dev --no-audit --no-fund --loglevel=error
fi
install -d -m 0755 "$app" "$app/docs"
install -m 0644 "$src/hub/jupyterhub_config.py" "$app/jupyterhub_config.py"
install -m 0644 "$src"/docs/*.md "$app/docs/"
install -m 0644 "$src/hub/systemd/nginx-jupyter-hds.conf" "$app/nginx-jupyter-hds.conf"
install -d -m 0755 "$DESTDIR/usr/local/bin"
ln -sfn "$PREFIX/venv/bin/hds" "$DESTDIR/usr/local/bin/hds"

# -- systemd units ----------------------------------------------------------------------
step "units in $units"
install -d -m 0755 "$units"
for unit in "$src"/hub/systemd/*.service "$src"/hub/systemd/*.timer; do
  sed "s#/opt/jupyter-hds#$PREFIX#g" "$unit" >"$units/$(basename "$unit")"
  chmod 0644 "$units/$(basename "$unit")"
done

# -- configuration, secrets and state ---------------------------------------------------
step "configuration in $etc, state in $DESTDIR/var/lib/jupyter-hds"
install -d -m 0755 "$etc" "$etc/conf.d"
install -d -m 0700 "$DESTDIR/var/lib/jupyter-hds" "$DESTDIR/var/backups/jupyter-hds"
install -d -m 0700 "$DESTDIR/var/cache/jupyter-hds"
example=$etc/conf.d/10-site.py.example
if [ ! -e "$example" ]; then
  cat >"$example" <<'PY'
# Copy to 10-site.py and edit: every *.py here is loaded after the shipped config, in order.
c.Deployment.public_url = "https://hds.example.org"   # what people open
# TLS by the hub's proxy itself (or an nginx front: /opt/jupyter-hds/nginx-jupyter-hds.conf):
# c.JupyterHub.bind_url = "https://:443"
# c.JupyterHub.ssl_cert = "/etc/ssl/certs/hds.example.org.pem"
# c.JupyterHub.ssl_key = "/etc/ssl/private/hds.example.org.key"
# Behind nginx on this host:
# c.JupyterHub.bind_url = "http://127.0.0.1:8000"
# c.JupyterHub.trusted_downstream_ips = ["127.0.0.1"]
# Backups off this host (default: /var/backups/jupyter-hds):
# c.Backup.repository = "sftp:backup@vault.example.org:/srv/restic/hds"
PY
  chmod 0644 "$example"
fi
secret() { python3 -c "import secrets; print(secrets.token_hex(32))"; }
umask 077
[ -s "$etc/proxy.env" ] || echo "CONFIGPROXY_AUTH_TOKEN=$(secret)" >"$etc/proxy.env"
[ -s "$etc/hub.env" ] || echo "JUPYTERHUB_CRYPT_KEY=$(secret)" >"$etc/hub.env"
[ -s "$etc/backup-password" ] || secret >"$etc/backup-password"
chmod 0600 "$etc/proxy.env" "$etc/hub.env" "$etc/backup-password"

if [ -z "$DESTDIR" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
cat >&2 <<MSG
install: done. Next (docs/operating.md, "Install"):
  - write /etc/jupyter-hds/conf.d/10-site.py (from 10-site.py.example) and the login settings
  - copy /etc/jupyter-hds/backup-password somewhere safe, away from this host
  - make images; systemctl enable --now jupyter-hds-proxy jupyter-hds-hub jupyter-hds-backup.timer \
      jupyter-hds-airlock-purge.timer
  - hds doctor
MSG
