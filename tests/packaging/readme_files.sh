#!/usr/bin/env bash
# README.md shows some files of tests/packaging/consumer in full (blocks
# marked `<!-- ci: file <path> -->`): each block must equal its file, so the
# README shows what the tests and CI build.
#
#   readme_files.sh <source root>
set -euo pipefail
src=$1
status=0
paths=$(sed -n 's/^<!-- ci: file \(.*\) -->$/\1/p' "$src/README.md")
[ -n "$paths" ] || { echo "FAIL: README.md marks no file block"; exit 1; }
for path in $paths; do
  if diff -u "$src/$path" <(bash "$src/scripts/readme_block.sh" "file $path" "$src/README.md"); then
    echo "ok: README.md shows $path as it is"
  else
    echo "FAIL: README.md's block for $path differs from the file (above)"
    status=1
  fi
done
exit $status
