#!/usr/bin/env bash
# Icinga 2 runs the shipped CheckCommand (contrib/icinga2/check_smtp_verify.conf) for real:
#  1. `icinga2 daemon -C` validates it in a private configuration (every folder of Icinga moved
#     into a temp dir with -DConfiguration.<Name>Dir=...), and including it twice fails, which
#     is why the package ships it as an example only;
#  2. a real Icinga 2 daemon (foreground, as the nagios user like the packaged service, REST
#     API on a free 127.0.0.1 port with a certificate from `icinga2 pki new-cert`, a
#     GraphiteWriter feeding a local socat) checks a private Postfix
#     (tests/integration/postfix.sh) with ten services that between them set every custom
#     variable of the CheckCommand; checks are forced over the API
#     (/v1/actions/reschedule-check) and read back from /v1/objects/services; for each the
#     exact command line Icinga built is asserted, and:
#       - "smtp": STARTTLS, --ca-file, one recipient: state 0, output "SMTP OK - ", every
#         perfdata item parsed by Icinga (parse_performance_data over the API console,
#         units), as many items as the plugin prints, the Graphite metrics;
#       - "smtp-full": implicit TLS, AUTH with smtp_verify_authpass_file, probes, DATA,
#         -C/-R pairs, thresholds: state 0;
#       - "smtp-proxy": smtp_verify_proxy = true with version v2, over IPv6 (if ::1 works),
#         STARTTLS: state 0; "smtp-proxy-v1": the switch alone (--proxy, v1): state 0;
#       - "smtp-itl": ONLY the ITL "smtp" command's variables (smtp_address, smtp_port,
#         smtp_starttls, smtp_certificate_age, smtp_authtype/user/pass, ...), on a host named
#         as the certificate, the trust anchors from the "system store" (SSL_CERT_DIR):
#         state 0, each mapped to its option, --verify-name the host's name, the password
#         (env SMTP_AUTHPASS) neither in the command line nor in the output;
#       - "smtp-vv": smtp_verify_verbose = 2: --verbose twice, a stamped transcript;
#       - "smtp-wrongname": TLS with -H an address and no name set: --verify-name is the
#         host's name, which is not the certificate's: CRITICAL "hostname mismatch";
#       - "smtp-byname": TLS with -H a name: no --verify-name (CRITICAL, no DNS);
#       - "smtp-mx": --mx/--mx-all/--each-address/--dane/--plaintext-refused/--mta-sts/
#         --tls-rpt with DNS sent nowhere (127.0.0.1:9): no -H, no --verify-name (not even
#         with smtp_verify_verify_name set: --mta-sts refuses it), CRITICAL;
#       - "smtp-argmap": the remaining variables (LMTP, --data-file, --auth-plaintext): only
#         the command line is asserted;
#     and the Icinga log has no "Ignoring invalid perfdata".
# The daemon, socat and Postfix are stopped and every temp file removed at the end.
# Root, Debian 12; installs icinga2-bin icinga2-common curl jq socat (and Postfix) if missing.
# Bounded: after the package installation everything fits in 110 s (BUDGET; each wait also
# has its own 30 s), plus at most 5 s of cleanup; about 10-20 s in practice.
#
# Usage: bash tests/packaging/icinga_test.sh [PLUGIN_DIR]
#   PLUGIN_DIR: where check_smtp_verify is; default /usr/lib/nagios/plugins if the package is
#   installed, else the build tree (build/ci/plugin, build/plugin).
# Postfix ports: 16025 (STARTTLS), 16465 (TLS), 16026 (no TLS), 16027 (PROXY), 16028, 16029,
# each moved up to the next free one if taken; ICINGA_TEST_PORT_BASE=N uses N+25, N+465, ...
# The API listens on the first free port from 16665, the Graphite sink from 16003.
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
repo=$(pwd)
# shellcheck source=lib.sh
source "$(pwd)/tests/packaging/lib.sh"

[[ $(id -u) -eq 0 ]] || abort "must run as root"
readonly WAIT=30 # seconds for each wait (daemon start, check results, metrics)
readonly NODE=icinga-test.smtpverify.test
readonly HOST=mx.smtpverify.test
readonly FQDN=probe.smtpverify.test
readonly FROM=monitor@smtpverify.test
readonly RUN_AS=nagios # the user Debian's icinga2 service runs checks as
started=$(date +%s)

# ------------------------------------------------------------------ setup

install_missing --no-start icinga2 icinga2-bin icinga2-common curl jq socat ||
  abort "installing icinga2-bin icinga2-common curl jq socat failed"
bash tests/integration/postfix.sh install >/dev/null 2>&1 || abort "postfix.sh install failed"
id "$RUN_AS" >/dev/null 2>&1 || abort "user $RUN_AS missing (icinga2-common creates it)"

plugin_dir=$(find_plugin_dir "${1:-}") || abort "$plugin_dir"
start_budget

tmp=$(mktemp -d /tmp/smtpverify-icinga.XXXXXX)
chmod 0755 "$tmp"
# A copy: Icinga runs as $RUN_AS, and the checkout may sit below a folder only root can enter.
conf_file=$tmp/check_smtp_verify.conf
install -m 0644 "$repo/contrib/icinga2/check_smtp_verify.conf" "$conf_file"
icinga_pid=""
socat_pid=""
postfix_dir=$tmp/postfix
cleanup() {
  # Icinga's umbrella process has children (the daemon, the process spawn helper).
  stop_daemon "$icinga_pid" "$tmp/icinga/"
  [[ -n $socat_pid ]] && kill -TERM "$socat_pid" 2>/dev/null && wait "$socat_pid" 2>/dev/null
  end_tmp
}
trap cleanup EXIT

plugin_and_postfix "$plugin_dir" "${ICINGA_TEST_PORT_BASE:-16000}"

# Files the checks read, readable by the nagios user only (as a real setup would have them).
install -o "$RUN_AS" -g "$RUN_AS" -m 0600 "$POSTFIX_AUTHPASS_FILE" "$tmp/authpass"
printf 'Subject: icinga_test.sh\nFrom: <%s>\n\nA message from --data-file.\n.leading dot\n' "$FROM" |
  install -o "$RUN_AS" -g "$RUN_AS" -m 0600 /dev/stdin "$tmp/message.eml"

ic=$tmp/icinga
mkdir -p "$ic"/{etc,lib/certs,log,cache,spool,run}
api_port=$(free_port 16665)
graphite_port=$(free_port 16003)
api_password=$(openssl rand -hex 16)
ipv6_address=""
use_ipv6=false
if [[ $POSTFIX_IPV6 == 1 ]]; then
  ipv6_address='::1'
  use_ipv6=true
fi

# Run as root, the icinga2 CLI drops to its run-as user (nagios) for every command.
chown -R "$RUN_AS:$RUN_AS" "$ic/lib" "$ic/log" "$ic/cache" "$ic/spool" "$ic/run"
icinga2 pki new-cert --cn "$NODE" --key "$ic/lib/certs/$NODE.key" \
  --cert "$ic/lib/certs/$NODE.crt" >"$tmp/pki.log" 2>&1 || { cat "$tmp/pki.log"; abort "icinga2 pki new-cert failed"; }
install -o "$RUN_AS" -g "$RUN_AS" -m 0644 "$ic/lib/certs/$NODE.crt" "$ic/lib/certs/ca.crt"

# The shipped file is included as it is; everything else is this test's.
cat >"$ic/etc/icinga2.conf" <<EOF
const NodeName = "$NODE"
const ZoneName = NodeName
const PluginDir = "$plugin_dir"

include <itl>
include <plugins>
include "$conf_file"

object Endpoint NodeName { }
object Zone ZoneName { endpoints = [ NodeName ] }
object ApiListener "api" {
  bind_host = "127.0.0.1"
  bind_port = $api_port
}
object ApiUser "test" {
  password = "$api_password"
  permissions = [ "*" ]
}
object CheckerComponent "checker" { }
object FileLogger "main-log" {
  path = LogDir + "/icinga2.log"
  severity = "information"
}
object GraphiteWriter "graphite" {
  host = "127.0.0.1"
  port = $graphite_port
  enable_send_thresholds = true
}

object Host "$HOST" {
  address = "127.0.0.1"
  address6 = "$ipv6_address"
  check_command = "dummy"
  enable_active_checks = false
}

// Named as the test certificate is; its address is one where nothing listens, so only a
// service that uses smtp_address (127.0.0.1) reaches Postfix.
object Host "$POSTFIX_TLS_NAME" {
  address = "127.0.0.2"
  check_command = "dummy"
  enable_active_checks = false
}

template Service "test-service" {
  host_name = "$HOST"
  check_command = "smtp_verify"
  // No scheduled checks: only the ones the test forces over the API run (force = true runs
  // a check even with active checks disabled).
  enable_active_checks = false
  check_interval = 1d
  retry_interval = 1d
  max_check_attempts = 1
  check_timeout = 30s
}

template Service "smtp-test" {
  import "test-service"
  vars.smtp_verify_fqdn = "$FQDN"
  // The HELO name of the test is in no DNS, and the tests never ask a real resolver.
  vars.smtp_verify_helo_dns = "ignore"
}

// The service the task describes.
object Service "smtp" {
  import "smtp-test"
  vars.smtp_verify_port = $POSTFIX_PORT
  vars.smtp_verify_starttls = true
  vars.smtp_verify_ca_file = "$POSTFIX_CA_FILE"
  vars.smtp_verify_verify_name = "$POSTFIX_TLS_NAME"
  vars.smtp_verify_from = "$FROM"
  vars.smtp_verify_rcpt = [ "$POSTFIX_LOCAL_RCPT" ]
}

object Service "smtp-full" {
  import "smtp-test"
  vars.smtp_verify_ipv4 = true
  vars.smtp_verify_bind = "127.0.0.1"
  vars.smtp_verify_port = $POSTFIX_SMTPS_PORT
  vars.smtp_verify_ssl = true
  vars.smtp_verify_ca_file = "$POSTFIX_CA_FILE"
  vars.smtp_verify_verify_name = "$POSTFIX_TLS_NAME"
  vars.smtp_verify_sni = "$POSTFIX_TLS_NAME"
  vars.smtp_verify_certificate = "30,14"
  vars.smtp_verify_tls_min = "1.2"
  vars.smtp_verify_authtype = "PLAIN"
  vars.smtp_verify_authuser = "$POSTFIX_AUTH_USER"
  vars.smtp_verify_authpass_file = "$tmp/authpass"
  vars.smtp_verify_expect = "ESMTP"
  vars.smtp_verify_from = "<>"
  vars.smtp_verify_rcpt = [ "$POSTFIX_LOCAL_RCPT" ]
  vars.smtp_verify_reject_rcpt = [ "$POSTFIX_UNKNOWN_RCPT", "$POSTFIX_FOREIGN_RCPT" ]
  vars.smtp_verify_data = true
  vars.smtp_verify_command = [ "NOOP", "RSET" ]
  vars.smtp_verify_response = [ "^250", "^250 " ]
  vars.smtp_verify_warning = [ "5", "banner=2" ]
  vars.smtp_verify_critical = [ "10", "banner=4" ]
  vars.smtp_verify_timeout = "20"
  vars.smtp_verify_dns_server = [ "127.0.0.1:9" ]
  vars.smtp_verify_ignore_quit_failure = true
  vars.smtp_verify_verbose = true
}

object Service "smtp-proxy" {
  import "smtp-test"
  vars.smtp_verify_ipv6 = $use_ipv6
  vars.smtp_verify_port = $POSTFIX_PROXY_PORT
  vars.smtp_verify_proxy = true
  vars.smtp_verify_proxy_version = "v2"
  vars.smtp_verify_starttls = true
  vars.smtp_verify_no_verify = true
  vars.smtp_verify_ca_path = "/etc/ssl/certs"
}

// -r without a version (v1), no TLS: no --verify-name.
object Service "smtp-proxy-v1" {
  import "smtp-test"
  vars.smtp_verify_port = $POSTFIX_PROXY_PORT
  vars.smtp_verify_proxy = true
}

// A host set up for the ITL's "smtp" command (check_smtp), only check_command changed: every
// variable of the ITL command that a check against Postfix can use, and nothing else. The
// trust anchors are the "system store" (SSL_CERT_DIR of the daemon, see below); the name
// verified is the host's name (-H is an address); the HELO name an address literal, which
// is not looked up in DNS.
object Service "smtp-itl" {
  import "test-service"
  host_name = "$POSTFIX_TLS_NAME"
  vars.smtp_address = "127.0.0.1"
  vars.smtp_ipv4 = true
  vars.smtp_port = $POSTFIX_PORT
  vars.smtp_helo_fqdn = "[127.0.0.1]"
  vars.smtp_expect = "ESMTP"
  vars.smtp_starttls = true
  vars.smtp_certificate_age = "30,14"
  vars.smtp_authtype = "LOGIN"
  vars.smtp_authuser = "$POSTFIX_AUTH_USER"
  vars.smtp_authpass = "$(cat "$POSTFIX_AUTHPASS_FILE")"
  vars.smtp_mail_from = "$FROM"
  vars.smtp_command = [ "NOOP" ]
  vars.smtp_response = [ "^250" ]
  vars.smtp_ignore_quit = true
  vars.smtp_warning = 5
  vars.smtp_critical = 10
  vars.smtp_timeout = 20
}

// -vv, no TLS.
object Service "smtp-vv" {
  import "smtp-test"
  vars.smtp_verify_port = $POSTFIX_NOTLS_PORT
  vars.smtp_verify_verbose = 2
}

// TLS with -H an address and no name set: the host's name is verified, and this host's name
// is not the certificate's.
object Service "smtp-wrongname" {
  import "smtp-test"
  vars.smtp_verify_port = $POSTFIX_PORT
  vars.smtp_verify_starttls = true
  vars.smtp_verify_ca_file = "$POSTFIX_CA_FILE"
}

// TLS with -H a name: the plugin verifies -H itself, no --verify-name. The name is in no DNS
// (and DNS goes nowhere): CRITICAL, only the command line is asserted.
object Service "smtp-byname" {
  import "smtp-test"
  vars.smtp_verify_address = "$POSTFIX_TLS_NAME"
  vars.smtp_verify_port = $POSTFIX_PORT
  vars.smtp_verify_starttls = true
  vars.smtp_verify_dns_server = "127.0.0.1:9"
  vars.smtp_verify_timeout = "3"
}

// MX mode and DANE: DNS goes to 127.0.0.1:9 where nothing answers, so the state is CRITICAL;
// only the command line is asserted (no -H with smtp_verify_mx).
object Service "smtp-mx" {
  import "smtp-test"
  vars.smtp_verify_mx = "smtpverify.test"
  vars.smtp_verify_mx_all = true
  vars.smtp_verify_each_address = true
  vars.smtp_verify_starttls = true
  vars.smtp_verify_plaintext_refused = true
  vars.smtp_verify_dane = true
  vars.smtp_verify_dane_insecure = true
  vars.smtp_verify_mta_sts = true
  vars.smtp_verify_tls_rpt = true
  vars.smtp_verify_verify_name = "mail.smtpverify.test"  // dropped: --mta-sts refuses it
  vars.smtp_verify_dns_server = "127.0.0.1:9"
  vars.smtp_verify_timeout = "3"
}

object Service "smtp-argmap" {
  import "smtp-test"
  vars.smtp_verify_port = $POSTFIX_NOTLS_PORT
  vars.smtp_verify_lmtp = true
  vars.smtp_verify_authtype = "LOGIN"
  vars.smtp_verify_authuser = "$POSTFIX_AUTH_USER"
  vars.smtp_verify_authpass_file = "$tmp/authpass"
  vars.smtp_verify_auth_plaintext = true
  vars.smtp_verify_from = "$FROM"
  vars.smtp_verify_rcpt = "$POSTFIX_LOCAL_RCPT"
  vars.smtp_verify_data_file = "$tmp/message.eml"
  vars.smtp_verify_timeout = "5"
}
EOF

defines=(
  -DConfiguration.ConfigDir="$ic/etc"
  -DConfiguration.DataDir="$ic/lib"
  -DConfiguration.LogDir="$ic/log"
  -DConfiguration.CacheDir="$ic/cache"
  -DConfiguration.SpoolDir="$ic/spool"
  -DConfiguration.InitRunDir="$ic/run"
  -DConfiguration.RunAsUser="$RUN_AS"
  -DConfiguration.RunAsGroup="$RUN_AS"
)
icinga() { timeout "$(left)" icinga2 "$@" "${defines[@]}"; }

# ------------------------------------------------------------------ 1. validation

if icinga daemon -C -c "$ic/etc/icinga2.conf" >"$tmp/validate.log" 2>&1; then
  pass "icinga2 daemon -C accepts the CheckCommand ($(grep -oE 'Instantiated [0-9]+ CheckCommands' "$tmp/validate.log"))"
else
  fail "icinga2 daemon -C accepts the CheckCommand" "$(grep -E 'critical|Error|^ *[0-9]+:|\^' "$tmp/validate.log" | head -20)"
fi
sed "s|^include \"$conf_file\"|&\ninclude \"$conf_file\"|" "$ic/etc/icinga2.conf" >"$tmp/twice.conf"
if icinga daemon -C -c "$tmp/twice.conf" >"$tmp/twice.log" 2>&1; then
  fail "including the CheckCommand twice breaks the configuration (why it is only an example)"
else
  expect "including the CheckCommand twice breaks the configuration (why it is only an example)" \
    grep -q "Object 'smtp_verify' of type 'CheckCommand' re-defined" "$tmp/twice.log"
fi
rm -f "$tmp/twice.conf"

# ------------------------------------------------------------------ 2. the daemon

chmod 0600 "$ic/lib/certs/$NODE.key"

: >"$tmp/graphite.txt"
socat -u "TCP-LISTEN:$graphite_port,bind=127.0.0.1,reuseaddr,fork" \
  "OPEN:$tmp/graphite.txt,creat,append" 2>"$tmp/socat.log" &
socat_pid=$!
# The writer sends the metrics of a check result only while it is connected: the sink must
# listen before Icinga starts, and the writer must have connected before the checks run.
deadline=$(wait_until)
while [[ -z $(ss -Hltn "sport = :$graphite_port") ]] && ((SECONDS < deadline)); do sleep 0.1; done

# The "system trust store" of the checks: a hashed folder with the test CA, named by
# SSL_CERT_DIR, which OpenSSL reads instead of /etc/ssl/certs; the plugin looks there when no
# --ca-file/--ca-path is given (smtp-itl), and Icinga passes its environment on to checks.
mkdir -p "$tmp/trust"
install -m 0644 "$POSTFIX_CA_FILE" "$tmp/trust/smtpverify-test-root.pem"
openssl rehash "$tmp/trust" >/dev/null 2>&1 || abort "openssl rehash $tmp/trust failed"
chmod -R a+rX "$tmp/trust"
SSL_CERT_DIR=$tmp/trust icinga2 daemon -c "$ic/etc/icinga2.conf" "${defines[@]}" >"$tmp/daemon.log" 2>&1 &
icinga_pid=$!

# api METHOD PATH [JSON]: one REST call, the certificate verified, never through a proxy.
# A query with a body is a POST with X-HTTP-Method-Override: GET, as the API documents.
api() {
  local -a data=()
  [[ -n ${3:-} ]] && data=(-H 'Content-Type: application/json' --data "$3")
  local method=$1
  if [[ $method == QUERY ]]; then
    method=POST
    data+=(-H 'X-HTTP-Method-Override: GET')
  fi
  curl -sS --noproxy '*' --max-time 10 --cacert "$ic/lib/certs/ca.crt" \
    --resolve "$NODE:$api_port:127.0.0.1" -u "test:$api_password" \
    -H 'Accept: application/json' -X "$method" "${data[@]}" "https://$NODE:$api_port$2"
}

deadline=$(wait_until)
up=0
while ((SECONDS < deadline)); do
  kill -0 "$icinga_pid" 2>/dev/null || break
  if api GET /v1/status/IcingaApplication 2>/dev/null | jq -e '.results[0].status' >/dev/null 2>&1; then
    up=1
    break
  fi
  sleep 0.2
done
if ((up)); then
  pass "the Icinga 2 daemon runs, its API answers on 127.0.0.1:$api_port (TLS verified)"
else
  tail -n 30 "$tmp/daemon.log"
  abort "the Icinga 2 daemon did not come up within ${WAIT}s"
fi

deadline=$(wait_until)
until grep -q 'GraphiteWriter: Finished reconnecting to Graphite' "$ic/log/icinga2.log" 2>/dev/null; do
  ((SECONDS < deadline)) || break
  sleep 0.1
done
expect "the GraphiteWriter is connected to the local sink (127.0.0.1:$graphite_port)" \
  grep -q 'GraphiteWriter: Finished reconnecting to Graphite' "$ic/log/icinga2.log"

services=(smtp smtp-full smtp-proxy smtp-proxy-v1 smtp-itl smtp-vv smtp-wrongname smtp-byname smtp-mx
  smtp-argmap)
# Every service of both hosts.
host_filter='match(\"*.smtpverify.test\", host.name)'
forced_at=$(date +%s.%N)
reply=$(api POST /v1/actions/reschedule-check \
  "{\"type\":\"Service\",\"filter\":\"$host_filter\",\"force\":true}")
expect_eq "reschedule-check accepted for ${#services[@]} services" \
  "$(jq '[.results[] | select(.code == 200)] | length' <<<"$reply" 2>/dev/null)" "${#services[@]}"

deadline=$(wait_until)
results=""
while ((SECONDS < deadline)); do
  results=$(api QUERY /v1/objects/services \
    "{\"filter\":\"$host_filter\",\"attrs\":[\"name\",\"last_check_result\"]}" 2>/dev/null)
  done_count=$(jq --argjson t "$forced_at" \
    '[.results[] | select((.attrs.last_check_result.execution_start // 0) >= $t)] | length' \
    <<<"$results" 2>/dev/null || echo 0)
  ((done_count == ${#services[@]})) && break
  sleep 0.3
done
expect_eq "every service has a check result from after the forced check" "${done_count:-0}" "${#services[@]}"

cr() { jq -r --arg s "$1" ".results[] | select(.attrs.name == \$s) | .attrs.last_check_result$2" <<<"$results"; }

# command_has SERVICE KEY [VALUE] ... ; checks the command line Icinga built: every expected
# option (with its value) is there, nothing else is, and the plugin is the one we ship.
# Icinga orders options by their "order" and otherwise freely, so only -C/-R order matters.
check_command() {
  local service=$1
  shift
  local -a cmd expected=("$@")
  mapfile -t cmd < <(cr "$service" '.command[]')
  local -a used=()
  local i j problems=()
  [[ ${cmd[0]:-} == "$plugin" ]] || problems+=("argv[0] is '${cmd[0]:-}', not $plugin")
  for ((i = 0; i < ${#expected[@]}; i++)); do
    local key=${expected[i]%%=*} value="" has_value=0
    [[ ${expected[i]} == *=* ]] && value=${expected[i]#*=} && has_value=1
    local found=0
    for ((j = 1; j < ${#cmd[@]}; j++)); do
      [[ -n ${used[j]:-} || ${cmd[j]} != "$key" ]] && continue
      if ((has_value)); then
        [[ ${cmd[j + 1]:-} == "$value" && -z ${used[j + 1]:-} ]] || continue
        used[j + 1]=1
      fi
      used[j]=1
      found=1
      break
    done
    ((found)) || problems+=("missing: $key${value:+ $value}")
  done
  for ((j = 1; j < ${#cmd[@]}; j++)); do
    [[ -n ${used[j]:-} ]] || problems+=("unexpected: ${cmd[j]}")
  done
  if ((${#problems[@]})); then
    fail "$service: the command line Icinga built" "${problems[@]}" "got: ${cmd[*]}"
  else
    pass "$service: the command line Icinga built (${#cmd[@]} words)"
  fi
}

check_ok() {
  local service=$1 state output
  state=$(cr "$service" '.state')
  output=$(cr "$service" '.output')
  if [[ $state == 0 && $output == "SMTP OK - "* ]]; then
    pass "$service: state 0, output '${output%%$'\n'*}'"
  else
    fail "$service: state 0 and 'SMTP OK - '" "state: $state" "output: $output"
  fi
}

secret=$(cat "$POSTFIX_AUTHPASS_FILE")
# A -vv transcript line: the elapsed time, then the line of -v.
readonly VV_STAMP='^\[[0-9]+\.[0-9]{6}\] '

# ---- "smtp"
check_ok smtp
check_command smtp -H=127.0.0.1 --port="$POSTFIX_PORT" --starttls --ca-file="$POSTFIX_CA_FILE" \
  --verify-name="$POSTFIX_TLS_NAME" --fqdn="$FQDN" --helo-dns=ignore --from="$FROM" --rcpt="$POSTFIX_LOCAL_RCPT"
expect_eq "smtp: exit_status 0" "$(cr smtp '.exit_status')" 0

mapfile -t icinga_perf < <(cr smtp '.performance_data[]')
# The plugin's own line, run with the exact command Icinga ran.
mapfile -t smtp_cmd < <(cr smtp '.command[]')
own=$(runuser -u "$RUN_AS" -- "${smtp_cmd[@]}" | head -n 1)
own_perf=${own#*| }
read -r -a own_items <<<"$own_perf"
labels_icinga=$(printf '%s\n' "${icinga_perf[@]%%=*}" | tr '\n' ' ')
labels_own=$(printf '%s\n' "${own_items[@]%%=*}" | tr '\n' ' ')
expect_eq "smtp: Icinga holds as many perfdata items as the plugin prints (${#own_items[@]})" \
  "${#icinga_perf[@]}" "${#own_items[@]}"
expect_eq "smtp: the same labels, in order" "$labels_icinga" "$labels_own"
expect_eq "smtp: the labels of this dialogue" "$labels_icinga" \
  "time connect banner ehlo starttls mail rcpt quit cert_days "

# What Icinga parses: parse_performance_data() (the parser of its metric writers) on each item.
icinga_parse() {
  local script="get_service(\"$HOST\", \"$1\").last_check_result.performance_data.map(p => parse_performance_data(p))"
  api POST /v1/console/execute-script "$(jq -n --arg c "$script" '{command: $c, sandboxed: false}')" |
    jq -c '.results[0].result' 2>/dev/null
}
parsed_list=$(icinga_parse smtp)
expect_eq "smtp: Icinga's parse_performance_data() parses every item" \
  "$(jq -r 'if type == "array" then length else "error" end' <<<"$parsed_list" 2>/dev/null)" "${#icinga_perf[@]}"
bad_units=$(jq -r '.[] | select((.label == "cert_days" and .unit != "") or (.label != "cert_days" and .unit != "seconds")) | .label' <<<"$parsed_list" 2>/dev/null)
expect_eq "smtp: every time is in seconds for Icinga, cert_days has no unit" "$bad_units" ""
echo "  Icinga parsed:"
jq -r '.[] | "    \(.label) = \(.value) \(.unit) warn=\(.warn) crit=\(.crit) min=\(.min) max=\(.max)"' <<<"$parsed_list" 2>/dev/null

# ---- the other three
check_ok smtp-full
check_command smtp-full -H=127.0.0.1 -4 --bind=127.0.0.1 --port="$POSTFIX_SMTPS_PORT" --ssl \
  --ca-file="$POSTFIX_CA_FILE" --verify-name="$POSTFIX_TLS_NAME" --sni="$POSTFIX_TLS_NAME" \
  --certificate=30,14 --tls-min=1.2 --authtype=PLAIN --authuser="$POSTFIX_AUTH_USER" \
  --authpass-file="$tmp/authpass" --expect=ESMTP --fqdn="$FQDN" --helo-dns=ignore --from='<>' \
  --rcpt="$POSTFIX_LOCAL_RCPT" --reject-rcpt="$POSTFIX_UNKNOWN_RCPT" \
  --reject-rcpt="$POSTFIX_FOREIGN_RCPT" --data --command=NOOP --command=RSET \
  --response='^250' --response='^250 ' --warning=5 --warning=banner=2 --critical=10 \
  --critical=banner=4 --timeout=20 --dns-server=127.0.0.1:9 --ignore-quit-failure --verbose
full_parsed=$(icinga_parse smtp-full)
# cert_days carries ranges that alert below (30:;14:), which Icinga 2.13's parser keeps as null.
expect_eq "smtp-full: Icinga parsed the thresholds (time 5/10, banner 2/4; cert_days 30:/14: as null)" \
  "$(jq -r '[.[] | select(.label == "time" or .label == "banner" or .label == "cert_days") |
    "\(.label):\(.warn):\(.crit)"] | join(" ")' <<<"$full_parsed" 2>/dev/null)" \
  "time:5:10 banner:2:4 cert_days:null:null"
echo "  Icinga parsed (smtp-full):"
jq -r '.[] | "    \(.label) = \(.value) \(.unit) warn=\(.warn) crit=\(.crit) min=\(.min)"' <<<"$full_parsed" 2>/dev/null
mapfile -t full_cmd < <(cr smtp-full '.command[]')
pairs=""
for ((j = 1; j < ${#full_cmd[@]}; j++)); do
  [[ ${full_cmd[j]} == --command || ${full_cmd[j]} == --response ]] && pairs+="${full_cmd[j]} ${full_cmd[j + 1]};"
done
expect_eq "smtp-full: -C values in order, then -R values in order" "$pairs" \
  "--command NOOP;--command RSET;--response ^250;--response ^250 ;"
full_output=$(cr smtp-full '.output')
if [[ $full_output == *$'\n'*"C: AUTH PLAIN ********"* && $full_output != *"$secret"* ]]; then
  pass "smtp-full: the transcript (-v) is the long output, the password is not in it"
else
  fail "smtp-full: the transcript (-v) is the long output, the password is not in it"
fi

check_ok smtp-proxy
if [[ -n $ipv6_address ]]; then
  check_command smtp-proxy -H=::1 -6 --port="$POSTFIX_PROXY_PORT" --proxy=v2 --starttls \
    --no-verify --ca-path=/etc/ssl/certs --verify-name="$HOST" --fqdn="$FQDN" --helo-dns=ignore
else
  check_command smtp-proxy -H=127.0.0.1 --port="$POSTFIX_PROXY_PORT" --proxy=v2 --starttls \
    --no-verify --ca-path=/etc/ssl/certs --verify-name="$HOST" --fqdn="$FQDN" --helo-dns=ignore
fi
check_ok smtp-proxy-v1
check_command smtp-proxy-v1 -H=127.0.0.1 --port="$POSTFIX_PROXY_PORT" --proxy --fqdn="$FQDN" \
  --helo-dns=ignore

# ---- the ITL's variables only
check_ok smtp-itl
check_command smtp-itl -H=127.0.0.1 -4 --port="$POSTFIX_PORT" --fqdn='[127.0.0.1]' --expect=ESMTP \
  --starttls --certificate=30,14 --verify-name="$POSTFIX_TLS_NAME" --authtype=LOGIN \
  --authuser="$POSTFIX_AUTH_USER" --from="$FROM" --command=NOOP --response='^250' \
  --ignore-quit-failure --warning=5 --critical=10 --timeout=20
itl_output=$(cr smtp-itl '.output')
echo "  smtp-itl: $(cr smtp-itl '.command[]' | tr '\n' ' ')"
echo "  smtp-itl: ${itl_output%%$'\n'*}"
expect_eq "smtp-itl: perfdata of AUTH (smtp_authpass reached the plugin) and of the certificate" \
  "$(cr smtp-itl '.performance_data[]' | grep -oE '^(auth|starttls|commands|cert_days)=' | tr -d '=\n ')" \
  "starttlsauthcommandscert_days"
if [[ $(cr smtp-itl '.command[]') != *"$secret"* && $itl_output != *"$secret"* ]]; then
  pass "smtp-itl: the password (smtp_authpass) is neither on the command line nor in the output"
else
  fail "smtp-itl: the password (smtp_authpass) is neither on the command line nor in the output"
fi

# ---- -vv, and the name verified by default
check_ok smtp-vv
check_command smtp-vv -H=127.0.0.1 --port="$POSTFIX_NOTLS_PORT" --verbose --verbose \
  --fqdn="$FQDN" --helo-dns=ignore
vv_output=$(cr smtp-vv '.output')
vv_lines=$(sed -n '2,$p' <<<"$vv_output")
vv_unstamped=$(grep -cvE "$VV_STAMP" <<<"$vv_lines")
if [[ -n $vv_lines && $vv_unstamped == 0 ]]; then
  pass "smtp-vv: every line of the transcript is stamped with the elapsed time (-vv)"
else
  fail "smtp-vv: every line of the transcript is stamped with the elapsed time (-vv)" "$vv_output"
fi

check_command smtp-wrongname -H=127.0.0.1 --port="$POSTFIX_PORT" --starttls \
  --ca-file="$POSTFIX_CA_FILE" --verify-name="$HOST" --fqdn="$FQDN" --helo-dns=ignore
wrong_output=$(cr smtp-wrongname '.output')
if [[ $(cr smtp-wrongname '.exit_status') == 2 && ${wrong_output%%$'\n'*} == *"hostname mismatch"* ]]; then
  pass "smtp-wrongname: CRITICAL, the host's name is not the certificate's (${wrong_output%%$'\n'*})"
else
  fail "smtp-wrongname: CRITICAL 'hostname mismatch'" "exit $(cr smtp-wrongname '.exit_status')" "$wrong_output"
fi
check_command smtp-byname -H="$POSTFIX_TLS_NAME" --port="$POSTFIX_PORT" --starttls \
  --dns-server=127.0.0.1:9 --timeout=3 --fqdn="$FQDN" --helo-dns=ignore
expect_eq "smtp-byname: a plugin result, CRITICAL without DNS" "$(cr smtp-byname '.exit_status')" 2

check_command smtp-mx --mx=smtpverify.test --mx-all --each-address --starttls --plaintext-refused \
  --dane --dane-insecure --mta-sts --tls-rpt --dns-server=127.0.0.1:9 --timeout=3 --fqdn="$FQDN" \
  --helo-dns=ignore
mx_output=$(cr smtp-mx '.output')
expect_eq "smtp-mx: a plugin result, CRITICAL without DNS (${mx_output%%$'\n'*})" \
  "$(cr smtp-mx '.exit_status')" 2

check_command smtp-argmap -H=127.0.0.1 --port="$POSTFIX_NOTLS_PORT" --lmtp --authtype=LOGIN \
  --authuser="$POSTFIX_AUTH_USER" --authpass-file="$tmp/authpass" --auth-plaintext \
  --fqdn="$FQDN" --helo-dns=ignore --from="$FROM" --rcpt="$POSTFIX_LOCAL_RCPT" \
  --data-file="$tmp/message.eml" --timeout=5
argmap_rc=$(cr smtp-argmap '.exit_status')
argmap_output=$(cr smtp-argmap '.output')
if [[ $argmap_rc =~ ^[0-3]$ && $argmap_output == "SMTP "* ]]; then
  pass "smtp-argmap: a plugin result, whatever the state (exit $argmap_rc: ${argmap_output%%$'\n'*})"
else
  fail "smtp-argmap: a plugin result (exit 0-3, 'SMTP ' line)" "exit $argmap_rc" "$argmap_output"
fi

# ---- what the metric writer made of it
deadline=$(wait_until)
missing=("${own_items[@]%%=*}")
while ((SECONDS < deadline)); do
  still=()
  for label in "${missing[@]}"; do
    grep -qE "\.services\.smtp\.smtp_verify\.perfdata\.$label\.value [0-9.e+-]+ [0-9]+$" \
      "$tmp/graphite.txt" || still+=("$label")
  done
  missing=("${still[@]}")
  ((${#missing[@]} == 0)) && break
  sleep 0.3
done
expect_eq "smtp: the GraphiteWriter sent a value for every perfdata label" "${missing[*]}" ""
invalid=$(cat "$ic/log/icinga2.log" "$tmp/daemon.log" 2>/dev/null | grep -c 'Ignoring invalid perfdata')
expect_eq "the Icinga log has no 'Ignoring invalid perfdata'" "$invalid" 0
if ((failed)); then
  echo "--- Icinga log (warnings and worse):"
  grep -E '^\[[^]]*\] (warning|critical)/' "$ic/log/icinga2.log" | tail -n 20
fi

# ------------------------------------------------------------------ stop

stops_on_sigterm "the daemon" "$icinga_pid" && icinga_pid=""
echo "($(($(date +%s) - started)) s)"
finish
