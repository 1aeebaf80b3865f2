#!/usr/bin/env bash
# Helpers shared by the scripts in scripts/ (sourced, not run).

say() { printf '==> %s\n' "$*"; }

# quiet <command...>: runs a step with its output in a log file, shown
# (the last 60 lines) only when the step fails; then exits.
quiet() {
  local log status=0
  log=$(mktemp "${TMPDIR:-/tmp}/circuit-step.XXXXXX")
  "$@" >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    tail -n 60 "$log" >&2
    rm -f "$log"
    echo "failed ($status): $*" >&2
    exit "$status"
  fi
  rm -f "$log"
}

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# Installs the Debian packages among "$@" that are missing (apt-get update
# first), as root or through sudo, printing one line. apt's and dpkg's
# output goes to a log file that is printed only if they fail. Sets
# installed_any=1 if it installed something.
installed_any=0
install_missing() {
  local missing=() p sudo=() log status=0
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "run as root to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  say "installing ${missing[*]}"
  log=$(mktemp "${TMPDIR:-/tmp}/circuit-apt.XXXXXX")
  {
    "${sudo[@]}" apt-get update &&
      "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends "${missing[@]}"
  } </dev/null >"$log" 2>&1 || status=$?
  if [ "$status" -ne 0 ]; then
    cat "$log" >&2
    rm -f "$log"
    echo "apt-get failed ($status) installing: ${missing[*]}" >&2
    exit 1
  fi
  rm -f "$log"
  installed_any=1
}
