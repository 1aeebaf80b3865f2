#!/usr/bin/env bash
# CI: the Debian packages, built, installed, used from /usr and removed
# again; called by .ci/run after the tests and the contract check (it can
# also be run alone, as root: bash .ci/packages.sh).
#
# Each step runs a block of README.md ("Using it") exactly as written
# (scripts/readme_block.sh), prints one line, and shows its output only
# when it fails:
#   1. debian-install: scripts/package.sh (nocheck) and apt-get install
#      ./dist/*.deb;
#   2. pkg-config: the contract's core and redis programs
#      (../shared/contract/contract_{core,redis}.cc), built and run;
#   3. cmake: the contract's CMake consumer (../shared/contract/cmake) and
#      tests/packaging/consumer (circuit::redis, circuit::prometheus), built
#      and run;
#   4. meson-installed: tests/packaging/consumer with Meson, built and run;
#   5. debian-remove: the packages purged, and whatever apt installed with
#      them, so the machine is left as it was (also when a step fails).
# Exits non-zero if any step failed. CONTRACT_DIR overrides ../shared/contract.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
contract=${CONTRACT_DIR:-"$root/../shared/contract"}
ours=(libcircuit0 libcircuit-redis0 libcircuit-prometheus0 libcircuit-dev)

work=$(mktemp -d)
# apt-get as the README writes it, answering yes (there is no terminal).
printf 'APT::Get::Assume-Yes "true";\n' >"$work/apt.conf"
export APT_CONFIG="$work/apt.conf" DEBIAN_FRONTEND=noninteractive
export CIRCUIT_SRC="$root"

failed=0
steps=0
# step <name> <dir> <block> [<program to run after it>...]
step() {
  local name=$1 dir=$2 block=$3 start=$SECONDS log cmds
  steps=$((steps + 1))
  log="$work/step$steps.log"
  shift 3
  cmds=$(bash "$root/scripts/readme_block.sh" "$block") || { failed=1; return 1; }
  if (cd "$dir" && bash -euo pipefail -c "$cmds" && for p in "$@"; do "$p" || exit; done) \
      </dev/null >"$log" 2>&1; then
    echo "packages: $name: ok ($((SECONDS - start)) s)"
  else
    tail -n 60 "$log"
    echo "packages: $name: FAILED ($((SECONDS - start)) s)"
    failed=1
    return 1
  fi
}

before="$work/before"
dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^ii/ { print $2 }' | sort >"$before"
preinstalled=$(grep -xF -f <(printf '%s\n' "${ours[@]}") "$before" | tr '\n' ' ')
[ -n "$preinstalled" ] &&
  echo "packages: note: $preinstalled were installed already; they are replaced and removed at the end"

cleanup() {
  local start=$SECONDS now extra p any=0
  for p in "${ours[@]}"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.[^n]' && any=1
  done
  if [ "$any" = 1 ] && ! (cd "$root" && bash -euo pipefail -c "$(bash scripts/readme_block.sh debian-remove)") \
      </dev/null >"$work/remove.log" 2>&1; then
    cat "$work/remove.log"
    echo "packages: removing: FAILED"
    failed=1
  fi
  # What apt installed along with ours.
  now=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^ii/ { print $2 }' | sort)
  extra=$(comm -13 "$before" <(echo "$now") | tr '\n' ' ')
  if [ -n "$extra" ] && ! apt-get purge $extra </dev/null >>"$work/remove.log" 2>&1; then
    cat "$work/remove.log"
    failed=1
  fi
  echo "packages: removed ${ours[*]}${extra:+ and $extra} ($((SECONDS - start)) s)"
  rm -rf "$work"
}

mkdir -p "$work/pc" "$work/cmake-contract" "$work/cmake-consumer" "$work/meson-consumer"
cp "$contract/contract_core.cc" "$work/pc/app.cc" &&
  cp "$contract/contract_redis.cc" "$work/pc/redis_app.cc" &&
  cp -r "$contract/cmake/." "$work/cmake-contract/" &&
  cp -r tests/packaging/consumer/. "$work/cmake-consumer/" &&
  cp -r tests/packaging/consumer/. "$work/meson-consumer/" || {
  echo "packages: the contract files are not in $contract"
  rm -rf "$work"
  exit 1
}

if step "build and install (scripts/package.sh, apt-get install ./dist/*.deb)" \
    "$root" debian-install; then
  step "pkg-config against /usr (contract core and redis)" "$work/pc" pkg-config \
    ./app ./redis_app
  step "cmake against /usr (contract consumer)" "$work/cmake-contract" cmake \
    ./build/consumer
  step "cmake against /usr (circuit::redis, circuit::prometheus)" \
    "$work/cmake-consumer" cmake ./build/app
  step "meson against /usr" "$work/meson-consumer" meson-installed ./build/app
fi
cleanup
exit $failed
