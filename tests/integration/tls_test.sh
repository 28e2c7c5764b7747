#!/usr/bin/env bash
# Integration: STARTTLS, implicit TLS, certificate verification and days, AUTH, against the
# real Postfix of tests/integration/postfix.sh (its per-start test PKI, POSTFIX_CA_FILE).
# Usage: tls_test.sh PLUGIN POSTFIX_DIR
set -uo pipefail
plugin=$1
postfix_dir=$2
# shellcheck source=/dev/null
source "$postfix_dir/env"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

ca=(--ca-file "$POSTFIX_CA_FILE")
common=(-F probe.smtpverify.test -t 10 --helo-dns ignore)
tls13='STARTTLS TLSv1\.3 TLS_[A-Z0-9_]+'
days='cert_days=[0-9]+;;'
ep() { printf '\\[%s\\]:%s' "${1//./\\.}" "$2"; }
# What the plugin says of a certificate of the test PKI (issue 15), computed here with openssl:
# its last day (UTC) and its subject (RFC 2253), as regexes.
cert_day() { date -u -d "$(openssl x509 -noout -enddate -in "$1" | cut -d= -f2-)" +%F; }
cert_subject() {
  local s
  s=$(openssl x509 -noout -subject -nameopt RFC2253 -in "$1")
  s=${s#subject=}
  printf '%s' "${s//./\\.}"
}
expired_day=$(cert_day "$POSTFIX_PKI_DIR/expired.pem")
soon_day=$(cert_day "$POSTFIX_PKI_DIR/soon.pem")
subject=$(cert_subject "$POSTFIX_PKI_DIR/good.pem")  # all three leaves share it

check "-S with --ca-file is OK, names TLSv1.3, starttls perfdata" 0 \
  "SMTP OK - $(ep 127.0.0.1 "$POSTFIX_PORT") $banner, $tls13, cert (89|90) d, 1 rcpt accepted, $total \| time=$t connect=$t banner=$t ehlo=$t starttls=$t mail=$t rcpt=$t quit=$t $days" \
  -- -H 127.0.0.1 -p "$POSTFIX_PORT" "${common[@]}" -S "${ca[@]}" -f monitor@smtpverify.test --rcpt "$POSTFIX_LOCAL_RCPT"

om="host=\"127\\.0\\.0\\.1\",port=\"$POSTFIX_PORT\""
check_openmetrics "openmetrics: -S carries the certificate's days" 0 \
  -- -H 127.0.0.1 -p "$POSTFIX_PORT" "${common[@]}" -S "${ca[@]}"
has_sample "openmetrics -S: cert_days" "smtp_verify_cert_days\\{$om\\} (89|90)"
has_sample "openmetrics -S: starttls seconds" \
  "smtp_verify_phase_seconds\\{$om,phase=\"starttls\"\\} [0-9.e-]+"

check_openmetrics "openmetrics: an expired certificate is CRITICAL" 2 \
  -- -H 127.0.0.1 -p "$POSTFIX_EXPIRED_PORT" "${common[@]}" -S "${ca[@]}"
has_sample "openmetrics expired: cert_days below 0" \
  "smtp_verify_cert_days\\{host=\"127\\.0\\.0\\.1\",port=\"$POSTFIX_EXPIRED_PORT\"\\} -[0-9]+"

check "the same over IPv6 with the name checked via --verify-name" 0 \
  "SMTP OK - $(ep ::1 "$POSTFIX_PORT") $banner, $tls13, cert (89|90) d, $total \| .*" \
  -- -H ::1 -p "$POSTFIX_PORT" "${common[@]}" -S "${ca[@]}" --verify-name "$POSTFIX_TLS_NAME"

check "a private CA without --ca-file is CRITICAL" 2 \
  "SMTP CRITICAL - $(ep 127.0.0.1 "$POSTFIX_PORT") certificate verification failed: unable to get local issuer certificate \| .*" \
  -- -H 127.0.0.1 -p "$POSTFIX_PORT" "${common[@]}" -S

check "a name the certificate does not carry is CRITICAL" 2 \
  "SMTP CRITICAL - $(ep 127.0.0.1 "$POSTFIX_PORT") certificate verification failed: hostname mismatch: expected other\\.smtpverify\\.test, certificate names DNS:${POSTFIX_TLS_NAME//./\\.}, DNS:localhost, IP:127\\.0\\.0\\.1 \\(\\+1 more\\) \| .*" \
  -- -H 127.0.0.1 -p "$POSTFIX_PORT" "${common[@]}" -S "${ca[@]}" --verify-name other.smtpverify.test

check "an expired certificate is CRITICAL" 2 \
  "SMTP CRITICAL - $(ep 127.0.0.1 "$POSTFIX_EXPIRED_PORT") certificate verification failed: certificate has expired on $expired_day: $subject \| .* cert_days=-[0-9]+;;" \
  -- -H 127.0.0.1 -p "$POSTFIX_EXPIRED_PORT" "${common[@]}" -S "${ca[@]}"

check "an expired certificate is CRITICAL with --no-verify too" 2 \
  "SMTP CRITICAL - $(ep 127.0.0.1 "$POSTFIX_EXPIRED_PORT") certificate expired [0-9]+ d ago on $expired_day: $subject \| .* starttls=$t quit=$t cert_days=-[0-9]+;;" \
  -- -H 127.0.0.1 -p "$POSTFIX_EXPIRED_PORT" "${common[@]}" -S --no-verify

check "--no-verify: an OK line that says the certificate was not verified" 0 \
  "SMTP OK - $(ep 127.0.0.1 "$POSTFIX_PORT") $banner, $tls13 \\(unverified\\), cert (89|90) d, $total \| .*" \
  -- -H 127.0.0.1 -p "$POSTFIX_PORT" "${common[@]}" -S --no-verify

check "a 20-day certificate with -D 30,10 is WARNING" 1 \
  "SMTP WARNING - $(ep 127.0.0.1 "$POSTFIX_SOON_PORT") certificate expires in (19|20) d on $soon_day \\(warning 30\\): $subject \| time=$t connect=$t banner=$t ehlo=$t starttls=$t quit=$t cert_days=(19|20);30:;10:" \
  -- -H 127.0.0.1 -p "$POSTFIX_SOON_PORT" "${common[@]}" -S "${ca[@]}" -D 30,10

check "-w/-c cert_days=RANGE as well: alert below 30 and below 25 days" 2 \
  "SMTP CRITICAL - $(ep 127.0.0.1 "$POSTFIX_SOON_PORT") certificate expires in (19|20) d on $soon_day \\(critical 25:\\): $subject \| .* cert_days=(19|20);30:;25:" \
  -- -H 127.0.0.1 -p "$POSTFIX_SOON_PORT" "${common[@]}" -S "${ca[@]}" -w cert_days=30: -c cert_days=25:

check "-D alone implies STARTTLS, as with check_smtp" 1 \
  "SMTP WARNING - $(ep 127.0.0.1 "$POSTFIX_SOON_PORT") certificate expires in (19|20) d on $soon_day \\(warning 30\\): $subject \| .* starttls=$t quit=$t cert_days=(19|20);30:;" \
  -- -H 127.0.0.1 -p "$POSTFIX_SOON_PORT" "${common[@]}" "${ca[@]}" -D 30

check "the same with -D 30,25 is CRITICAL" 2 \
  "SMTP CRITICAL - $(ep 127.0.0.1 "$POSTFIX_SOON_PORT") certificate expires in (19|20) d on $soon_day \\(critical 25\\): $subject \| .* cert_days=(19|20);30:;25:" \
  -- -H 127.0.0.1 -p "$POSTFIX_SOON_PORT" "${common[@]}" -S "${ca[@]}" -D 30,25

check "implicit TLS with -s is OK (tls perfdata)" 0 \
  "SMTP OK - $(ep 127.0.0.1 "$POSTFIX_SMTPS_PORT") $banner, TLSv1\\.3 TLS_[A-Z0-9_]+, cert (89|90) d, $total \| time=$t connect=$t tls=$t banner=$t ehlo=$t quit=$t $days" \
  -- -H 127.0.0.1 -p "$POSTFIX_SMTPS_PORT" "${common[@]}" -s "${ca[@]}"

check "a server without STARTTLS with -S is CRITICAL" 2 \
  "SMTP CRITICAL - $(ep 127.0.0.1 "$POSTFIX_NOTLS_PORT") STARTTLS required \\(-S\\) but not offered \| time=$t connect=$t banner=$t ehlo=$t quit=$t" \
  -- -H 127.0.0.1 -p "$POSTFIX_NOTLS_PORT" "${common[@]}" -S "${ca[@]}"

check "--tls-min 1.3 against a TLS 1.3 server is OK" 0 "SMTP OK - .*$tls13.*" \
  -- -H 127.0.0.1 -p "$POSTFIX_PORT" "${common[@]}" -S "${ca[@]}" --tls-min 1.3

check "implicit TLS on the STARTTLS port fails the handshake" 2 \
  "SMTP CRITICAL - $(ep 127.0.0.1 "$POSTFIX_PORT") TLS handshake failed: wrong version number \\(the server speaks plain SMTP: try -S\\) \| time=$t connect=$t tls=$t" \
  -- -H 127.0.0.1 -p "$POSTFIX_PORT" "${common[@]}" -s "${ca[@]}"

secret=$(cat "$POSTFIX_AUTHPASS_FILE")
check "AUTH PLAIN after STARTTLS with --authpass-file" 0 \
  "SMTP OK - $(ep 127.0.0.1 "$POSTFIX_PORT") $banner, $tls13, cert (89|90) d, AUTH PLAIN, 1 rcpt accepted, $total \| time=$t connect=$t banner=$t ehlo=$t starttls=$t auth=$t mail=$t rcpt=$t quit=$t $days" \
  -- -H 127.0.0.1 -p "$POSTFIX_PORT" "${common[@]}" -S "${ca[@]}" -A PLAIN -U "$POSTFIX_AUTH_USER" \
     --authpass-file "$POSTFIX_AUTHPASS_FILE" -f monitor@smtpverify.test --rcpt "$POSTFIX_LOCAL_RCPT" -vv
expect "the password is nowhere in the output (-vv)" bash -c '! grep -qF -- "$1" <<<"$2"' _ "$secret" "$out"
expect "nor its base64" bash -c '! grep -qF -- "$(printf "\0%s\0%s" "$3" "$1" | base64 -w0)" <<<"$2"' _ "$secret" "$out" "$POSTFIX_AUTH_USER"
expect "the transcript masks it" grep -qx '.*C: AUTH PLAIN \*\*\*\*\*\*\*\*' <<<"$out"

SMTP_AUTHPASS=$secret check "AUTH LOGIN over implicit TLS with SMTP_AUTHPASS" 0 \
  "SMTP OK - $(ep 127.0.0.1 "$POSTFIX_SMTPS_PORT") $banner, TLSv1\\.3 TLS_[A-Z0-9_]+, cert (89|90) d, AUTH LOGIN, 1 rcpt accepted, $total \| .*" \
  -- -H 127.0.0.1 -p "$POSTFIX_SMTPS_PORT" "${common[@]}" -s "${ca[@]}" -A LOGIN -U "$POSTFIX_AUTH_USER" \
     -f monitor@smtpverify.test --rcpt "$POSTFIX_LOCAL_RCPT" -v
expect "LOGIN masks the password line" grep -qx 'C: \*\*\*\*\*\*\*\*' <<<"$out"

check "a wrong password is CRITICAL naming the 535" 2 \
  "SMTP CRITICAL - $(ep 127.0.0.1 "$POSTFIX_PORT") AUTH PLAIN \\*\\*\\*\\*\\*\\*\\*\\* rejected: 535 5\\.7\\.8 .* \| .*" \
  -- -H 127.0.0.1 -p "$POSTFIX_PORT" "${common[@]}" -S "${ca[@]}" -A PLAIN -U "$POSTFIX_AUTH_USER" -P wrong-password

check "AUTH where the server offers none after TLS (no-TLS port, --auth-plaintext) is CRITICAL" 2 \
  "SMTP CRITICAL - $(ep 127.0.0.1 "$POSTFIX_NOTLS_PORT") AUTH PLAIN not offered \\(no AUTH in EHLO\\) \| .*" \
  -- -H 127.0.0.1 -p "$POSTFIX_NOTLS_PORT" "${common[@]}" -A PLAIN -U "$POSTFIX_AUTH_USER" -P x --auth-plaintext

check "-A without TLS and without --auth-plaintext is UNKNOWN, nothing sent" 3 \
  "SMTP UNKNOWN - -A without -S or -s would send the password in plaintext \\(--auth-plaintext\\)" \
  -- -H 127.0.0.1 -p "$POSTFIX_PORT" "${common[@]}" -A PLAIN -U "$POSTFIX_AUTH_USER" -P x

# --plaintext-refused (issue 17): the TLS-only listener keeps its promise, the normal one does not.
from=(-f monitor@smtpverify.test --rcpt "$POSTFIX_LOCAL_RCPT")
check "--plaintext-refused on the TLS-only listener is OK (530 before STARTTLS)" 0 \
  "SMTP OK - $(ep 127.0.0.1 "$POSTFIX_TLSONLY_PORT") $banner, plaintext refused, $tls13, cert (89|90) d, 1 rcpt accepted, $total \| time=$t connect=$t banner=$t ehlo=$t plaintext=$t starttls=$t mail=$t rcpt=$t quit=$t $days" \
  -- -H 127.0.0.1 -p "$POSTFIX_TLSONLY_PORT" "${common[@]}" -S "${ca[@]}" --plaintext-refused "${from[@]}" -v
expect "the transcript shows the probe refused" \
  grep -qzF $'C: MAIL FROM:<monitor@smtpverify.test>\nS: 530 5.7.0 Must issue a STARTTLS command first\n* MAIL refused before TLS, as required\nC: STARTTLS\n' <<<"$out"

check "--plaintext-refused on the normal STARTTLS listener is CRITICAL (MAIL accepted, then RSET)" 2 \
  "SMTP CRITICAL - $(ep 127.0.0.1 "$POSTFIX_PORT") accepts mail without TLS: MAIL FROM:<monitor@smtpverify\.test> before STARTTLS answered 250 2\.1\.0 Ok \| time=$t connect=$t banner=$t ehlo=$t plaintext=$t starttls=$t mail=$t rcpt=$t quit=$t $days" \
  -- -H 127.0.0.1 -p "$POSTFIX_PORT" "${common[@]}" -S "${ca[@]}" --plaintext-refused "${from[@]}" -v
expect "RSET before STARTTLS, and the transaction after TLS as usual" \
  grep -qzF $'S: 250 2.1.0 Ok\nC: RSET\nS: 250 2.0.0 Ok\nC: STARTTLS\n' <<<"$out"

check "--plaintext-refused with the null sender and AUTH PLAIN after STARTTLS on the TLS-only listener" 0 \
  "SMTP OK - $(ep ::1 "$POSTFIX_TLSONLY_PORT") $banner, plaintext refused, $tls13, cert (89|90) d, $total \| time=$t connect=$t banner=$t ehlo=$t plaintext=$t starttls=$t auth=$t quit=$t $days" \
  -- -H ::1 -p "$POSTFIX_TLSONLY_PORT" "${common[@]}" -S "${ca[@]}" --plaintext-refused \
     -A PLAIN -U "$POSTFIX_AUTH_USER" --authpass-file "$POSTFIX_AUTHPASS_FILE" -v
expect "the probe used the null sender, AUTH went out after TLS" \
  grep -qzF $'C: MAIL FROM:<>\nS: 530 5.7.0 Must issue a STARTTLS command first\n' <<<"$out"
expect "AUTH succeeded inside TLS" grep -qx 'S: 235 2\.7\.0 Authentication successful' <<<"$out"

check "--plaintext-refused with -s is UNKNOWN, nothing sent" 3 \
  "SMTP UNKNOWN - --plaintext-refused needs -S: with -s nothing is sent before TLS" \
  -- -H 127.0.0.1 -p "$POSTFIX_SMTPS_PORT" "${common[@]}" -s --plaintext-refused

finish
