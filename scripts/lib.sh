#!/usr/bin/env bash
# Helpers shared by scripts/demo.sh and scripts/test.sh (sourced, not run).

say() { printf '==> %s\n' "$*"; }

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Installs the Debian packages among "$@" that are missing (apt-get update
# first, once), as root or through sudo. Sets installed_any=1 if it did.
installed_any=0
install_missing() {
  local missing=() p sudo=()
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "run as root to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  say "installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
  installed_any=1
}
