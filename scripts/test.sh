#!/usr/bin/env bash
# Builds circuit with everything optional turned on and runs the whole test
# suite (unit, model, stress, examples and the adapter suites).
#
#   bash scripts/test.sh [meson test options, e.g. --suite unit]
#
# On Debian 12, as root (or with sudo), it first installs what the full suite
# needs with apt-get, and only what is missing, so a second run goes straight
# to the build. It reuses the build directory `build/` (BUILD_DIR to change
# it) and leaves the results in build/meson-logs/testlog.{txt,json}.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  g++ meson ninja-build pkg-config   # the toolchain
  libabsl-dev libspdlog-dev          # the library
  libboost-test-dev                  # the tests (Boost.Test)
  libboost-dev                       # the Boost.Asio helpers
  libhiredis-dev redis-server        # the Redis store and its tests
  prometheus-cpp-dev                 # the prometheus-cpp collectable
  libbenchmark-dev                   # bench/ (built when -Dbench=true)
  valgrind                           # meson test --setup valgrind
  clang libclang-rt-14-dev           # sanitizer and fuzz builds
  cmake                              # the CMake package's tests and CI
)
build=${BUILD_DIR:-build}

# say, quiet, install_missing
. scripts/lib.sh

install_missing "${packages[@]}"

# A build directory configured before some packages were there (for example
# by scripts/demo.sh) has the optional parts off: configure it again.
stamp="$build/.configured-by-test-sh"
if [ ! -f "$build/build.ninja" ]; then
  say "configuring $build/"
  quiet meson setup "$build"
elif [ ! -f "$stamp" ] || [ "$installed_any" = 1 ]; then
  say "configuring $build/ again (new packages)"
  quiet meson setup --reconfigure "$build"
fi
touch "$stamp"

say "compiling"
quiet meson compile -C "$build"
say "testing"
meson test -C "$build" --no-rebuild --print-errorlogs "$@"
