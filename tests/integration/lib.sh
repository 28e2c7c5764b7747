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

# check_openmetrics NAME EXPECTED_EXIT -- ARGS...
# Runs $plugin ARGS --output openmetrics: the exit code must be EXPECTED_EXIT, and the output
# must pass openmetrics_check.py (Debian's strict OpenMetrics parser, the Prometheus text format
# parser, smtp_verify_state equal to the exit code). Its samples, one per line
# (NAME{label="value",...} VALUE), are left in $samples for has_sample.
check_openmetrics() {
  local name=$1 want_rc=$2
  shift 3
  local file rc checked parser_rc
  file=$(mktemp)
  "$plugin" "$@" --output openmetrics >"$file"
  rc=$?
  checked=$(/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/openmetrics_check.py" "$rc" <"$file" 2>&1)
  parser_rc=$?
  samples=""
  if [[ $rc != "$want_rc" ]]; then
    fail "$name" "exit $rc, expected $want_rc" "got: $(head -c 2000 "$file")"
  elif ((parser_rc != 0)); then
    fail "$name" "$checked" "got: $(head -c 2000 "$file")"
  else
    samples=$checked
    pass "$name  (exit $rc, $(wc -l <<<"$samples") samples)"
  fi
  rm -f "$file"
}

# has_sample NAME REGEX: a line of $samples (left by check_openmetrics) matches REGEX whole.
has_sample() {
  if grep -Eqx -- "$2" <<<"$samples"; then
    pass "$1"
  else
    fail "$1" "no sample matches ^$2\$ in:" "$samples"
  fi
}
