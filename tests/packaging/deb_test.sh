#!/usr/bin/env bash
# The Debian and RPM packages, built and used for real:
#  - packaging/build-deb.sh builds the .deb (its unit tests run inside dpkg-buildpackage) and
#    lintian reports no E: and no W: line;
#  - the .deb installs with apt-get; the files are where they belong (plugin, man page, the
#    Nagios command definitions as a conffile, the Icinga 2 CheckCommand as an example only),
#    linked dynamically against Debian's OpenSSL (the TLS module), libcurl (the HTTPS module),
#    c-ares and Boost; the plugin itself links neither OpenSSL nor libcurl;
#  - the INSTALLED plugin answers -V (exit 3) and checks a private Postfix
#    (tests/integration/postfix.sh on ports 14025-14030 and 14465, or the next free ones):
#    plain, and STARTTLS with a recipient, as the nagios user; `man -w` finds the page;
#  - what the installed plugin maps (LD_DEBUG=files): a plain check neither OpenSSL nor
#    libcurl, a STARTTLS check OpenSSL but no libcurl, a --mta-sts check libcurl (issue 16);
#  - apt-get purge removes everything again (KEEP_PACKAGE=1 leaves it installed, e.g. for
#    tests/packaging/icinga_test.sh);
#  - packaging/build-rpm.sh builds the RPM (rpmbuild --nodeps) and `rpm -qlp` lists
#    nagios/plugins/check_smtp_verify, the man page and the config file. The unit tests of the
#    same tree ran in the Debian build already, so this RPM is built --without check (no test
#    binaries to compile: about 3 CPU minutes less); RPM_NOCHECK=0 runs %check too.
# Root, Debian 12; installs what it needs (build dependencies, lintian, rpm, Postfix).
# About 8 minutes on an idle 2-core machine, mostly the two compilations.
# Usage: bash tests/packaging/deb_test.sh
# shellcheck source-path=SCRIPTDIR
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
repo=$(pwd)
# shellcheck source=lib.sh
source "$repo/tests/packaging/lib.sh"

[[ $(id -u) -eq 0 ]] || abort "must run as root"
readonly PKG=check-smtp-verify
readonly PLUGIN=/usr/lib/nagios/plugins/check_smtp_verify
readonly CFG=/etc/nagios-plugins/config/smtp_verify.cfg
readonly EXAMPLE=/usr/share/doc/$PKG/examples/check_smtp_verify.conf
readonly MAN=/usr/share/man/man1/check_smtp_verify.1.gz
MODULE_DIR=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/check-smtp-verify
MODULE=$MODULE_DIR/check_smtp_verify_tls.so
HTTPS_MODULE=$MODULE_DIR/check_smtp_verify_https.so
readonly MODULE_DIR MODULE HTTPS_MODULE
started=$SECONDS

tmp=$(mktemp -d /tmp/smtpverify-deb-test.XXXXXX)
chmod 0755 "$tmp" # the Postfix instance lives inside; its user must enter
postfix_dir=$tmp/postfix
cleanup() {
  bash "$repo/tests/integration/postfix.sh" stop "$postfix_dir" >/dev/null 2>&1
  if [[ ${KEEP_PACKAGE:-0} != 1 ]] && dpkg-query -W "$PKG" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600 purge "$PKG" >/dev/null 2>&1
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# step NAME COMMAND...: a timed setup step whose output goes to $tmp/NAME.log.
step() {
  local name=$1 start=$SECONDS rc=0
  shift
  "$@" >"$tmp/$name.log" 2>&1 || rc=$?
  echo "  ($name: $((SECONDS - start)) s)"
  return "$rc"
}

# ------------------------------------------------------------------ build and lint the .deb

if step build-deb bash packaging/build-deb.sh "$tmp/deb"; then
  pass "packaging/build-deb.sh builds the package"
else
  tail -n 40 "$tmp/build-deb.log"
  abort "packaging/build-deb.sh failed"
fi
shopt -s nullglob
debs=("$tmp"/deb/"${PKG}"_*.deb)
expect_eq "one $PKG .deb (plus a -dbgsym one)" "${#debs[@]}" 1
deb=${debs[0]}
grep -E '^[0-9]+% tests passed' "$tmp/build-deb.log" | sed 's/^/  unit tests in the build: /'

echo "  lintian:"
sed 's/^/    /' "$tmp/deb/lintian.txt"
expect_eq "lintian: no E: and no W: lines" "$(grep -cE '^[EW]: ' "$tmp/deb/lintian.txt")" 0

# ------------------------------------------------------------------ install

if dpkg-query -W "$PKG" >/dev/null 2>&1; then
  # The same version already installed would be kept by apt-get install: start afresh.
  DEBIAN_FRONTEND=noninteractive apt-get -y -q -o DPkg::Lock::Timeout=600 purge "$PKG" >/dev/null 2>&1
fi
if step install env DEBIAN_FRONTEND=noninteractive \
  apt-get -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 install "$deb"; then
  pass "apt-get install ./$(basename "$deb")"
else
  tail -n 20 "$tmp/install.log"
  abort "apt-get install failed"
fi
expect_eq "dpkg reports it installed" "$(dpkg-query -W -f='${db:Status-Status}' "$PKG")" installed

for f in "$PLUGIN" "$MAN" "$CFG" "$EXAMPLE" "/usr/share/doc/$PKG/copyright"; do
  expect "the package ships $f" bash -c "dpkg -L '$PKG' | grep -qx '$f' && test -f '$f'"
done
expect "the plugin is executable (0755 root)" \
  test "$(stat -c '%a %U' "$PLUGIN")" = "755 root"
expect "$CFG is a conffile" \
  bash -c "dpkg-query -W -f='\${Conffiles}\n' '$PKG' | grep -q '^ $CFG '"
expect "$CFG is contrib/nagios/smtp_verify.cfg" cmp -s "$CFG" contrib/nagios/smtp_verify.cfg
expect "the Icinga 2 example is contrib/icinga2/check_smtp_verify.conf" \
  cmp -s "$EXAMPLE" contrib/icinga2/check_smtp_verify.conf
expect "the CheckCommand is not where Icinga 2 would include it automatically" \
  bash -c "! dpkg -L '$PKG' | grep -qE '^/(etc/icinga2|usr/share/icinga2)/'"
# The plugin itself maps neither OpenSSL nor libcurl (a plain check need not pay for them);
# the TLS module it loads for -S, -s and -A links Debian's libssl/libcrypto, the HTTPS module
# it loads only for --mta-sts links libcurl.
libs=$(ldd "$PLUGIN")
for lib in libcares.so.2 libboost_program_options.so; do
  expect "the plugin is linked dynamically against $lib" grep -q "$lib" <<<"$libs"
done
expect "the plugin does not map OpenSSL" bash -c "! grep -qE 'libssl|libcrypto' <<<'$libs'"
expect "the plugin does not map libcurl" bash -c "! grep -q 'libcurl' <<<'$libs'"
expect "the package ships $MODULE" bash -c "dpkg -L '$PKG' | grep -qx '$MODULE' && test -f '$MODULE'"
module_libs=$(ldd "$MODULE")
for lib in libssl.so.3 libcrypto.so.3; do
  expect "the TLS module is linked dynamically against $lib" grep -q "$lib" <<<"$module_libs"
done
expect "the TLS module does not map libcurl" bash -c "! grep -q 'libcurl' <<<'$module_libs'"
expect "the package ships $HTTPS_MODULE" \
  bash -c "dpkg -L '$PKG' | grep -qx '$HTTPS_MODULE' && test -f '$HTTPS_MODULE'"
# What the loader demands of a module (net/module_loader.cpp), else --mta-sts is UNKNOWN.
expect "the HTTPS module is owned by root and writable by nobody else" \
  bash -c "[[ \$(stat -c %U '$HTTPS_MODULE') == root ]] && (( (8#\$(stat -c %a '$HTTPS_MODULE') & 8#022) == 0 ))"
https_libs=$(ldd "$HTTPS_MODULE")
expect "the HTTPS module is linked dynamically against libcurl.so.4" grep -q 'libcurl.so.4' <<<"$https_libs"
depends=$(dpkg-query -W -f='${Depends}' "$PKG")
echo "  Depends: $depends"
for dep in libssl3 libc-ares2 libboost-program-options; do
  expect "Depends names $dep" grep -q "$dep" <<<"$depends"
done
# libcurl4 is the runtime of Debian's libcurl4-openssl-dev (not libcurl3-gnutls).
expect "Depends names libcurl4" grep -qE '(^|[ ,|])libcurl4( |,|$)' <<<"$depends"

# ------------------------------------------------------------------ the installed plugin

version=$(dpkg-parsechangelog -l packaging/debian/changelog -S Version)
out=$("$PLUGIN" -V)
rc=$?
expect_eq "$PLUGIN -V exits 3" "$rc" 3
expect_eq "$PLUGIN -V prints the package's upstream version" "$out" "check_smtp_verify ${version%-*}"

expect_eq "man -w check_smtp_verify finds the installed page" "$(man -w check_smtp_verify 2>&1)" "$MAN"
warnings=$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 check_smtp_verify 2>&1 >/dev/null)
expect_eq "the installed man page renders without warnings" "$warnings" ""

if ! step postfix-install bash tests/integration/postfix.sh install; then
  tail -n 20 "$tmp/postfix-install.log"
  abort "postfix.sh install failed"
fi
postfix_ports 14000
if step postfix-start bash tests/integration/postfix.sh start "$postfix_dir"; then
  # shellcheck source=/dev/null
  source "$postfix_dir/env"
  pass "a private Postfix on 127.0.0.1:$POSTFIX_PORT"
else
  tail -n 20 "$tmp/postfix-start.log"
  abort "postfix.sh start failed"
fi

# --helo-dns ignore: the HELO name of the test is in no DNS, and no test asks a real resolver.
run() { out=$("$@"); rc=$?; first=${out%%$'\n'*}; }
run "$PLUGIN" -H 127.0.0.1 -p "$POSTFIX_PORT" -F probe.smtpverify.test --helo-dns ignore
if [[ $rc == 0 && $first == "SMTP OK - "* ]]; then
  pass "the installed plugin: -H 127.0.0.1 -p $POSTFIX_PORT -F probe.smtpverify.test → OK ($first)"
else
  fail "the installed plugin: -H 127.0.0.1 -p $POSTFIX_PORT -F probe.smtpverify.test → OK" \
    "exit $rc" "$first"
fi
run runuser -u nagios -- "$PLUGIN" -H 127.0.0.1 -p "$POSTFIX_PORT" -F probe.smtpverify.test \
  --helo-dns ignore -S --ca-file "$POSTFIX_CA_FILE" -D 30,14 -f monitor@smtpverify.test \
  --rcpt "$POSTFIX_LOCAL_RCPT" --reject-rcpt "$POSTFIX_FOREIGN_RCPT"
if [[ $rc == 0 && $first =~ ^SMTP\ OK\ -\ .*STARTTLS\ TLSv1\.[23].*\|\ time=.*\ cert_days=[0-9]+\;30:\;14:$ ]]; then
  pass "as user nagios, STARTTLS, -D 30,14, a recipient and a relay probe → OK"
else
  fail "as user nagios, STARTTLS, -D 30,14, a recipient and a relay probe → OK" "exit $rc" "$first"
fi

# What a check maps, as the dynamic loader tells it (LD_DEBUG=files prints a "file=NAME"
# line for every object it loads, on stderr). The modules are opened by the name
# /proc/self/fd/N, so each is seen by the library only it needs.
mapped() { LD_DEBUG=files "$@" 2>&1 >/dev/null | grep -oE 'file=[^ ]+' | sort -u; }
plain_maps=$(mapped "$PLUGIN" -H 127.0.0.1 -p "$POSTFIX_PORT" -F probe.smtpverify.test --helo-dns ignore)
expect "LD_DEBUG sees the plain check load its libraries (c-ares)" grep -q 'file=libcares' <<<"$plain_maps"
expect_eq "a plain check maps no libcurl" "$(grep -c 'libcurl' <<<"$plain_maps")" 0
expect_eq "a plain check maps no OpenSSL" "$(grep -cE 'libssl|libcrypto' <<<"$plain_maps")" 0
tls_maps=$(mapped "$PLUGIN" -H 127.0.0.1 -p "$POSTFIX_PORT" -F probe.smtpverify.test --helo-dns ignore \
  -S --ca-file "$POSTFIX_CA_FILE")
expect "a STARTTLS check maps OpenSSL (the TLS module)" grep -q 'file=libssl' <<<"$tls_maps"
expect_eq "a STARTTLS check maps no libcurl" "$(grep -c 'libcurl' <<<"$tls_maps")" 0
# --mta-sts loads the HTTPS module before the TXT lookup; DNS goes to 127.0.0.1:9, where
# nothing answers, so the check itself fails (CRITICAL): only what it mapped is asserted.
sts_maps=$(mapped "$PLUGIN" --mx smtpverify.test --mta-sts --dns-server 127.0.0.1:9 -t 3 \
  -F probe.smtpverify.test --helo-dns ignore)
expect "a --mta-sts check loads the HTTPS module, which maps libcurl" grep -q 'file=libcurl' <<<"$sts_maps"
run "$PLUGIN" --mx smtpverify.test --mta-sts --dns-server 127.0.0.1:9 -t 3 -F probe.smtpverify.test \
  --helo-dns ignore
if [[ $rc == 2 && $first == "SMTP CRITICAL - "* ]]; then
  pass "the installed plugin finds its HTTPS module: --mta-sts without DNS is CRITICAL ($first)"
else
  fail "the installed plugin finds its HTTPS module: --mta-sts without DNS is CRITICAL" "exit $rc" "$first"
fi

# ------------------------------------------------------------------ purge

if [[ ${KEEP_PACKAGE:-0} == 1 ]]; then
  echo "  (KEEP_PACKAGE=1: $PKG stays installed; apt-get purge -y $PKG removes it)"
else
  if step purge env DEBIAN_FRONTEND=noninteractive \
    apt-get -y -q -o DPkg::Lock::Timeout=600 purge "$PKG"; then
    left=()
    for f in "$PLUGIN" "$MAN" "$CFG" "$EXAMPLE" "$MODULE" "$HTTPS_MODULE"; do [[ -e $f ]] && left+=("$f"); done
    expect_eq "apt-get purge removes it, conffile included" "${left[*]}" ""
  else
    fail "apt-get purge $PKG"
  fi
fi

# ------------------------------------------------------------------ the RPM

if step build-rpm env RPM_NOCHECK="${RPM_NOCHECK:-1}" bash packaging/build-rpm.sh "$tmp/rpm"; then
  pass "packaging/build-rpm.sh builds the RPM"
  grep -E '^[0-9]+% tests passed' "$tmp/build-rpm.log" | sed 's/^/  unit tests in %check: /'
  rpms=("$tmp"/rpm/check_smtp_verify-[0-9]*.rpm)
  expect_eq "one check_smtp_verify .rpm" "${#rpms[@]}" 1
  if ((${#rpms[@]})); then
    files=$(rpm -qlp "${rpms[0]}" 2>/dev/null)
    echo "  rpm -qlp $(basename "${rpms[0]}"):"
    while IFS= read -r line; do echo "    $line"; done <<<"$files"
    expect "rpm -qlp lists nagios/plugins/check_smtp_verify" \
      grep -qx '/usr/lib64/nagios/plugins/check_smtp_verify' <<<"$files"
    expect "rpm -qlp lists the man page" grep -qE '^/usr/share/man/man1/check_smtp_verify\.1' <<<"$files"
    expect "rpm -qlp lists the TLS module" \
      grep -qx '/usr/lib64/check-smtp-verify/check_smtp_verify_tls.so' <<<"$files"
    expect "rpm -qlp lists the HTTPS module" \
      grep -qx '/usr/lib64/check-smtp-verify/check_smtp_verify_https.so' <<<"$files"
    expect "the Nagios definitions are a %config file" \
      grep -qx '/etc/nagios/conf.d/smtp_verify.cfg' <<<"$(rpm -qcp "${rpms[0]}" 2>/dev/null)"
    requires=$(rpm -qp --requires "${rpms[0]}" 2>/dev/null)
    expect "the RPM requires the shared libssl.so.3 (dynamic linking)" grep -q '^libssl.so.3' <<<"$requires"
    expect "the RPM requires the shared libcurl.so.4 (the HTTPS module)" grep -q '^libcurl.so.4' <<<"$requires"
  fi
else
  tail -n 40 "$tmp/build-rpm.log"
  fail "packaging/build-rpm.sh builds the RPM"
fi

echo "($((SECONDS - started)) s)"
finish
