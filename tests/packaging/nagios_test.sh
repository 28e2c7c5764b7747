#!/usr/bin/env bash
# Nagios 4 (nagios4-core, Debian 12) runs check_smtp_verify for real:
#  1. `nagios4 -v` accepts a private configuration that loads the shipped command definitions
#     (contrib/nagios/smtp_verify.cfg) next to the test's own;
#  2. a real Nagios 4 (foreground, as the nagios user, everything in a temp dir) checks a
#     private Postfix (tests/integration/postfix.sh): the service "smtp" with a command the
#     test defines (STARTTLS, --ca-file, -F, --from, --rcpt, like the Icinga 2 test), and one
#     service per shipped command (check_smtp_verify with no ARG at all and with options in
#     $ARG1$, check_smtp_verify_rcpt, check_smtp_verify_starttls). The shipped command lines have no port and no HELO name, so
#     their $USER1$ is a wrapper that appends what this test environment needs (-p, -F,
#     --helo-dns ignore, the test CA) and records the arguments Nagios passed. Checks are
#     forced through the external command file; the results are read from status.dat: state
#     OK, output "SMTP OK - ", the perfdata Nagios stored equal in labels to the plugin's own.
# Root, Debian 12; installs nagios4-core (services are not started) and Postfix if missing.
# Bounded: after the package installation everything fits in 110 s (BUDGET; each wait also
# has its own 30 s), plus at most 5 s of cleanup; about 5 s in practice.
#
# Usage: bash tests/packaging/nagios_test.sh [PLUGIN_DIR]
#   PLUGIN_DIR: default /usr/lib/nagios/plugins if the package is installed, else the build
#   tree (build/ci/plugin, build/plugin).
# Postfix ports: 17025, 17026, ... (the next free ones if taken).
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
repo=$(pwd)
# shellcheck source=lib.sh
source "$repo/tests/packaging/lib.sh"

[[ $(id -u) -eq 0 ]] || abort "must run as root"
readonly WAIT=30
readonly HOST=mx.smtpverify.test
readonly FQDN=probe.smtpverify.test
readonly FROM=monitor@smtpverify.test
readonly RUN_AS=nagios
started=$SECONDS

install_missing --no-start nagios4 nagios4-core || abort "installing nagios4-core failed"
bash tests/integration/postfix.sh install >/dev/null 2>&1 || abort "postfix.sh install failed"

plugin_dir=$(find_plugin_dir "${1:-}") || abort "$plugin_dir"
start_budget

tmp=$(mktemp -d /tmp/smtpverify-nagios.XXXXXX)
chmod 0755 "$tmp"
nagios_pid=""
postfix_dir=$tmp/postfix
cleanup() {
  stop_daemon "$nagios_pid" "$tmp/nagios/"
  end_tmp
}
trap cleanup EXIT

plugin_and_postfix "$plugin_dir" "${NAGIOS_TEST_PORT_BASE:-17000}"

n=$tmp/nagios
mkdir -p "$n"/{checkresults,tmp,wrapper}
# $USER1$ of the shipped commands: the plugin with what this environment needs appended
# (they name no port and no HELO name; the test CA only where TLS is used). The arguments
# Nagios passed are recorded one per line, a blank line after each call.
cat >"$n/wrapper/check_smtp_verify" <<EOF
#!/bin/sh
printf '%s\n' "\$@" '' >>"$n/wrapper/argv.log"
case " \$* " in
*" -S "*) exec "$plugin" "\$@" -p "$POSTFIX_PORT" -F "$FQDN" --helo-dns ignore --ca-file "$POSTFIX_CA_FILE" ;;
*) exec "$plugin" "\$@" -p "$POSTFIX_PORT" -F "$FQDN" --helo-dns ignore ;;
esac
EOF
chmod 0755 "$n/wrapper/check_smtp_verify"

cat >"$n/resource.cfg" <<EOF
\$USER1\$=$n/wrapper
\$USER2\$=$plugin_dir
EOF

cat >"$n/objects.cfg" <<EOF
define timeperiod {
    timeperiod_name  24x7
    alias            always
    sunday           00:00-24:00
    monday           00:00-24:00
    tuesday          00:00-24:00
    wednesday        00:00-24:00
    thursday         00:00-24:00
    friday           00:00-24:00
    saturday         00:00-24:00
}
define contact {
    contact_name                   nobody
    host_notifications_enabled     0
    service_notifications_enabled  0
    host_notification_period       24x7
    service_notification_period    24x7
    host_notification_options      n
    service_notification_options   n
    host_notification_commands     test-notify
    service_notification_commands  test-notify
}
define command {
    command_name  test-notify
    command_line  /bin/true
}
define host {
    host_name              $HOST
    address                127.0.0.1
    max_check_attempts     1
    check_period           24x7
    active_checks_enabled  0
    contacts               nobody
    notification_period    24x7
}
define service {
    name                   smtp-test
    register               0
    host_name              $HOST
    max_check_attempts     1
    check_interval         1440
    retry_interval         1440
    check_period           24x7
    contacts               nobody
    notification_period    24x7
}
# The run the Icinga 2 test does, as a Nagios command (\$USER2\$ is the plugin itself).
define command {
    command_name  test_smtp_verify_starttls_rcpt
    command_line  \$USER2\$/check_smtp_verify -H \$HOSTADDRESS\$ -p \$ARG1\$ -F '\$ARG2\$' --helo-dns ignore -S --ca-file '\$ARG3\$' -f '\$ARG4\$' --rcpt '\$ARG5\$'
}
define service {
    use                  smtp-test
    service_description  smtp
    check_command        test_smtp_verify_starttls_rcpt!$POSTFIX_PORT!$FQDN!$POSTFIX_CA_FILE!$FROM!$POSTFIX_LOCAL_RCPT
}
# The shipped commands, as their comments show them.
define service {
    use                  smtp-test
    service_description  shipped-plain
    check_command        check_smtp_verify
}
define service {
    use                  smtp-test
    service_description  shipped-plain-options
    check_command        check_smtp_verify!-w 2 -c 5
}
define service {
    use                  smtp-test
    service_description  shipped-rcpt
    check_command        check_smtp_verify_rcpt!$FROM!$POSTFIX_LOCAL_RCPT!$POSTFIX_FOREIGN_RCPT
}
define service {
    use                  smtp-test
    service_description  shipped-starttls
    check_command        check_smtp_verify_starttls!$POSTFIX_TLS_NAME!30,14
}
EOF

# A copy of the shipped definitions: the checkout may sit below a folder only root can enter.
install -m 0644 "$repo/contrib/nagios/smtp_verify.cfg" "$n/smtp_verify.cfg"
cat >"$n/nagios.cfg" <<EOF
log_file=$n/nagios.log
cfg_file=$n/smtp_verify.cfg
cfg_file=$n/objects.cfg
resource_file=$n/resource.cfg
object_cache_file=$n/objects.cache
precached_object_file=$n/objects.precache
status_file=$n/status.dat
status_update_interval=1
nagios_user=$RUN_AS
nagios_group=$RUN_AS
check_external_commands=1
command_file=$n/nagios.cmd
lock_file=$n/nagios.lock
temp_file=$n/nagios.tmp
temp_path=$n/tmp
check_result_path=$n/checkresults
check_result_reaper_frequency=1
retain_state_information=0
state_retention_file=$n/retention.dat
use_syslog=0
enable_notifications=0
enable_flap_detection=0
max_service_check_spread=1440
service_inter_check_delay_method=n
illegal_macro_output_chars=\`~\$&|'"<>
query_socket=$n/query.sock
EOF
chown -R "$RUN_AS:$RUN_AS" "$n"

# ------------------------------------------------------------------ 1. validation

if timeout "$(left)" nagios4 -v "$n/nagios.cfg" >"$tmp/verify.log" 2>&1; then
  pass "nagios4 -v accepts the shipped command definitions ($(grep -oE 'Checked [0-9]+ commands' "$tmp/verify.log"))"
else
  fail "nagios4 -v accepts the configuration" "$(grep -iE 'error|warning' "$tmp/verify.log" | head)"
fi
for cmd in check_smtp_verify check_smtp_verify_rcpt check_smtp_verify_starttls \
  check_smtp_verify_submission; do
  expect "the shipped cfg defines $cmd" grep -qE "^[[:space:]]*command_name[[:space:]]+$cmd\$" contrib/nagios/smtp_verify.cfg
done

# ------------------------------------------------------------------ 2. the daemon

nagios4 "$n/nagios.cfg" >"$tmp/daemon.log" 2>&1 &
nagios_pid=$!
deadline=$(wait_until)
while ((SECONDS < deadline)) && ! [[ -p $n/nagios.cmd && -s $n/status.dat ]]; do
  kill -0 "$nagios_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -p $n/nagios.cmd && -s $n/status.dat ]]; then
  pass "Nagios 4 runs (external command file and status.dat are there)"
else
  tail -n 20 "$tmp/daemon.log" "$n/nagios.log" 2>/dev/null
  abort "Nagios did not come up within ${WAIT}s"
fi

services=(smtp shipped-plain shipped-plain-options shipped-rcpt shipped-starttls)
now=$(date +%s)
for s in "${services[@]}"; do
  printf '[%s] SCHEDULE_FORCED_SVC_CHECK;%s;%s;%s\n' "$now" "$HOST" "$s" "$now" >"$n/nagios.cmd"
done

# status_field SERVICE FIELD: a field of the servicestatus block of SERVICE in status.dat.
status_field() {
  awk -v svc="$1" -v field="$2" '
    /^servicestatus \{/ { inblock = 1; desc = ""; value = ""; next }
    inblock && /^\t*\}/ { if (desc == svc) { print value; exit } inblock = 0; next }
    inblock {
      line = $0; sub(/^[ \t]+/, "", line)
      eq = index(line, "="); key = substr(line, 1, eq - 1); val = substr(line, eq + 1)
      if (key == "service_description") desc = val
      if (key == field) value = val
    }' "$n/status.dat"
}

deadline=$(wait_until)
while ((SECONDS < deadline)); do
  checked=0
  for s in "${services[@]}"; do
    last=$(status_field "$s" last_check)
    [[ -n $last && $last -ge $now ]] && checked=$((checked + 1))
  done
  ((checked == ${#services[@]})) && break
  sleep 0.3
done
expect_eq "every service has a result from after the forced check" "$checked" "${#services[@]}"

for s in "${services[@]}"; do
  state=$(status_field "$s" current_state)
  output=$(status_field "$s" plugin_output)
  if [[ $state == 0 && $output == "SMTP OK - "* ]]; then
    pass "$s: state 0, output '$output'"
  else
    fail "$s: state 0 and 'SMTP OK - '" "state: $state" "output: $output"
  fi
done

perf=$(status_field smtp performance_data)
own=$("$plugin" -H 127.0.0.1 -p "$POSTFIX_PORT" -F "$FQDN" --helo-dns ignore -S \
  --ca-file "$POSTFIX_CA_FILE" -f "$FROM" --rcpt "$POSTFIX_LOCAL_RCPT" | head -n 1)
read -r -a nagios_items <<<"$perf"
read -r -a own_items <<<"${own#*| }"
expect_eq "smtp: Nagios stored the plugin's perfdata labels (${#own_items[@]})" \
  "$(printf '%s ' "${nagios_items[@]%%=*}")" "$(printf '%s ' "${own_items[@]%%=*}")"
echo "  Nagios stored: $perf"

# What Nagios passed to the shipped command lines (the quotes are the shell's, not the
# plugin's): -f 'ADDR' arrives as ADDR, --verify-name 'NAME' as NAME.
argv=$(cat "$n/wrapper/argv.log" 2>/dev/null)$'\n'
# passed NAME WORD...: one call of the wrapper received exactly these words.
passed_args() {
  local name=$1 want
  shift
  want=$(printf '%s\n' "$@")$'\n\n'
  if [[ $'\n'$argv == *$'\n'"$want"* ]]; then pass "$name"; else fail "$name" "recorded: ${argv//$'\n'/ }"; fi
}
# An empty $ARG1$ leaves no empty word behind: one would make the plugin UNKNOWN ("unexpected
# argument"), and shipped-plain is OK above.
passed_args "check_smtp_verify (no ARG) → -H 127.0.0.1 alone" -H 127.0.0.1
passed_args "check_smtp_verify!-w 2 -c 5 → -H 127.0.0.1 -w 2 -c 5" -H 127.0.0.1 -w 2 -c 5
passed_args "check_smtp_verify_rcpt → -f ADDR --rcpt ADDR --reject-rcpt ADDR, no quotes left" \
  -H 127.0.0.1 -f "$FROM" --rcpt "$POSTFIX_LOCAL_RCPT" --reject-rcpt "$POSTFIX_FOREIGN_RCPT"
passed_args "check_smtp_verify_starttls → -S --verify-name NAME -D 30,14" \
  -H 127.0.0.1 -S --verify-name "$POSTFIX_TLS_NAME" -D 30,14

stops_on_sigterm Nagios "$nagios_pid" && nagios_pid=""
echo "($((SECONDS - started)) s)"
finish
