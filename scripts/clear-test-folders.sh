#!/usr/bin/env bash
# Empty the test lanes' temporary folders (each argument) before `make test` uses them.
# A run that was killed (a machine restart, a timeout) leaves project volumes mounted there:
# pytest cannot remove a mount point, and every test's setup would fail with "File exists".
# This unmounts what is mounted under each folder (deepest first), then removes the folder.
set -uo pipefail
status=0
for dir in "$@"; do
  dir=${dir%/}
  awk -v d="$dir/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r point; do umount -l "$point"; done
  rm -rf "$dir"
  if [ -e "$dir" ]; then
    echo "make test: cannot remove $dir, left by an earlier run (see: grep $dir /proc/mounts)" >&2
    status=1
  fi
done
exit $status
