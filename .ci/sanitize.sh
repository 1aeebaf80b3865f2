#!/usr/bin/env bash
# Sanitizer, thread-safety-analysis and fuzz runs; called by .ci/run after the
# normal test run (it can also be run alone: bash .ci/sanitize.sh).
#
#   1. build-asan   g++, -Db_sanitize=address,undefined: the whole test suite
#                   (examples and benchmarks off); any ASan/UBSan report fails.
#   2. build-tsan   g++, -Db_sanitize=thread: the whole test suite again; no
#                   suppressions. Our code synchronises only through
#                   std::atomic and std::mutex (src/sync.h), which TSan sees;
#                   the script checks that libcircuit imports no Abseil
#                   synchronisation (Debian's Abseil is not TSan-built).
#   3. build-clang  clang++, -Werror=thread-safety (plus ASan/UBSan and
#                   libFuzzer coverage): the library and tests/fuzz/fuzz_ops,
#                   then fuzzing for FUZZ_SECONDS (default 60) from the
#                   committed corpus.
#
# The 'redis' suite runs under both sanitizers too (about 20 s each);
# SANITIZE_REDIS=0 skips it. Each testlog.json is listed in .ci/extra-testlogs so .ci/run
# adds the counts; one summary line is printed per part, with its time, and
# the exit status is non-zero if anything failed.
#
# Knobs: SANITIZE_PARTS="asan tsan clang" (a subset to run), FUZZ_SECONDS,
# SANITIZE_JOBS (meson test processes, default 2), SANITIZE_REDIS=0.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

parts=${SANITIZE_PARTS:-"asan tsan clang"}
fuzz_seconds=${FUZZ_SECONDS:-60}
jobs=${SANITIZE_JOBS:-2}
extra="$root/.ci/extra-testlogs"
: >"$extra"

common_setup=(-Dexamples=false -Dbench=false -Db_lundef=false)
# -O1 with line tables only: the sanitizer builds compile every test, and
# Boost.Test at -O2 -g roughly doubles that time for little runtime gain.
sanitizer_setup=("${common_setup[@]}" -Doptimization=1 -Ddebug=true "-Dcpp_args=-g1")
skip_redis=()
[ "${SANITIZE_REDIS:-1}" = 0 ] && skip_redis=(--no-suite redis)

# Any report fails the test that triggered it.
export ASAN_OPTIONS="abort_on_error=1:halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_init_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4"

failed=0
summaries=()

# Counts a testlog.json: "N passed, N failed, N skipped".
count_log() {
  python3 - "$1" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line).get("result", "ERROR")
    if r in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif r == "SKIP":
        s += 1
    else:
        f += 1
print(f"{p} passed, {f} failed, {s} skipped")
PY
}

# setup_and_build <dir> <setup args...>: configures (or reconfigures) and
# builds; returns non-zero on failure.
setup_and_build() {
  local dir=$1
  shift
  if [ -f "$dir/build.ninja" ]; then
    meson setup --reconfigure "$dir" "$@" >"$dir.setup.log" 2>&1 ||
      meson setup --wipe "$dir" "$@" >"$dir.setup.log" 2>&1
  else
    meson setup "$dir" "$@" >"$dir.setup.log" 2>&1
  fi || { cat "$dir.setup.log"; return 1; }
  rm -f "$dir.setup.log"
  meson compile -C "$dir" >"$dir.compile.log" 2>&1 || {
    tail -n 60 "$dir.compile.log"
    return 1
  }
  rm -f "$dir.compile.log"
}

# run_suite <name> <dir> <setup args...>
run_suite() {
  local name=$1 dir=$2
  shift 2
  local start=$SECONDS
  echo "=== sanitize: $name ($dir)"
  local log="$dir/meson-logs/testlog.json"
  rm -f "$log"
  if ! setup_and_build "$dir" "$@"; then
    summaries+=("sanitize $name: BUILD FAILED ($((SECONDS - start)) s)")
    failed=1
    return
  fi
  local built=$SECONDS
  meson test -C "$dir" --num-processes "$jobs" --timeout-multiplier 4 \
    --print-errorlogs "${skip_redis[@]}" </dev/null | tail -n 40
  local rc=${PIPESTATUS[0]}
  if [ -f "$log" ]; then
    echo "$log" >>"$extra"
    summaries+=("sanitize $name: $(count_log "$log") (build $((built - start)) s, tests $((SECONDS - built)) s)")
  else
    summaries+=("sanitize $name: NO TEST LOG ($((SECONDS - start)) s)")
    rc=1
  fi
  [ "$rc" -ne 0 ] && failed=1
}

for part in $parts; do
  case $part in
    asan)
      run_suite "asan+ubsan" build-asan "${sanitizer_setup[@]}" \
        -Db_sanitize=address,undefined
      ;;
    tsan)
      run_suite "tsan" build-tsan "${sanitizer_setup[@]}" -Db_sanitize=thread
      # TSan cannot see Abseil's own locks; our library must not use them.
      lib=$(ls build-tsan/src/libcircuit.so 2>/dev/null)
      if [ -n "$lib" ]; then
        absl_sync=$(nm -DC --undefined-only "$lib" | grep -E 'absl::.*(Mutex|CondVar|Notification|BlockingCounter|Barrier|CallOnce)' || true)
        if [ -n "$absl_sync" ]; then
          echo "libcircuit uses Abseil synchronisation, which TSan cannot see:"
          echo "$absl_sync"
          summaries+=("sanitize tsan: libcircuit imports Abseil synchronisation")
          failed=1
        fi
      fi
      ;;
    clang)
      start=$SECONDS
      echo "=== sanitize: clang -Werror=thread-safety + fuzz (build-clang)"
      if ! command -v clang++ >/dev/null; then
        summaries+=("sanitize clang: clang++ missing (apt-get install clang libclang-rt-14-dev)")
        failed=1
        continue
      fi
      clang_setup=(meson setup build-clang "${common_setup[@]}"
                   -Db_sanitize=address,undefined
                   "-Dcpp_args=-Werror=thread-safety -fsanitize=fuzzer-no-link")
      [ -f build-clang/build.ninja ] && clang_setup+=(--reconfigure)
      if CXX=clang++ "${clang_setup[@]}" >build-clang.setup.log 2>&1 &&
         meson compile -C build-clang circuit fuzz_ops >build-clang.compile.log 2>&1; then
        rm -f build-clang.setup.log build-clang.compile.log
        built=$SECONDS
        corpus=$(mktemp -d)
        fuzz_log=build-clang/fuzz.log
        if timeout $((fuzz_seconds + 120)) build-clang/tests/fuzz/fuzz_ops \
             -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
             -artifact_prefix=build-clang/ \
             -print_final_stats=1 "$corpus" tests/fuzz/corpus >"$fuzz_log" 2>&1; then
          runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$fuzz_log")
          summaries+=("sanitize clang: thread-safety analysis clean; fuzz_ops ${runs:-?} runs in ${fuzz_seconds} s, no crash (build $((built - start)) s, fuzz $((SECONDS - built)) s)")
        else
          tail -n 60 "$fuzz_log"
          crash=$(ls build-clang/crash-* build-clang/leak-* build-clang/timeout-* \
                    build-clang/oom-* 2>/dev/null | head -n 1)
          summaries+=("sanitize clang: FUZZER FOUND A PROBLEM (see $fuzz_log${crash:+, input $crash})")
          failed=1
        fi
        rm -rf "$corpus"
      else
        tail -n 60 build-clang.setup.log build-clang.compile.log 2>/dev/null
        summaries+=("sanitize clang: BUILD FAILED (-Werror=thread-safety or setup) ($((SECONDS - start)) s)")
        failed=1
      fi
      ;;
    *)
      echo "sanitize: unknown part '$part'" >&2
      failed=1
      ;;
  esac
done

printf '%s\n' "${summaries[@]}"
exit "$failed"
