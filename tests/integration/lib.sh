# shellcheck shell=bash disable=SC2034,SC2154  # variables shared with the sourcing scripts
# Shared by the integration scripts: the case runner and the regex pieces of our output.
# Source it after the POSTFIX_* variables (DIR/env of postfix.sh) are set; call `finish` last
# (pass/fail/expect/finish: tests/lib.sh).

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

t='[0-9]+\.[0-9]{6}s;;;0'           # one perfdata time without thresholds
total='[0-9]+(\.[0-9]{1,3})? s'      # the summary's total time
banner='ESMTP Postfix'

# check NAME EXPECTED_EXIT LINE_REGEX [MAX_SECONDS] -- ARGS...
# Runs $plugin with ARGS; the exit code must be EXPECTED_EXIT and the first line must match
# LINE_REGEX whole. The full output of the last run is left in $out.
check() {
  local name=$1 want_rc=$2 regex=$3 max=""
  shift 3
  if [[ $1 != -- ]]; then max=$1; shift; fi
  shift
  local start end rc
  start=$(date +%s.%N)
  out=$("$plugin" "$@")
  rc=$?
  end=$(date +%s.%N)
  local first=${out%%$'\n'*}
  local problems=()
  [[ $rc == "$want_rc" ]] || problems+=("exit $rc, expected $want_rc")
  [[ $first =~ ^${regex}$ ]] || problems+=("line does not match ^${regex}\$")
  if [[ -n $max ]] && awk -v a="$start" -v b="$end" -v m="$max" 'BEGIN{exit !(b-a > m)}'; then
    problems+=("took $(awk -v a="$start" -v b="$end" 'BEGIN{print b-a}') s, more than $max s")
  fi
  if ((${#problems[@]})); then
    fail "$name" "${problems[*]}" "got: $first"
  else
    pass "$name  ($first)"
  fi
}
