#!/usr/bin/env bash
# Integration: PROXY protocol v1/v2 and -b against the real Postfix listener that speaks
# smtpd_upstream_proxy_protocol=haproxy (tests/integration/postfix.sh, POSTFIX_PROXY_PORT).
# Usage: proxy_test.sh PLUGIN POSTFIX_DIR
set -uo pipefail
plugin=$1
postfix_dir=$2
# shellcheck source=/dev/null
source "$postfix_dir/env"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

port=$POSTFIX_PROXY_PORT
common=(-p "$port" -F probe.smtpverify.test -t 5 --helo-dns ignore)
both="$t connect=$t banner=$t ehlo=$t quit=$t"

for version in v1 v2; do
  check "--proxy=$version over IPv4 is OK" 0 \
    "SMTP OK - \\[127\\.0\\.0\\.1\\]:$port $banner, PROXY $version, $total \| time=$both" \
    -- -H 127.0.0.1 "${common[@]}" --proxy=$version
  check "--proxy=$version over IPv6 is OK" 0 \
    "SMTP OK - \\[::1\\]:$port $banner, PROXY $version, $total \| time=$both" \
    -- -H ::1 "${common[@]}" --proxy=$version
done

check "-r alone means v1" 0 "SMTP OK - \\[127\\.0\\.0\\.1\\]:$port $banner, PROXY v1, $total \| .*" \
  -- -H 127.0.0.1 "${common[@]}" -r

# -b 127.0.0.2: the check connects from there, says so, and the header carries it, so Postfix
# logs that address as the client.
check "-b 127.0.0.2 with PROXY v2 shows the local address" 0 \
  "SMTP OK - \\[127\\.0\\.0\\.1\\]:$port $banner, PROXY v2, from 127\\.0\\.0\\.2, $total \| time=$both" \
  -- -H 127.0.0.1 "${common[@]}" --proxy=v2 -b 127.0.0.2 -v
expect "the transcript names the local address" \
  grep -Eq '^\* connected to 127\.0\.0\.1:[0-9]+ from 127\.0\.0\.2:[0-9]+$' <<<"$out"
expect "the transcript shows the v2 header sent" \
  grep -Eq "^C: \\[PROXY v2 TCP4 127\\.0\\.0\\.2:[0-9]+ -> 127\\.0\\.0\\.1:$port, 28 bytes\\]$" <<<"$out"
check "-b 127.0.0.2 with PROXY v1: the header line in the transcript" 0 \
  "SMTP OK - \\[127\\.0\\.0\\.1\\]:$port $banner, PROXY v1, from 127\\.0\\.0\\.2, $total \| .*" \
  -- -H 127.0.0.1 "${common[@]}" -r -b 127.0.0.2 -v
expect "the v1 header names both real ends" \
  grep -Eq "^C: PROXY TCP4 127\\.0\\.0\\.2 127\\.0\\.0\\.1 [0-9]+ $port$" <<<"$out"
expect "Postfix logged the client address from the header" \
  grep -q "connect from unknown\[127\.0\.0\.2\]" "$POSTFIX_MAILLOG"

check "IPv6 -b ::1 over PROXY v2" 0 \
  "SMTP OK - \\[::1\\]:$port $banner, PROXY v2, from ::1, $total \| .*" \
  -- -H ::1 "${common[@]}" --proxy=v2 -b ::1

check "without -r the listener waits: timeout naming the banner" 2 \
  "SMTP CRITICAL - timeout after 1 s waiting for banner from \\[127\\.0\\.0\\.1\\]:$port \\(implicit TLS port\\? try -s; PROXY listener\\? try -r\\) \| time=$t connect=$t" 1.5 \
  -- -H 127.0.0.1 -p "$port" -F probe.smtpverify.test -t 1 --helo-dns ignore

check "-b with an address not on this host is UNKNOWN" 3 \
  "SMTP UNKNOWN - cannot use -b 192\\.0\\.2\\.1: Cannot assign requested address \| time=$t" \
  -- -H 127.0.0.1 "${common[@]}" -b 192.0.2.1

check "-b of the other family than -H is UNKNOWN before connecting" 3 \
  "SMTP UNKNOWN - -b ::1 is IPv6 but -H 127\\.0\\.0\\.1 is not" \
  -- -H 127.0.0.1 "${common[@]}" -b ::1

finish
