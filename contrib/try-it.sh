#!/usr/bin/env bash
# Try check_smtp_verify for real on a fresh Debian 12 machine, as root: installs the build
# dependencies and Postfix (without starting the system service), builds the plugin, starts a
# throwaway Postfix on 127.0.0.1:10025 in a temp folder, runs the check against it with the
# transcript, and stops that Postfix again (KEEP_POSTFIX=1 leaves it running).
# Usage: bash contrib/try-it.sh
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(cmake make g++ pkg-config libboost-program-options-dev libssl-dev libc-ares-dev
          nlohmann-json3-dev)
# shellcheck source=tests/lib.sh
source tests/lib.sh
install_missing "${packages[@]}"
bash tests/integration/postfix.sh install

cmake -S . -B build/try -DCMAKE_BUILD_TYPE=Release -DSMTPVERIFY_BUILD_TESTS=OFF >/dev/null
cmake --build build/try -j "$(nproc)" >/dev/null
plugin=build/try/plugin/check_smtp_verify

instance=$(mktemp -d /tmp/check_smtp_verify-postfix.XXXXXX)
if [[ ${KEEP_POSTFIX:-0} != 1 ]]; then
  trap 'bash tests/integration/postfix.sh stop "$instance" >/dev/null; rm -rf "$instance"' EXIT
fi
bash tests/integration/postfix.sh start "$instance"
# shellcheck source=/dev/null
source "$instance/env"

set -x
# --helo-dns ignore: probe.smtpverify.test exists only in this demo, not in your DNS.
"$plugin" -H 127.0.0.1 -p "$POSTFIX_PORT" -F probe.smtpverify.test --helo-dns ignore \
  -f monitor@smtpverify.test --rcpt "$POSTFIX_LOCAL_RCPT" --reject-rcpt "$POSTFIX_FOREIGN_RCPT" \
  --data -w 1 -c 5 -v && rc=0 || rc=$?
{ set +x; } 2>/dev/null
echo "exit code: $rc"
[[ ${KEEP_POSTFIX:-0} == 1 ]] && echo "Postfix keeps running: bash tests/integration/postfix.sh stop $instance"
exit "$rc"
