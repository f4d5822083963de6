#!/usr/bin/env bash
# Build the base image from Debian packages (debootstrap + docker import): no registry needed.
# Usage: images/base/build.sh TAG   (env: DEBIAN_MIRROR, DEBIAN_SUITE)
set -euo pipefail

tag=${1:?usage: $0 TAG}
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# One package a line; python3-venv brings ensurepip, which the image's venv needs.
packages=(
  python3
  python3-venv
  ca-certificates
  tzdata
)

if ! command -v debootstrap >/dev/null; then
  echo "base image: installing debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
fi

rootfs=$(mktemp -d /var/tmp/hds-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "base image: debootstrap $suite from $mirror (about a minute)" >&2
debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" \
  "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 || {
  tail -20 "$rootfs.log" >&2
  echo "base image: debootstrap failed; log above (full log: $rootfs.log)" >&2
  exit 1
}
rm -f "$rootfs.log"
# What debootstrap leaves behind that no container needs.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/*
tar --numeric-owner -C "$rootfs" -c . |
  docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' \
    --message "debootstrap $suite ($mirror)" - "$tag" >/dev/null
echo "base image: $tag built" >&2
