#!/usr/bin/env bash
# Builds the Debian packages of circuit (libcircuit0, libcircuit-redis0,
# libcircuit-prometheus0, libcircuit-dev) from this checkout into dist/.
#
#   bash scripts/package.sh
#
# On Debian 12, as root (or with sudo), it first installs debhelper and the
# missing Build-Depends of debian/control. The build runs with
# `dpkg-buildpackage -us -uc -b` in a copy of the checkout under build-deb/
# (its log: build-deb/build.log), with DEB_BUILD_OPTIONS="nocheck noddebs"
# unless DEB_BUILD_OPTIONS is set: `DEB_BUILD_OPTIONS= bash
# scripts/package.sh` runs the tests in the package build too. When lintian
# is installed it checks the result and fails on an error.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-nocheck noddebs}

# say, quiet, install_missing
. scripts/lib.sh

start=$SECONDS
install_missing debhelper dpkg-dev build-essential python3

# The package's version must be the project's.
meson_version=$(meson introspect --projectinfo meson.build 2>/dev/null |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])')
deb_version=$(dpkg-parsechangelog -S Version)
if [ "${deb_version%-*}" != "$meson_version" ]; then
  echo "debian/changelog is at $deb_version but meson.build at $meson_version:" \
    "add a debian/changelog entry (dch -v $meson_version-1)" >&2
  exit 1
fi

profiles=()
case " $DEB_BUILD_OPTIONS " in *" nocheck "*) profiles=(-Pnocheck) ;; esac
# dpkg-checkbuilddeps names what is missing, with versions: keep the names.
unmet=$(dpkg-checkbuilddeps "${profiles[@]}" 2>&1 |
  sed -n 's/.*Unmet build dependencies: //p' | sed 's/([^)]*)//g; s/|[^ ]*//g') || true
# shellcheck disable=SC2086
[ -n "$unmet" ] && install_missing $unmet

# A clean copy of the checkout: what git tracks or would track.
work=build-deb
src="$work/circuit-$meson_version"
say "copying the sources to $src/"
rm -rf "$work"
mkdir -p "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$src"
else
  tar --exclude='./build*' --exclude=./dist --exclude='./obj-*' -cf - . |
    tar -xf - -C "$src"
fi

say "building the packages (DEB_BUILD_OPTIONS=\"$DEB_BUILD_OPTIONS\"; log: $work/build.log)"
if ! (cd "$src" && dpkg-buildpackage -us -uc -b -J"$(nproc)" "${profiles[@]}") \
    >"$work/build.log" 2>&1; then
  tail -n 80 "$work/build.log" >&2
  echo "dpkg-buildpackage failed (log: $work/build.log)" >&2
  exit 1
fi

if command -v lintian >/dev/null; then
  say "lintian"
  lintian_status=0
  lintian_out=$(lintian --fail-on error "$work"/*.changes 2>&1) || lintian_status=$?
  lintian_out=$(grep -v '^running with root privileges' <<<"$lintian_out" || true)
  [ -n "$lintian_out" ] && echo "$lintian_out"
  if [ "$lintian_status" -ne 0 ]; then
    echo "lintian found errors ($lintian_status)" >&2
    exit 1
  fi
fi

mkdir -p dist
rm -f dist/*.deb
mv "$work"/*.deb dist/
# (the .changes and .buildinfo stay in build-deb/)

say "$(ls dist/*.deb | wc -l) packages in dist/ ($((SECONDS - start)) s):"
ls dist/*.deb | sed 's/^/    /'
