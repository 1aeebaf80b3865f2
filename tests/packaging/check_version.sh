#!/usr/bin/env bash
# Runs version_test against the version pkg-config reports for the built,
# uninstalled tree (<build>/meson-uninstalled/circuit-uninstalled.pc).
#
#   check_version.sh <version_test> <build root>
set -euo pipefail
test_exe=$1
export PKG_CONFIG_PATH="$2/meson-uninstalled"
version=$(pkg-config --modversion circuit)
echo "pkg-config --modversion circuit (uninstalled): $version"
for module in circuit-redis circuit-prometheus circuit-grpc; do
  if pkg-config --exists "$module"; then
    v=$(pkg-config --modversion "$module")
    [ "$v" = "$version" ] || { echo "FAIL: $module is $v, circuit is $version"; exit 1; }
    echo "pkg-config --modversion $module: $v"
  fi
done
exec "$test_exe" --log_level=test_suite -- "$version"
