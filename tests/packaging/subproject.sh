#!/usr/bin/env bash
# A user's Meson project uses circuit as a subproject, as README.md ("Using
# it", Meson) says: a copy of tests/packaging/consumer runs the README's
# block `meson-subproject` with CIRCUIT_SRC pointing at this source tree,
# then the program it built.
#
#   subproject.sh <source root>
#
# Exits 77 (skipped) when an installed circuit would be found first, since
# dependency('circuit') prefers an installed copy to the subproject.
set -euo pipefail
src=$(cd "$1" && pwd)
if pkg-config --exists circuit 2>/dev/null; then
  echo "an installed circuit ($(pkg-config --variable=libdir circuit)) shadows the subproject: skipped"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$src/tests/packaging/consumer/." "$work/"
block=$(bash "$src/scripts/readme_block.sh" meson-subproject "$src/README.md")
cd "$work"
start=$SECONDS
if ! CIRCUIT_SRC="$src" bash -euo pipefail -c "$block" >build.log 2>&1; then
  tail -n 60 build.log
  echo "FAIL: the README's subproject commands failed"
  exit 1
fi
if [ ! -d build/subprojects/circuit ]; then
  echo "FAIL: the consumer did not build circuit as a subproject"
  exit 1
fi
echo "built the consumer with circuit as a subproject in $((SECONDS - start)) s"
./build/app
