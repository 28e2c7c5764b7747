#!/usr/bin/env bash
# The plugin binary under valgrind memcheck, against fake servers, no server at all, and a
# private Postfix when one can be started: every run must report no memory error and no definite
# or indirect leak, and exit with the expected code. Prints "N passed, M failed".
#
# Usage: bash tests/bounds/memcheck.sh PLUGIN [FAKE_SERVER]
#   FAKE_SERVER  the bounds_fake_server binary (default: tests/bounds/ of PLUGIN's build tree)
# The Postfix cases need root and /usr/sbin/postfix (tests/integration/postfix.sh install); the
# instance gets its own folder and ports 15025-15030 and 15465, so it never meets the
# integration tier's instance. Without Postfix those cases are reported as skipped.
# Exit status: 0 all passed, 1 any failed, 2 usage, 77 valgrind is not installed (CTest: skip).
set -uo pipefail

if (($# < 1)) || [[ ! -x $1 ]]; then
  echo "usage: bash tests/bounds/memcheck.sh PLUGIN [FAKE_SERVER]" >&2
  exit 2
fi
plugin=$(realpath "$1")
fake=$(realpath -m "${2:-$(dirname "$plugin")/../tests/bounds/bounds_fake_server}")
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v valgrind >/dev/null; then
  echo "valgrind is not installed: skipped"
  exit 77
fi

work=$(mktemp -d /tmp/smtpverify-memcheck.XXXXXX)
postfix_dir=""
fake_pid=""
cleanup() {
  [[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null
  if [[ -n $postfix_dir ]]; then
    bash "$here/../integration/postfix.sh" stop "$postfix_dir" >/dev/null 2>&1
    rm -rf "$postfix_dir"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM  # so that the EXIT trap stops the Postfix instance on a CTest timeout too

# pass/fail and their counts
# shellcheck source=tests/lib.sh
source "$here/../lib.sh"
skipped=0
n=0

# vg NAME EXPECTED_EXIT ARGS...: one plugin run under memcheck. Sets $vg_ok (0/1) and $vg_why.
vg() {
  local name=$1 want=$2
  shift 2
  n=$((n + 1))
  local log=$work/$n.valgrind
  valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect \
    --log-file="$log" "$plugin" "$@" >"$work/$n.out" 2>&1
  local rc=$?
  vg_first=$(head -n 1 "$work/$n.out")
  vg_why=""
  if ((rc == 99)) || [[ -s $log ]]; then
    vg_why="valgrind reported errors (exit $rc):"$'\n'"$(sed 's/^/    /' "$log")"
  elif [[ $rc != "$want" ]]; then
    vg_why="exit $rc, expected $want"
  fi
}

report() {
  local name=$1 why=$2
  if [[ -z $why ]]; then
    pass "$name  ($vg_first)"
  else
    fail "$name" "$why" "got: $vg_first"
  fi
}

# plain NAME EXPECTED_EXIT ARGS...: no server involved (or a real one).
plain() {
  local name=$1
  vg "$@"
  report "$name" "$vg_why"
}

# fake NAME SCENARIO EXPECTED_EXIT ARGS...: against bounds_fake_server SCENARIO; @CA@ in ARGS
# becomes its root CA file. The server must also have seen exactly its script.
fake() {
  local name=$1 scenario=$2 want=$3
  shift 3
  if [[ ! -x $fake ]]; then
    skipped=$((skipped + 1))
    echo "skip $name (no $fake)"
    return
  fi
  : >"$work/port"
  "$fake" "$scenario" "$work/ca.pem" >"$work/port" 2>"$work/fake.err" &
  fake_pid=$!
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s $work/port ]] && break
    sleep 0.1
  done
  local port
  port=$(head -n 1 "$work/port")
  # -t 30 unless the case sets its own: valgrind makes a TLS handshake take seconds. And no
  # HELO-name lookup unless the case asks: the test names must never reach the real resolver.
  local -a args=()
  local a
  [[ " $* " == *" -t "* ]] || args+=(-t 30)
  [[ " $* " == *" --helo-dns "* ]] || args+=(--helo-dns ignore)
  for a in "$@"; do
    args+=("${a//@CA@/$work/ca.pem}")
  done
  vg "$name" "$want" -H 127.0.0.1 -p "$port" -F probe.smtpverify.test "${args[@]}"
  local fake_rc=0
  wait "$fake_pid" || fake_rc=$?
  fake_pid=""
  local why=$vg_why
  if [[ -z $why && $fake_rc != 0 ]]; then
    why="fake server: $(cat "$work/fake.err")"
  fi
  report "$name" "$why"
}

echo "== options and no server"
plain "unknown option" 3 -H 127.0.0.1 --nonsense
plain "missing -H" 3 -p 25
plain "bad range" 3 -H 127.0.0.1 -w 5:1
plain "bad -R regex" 3 -H 127.0.0.1 -C NOOP -R '('
plain "help" 3 -h
plain "version" 3 -V
plain "connection refused" 2 -H 127.0.0.1 -p 1 -t 10
plain "localhost via the hosts file, refused" 2 -H localhost -p 1 -t 10
plain "DNS server unreachable" 2 -H mx.smtpverify.invalid --dns-server 127.0.0.1:1 -t 5

echo "== fake servers"
fake "OK with a message" ok 0 -f m@smtpverify.test --rcpt probe@smtpverify.test --data
fake "recipient rejected" rejected 2 -f m@smtpverify.test --rcpt probe@smtpverify.test
fake "garbage greeting" garbage 2
fake "endless continuation lines" overlong 2
fake "timeout" hang 2 -t 2
fake "STARTTLS verified, with a message" starttls_ok 0 -S --ca-file @CA@ \
  -f m@smtpverify.test --rcpt probe@smtpverify.test --data
fake "garbage instead of ServerHello" starttls_garbage 2 -S --ca-file @CA@
fake "implicit TLS with a message" implicit_tls_ok 0 -s --ca-file @CA@ \
  -f m@smtpverify.test --rcpt probe@smtpverify.test --data
fake "HELO-name check with an unreachable DNS server" ok 1 --helo-dns warning \
  --dns-server 127.0.0.1:1 -f m@smtpverify.test --rcpt probe@smtpverify.test --data

echo "== private Postfix"
if [[ $(id -u) != 0 || ! -x /usr/sbin/postfix ]]; then
  skipped=$((skipped + 6))
  echo "skip 6 Postfix cases (need root and /usr/sbin/postfix)"
else
  postfix_dir=$(mktemp -d /tmp/smtpverify-memcheck-postfix.XXXXXX)
  if POSTFIX_PORT=15025 POSTFIX_PROXY_PORT=15027 POSTFIX_SMTPS_PORT=15465 POSTFIX_NOTLS_PORT=15026 \
    POSTFIX_EXPIRED_PORT=15028 POSTFIX_SOON_PORT=15029 POSTFIX_TLSONLY_PORT=15030 \
    bash "$here/../integration/postfix.sh" start "$postfix_dir" >"$work/postfix.log" 2>&1; then
    # shellcheck source=/dev/null
    source "$postfix_dir/env"
    pf=(-H 127.0.0.1 -F probe.smtpverify.test -t 30 --helo-dns ignore
        -f monitor@smtpverify.test)
    plain "Postfix: plain OK" 0 "${pf[@]}" -p "$POSTFIX_PORT" --rcpt "$POSTFIX_LOCAL_RCPT"
    plain "Postfix: unknown recipient" 2 "${pf[@]}" -p "$POSTFIX_PORT" \
      --rcpt "$POSTFIX_UNKNOWN_RCPT"
    plain "Postfix: STARTTLS with a message" 0 "${pf[@]}" -p "$POSTFIX_PORT" -S \
      --ca-file "$POSTFIX_CA_FILE" --rcpt "$POSTFIX_LOCAL_RCPT" --data
    plain "Postfix: implicit TLS" 0 "${pf[@]}" -p "$POSTFIX_SMTPS_PORT" -s \
      --ca-file "$POSTFIX_CA_FILE" --rcpt "$POSTFIX_LOCAL_RCPT"
    plain "Postfix: AUTH PLAIN after STARTTLS" 0 "${pf[@]}" -p "$POSTFIX_PORT" -S \
      --ca-file "$POSTFIX_CA_FILE" -A PLAIN -U "$POSTFIX_AUTH_USER" \
      --authpass-file "$POSTFIX_AUTHPASS_FILE" --rcpt "$POSTFIX_LOCAL_RCPT"
    plain "Postfix: expired certificate" 2 "${pf[@]}" -p "$POSTFIX_EXPIRED_PORT" -S \
      --ca-file "$POSTFIX_CA_FILE"
  else
    skipped=$((skipped + 6))
    echo "skip 6 Postfix cases: postfix.sh start failed:"
    tail -n 5 "$work/postfix.log" | sed 's/^/    /'
  fi
fi

echo
((skipped == 0)) || echo "($skipped skipped)"
echo "$passed passed, $failed failed"
((failed == 0))
