#!/usr/bin/env bash
# Self-check of the private unbound of tests/integration/unbound.sh: asks dig for every
# record of the test zone, over UDP and TCP, on 127.0.0.1 and (if enabled) [::1], and
# asserts the exact rcode and answer section, that no answer claims DNSSEC (AD), and that
# the SERVFAIL and REFUSED answers come at once (nothing is asked upstream).
# Usage: check_zone.sh UNBOUND_DIR     (after "unbound.sh start UNBOUND_DIR [POSTFIX_PKI]")
set -uo pipefail
unbound_dir=$1
# shellcheck source=/dev/null
source "$unbound_dir/env"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/../lib.sh"

z=$UNBOUND_ZONE
servers=(127.0.0.1)
[[ -n $UNBOUND_SERVER6 ]] && servers+=(::1)

# The cases, collected by want and asked by run_all: one dig process per server and
# transport, in batch mode (-f), with all questions.
names=() types=() expected=()

# want NAME TYPE RCODE [ANSWER...]: the exact reply on every server and transport: the rcode,
# the header flags (aa: from local data; never ad) and each answer record as "TYPE DATA" in
# the order sent.
want() {
  local name=$1 type=$2 rcode=$3 flags="qr aa rd ra" line e
  shift 3
  # SERVFAIL is not an authoritative answer from local data.
  [[ $rcode == SERVFAIL ]] && flags="qr rd ra"
  e="$rcode flags=$flags"
  for line in "$@"; do e+=" | $line"; done
  names+=("$name") types+=("$type") expected+=("$e")
}

# One line per reply: "RCODE flags=FLAGS | TYPE DATA | ..." (TLSA hex joined, dig splits it).
summarize() {
  awk '
    function flush() { if (started) print line; started = 0 }
    /->>HEADER<<-/ { flush(); started = 1; match($0, /status: [A-Z]+/); line = substr($0, RSTART + 8, RLENGTH - 8); next }
    /^;; flags:/   { sub(/^;; flags: /, ""); sub(/;.*/, ""); line = line " flags=" $0; next }
    /^;/ || !NF    { next }
    {
      d = $5
      for (i = 6; i <= NF; i++) d = d ($4 == "TLSA" && i > 8 ? "" : " ") $i
      line = line " | " $4 " " d
    }
    END { flush() }'
}

run_all() {
  local server proto i batch
  batch=$(mktemp)
  for i in "${!names[@]}"; do printf '%s %s\n' "${names[i]}" "${types[i]}"; done >"$batch"
  for server in "${servers[@]}"; do
    for proto in +notcp +tcp; do
      local -a got
      mapfile -t got < <(dig "@$server" -p "$UNBOUND_PORT" "$proto" +time=2 +tries=1 +nocmd \
        +noall +comments +answer -f "$batch" 2>&1 | summarize)
      for i in "${!names[@]}"; do
        if [[ ${got[i]:-} == "${expected[i]}" ]]; then
          passed=$((passed + 1))
          printf 'ok   %-46s %-5s %-16s %s\n' "${names[i]}" "${types[i]}" "@$server ${proto#+}" "${got[i]}"
        else
          failed=$((failed + 1))
          printf 'FAIL %s %s @%s %s\n  want: %s\n  got:  %s\n' "${names[i]}" "${types[i]}" \
            "$server" "${proto#+}" "${expected[i]}" "${got[i]:-(nothing)}"
        fi
      done
    done
  done
  rm -f "$batch"
}

want "mail.$z" A NOERROR "A 127.0.0.1"
want "mail.$z" AAAA NOERROR "AAAA ::1"
want "$HELO_OK" A NOERROR "A 127.0.0.1"
want "$HELO_OK" AAAA NOERROR "AAAA ::1"
want "$HELO_V4" A NOERROR "A 127.0.0.1"
want "$HELO_V4" AAAA NOERROR
want "$HELO_ELSEWHERE" A NOERROR "A 192.0.2.55"
want "$HELO_ELSEWHERE" AAAA NOERROR
want "$HELO_NOADDR" A NOERROR
want "$HELO_NOADDR" AAAA NOERROR
want "$HELO_NOADDR" TXT NOERROR 'TXT "no address records here"'
want "$HELO_NX" A NXDOMAIN
want "$HELO_NX" AAAA NXDOMAIN
want 1.0.0.127.in-addr.arpa PTR NOERROR "PTR $HELO_OK."
want 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa PTR NOERROR "PTR $HELO_OK."
want "$MX_DOMAIN" MX NOERROR "MX 10 mail.$z."
want "$MX_TIE" MX NOERROR "MX 10 nowhere.$z." "MX 10 mail.$z."
want "nowhere.$z" A NXDOMAIN
want "$MX_ORDER" MX NOERROR "MX 20 mail.$z." "MX 10 mx1.$z."
want "mx1.$z" A NOERROR "A 127.0.0.1"
want "$HALF_DEAD" A NOERROR "A 127.0.0.1" "A 127.0.0.3"
want "$HALF_DEAD" AAAA NOERROR
want "$NULLMX" MX NOERROR "MX 0 ."
want "$DANGLING" MX NOERROR "MX 10 nx-host.$z."
want "nx-host.$z" A NXDOMAIN
want "nx-host.$z" AAAA NXDOMAIN
want "$NOMX" MX NOERROR
want "$NOMX" A NOERROR "A 127.0.0.1"
if [[ -n $TLSA_SPKI_SHA256 ]]; then
  for port in $TLSA_GOOD_PORTS; do
    want "_$port._tcp.$TLSA_HOST" TLSA NOERROR "TLSA 3 1 1 ${TLSA_SPKI_SHA256^^}"
  done
  for port in $TLSA_WRONG_PORTS; do
    want "_$port._tcp.$TLSA_HOST" TLSA NOERROR "TLSA 3 1 1 $(printf '%062d01' 0)"
  done
  want "_10029._tcp.$TLSA_HOST" TLSA NXDOMAIN
else
  want "_25._tcp.$TLSA_HOST" TLSA NXDOMAIN
fi
want "$SERVFAIL" A SERVFAIL
want "$SERVFAIL" AAAA SERVFAIL
want "$SERVFAIL" MX SERVFAIL
want example.com A REFUSED
want example.com MX REFUSED
want . NS REFUSED
run_all

# The negative answers are immediate: nothing was waited for upstream.
fast() {
  local start=$EPOCHREALTIME
  dig @127.0.0.1 -p "$UNBOUND_PORT" +time=2 +tries=1 "$1" A >/dev/null
  awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a < 0.5) }'
}
expect "SERVFAIL answered within 0.5 s" fast "$SERVFAIL"
expect "REFUSED answered within 0.5 s" fast example.org

finish
