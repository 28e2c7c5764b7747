#!/usr/bin/env bash
# Fuzzes each target with libFuzzer (clang, ASan + UBSan) for SECONDS seconds, seeded with the
# committed corpus. New inputs go to a temporary folder, never into the repository, unless
# SMTPVERIFY_FUZZ_SAVE=1 asks to merge the coverage-increasing ones into tests/fuzz/corpus/.
#
# Usage: bash tests/fuzz/run.sh SECONDS [TARGET...]      (CI: bash tests/fuzz/run.sh 60)
#   targets: reply_parser session range options proxy_header tlsa_answer dns_check (default: all)
# Environment:
#   SMTPVERIFY_FUZZ_BUILD  build folder (default build/fuzz; configured with clang++ if new)
#   SMTPVERIFY_FUZZ_SAVE=1 merge new coverage into tests/fuzz/corpus/<target>/
#   SMTPVERIFY_FUZZ_KEEP=1 keep the work folder even when nothing failed
#   SMTPVERIFY_FUZZ_JOBS   targets fuzzed at the same time (default: nproc)
# Exit status: 0 when every target ran clean; 1 after any crash, leak, timeout or OOM (each
# input that triggered one is printed); 2 on a usage or build error.
set -euo pipefail

seconds=${1:-}
if [[ ! $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash tests/fuzz/run.sh SECONDS [TARGET...]" >&2
  exit 2
fi
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${SMTPVERIFY_FUZZ_BUILD:-$root/build/fuzz}
targets=("$@")
((${#targets[@]})) || targets=(reply_parser session range options proxy_header tlsa_answer dns_check)
start=$SECONDS

# The longest input libFuzzer may build per target: past the 4 KiB line cap and well into the
# 1000-line cap for the SMTP targets, small where the input format is small (dns_check repeats
# records itself: 13 bytes make 300 MX records).
declare -A max_len=([reply_parser]=12000 [session]=12000 [range]=256 [options]=2048
                    [proxy_header]=64 [tlsa_answer]=4096 [dns_check]=4096)
declare -A dict=([reply_parser]=smtp.dict [session]=smtp.dict [options]=options.dict)

if [[ ! -f $build/CMakeCache.txt ]]; then
  echo "==> configuring $build (clang++)"
  CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
if ! grep -q '^CMAKE_CXX_COMPILER_ID:.*Clang\|^CMAKE_CXX_COMPILER:FILEPATH=.*clang' \
  "$build/CMakeCache.txt"; then
  echo "error: $build is not a clang build; remove it or set SMTPVERIFY_FUZZ_BUILD" >&2
  exit 2
fi
echo "==> building ${targets[*]/%/_fuzzer}"
cmake --build "$build" -j "$(nproc)" --target "${targets[@]/%/_fuzzer}" >/dev/null ||
  { echo "error: build failed (rerun: cmake --build $build --target ...)" >&2; exit 2; }
echo "    built in $((SECONDS - start)) s"

work=$(mktemp -d /tmp/smtpverify-fuzz.XXXXXX)
export UBSAN_OPTIONS=print_stacktrace=1
# fuzz_one TARGET: fuzzes one target; its report goes to $work/TARGET/report, and
# $work/TARGET/failed exists when it found anything.
fuzz_one() {
  local t=$1 bin=$build/tests/fuzz/${1}_fuzzer rc=0 t0=$SECONDS
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp -r "$root/tests/fuzz/corpus/$t/." "$work/$t/corpus/"
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
              -max_len="${max_len[$t]:-4096}" -print_final_stats=1
              -artifact_prefix="$work/$t/artifacts/")
  [[ -n ${dict[$t]:-} ]] && args+=(-dict="$root/tests/fuzz/${dict[$t]}")
  {
    echo "==> $t: ${seconds} s"
    # Absolute paths only: the options target changes its working folder.
    "$bin" "${args[@]}" "$work/$t/corpus" >"$work/$t/fuzz.log" 2>&1 || rc=$?
    local done_line execs crashes c
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/$t/fuzz.log" | tail -n 1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/fuzz.log" | tail -n 1)
    echo "    $((SECONDS - t0)) s, ${execs:-?} execs, ${done_line:-no DONE line}"
    crashes=("$work/$t/artifacts"/*)
    if ((rc != 0)) || [[ -e ${crashes[0]} ]]; then
      touch "$work/$t/failed"
      echo "    FAILED (exit $rc); log: $work/$t/fuzz.log"
      grep -E '^(==[0-9]+==ERROR|SUMMARY|.*fuzz invariant failed|.*runtime error)' \
        "$work/$t/fuzz.log" | head -n 5 | sed 's/^/    /' || true
      for c in "${crashes[@]}"; do
        [[ -e $c ]] || continue
        echo "    crash input: $c ($(stat -c %s "$c") bytes)"
        echo "    first bytes: $(od -An -tx1 -N 64 "$c" | tr -s ' \n' ' ')"
      done
    fi
    if [[ ${SMTPVERIFY_FUZZ_SAVE:-0} == 1 ]]; then
      "$bin" -merge=1 -max_len="${max_len[$t]:-4096}" "$root/tests/fuzz/corpus/$t" \
        "$work/$t/corpus" >"$work/$t/merge.log" 2>&1 || true
      echo "    merged: $(grep -Eo 'added [0-9]+ new units' "$work/$t/merge.log" || echo '?')"
    fi
  } >"$work/$t/report"
}

# One target per core at a time (libFuzzer itself runs one process per target).
jobs=${SMTPVERIFY_FUZZ_JOBS:-$(nproc)}
running=0
for t in "${targets[@]}"; do
  if ((running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
  fuzz_one "$t" &
  running=$((running + 1))
done
wait || true
failed=()
for t in "${targets[@]}"; do
  cat "$work/$t/report" 2>/dev/null || echo "==> $t: no report"
  [[ -e $work/$t/failed || ! -e $work/$t/report ]] && failed+=("$t")
done

echo "==> total $((SECONDS - start)) s"
if ((${#failed[@]})); then
  echo "FAILED: ${failed[*]} (work folder kept: $work)"
  exit 1
fi
if [[ ${SMTPVERIFY_FUZZ_KEEP:-0} == 1 ]]; then
  echo "all clean (work folder kept: $work)"
else
  rm -rf "$work"
  echo "all clean"
fi
