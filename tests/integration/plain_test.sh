#!/usr/bin/env bash
# Integration: the plugin against the real private Postfix (tests/integration/postfix.sh).
# Usage: plain_test.sh PLUGIN POSTFIX_DIR
# Each case asserts the exact exit code and the first line (a full-line regex; times vary).
set -uo pipefail
plugin=$1
postfix_dir=$2
# shellcheck source=/dev/null
source "$postfix_dir/env"

# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"
port=$POSTFIX_PORT
ep4="\\[127\\.0\\.0\\.1\\]:$port"
ep6="\\[::1\\]:$port"

# --helo-dns ignore: test names must never reach the machine's resolver (see helo_test.sh).
common=(-F probe.smtpverify.test -t 10 --helo-dns ignore)

check "known recipient is OK with every phase's perfdata" 0 \
  "SMTP OK - $ep4 $banner, 1 rcpt accepted, $total \| time=$t connect=$t banner=$t ehlo=$t mail=$t rcpt=$t quit=$t" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -f monitor@smtpverify.test --rcpt "$POSTFIX_LOCAL_RCPT"

check "the same over IPv6 loopback" 0 \
  "SMTP OK - $ep6 $banner, 1 rcpt accepted, $total \| time=$t connect=$t banner=$t ehlo=$t mail=$t rcpt=$t quit=$t" \
  -- -H ::1 -p "$port" "${common[@]}" -f monitor@smtpverify.test --rcpt "$POSTFIX_LOCAL_RCPT"

check "localhost resolves through the hosts file" 0 \
  "SMTP OK - localhost\\[(127\\.0\\.0\\.1|::1)\\]:$port $banner, $total \| time=$t resolve=$t connect=$t banner=$t ehlo=$t quit=$t" \
  -- -H localhost -p "$port" "${common[@]}"

check "unknown recipient is CRITICAL naming the 550" 2 \
  "SMTP CRITICAL - $ep4 RCPT TO:<$POSTFIX_UNKNOWN_RCPT> rejected: 550 5\\.1\\.1 <$POSTFIX_UNKNOWN_RCPT>: Recipient address rejected: .* \| time=$t connect=$t banner=$t ehlo=$t mail=$t rcpt=$t quit=$t" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -f monitor@smtpverify.test --rcpt "$POSTFIX_UNKNOWN_RCPT"

check "--reject-rcpt on a foreign domain answered 554 is OK" 0 \
  "SMTP OK - $ep4 $banner, 1 rcpt accepted, 1 rcpt rejected as expected, $total \| time=$t connect=$t banner=$t ehlo=$t mail=$t rcpt=$t quit=$t" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -f monitor@smtpverify.test \
     --rcpt "$POSTFIX_LOCAL_RCPT" --reject-rcpt "$POSTFIX_FOREIGN_RCPT"

check "--reject-rcpt on the unknown user answered 550 is OK" 0 \
  "SMTP OK - $ep4 $banner, 1 rcpt rejected as expected, $total \| .*" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -f monitor@smtpverify.test \
     --reject-rcpt "$POSTFIX_UNKNOWN_RCPT"

check "--reject-rcpt on a local mailbox (accepted) is CRITICAL" 2 \
  "SMTP CRITICAL - $ep4 RCPT TO:<$POSTFIX_LOCAL_RCPT> accepted, expected a rejection \\(open relay or unknown user accepted\\): 250 2\\.1\\.5 Ok \| .*" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -f monitor@smtpverify.test \
     --reject-rcpt "$POSTFIX_LOCAL_RCPT"

check "--data delivers a test message" 0 \
  "SMTP OK - $ep4 $banner, 1 rcpt accepted, message accepted, queued as [0-9A-Za-z]+, $total \| time=$t connect=$t banner=$t ehlo=$t mail=$t rcpt=$t data=$t quit=$t" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -f '' --rcpt "$POSTFIX_LOCAL_RCPT" --data

check "-e found in the banner" 0 "SMTP OK - $ep4 $banner, $total \| .*" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -e Postfix

check "-e missing from the banner is CRITICAL" 2 \
  "SMTP CRITICAL - $ep4 greeting does not contain 'Exim': 220 mail\.smtpverify\.test $banner \| .*" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -e Exim

check "-C/-R pairs against Postfix" 0 "SMTP OK - $ep4 $banner, 2/2 -R matched, $total \| .* commands=$t quit=$t" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -C NOOP -R '^250 2\.0\.0 Ok$' -C "VRFY $POSTFIX_LOCAL_RCPT" -R '^(252|502)'

check "-R mismatch is CRITICAL" 2 "SMTP CRITICAL - $ep4 reply to NOOP does not match -R '\\^354': 250 2\\.0\\.0 Ok \| .*" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -C NOOP -R '^354'

check "-v prints the transcript as long output" 0 "SMTP OK - $ep4 $banner, $total \| .*" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -v
transcript=$out
expect "the transcript has C:/S: lines" \
  grep -qx 'C: EHLO probe.smtpverify.test' <<<"$transcript"
expect "the transcript ends with the 221" grep -qx 'S: 221 2.0.0 Bye' <<<"$transcript"

# PIPELINING (RFC 2920, issue 18): Postfix offers it, so MAIL, the RCPTs and DATA go out in one
# write, then the message, its "." and QUIT; each reply still under its command, in order.
contains() { [[ $1 == *"$2"* ]]; }
check "pipelined: a transaction with a message against Postfix" 0 \
  "SMTP OK - $ep4 $banner, 1 rcpt accepted, 1 rcpt rejected as expected, message accepted, queued as [0-9A-Za-z]+, $total \| time=$t connect=$t banner=$t ehlo=$t mail=$t rcpt=$t data=$t quit=$t" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -v -f monitor@smtpverify.test \
     --rcpt "$POSTFIX_LOCAL_RCPT" --reject-rcpt "$POSTFIX_FOREIGN_RCPT" --data
transcript=$out
expect "pipelined: MAIL, both RCPTs and DATA went out before any reply" contains "$transcript" \
  "C: MAIL FROM:<monitor@smtpverify.test>
C: RCPT TO:<$POSTFIX_LOCAL_RCPT>
C: RCPT TO:<$POSTFIX_FOREIGN_RCPT>
C: DATA
S: 250 2.1.0 Ok
S: 250 2.1.5 Ok
S: 554 5.7.1 <$POSTFIX_FOREIGN_RCPT>: Relay access denied
S: 354 End data with <CR><LF>.<CR><LF>
C: [message: "
expect "pipelined: the message, its dot and QUIT in one write, then both replies" \
  grep -qzP 'C: \.\nC: QUIT\nS: 250 2\.0\.0 Ok: queued as [0-9A-Za-z]+\nS: 221 2\.0\.0 Bye\n' <<<"$transcript"

check "pipelined: an accepted --reject-rcpt after DATA's 354 closes without the message" 2 \
  "SMTP CRITICAL - $ep4 RCPT TO:<$POSTFIX_LOCAL_RCPT> accepted, expected a rejection \\(open relay or unknown user accepted\\): 250 2\\.1\\.5 Ok; message not sent: connection closed after DATA's 354, the server discards the transaction \| time=$t connect=$t banner=$t ehlo=$t mail=$t rcpt=$t data=$t" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -v -f monitor@smtpverify.test \
     --rcpt "$POSTFIX_LOCAL_RCPT" --reject-rcpt "$POSTFIX_LOCAL_RCPT" --data
expect "pipelined: no dot, no QUIT after the 354" \
  grep -qzP "S: 354 End data with <CR><LF>\\.<CR><LF>\\n\\* message not sent: connection closed after DATA's 354, the server discards the transaction\\n\$" <<<"$out"

# Found by the Icinga 2 test: a group of MAIL alone (-f, no --rcpt) followed by -C commands.
check "pipelined: MAIL alone, then -C NOOP -R ^250" 0 \
  "SMTP OK - $ep4 $banner, 1/1 -R matched, $total \| time=$t connect=$t banner=$t ehlo=$t mail=$t commands=$t quit=$t" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -f monitor@smtpverify.test -C NOOP -R '^250'

check "--no-pipelining: lock-step against Postfix" 0 \
  "SMTP OK - $ep4 $banner, 1 rcpt accepted, $total \| time=$t connect=$t banner=$t ehlo=$t mail=$t rcpt=$t quit=$t" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -v --no-pipelining -f monitor@smtpverify.test \
     --rcpt "$POSTFIX_LOCAL_RCPT"
expect "--no-pipelining: MAIL answered before RCPT goes out" contains "$out" \
  "C: MAIL FROM:<monitor@smtpverify.test>
S: 250 2.1.0 Ok
C: RCPT TO:<$POSTFIX_LOCAL_RCPT>
S: 250 2.1.5 Ok
C: QUIT"

# Nothing listening: port 1 (tcpmux) is never served on these machines.
free_port=1
check "nothing listening is CRITICAL" 2 \
  "SMTP CRITICAL - cannot connect to \\[127\\.0\\.0\\.1\\]:$free_port: Connection refused \| time=$t connect=$t" \
  -- -H 127.0.0.1 -p "$free_port" "${common[@]}"

# --output openmetrics: strict OpenMetrics, smtp_verify_state equal to the exit code.
om="host=\"127\\.0\\.0\\.1\",port=\"$port\""
sec='[0-9.e-]+'
check_openmetrics "openmetrics: an OK transaction" 0 \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -f monitor@smtpverify.test \
     --rcpt "$POSTFIX_LOCAL_RCPT" --reject-rcpt "$POSTFIX_FOREIGN_RCPT"
has_sample "openmetrics OK: state 0" "smtp_verify_state\\{$om\\} 0"
has_sample "openmetrics OK: up" "smtp_verify_up\\{$om\\} 1"
has_sample "openmetrics OK: total seconds" "smtp_verify_duration_seconds\\{$om\\} $sec"
for phase in connect banner ehlo mail rcpt quit; do
  has_sample "openmetrics OK: $phase seconds" "smtp_verify_phase_seconds\\{$om,phase=\"$phase\"\\} $sec"
done
has_sample "openmetrics OK: the mailbox accepted" \
  "smtp_verify_rcpt_as_expected\\{$om,rcpt=\"${POSTFIX_LOCAL_RCPT//./\\.}\",expect=\"accept\"\\} 1"
has_sample "openmetrics OK: 250 to the mailbox" \
  "smtp_verify_rcpt_reply_code\\{$om,rcpt=\"${POSTFIX_LOCAL_RCPT//./\\.}\",expect=\"accept\"\\} 250"
has_sample "openmetrics OK: the foreign domain rejected as expected" \
  "smtp_verify_rcpt_as_expected\\{$om,rcpt=\"${POSTFIX_FOREIGN_RCPT//./\\.}\",expect=\"reject\"\\} 1"
has_sample "openmetrics OK: 554 to the foreign domain" \
  "smtp_verify_rcpt_reply_code\\{$om,rcpt=\"${POSTFIX_FOREIGN_RCPT//./\\.}\",expect=\"reject\"\\} 554"
has_sample "openmetrics OK: the version" "smtp_verify_version\\{$om,version=\"[0-9]+\\.[0-9]+\\.[0-9]+\"\\} 1"

check_openmetrics "openmetrics: an unknown recipient is CRITICAL" 2 \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -f monitor@smtpverify.test --rcpt "$POSTFIX_UNKNOWN_RCPT"
has_sample "openmetrics CRITICAL: state 2" "smtp_verify_state\\{$om\\} 2"
has_sample "openmetrics CRITICAL: the server is up" "smtp_verify_up\\{$om\\} 1"
has_sample "openmetrics CRITICAL: the recipient not as expected, 550" \
  "smtp_verify_rcpt_reply_code\\{$om,rcpt=\"${POSTFIX_UNKNOWN_RCPT//./\\.}\",expect=\"accept\"\\} 550"

check_openmetrics "openmetrics: nothing listening is CRITICAL" 2 \
  -- -H 127.0.0.1 -p "$free_port" "${common[@]}"
has_sample "openmetrics closed port: down" "smtp_verify_up\\{host=\"127\\.0\\.0\\.1\",port=\"$free_port\"\\} 0"

check "openmetrics: bad options are still the one UNKNOWN line" 3 \
  "SMTP UNKNOWN - -w: range '5:1' has start > end" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -w 5:1 --output openmetrics

# The PROXY-protocol listener waits for a header we do not send: a server that never speaks.
check "a silent listener with -t 2 is CRITICAL within 2.5 s naming the banner" 2 \
  "SMTP CRITICAL - timeout after 2 s waiting for banner from \\[127\\.0\\.0\\.1\\]:$POSTFIX_PROXY_PORT \\(implicit TLS port\\? try -s; PROXY listener\\? try -r\\) \| time=$t connect=$t" 2.5 \
  -- -H 127.0.0.1 -p "$POSTFIX_PROXY_PORT" -F probe.smtpverify.test -t 2 --helo-dns ignore

check "-t 2:UNKNOWN turns that timeout into UNKNOWN" 3 \
  "SMTP UNKNOWN - timeout after 2 s waiting for banner from \\[127\\.0\\.0\\.1\\]:$POSTFIX_PROXY_PORT \\(implicit TLS port\\? try -s; PROXY listener\\? try -r\\) \| time=$t connect=$t" 2.5 \
  -- -H 127.0.0.1 -p "$POSTFIX_PROXY_PORT" -F probe.smtpverify.test -t 2:UNKNOWN --helo-dns ignore

# The wrong mode for the port: each line says what to try.
check "a plain check against the implicit-TLS port: the hint to try -s" 2 \
  "SMTP CRITICAL - timeout after 1 s waiting for banner from \\[127\\.0\\.0\\.1\\]:$POSTFIX_SMTPS_PORT \\(implicit TLS port\\? try -s; PROXY listener\\? try -r\\) \| time=$t connect=$t" 1.5 \
  -- -H 127.0.0.1 -p "$POSTFIX_SMTPS_PORT" -F probe.smtpverify.test -t 1 --helo-dns ignore
check "-s against the plain port: the hint to try -S" 2 \
  "SMTP CRITICAL - $ep4 TLS handshake failed: wrong version number \\(the server speaks plain SMTP: try -S\\) \| time=$t connect=$t tls=$t" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -s
check "-r against a listener without PROXY support: the header rejected" 2 \
  "SMTP CRITICAL - $ep4 PROXY header rejected: 500 5\\.5\\.2 Error: command not recognized \| time=$t connect=$t banner=$t.*" \
  -- -H 127.0.0.1 -p "$port" "${common[@]}" -r -f monitor@smtpverify.test

# An unresolvable name; the DNS server is a loopback port nobody answers on, so nothing leaves
# this machine.
check "an unresolvable -H is CRITICAL" 2 \
  "SMTP CRITICAL - (cannot resolve nosuch\\.smtpverify\\.test: .*|timeout after 3 s waiting for address of nosuch\\.smtpverify\\.test from .*) \| time=$t.*" 3.5 \
  -- -H nosuch.smtpverify.test -p "$port" -F probe.smtpverify.test -t 3 --dns-server "127.0.0.1:$free_port" \
     --helo-dns ignore

finish
