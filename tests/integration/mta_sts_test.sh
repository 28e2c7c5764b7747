#!/usr/bin/env bash
# Integration: --mta-sts and --tls-rpt against the real Postfix as the MX, the real unbound
# serving the sts-* domains (tests/integration/unbound.sh) and a policy server on
# 127.0.0.1:443 (mta_sts_server.py, started here with a certificate of the test PKI that
# names every mta-sts.sts-* host but sts-badcert's).
# Usage: mta_sts_test.sh PLUGIN POSTFIX_DIR UNBOUND_DIR
set -uo pipefail
plugin=$1
# shellcheck source=/dev/null
source "$2/env"
# shellcheck source=/dev/null
source "$3/env"
# shellcheck source=tests/integration/lib.sh
source "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/smtpverify-mta-sts.XXXXXX)
server_pid=""
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# The policy server's certificate: a leaf of the test intermediate for the good policy hosts.
z=$UNBOUND_ZONE
sans="DNS:mta-sts.sts-enforce.$z,DNS:mta-sts.sts-nomatch.$z,DNS:mta-sts.sts-testing.$z"
sans+=",DNS:mta-sts.sts-wild.$z,DNS:mta-sts.sts-missing.$z,DNS:mta-sts.sts-badtype.$z"
sans+=",DNS:mta-sts.sts-modenone.$z"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" \
  -out "$work/req.pem" -subj "/CN=mta-sts.sts-enforce.$z" 2>"$work/openssl.log" ||
  die "openssl req failed: $(cat "$work/openssl.log")"
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n' \
  "$sans" >"$work/ext.cnf"
openssl x509 -req -in "$work/req.pem" -CA "$POSTFIX_PKI_DIR/intermediate.pem" \
  -CAkey "$POSTFIX_PKI_DIR/ca/intermediate.key" -CAcreateserial -CAserial "$work/serial" \
  -days 30 -extfile "$work/ext.cnf" -out "$work/leaf.pem" 2>>"$work/openssl.log" ||
  die "openssl x509 failed: $(cat "$work/openssl.log")"
cat "$work/key.pem" "$work/leaf.pem" "$POSTFIX_PKI_DIR/intermediate.pem" >"$work/chain.pem"

python3 "$(dirname "$0")/mta_sts_server.py" "$work/chain.pem" 127.0.0.1 443 "$z" \
  "$work/ready" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
  [[ -s $work/ready ]] && break
  kill -0 "$server_pid" 2>/dev/null || die "the policy server did not start: $(cat "$work/server.log")"
  sleep 0.05
done
[[ -s $work/ready ]] || die "the policy server did not get ready"

port=$POSTFIX_PORT
q() { printf '%s' "${1//./\\.}"; }  # a name as a regex
mx=$(q "$MX_HOST")
common=(--dns-server "$UNBOUND_SERVER" -t 10 -F "$HELO_OK" --helo-dns ignore
  --ca-file "$POSTFIX_CA_FILE" --mta-sts)
args=(-p "$port" "${common[@]}")
tls13='STARTTLS TLSv1\.3 TLS_[A-Z0-9_]+'
sts_t='mta_sts=[0-9]+\.[0-9]{6}s;;;0'
host_ep="$mx\\[(127\\.0\\.0\\.1|::1)\\]:$port"

check "enforce, the MX matches: OK naming mode and id, mta_sts perfdata" 0 \
  "SMTP OK - $host_ep $banner, $tls13, cert (89|90) d, MTA-STS enforce id 20261204T000000, $total \| time=$t mx=$t $sts_t .*" \
  -- --mx "$STS_ENFORCE" "${args[@]}"

check "-c mta_sts=@0:1000 makes the mta_sts phase CRITICAL" 2 \
  "SMTP CRITICAL - .*mta_sts [0-9.]+ s \\(critical @0:1000\\).* \| (.* )?mta_sts=[0-9]+\\.[0-9]{6}s;;@0:1000;0( .*)?" \
  -- --mx "$STS_ENFORCE" "${args[@]}" -c mta_sts=@0:1000

check "enforce, the MX matches no mx pattern: CRITICAL naming host and patterns" 2 \
  "SMTP CRITICAL - MTA-STS enforce: MX host $mx matches no mx of the policy \\(mail\\.other\\.example\\) \| .*" \
  -- --mx "$STS_NOMATCH" "${args[@]}"

check "testing, the MX matches no mx pattern: WARNING" 1 \
  "SMTP WARNING - MTA-STS testing: MX host $mx matches no mx of the policy \\(mail\\.other\\.example\\) \| .*" \
  -- --mx "$STS_TESTING" "${args[@]}"

check "a wildcard pattern (*.zone) matches the MX, LF line ends: OK" 0 \
  "SMTP OK - $host_ep .*, MTA-STS enforce id 20261204T000000, $total \| .*" \
  -- --mx "$STS_WILD" "${args[@]}"

# The MX's own certificate (expired, on Postfix's expired listener) under each mode.
exp_ep="$mx\\[(127\\.0\\.0\\.1|::1)\\]:$POSTFIX_EXPIRED_PORT"
expired="certificate verification failed: certificate has expired on [0-9-]+: CN=$mx"
check "enforce, the MX's certificate has expired: CRITICAL (MTA-STS enforce)" 2 \
  "SMTP CRITICAL - $exp_ep $expired \\(MTA-STS enforce\\) \| .*" \
  -- --mx "$STS_ENFORCE" -p "$POSTFIX_EXPIRED_PORT" "${common[@]}"

check "testing, the MX's certificate has expired: WARNING (MTA-STS testing)" 1 \
  "SMTP WARNING - $exp_ep $expired \\(MTA-STS testing\\), MTA-STS testing: MX host $mx matches no mx of the policy \\(mail\\.other\\.example\\) \| .*" \
  -- --mx "$STS_TESTING" -p "$POSTFIX_EXPIRED_PORT" "${common[@]}"

check "testing, but -S given: the expired certificate keeps its CRITICAL" 2 \
  "SMTP CRITICAL - $exp_ep $expired, MTA-STS testing: MX host $mx matches no mx of the policy \\(mail\\.other\\.example\\) \| .*" \
  -- --mx "$STS_TESTING" -p "$POSTFIX_EXPIRED_PORT" "${common[@]}" -S

check "the policy host answers 404: CRITICAL naming the step" 2 \
  "SMTP CRITICAL - MTA-STS policy fetch: HTTP 404 \| .*" \
  -- --mx "$STS_MISSING" "${args[@]}"

check "the policy served as text/html: CRITICAL naming the type" 2 \
  "SMTP CRITICAL - MTA-STS policy fetch: Content-Type text/html, not text/plain \| .*" \
  -- --mx "$STS_BADTYPE" "${args[@]}"

check "mode none, the MX matches no pattern: OK, nothing enforced" 0 \
  "SMTP OK - $host_ep $banner, $tls13, cert (89|90) d, MTA-STS none id 20261204T000000 \\(nothing enforced\\), $total \| .*" \
  -- --mx "$STS_MODENONE" "${args[@]}"

check "the policy host's certificate does not name it: CRITICAL" 2 \
  "SMTP CRITICAL - MTA-STS policy fetch: certificate verify failed: .*mta-sts\\.$(q "$STS_BADCERT").* \| .*" \
  -- --mx "$STS_BADCERT" "${args[@]}"

check "the policy host's certificate is not trusted without --ca-file: CRITICAL" 2 \
  "SMTP CRITICAL - .*MTA-STS policy fetch: certificate verify failed: SSL certificate problem: unable to get local issuer certificate \| .*" \
  -- --mx "$STS_ENFORCE" -p "$port" --dns-server "$UNBOUND_SERVER" -t 10 --mta-sts

check "no _mta-sts record: CRITICAL (it was asked for)" 2 \
  "SMTP CRITICAL - no MTA-STS policy \\(_mta-sts\\.$(q "$STS_NONE"): NXDOMAIN\\) \| .*" \
  -- --mx "$STS_NONE" "${args[@]}"

check "two v=STSv1 records: CRITICAL" 2 \
  "SMTP CRITICAL - 2 v=STSv1 records, exactly one allowed \| .*" \
  -- --mx "$STS_DOUBLE" "${args[@]}"

check "--mx-all with the policy: each host held to it" 0 \
  "SMTP OK - $(q "$STS_ENFORCE") 1/1 MX hosts OK, $mx \\(.*\\), MTA-STS enforce id 20261204T000000, $total \| .* ${mx}_starttls=$t.*" \
  -- --mx "$STS_ENFORCE" --mx-all "${args[@]}"

check "--tls-rpt with the record: OK showing the rua" 0 \
  "SMTP OK - $host_ep $banner, TLS-RPT rua mailto:tlsrpt@$(q "$z"), $total \| .*" \
  -- --mx "$STS_ENFORCE" -p "$port" --dns-server "$UNBOUND_SERVER" -t 10 -F "$HELO_OK" --tls-rpt

check "--tls-rpt without the record: WARNING naming it" 1 \
  "SMTP WARNING - no TLS-RPT record \\(_smtp\\._tls\\.$(q "$STS_NOMATCH"): NXDOMAIN\\) \| .*" \
  -- --mx "$STS_NOMATCH" -p "$port" --dns-server "$UNBOUND_SERVER" -t 10 -F "$HELO_OK" --tls-rpt

out=$("$plugin" --mx "$STS_ENFORCE" "${args[@]}" --tls-rpt --output json)
expect "JSON: mta_sts {id, mode, mx, max_age, problems} and tls_rpt {rua, problems}" \
  python3 -c '
import json, sys
j = json.loads(sys.argv[1])
assert j["mta_sts"] == {"id": "20261204T000000", "mode": "enforce", "mx": [sys.argv[2]],
                        "max_age": 86400, "problems": []}, j["mta_sts"]
assert j["tls_rpt"] == {"rua": ["mailto:tlsrpt@" + sys.argv[3]], "problems": []}, j["tls_rpt"]
assert j["state"] == 0
' "$out" "$MX_HOST" "$z"

out=$("$plugin" --mx "$STS_ENFORCE" "${args[@]}" -v)
expect "-v shows the fetch and the policy's lines" \
  bash -c 'grep -qx "\* MTA-STS: GET https://mta-sts\.$1/\.well-known/mta-sts\.txt (127\.0\.0\.1)" <<<"$2" &&
           grep -qx "\* MTA-STS policy: mode: enforce" <<<"$2"' _ "$(q "$STS_ENFORCE")" "$out"

# --dns-server holds: the policy host was asked of our unbound (its log has the query).
expect "the policy host's address came from --dns-server" \
  grep -q "mta-sts\\.$(q "$STS_ENFORCE")\\. A IN NOERROR" "$UNBOUND_LOG"

finish
