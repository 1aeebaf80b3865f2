#!/usr/bin/env bash
# Builds circuit and runs the demo, examples/peer_pool: a simulated pool of 8
# peers, some of which go down and come back, one of which turns slow, and a
# moment when the client's own network fails; each trip, ejection and
# suppressed trip logged, and every peer's breaker state drawn over time.
#
#   bash scripts/demo.sh [--color | --no-color]
#
# On Debian 12, as root (or with sudo), it first installs what the build needs
# with apt-get, and only what is missing, so a second run goes straight to
# the build. It reuses the build directory `build/` (BUILD_DIR to change it).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(g++ meson ninja-build pkg-config libabsl-dev libspdlog-dev)
build=${BUILD_DIR:-build}

# say, quiet, install_missing
. scripts/lib.sh

install_missing "${packages[@]}"
if [ ! -f "$build/build.ninja" ]; then
  say "configuring $build/"
  quiet meson setup "$build"
fi
say "compiling the demo"
quiet meson compile -C "$build" examples/peer_pool
echo
exec "$build/examples/peer_pool" "$@"
