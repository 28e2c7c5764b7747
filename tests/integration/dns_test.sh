#!/usr/bin/env bash
# Integration: the HELO-name check and MX mode against a real unbound serving the test zone
# (tests/integration/unbound.sh) and the real Postfix (tests/integration/postfix.sh).
# Usage: dns_test.sh PLUGIN POSTFIX_DIR UNBOUND_DIR
set -uo pipefail
plugin=$1
# shellcheck source=/dev/null
source "$2/env"
# shellcheck source=/dev/null
source "$3/env"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

port=$POSTFIX_PORT
dns=(--dns-server "$UNBOUND_SERVER" -t 10)
ep4="\\[127\\.0\\.0\\.1\\]:$port"
ep6="\\[::1\\]:$port"
q() { printf '%s' "${1//./\\.}"; }  # a name as a regex

check "HELO name resolving to 127.0.0.1 is OK (helo_dns perfdata)" 0 \
  "SMTP OK - $ep4 $banner, $total \| time=$t connect=$t banner=$t ehlo=$t quit=$t helo_dns=$t" \
  -- -H 127.0.0.1 -p "$port" -F "$HELO_OK" "${dns[@]}"

expect "the transcript reports the PTR of our address, forward-confirmed" \
  bash -c '"$1" -H 127.0.0.1 -p "$2" -F "$3" --dns-server "$4" -v | grep -qx "\* PTR of 127\.0\.0\.1: $5 (forward-confirmed)"' \
  _ "$plugin" "$port" "$HELO_OK" "$UNBOUND_SERVER" "${HELO_OK//./\\.}"

check "the same name over IPv6 (its AAAA is ::1)" 0 "SMTP OK - $ep6 $banner, $total \| .* helo_dns=$t" \
  -- -H ::1 -p "$port" -F "$HELO_OK" "${dns[@]}"

check "a name resolving elsewhere is WARNING naming both addresses" 1 \
  "SMTP WARNING - $ep4 HELO name $(q "$HELO_ELSEWHERE") resolves to 192\\.0\\.2\\.55 - not to our address 127\\.0\\.0\\.1 \| .* helo_dns=$t" \
  -- -H 127.0.0.1 -p "$port" -F "$HELO_ELSEWHERE" "${dns[@]}"

# helo_case NAME EXIT STATE HOST HELO_NAME WORDS [ARGS...]: the check from HOST with -F HELO_NAME
# ends in "SMTP STATE - [HOST]:port HELO name HELO_NAMEWORDS | ...".
helo_case() {
  local name=$1 rc=$2 state=$3 host=$4 helo=$5 words=$6
  shift 6
  check "$name" "$rc" "SMTP $state - \\[$(q "$host")\\]:$port HELO name $(q "$helo")$words \| .*" \
    -- -H "$host" -p "$port" -F "$helo" "${dns[@]}" "$@"
}

helo_case "an IPv4-only name seen from ::1 is WARNING" 1 WARNING ::1 "$HELO_V4" \
  " has no AAAA record - our address is ::1 \\(it has 127\\.0\\.0\\.1\\)"
helo_case "NXDOMAIN is WARNING naming the name" 1 WARNING 127.0.0.1 "$HELO_NX" \
  " does not resolve \\(NXDOMAIN\\)"
helo_case "NXDOMAIN is CRITICAL with --helo-dns critical" 2 CRITICAL 127.0.0.1 "$HELO_NX" \
  " does not resolve \\(NXDOMAIN\\)" --helo-dns critical
helo_case "a name without address records" 1 WARNING 127.0.0.1 "$HELO_NOADDR" \
  " has no address records"
helo_case "SERVFAIL is told apart" 1 WARNING 127.0.0.1 "$SERVFAIL" ": DNS SERVFAIL"

check "--helo-dns ignore never asks" 0 "SMTP OK - $ep4 $banner, $total \| time=$t connect=$t banner=$t ehlo=$t quit=$t" \
  -- -H 127.0.0.1 -p "$port" -F "$HELO_NX" "${dns[@]}" --helo-dns ignore

# Without -F the HELO name is the machine's own, which the test zone does not know (REFUSED
# or an address literal): reported with -v, never rated.
check "the machine's own HELO name is looked up but not rated" 0 \
  "SMTP OK - $ep4 $banner, $total \| time=$t connect=$t banner=$t ehlo=$t quit=$t( helo_dns=$t)?" \
  -- -H 127.0.0.1 -p "$port" "${dns[@]}"

check "-H by name through --dns-server" 0 \
  "SMTP OK - $(q "$MX_HOST")\\[(127\\.0\\.0\\.1|::1)\\]:$port $banner, $total \| time=$t resolve=$t .*" \
  -- -H "$MX_HOST" -p "$port" -F "$HELO_OK" "${dns[@]}"

common=(-p "$port" -F "$HELO_OK" "${dns[@]}" --helo-dns ignore)
check "--mx checks the zone's MX host" 0 \
  "SMTP OK - $(q "$MX_HOST")\\[(127\\.0\\.0\\.1|::1)\\]:$port $banner, $total \| time=$t mx=$t resolve=$t connect=$t .*" \
  -- --mx "$MX_DOMAIN" "${common[@]}"

check "--mx: the most preferred host (10 before 20)" 0 \
  "SMTP OK - mx1\\.smtpverify\\.test\\[127\\.0\\.0\\.1\\]:$port $banner, $total \| .*" \
  -- --mx "$MX_ORDER" "${common[@]}"

check "--mx: equal preference, the first does not resolve, the next is checked" 0 \
  "SMTP OK - $(q "$MX_HOST")\\[(127\\.0\\.0\\.1|::1)\\]:$port $banner, $total \| .*" \
  -- --mx "$MX_TIE" "${common[@]}"

check "--mx-all checks every MX host" 0 \
  "SMTP OK - $(q "$MX_ORDER") 2/2 MX hosts OK, mx1\\.smtpverify\\.test \\($banner\\), $(q "$MX_HOST") \\($banner\\), $total \| time=$t mx=$t mx1\\.smtpverify\\.test_resolve=$t .* $(q "$MX_HOST")_quit=$t" \
  -- --mx "$MX_ORDER" --mx-all "${common[@]}"

# --each-address: the whole dialogue with every address, not the first that answers.
addr_perf() { printf '%s_connect=%s %s_banner=%s %s_ehlo=%s %s_quit=%s' "$1" "$t" "$1" "$t" "$1" "$t" "$1" "$t"; }
if [[ $UNBOUND_IPV6 -eq 1 ]]; then
  check "--each-address: both addresses of the dual-stack name" 0 \
    "SMTP OK - $(q "$MX_HOST"):$port 2/2 addresses OK, $total \| time=$t resolve=$t ($(addr_perf 127\\.0\\.0\\.1) $(addr_perf __1)|$(addr_perf __1) $(addr_perf 127\\.0\\.0\\.1))" \
    -- -H "$MX_HOST" --each-address "${common[@]}"
fi
check "--each-address: one dead address is CRITICAL and named" 2 \
  "SMTP CRITICAL - 1/2 addresses OK - cannot connect to $(q "$HALF_DEAD")\\[127\\.0\\.0\\.3\\]:$port: Connection refused \| time=$t resolve=$t $(addr_perf 127\\.0\\.0\\.1) 127\\.0\\.0\\.3_connect=$t" \
  -- -H "$HALF_DEAD" --each-address "${common[@]}"
check "without --each-address the same name is OK (the first address answers)" 0 \
  "SMTP OK - $(q "$HALF_DEAD")\\[127\\.0\\.0\\.1\\]:$port $banner, $total \| .*" \
  -- -H "$HALF_DEAD" "${common[@]}"
check "--mx-all --each-address: every address of every MX host" 0 \
  "SMTP OK - $(q "$MX_ORDER") 2/2 MX hosts OK, mx1\\.smtpverify\\.test \\(1/1 addresses OK\\), $(q "$MX_HOST") \\([12]/[12] addresses OK\\), $total \| time=$t mx=$t mx1\\.smtpverify\\.test_resolve=$t mx1\\.smtpverify\\.test_127\\.0\\.0\\.1_connect=$t .* $(q "$MX_HOST")_[_0-9.]+_quit=$t" \
  -- --mx "$MX_ORDER" --mx-all --each-address "${common[@]}"

d="domain=\"$(q "$MX_ORDER")\",port=\"$port\""
check_openmetrics "openmetrics: --mx-all labels each MX host" 0 \
  -- --mx "$MX_ORDER" --mx-all "${common[@]}"
has_sample "openmetrics --mx-all: the domain's state" "smtp_verify_state\\{$d\\} 0"
has_sample "openmetrics --mx-all: the MX lookup is the domain's" \
  "smtp_verify_phase_seconds\\{$d,phase=\"mx\"\\} [0-9.e-]+"
for mx in mx1.smtpverify.test "$MX_HOST"; do
  has_sample "openmetrics --mx-all: $mx OK" "smtp_verify_target_state\\{$d,mx_host=\"$(q "$mx")\"\\} 0"
  has_sample "openmetrics --mx-all: $mx up" "smtp_verify_up\\{$d,mx_host=\"$(q "$mx")\"\\} 1"
  has_sample "openmetrics --mx-all: $mx banner seconds" \
    "smtp_verify_phase_seconds\\{$d,mx_host=\"$(q "$mx")\",phase=\"banner\"\\} [0-9.e-]+"
done

check_openmetrics "openmetrics: --mx labels the host checked" 0 -- --mx "$MX_ORDER" "${common[@]}"
has_sample "openmetrics --mx: mx1 up" "smtp_verify_up\\{$d,mx_host=\"mx1\\.smtpverify\\.test\"\\} 1"

check_openmetrics "openmetrics: --mx-all --each-address, addresses under their MX host" 0 \
  -- --mx "$MX_ORDER" --mx-all --each-address "${common[@]}"
has_sample "openmetrics --mx-all --each-address: mx1's 127.0.0.1 up" \
  "smtp_verify_up\\{$d,mx_host=\"mx1\\.smtpverify\\.test\",address=\"127\\.0\\.0\\.1\"\\} 1"
has_sample "openmetrics --mx-all --each-address: mx1 OK" \
  "smtp_verify_target_state\\{$d,mx_host=\"mx1\\.smtpverify\\.test\"\\} 0"

h="host=\"$(q "$HALF_DEAD")\",port=\"$port\""
check_openmetrics "openmetrics: --each-address, one dead address is CRITICAL" 2 \
  -- -H "$HALF_DEAD" --each-address "${common[@]}"
has_sample "openmetrics --each-address: the name's resolve" \
  "smtp_verify_phase_seconds\\{$h,phase=\"resolve\"\\} [0-9.e-]+"
has_sample "openmetrics --each-address: 127.0.0.1 OK" \
  "smtp_verify_target_state\\{$h,address=\"127\\.0\\.0\\.1\"\\} 0"
has_sample "openmetrics --each-address: 127.0.0.1 up" "smtp_verify_up\\{$h,address=\"127\\.0\\.0\\.1\"\\} 1"
has_sample "openmetrics --each-address: 127.0.0.3 CRITICAL" \
  "smtp_verify_target_state\\{$h,address=\"127\\.0\\.0\\.3\"\\} 2"
has_sample "openmetrics --each-address: 127.0.0.3 down" "smtp_verify_up\\{$h,address=\"127\\.0\\.0\\.3\"\\} 0"

check_openmetrics "openmetrics: a dangling MX is CRITICAL" 2 -- --mx "$DANGLING" "${common[@]}"
has_sample "openmetrics dangling MX: the host is down" \
  "smtp_verify_up\\{domain=\"$(q "$DANGLING")\",port=\"$port\",mx_host=\"nx-host\\.smtpverify\\.test\"\\} 0"

check "a null MX is CRITICAL" 2 "SMTP CRITICAL - $(q "$NULLMX") accepts no mail \\(null MX, RFC 7505\\) \| .*" \
  -- --mx "$NULLMX" "${common[@]}"

check "a dangling MX is CRITICAL" 2 "SMTP CRITICAL - cannot resolve nx-host\\.smtpverify\\.test: NXDOMAIN \| .*" \
  -- --mx "$DANGLING" "${common[@]}"

check "no MX: the domain's own address" 0 \
  "SMTP OK - $(q "$NOMX")\\[127\\.0\\.0\\.1\\]:$port $banner, $total \| .*" \
  -- --mx "$NOMX" "${common[@]}"

# DANE: unbound's local data carries no AD bit, so matching records need --dane-insecure.
host_ep="$(q "$MX_HOST")\\[(127\\.0\\.0\\.1|::1)\\]"
dane=(-H "$MX_HOST" -F "$HELO_OK" "${dns[@]}" --helo-dns ignore)
check "--dane --dane-insecure with a matching TLSA (STARTTLS) is OK" 0 \
  "SMTP OK - $host_ep:$port $banner, STARTTLS TLSv1\\.3 TLS_[A-Z0-9_]+, DANE 3 1 1 matched, cert [0-9]+ d, $total \| .*" \
  -- "${dane[@]}" -p "$port" -S --dane --dane-insecure
check "--dane --dane-insecure with a matching TLSA (implicit TLS) is OK" 0 \
  "SMTP OK - $host_ep:$POSTFIX_SMTPS_PORT $banner, TLSv1\\.3 TLS_[A-Z0-9_]+, DANE 3 1 1 matched, cert [0-9]+ d, $total \| .*" \
  -- "${dane[@]}" -p "$POSTFIX_SMTPS_PORT" -s --dane --dane-insecure
check "--dane without --dane-insecure refuses the unauthenticated answer" 2 \
  "SMTP CRITICAL - $(q "$MX_HOST"):$port DANE: the TLSA answer for _$port\\._tcp\\.$(q "$MX_HOST") is not DNSSEC-authenticated \\(no AD bit\\) \| .*" \
  -- "${dane[@]}" -p "$port" -S --dane
# (that listener's certificate has also expired, which is CRITICAL on its own). The line says
# what a TLSA record for the presented certificate would hold (issue 15), computed here apart.
expired_pem=$POSTFIX_PKI_DIR/expired.pem
expired_spki=$(openssl x509 -pubkey -noout -in "$expired_pem" | openssl pkey -pubin -outform DER |
  sha256sum | cut -d' ' -f1)
expired_day=$(date -u -d "$(openssl x509 -noout -enddate -in "$expired_pem" | cut -d= -f2-)" +%F)
expired_subject=$(openssl x509 -noout -subject -nameopt RFC2253 -in "$expired_pem")
expired_subject=${expired_subject#subject=}
check "a non-matching TLSA is CRITICAL" 2 \
  "SMTP CRITICAL - $host_ep:$POSTFIX_EXPIRED_PORT certificate verification failed: DANE: no TLSA record matched: presented 3 1 1 $expired_spki, certificate expired [0-9]+ d ago on $expired_day: $(q "$expired_subject") \| .*" \
  -- "${dane[@]}" -p "$POSTFIX_EXPIRED_PORT" -S --dane --dane-insecure
check "no TLSA at all is CRITICAL" 2 \
  "SMTP CRITICAL - $(q "$MX_HOST"):$POSTFIX_SOON_PORT DANE: no TLSA records for _$POSTFIX_SOON_PORT\\._tcp\\.$(q "$MX_HOST") \| .*" \
  -- "${dane[@]}" -p "$POSTFIX_SOON_PORT" -S --dane --dane-insecure

# c-ares 1.18 sees the ICMP refusal of the A query only on the AAAA query's sendto() and then
# waits for its retry timer, so an address lookup may end at -t rather than at once.
check "an unreachable --dns-server never stalls past -t" 2 \
  "SMTP CRITICAL - (cannot resolve $(q "$MX_HOST"): DNS server unreachable|timeout after 2 s waiting for address of $(q "$MX_HOST") from .*) \\| .*" 2.5 \
  -- -H "$MX_HOST" -p "$port" -F "$HELO_OK" --dns-server 127.0.0.1:1 -t 2

# A resolver that never answers the HELO name's lookup: the dialogue takes milliseconds, so
# -c 0.5 on `time` holds; only the lookup's own finding (and its wait, up to -t) remains.
silent_dns=$(mktemp)
/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$silent_dns" &
silent_pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [[ -s $silent_dns ]] && break; sleep 0.1; done
check "a silent resolver never pushes a fast server over -c on time" 1 \
  "SMTP WARNING - $ep4 HELO name $(q "$HELO_OK"): DNS timeout \\| time=[0-9.]+s;;0\\.5;0 connect=$t banner=$t ehlo=$t quit=$t" 2.5 \
  -- -H 127.0.0.1 -p "$port" -F "$HELO_OK" --dns-server "127.0.0.1:$(cat "$silent_dns")" -t 1.5 -c 0.5
kill "$silent_pid" 2>/dev/null
rm -f "$silent_dns"

# --mx-all --output json: one entry per MX host with its own facts.
expect "--mx-all JSON lists each host with its state, address and phases" \
  bash -c '"$1" --mx "$2" --mx-all -p "$3" -F "$4" --dns-server "$5" --helo-dns ignore --output json |
    /usr/bin/python3 -c "import json, sys
d = json.load(sys.stdin)
hosts = d[\"hosts\"]
assert [h[\"host\"] for h in hosts] == [\"mx1.smtpverify.test\", \"mail.smtpverify.test\"], hosts
assert all(h[\"state\"] == 0 and h[\"address\"] and h[\"phases\"] for h in hosts), hosts
assert d[\"state\"] == 0 and d[\"summary\"].startswith(\"mx-order.smtpverify.test 2/2 MX hosts OK\")"' \
  _ "$plugin" "$MX_ORDER" "$port" "$HELO_OK" "$UNBOUND_SERVER"

# Every perfdata label takes -w/-c (the phase registry, lib/smtp/phase.h): a critical range that
# any time falls in must make the check CRITICAL naming the label, and show in its perfdata.
phase_args() {
  local plain=(-H 127.0.0.1 -p "$port" -F "$HELO_OK" "${dns[@]}" --helo-dns ignore)
  local ca=(--ca-file "$POSTFIX_CA_FILE" --verify-name "$POSTFIX_TLS_NAME")
  case $1 in
    mx) args=(--mx "$MX_DOMAIN" "${common[@]}") ;;
    resolve) args=(-H "$MX_HOST" -p "$port" -F "$HELO_OK" "${dns[@]}" --helo-dns ignore) ;;
    tls) args=(-H 127.0.0.1 -p "$POSTFIX_SMTPS_PORT" -F "$HELO_OK" "${dns[@]}" --helo-dns ignore -s "${ca[@]}") ;;
    starttls) args=("${plain[@]}" -S "${ca[@]}") ;;
    plaintext) args=(-H 127.0.0.1 -p "$POSTFIX_TLSONLY_PORT" -F "$HELO_OK" "${dns[@]}" --helo-dns ignore
                     -S "${ca[@]}" --plaintext-refused) ;;
    auth) args=("${plain[@]}" -S "${ca[@]}" -A PLAIN -U "$POSTFIX_AUTH_USER"
                --authpass-file "$POSTFIX_AUTHPASS_FILE") ;;
    mail | rcpt | data) args=("${plain[@]}" -f monitor@smtpverify.test --rcpt "$POSTFIX_LOCAL_RCPT" --data) ;;
    commands) args=("${plain[@]}" -C NOOP -R '^250') ;;
    helo_dns) args=(-H 127.0.0.1 -p "$port" -F "$HELO_OK" "${dns[@]}") ;;
    *) args=("${plain[@]}") ;;
  esac
}
for label in mx resolve connect tls banner ehlo plaintext starttls auth mail rcpt data commands quit helo_dns; do
  phase_args "$label"
  check "-c $label=@0:1000 makes the $label phase CRITICAL" 2 \
    "SMTP CRITICAL - .*$label [0-9.]+ s \\(critical @0:1000\\).* \\| (.* )?$label=[0-9]+\\.[0-9]{6}s;;@0:1000;0( .*)?" \
    -- "${args[@]}" -c "$label=@0:1000"
  check "-w $label=@0:1000 makes it WARNING" 1 \
    "SMTP WARNING - .*$label [0-9.]+ s \\(warning @0:1000\\).* \\| (.* )?$label=[0-9]+\\.[0-9]{6}s;@0:1000;;0( .*)?" \
    -- "${args[@]}" -w "$label=@0:1000"
done

# The labels --mx-all and --each-address print take -w/-c as they are printed.
mx1_banner="mx1\\.smtpverify\\.test_banner"
check "-c mx1.smtpverify.test_banner=@0:1000 with --mx-all" 2 \
  "SMTP CRITICAL - 1/2 MX hosts OK - $mx1_banner [0-9.]+ s \\(critical @0:1000\\) \\| .* $mx1_banner=[0-9]+\\.[0-9]{6}s;;@0:1000;0 .*" \
  -- --mx "$MX_ORDER" --mx-all "${common[@]}" -c mx1.smtpverify.test_banner=@0:1000
check "-w 127.0.0.1_ehlo=@0:1000 with --each-address" 1 \
  "SMTP WARNING - [01]/[12] addresses OK - 127\\.0\\.0\\.1_ehlo [0-9.]+ s \\(warning @0:1000\\) \\| .* 127\\.0\\.0\\.1_ehlo=[0-9]+\\.[0-9]{6}s;@0:1000;;0.*" \
  -- -H "$MX_HOST" --each-address "${common[@]}" -w 127.0.0.1_ehlo=@0:1000

finish
