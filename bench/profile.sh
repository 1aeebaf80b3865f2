#!/usr/bin/env bash
# Copyright 2026 The circuit Authors.
# SPDX-License-Identifier: Apache-2.0
#
# Usage: bash bench/profile.sh BENCH_BINARY ROW [N]
#
# Instructions and cache misses per iteration of one row of
# breaker_set_bench, under cachegrind: ROW is a name from RegisterFixed in
# bench/breaker_set_bench.cc with its size if it takes one (BM_Floor,
# BM_ContextRandom/10000, ...). Runs the row's fixed-iteration copy at N
# (default 100000) and at 2N iterations and divides the difference of the
# totals by N, so setup is not counted. Prints Ir (instructions), D1mr +
# D1mw (first-level data misses) and DLmr + DLmw (last-level data misses,
# cachegrind's simulation of this machine's caches) per iteration.

set -euo pipefail
[[ $# -ge 2 && $# -le 3 ]] || { echo "usage: $0 BENCH_BINARY ROW [N]" >&2; exit 2; }
bin=$1 row=$2 n=${3:-100000}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/circuit-profile.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

totals() {  # ITERATIONS: "Ir D1m DLm" of a whole run
  BENCH_FIXED_ITERATIONS=$1 valgrind --tool=cachegrind --cache-sim=yes \
      --cachegrind-out-file="$tmp/out.$1" "$bin" \
      --benchmark_filter="^fixed/$row/iterations:" >/dev/null 2>&1
  awk '/^summary:/ { print $2, $6 + $9, $7 + $10 }' "$tmp/out.$1"
}

read -r ir1 d1 dl1 < <(totals "$n")
read -r ir2 d2 dl2 < <(totals $((2 * n)))
awk -v n="$n" -v row="$row" -v a="$ir1" -v b="$ir2" -v c="$d1" -v d="$d2" \
    -v e="$dl1" -v f="$dl2" 'BEGIN {
  printf "%s: %.1f Ir, %.2f D1 misses, %.2f LL misses per iteration\n",
         row, (b - a) / n, (d - c) / n, (f - e) / n }'
