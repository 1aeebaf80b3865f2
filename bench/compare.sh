#!/usr/bin/env bash
# Copyright 2026 The circuit Authors.
# SPDX-License-Identifier: Apache-2.0
#
# Usage: bash bench/compare.sh OLD_REV [NEW_REV]
#
# Compares bench/breaker_set_bench of two revisions side by side. NEW_REV
# defaults to the working tree this script lives in (uncommitted changes
# included). Each revision given as a rev is checked out in a temporary git
# worktree; each side is configured the way a user gets it (the project's
# default buildtype, no --buildtype), only the benchmark binary is built,
# and the two binaries then run alternately (old, new, old, new, ...), so a
# slow spell of a shared machine hits both sides alike. bench/report.py
# --compare (of this tree, whatever the revisions) prints the Markdown table.
#
# Settings, from the environment:
#   ROUNDS       runs of each binary (default 3, at least 3 for a verdict)
#   REPETITIONS  --benchmark_repetitions of each run (default 3)
#   MIN_TIME     --benchmark_min_time of each run, seconds (default 0.5:
#                about a minute per run on a 2-core VM)
#   THRESHOLD    flag rows whose new/old ratio to the floor exceeds this
#                (default 1.05)
#   OUT          where the JSON runs, the load log and the table are kept
#                (default build-compare/OLD-NEW-TIMESTAMP in this tree)
#   JOBS         meson compile -j (default 2)
#   FILTER       --benchmark_filter of each run (default: every row but
#                the memory rows, which measure 1 M peers once, not time)
#
# The temporary worktrees and build directories are removed on exit,
# whatever the exit path; the JSON runs in OUT are kept as the evidence.

set -euo pipefail

usage() {
  echo "usage: bash bench/compare.sh OLD_REV [NEW_REV]" >&2
  exit 2
}
[[ $# -ge 1 && $# -le 2 ]] || usage

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
rounds=${ROUNDS:-3}
repetitions=${REPETITIONS:-3}
min_time=${MIN_TIME:-0.5}
threshold=${THRESHOLD:-1.05}
jobs=${JOBS:-2}
filter=${FILTER:--BM_MemoryPerPeer}

resolve() {
  git -C "$repo" rev-parse --verify --quiet "$1^{commit}" ||
    { echo "compare.sh: unknown revision '$1'" >&2; exit 2; }
}
old_rev=$1
old_sha=$(resolve "$old_rev")
if [[ $# -eq 2 ]]; then
  new_rev=$2
  new_sha=$(resolve "$new_rev")
  new_desc="$new_rev ($(git -C "$repo" rev-parse --short "$new_sha"))"
else
  new_rev=worktree
  new_sha=
  dirty=$(git -C "$repo" status --porcelain --untracked-files=no | head -1)
  new_desc="working tree at $(git -C "$repo" rev-parse --short HEAD)${dirty:+ + uncommitted changes}"
fi
old_desc="$old_rev ($(git -C "$repo" rev-parse --short "$old_sha"))"

stamp=$(date +%Y%m%d-%H%M%S)
out=${OUT:-$repo/build-compare/${old_rev//\//_}-${new_rev//\//_}-$stamp}
mkdir -p "$out"
out=$(cd "$out" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/circuit-compare.XXXXXX")
cleanup() {
  local wt
  for wt in "$tmp"/src-*; do
    [[ -d $wt ]] || continue
    git -C "$repo" worktree remove --force "$wt" >/dev/null 2>&1 || true
  done
  rm -rf "$tmp"
  git -C "$repo" worktree prune >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load() { cut -d' ' -f1-3 /proc/loadavg; }

# checkout SIDE SHA: a detached worktree of SHA at $tmp/src-SIDE.
checkout() {
  git -C "$repo" worktree add --detach --quiet "$tmp/src-$1" "$2"
}

# build SIDE SRC: configure with the project's defaults and build only the
# benchmark binary; prints the binary's path.
build() {
  local side=$1 src=$2 dir=$tmp/build-$1
  echo "== $side: configure and build $src" >&2
  meson setup "$dir" "$src" -Dbench=true -Dtests=disabled -Dexamples=false \
      >"$out/setup-$side.log" 2>&1 ||
    { cat "$out/setup-$side.log" >&2; exit 1; }
  meson compile -C "$dir" -j "$jobs" bench/breaker_set_bench \
      >"$out/build-$side.log" 2>&1 ||
    { tail -50 "$out/build-$side.log" >&2; exit 1; }
  echo "$dir/bench/breaker_set_bench"
}

buildtype() {
  meson introspect --buildoptions "$1" |
    python3 -c 'import json,sys; print({o["name"]: o["value"] for o in json.load(sys.stdin)}["buildtype"])'
}

checkout old "$old_sha"
old_src=$tmp/src-old
new_src=$repo
if [[ -n $new_sha ]]; then
  checkout new "$new_sha"
  new_src=$tmp/src-new
fi
old_bin=$(build old "$old_src")
new_bin=$(build new "$new_src")

run() {
  "$1" --benchmark_format=json \
       --benchmark_repetitions="$repetitions" \
       --benchmark_enable_random_interleaving=true \
       --benchmark_report_aggregates_only=false \
       --benchmark_min_time="$min_time" \
       --benchmark_filter="$filter" >"$2" 2>/dev/null
}

{
  echo "old: $old_desc, buildtype $(buildtype "$tmp/build-old")"
  echo "new: $new_desc, buildtype $(buildtype "$tmp/build-new")"
  for side in old new; do
    echo "$side $(grep -m1 'C++ compiler for the host' "$out/setup-$side.log")"
  done
  echo "$(nproc) cores; $rounds rounds of each binary, alternating; each run" \
       "--benchmark_repetitions=$repetitions --benchmark_min_time=$min_time" \
       "with random interleaving"
} >"$out/header.txt"

compare_args=()
: >"$out/load.log"
for ((r = 1; r <= rounds; r++)); do
  for side in old new; do
    bin=old_bin
    [[ $side == new ]] && bin=new_bin
    before=$(load)
    start=$SECONDS
    echo "== round $r/$rounds: $side (load $before)" >&2
    run "${!bin}" "$out/$side-$r.json"
    echo "round $r $side: load before $before, after $(load)," \
         "$((SECONDS - start)) s" >>"$out/load.log"
  done
  compare_args+=(--compare "$out/old-$r.json" "$out/new-$r.json")
done

{
  cat "$out/header.txt"
  echo "load averages (1, 5, 15 min) around each run:"
  sed 's/^/  /' "$out/load.log"
  echo
  python3 "$here/report.py" "${compare_args[@]}" \
      --old-label "$old_rev" --new-label "$new_rev" --threshold "$threshold"
} | tee "$out/table.md"
echo "(runs and table kept in $out)" >&2
