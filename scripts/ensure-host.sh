#!/usr/bin/env bash
# Install the Debian packages the hub host needs when they are missing (run as root).
set -euo pipefail

python=${PYTHON:-python3.11}
missing=()
command -v "$python" >/dev/null || missing+=(python3)
"$python" -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
command -v npm >/dev/null || missing+=(nodejs npm)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v iptables >/dev/null || missing+=(iptables)
# Backups (`hds backup`): restic writes the encrypted repository; fsfreeze (util-linux) and
# e2fsprogs give consistent copies of project volumes in use.
command -v restic >/dev/null || missing+=(restic)
command -v fsfreeze >/dev/null || missing+=(util-linux)
command -v mkfs.ext4 >/dev/null || missing+=(e2fsprogs)
# The install runs under systemd; its tests read the units with systemd-analyze and make a
# TLS certificate with openssl.
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v openssl >/dev/null || missing+=(openssl)
# The browser test tier drives Debian's chromium (browsers cannot be downloaded here).
command -v chromium >/dev/null || missing+=(chromium)
# PostgreSQL: the hub's database beyond one host (docs/scaling.md); the tests run a
# throwaway cluster with its initdb and pg_ctl, which Debian keeps off $PATH.
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  echo "host: installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
