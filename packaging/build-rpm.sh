#!/usr/bin/env bash
# Build the RPM of check_smtp_verify from packaging/rpm/check_smtp_verify.spec.
#
#   bash packaging/build-rpm.sh OUTDIR
#
# On Debian (as root): installs rpm and the build dependencies as Debian packages (the
# Build-Depends of packaging/debian/control), makes a tarball of the source tree (the files
# git knows about plus new, not ignored ones; without git: everything except build*/), and
# runs rpmbuild -bb --nodeps in a private _topdir (RPM's BuildRequires name Fedora packages,
# which dpkg cannot check). %check runs the unit tests. The .rpm files end up in OUTDIR.
# On an RPM-based system it uses what is installed and only checks that rpmbuild exists.
# Environment: KEEP_WORK=1 keeps the temp folder; RPM_NOCHECK=1 builds without the tests
# (rpmbuild --without check: no test binaries compiled, no %check).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
usage_unless_one_arg "$@"

root=$(dirname "$here")
outdir=$(realpath -m -- "$1")
spec=$root/packaging/rpm/check_smtp_verify.spec
[[ -f $spec ]] || die "$spec not found"

debian_deps() {
	[[ $(id -u) -eq 0 ]] || die "must run as root on Debian (installs rpm and build dependencies)"
	install_missing rpm
	# apt-get build-dep on a folder reads its debian/control: the same dependencies as the
	# Debian package, so the two builds cannot drift apart.
	local deps=$work/debian-build-deps
	mkdir -p "$deps"
	cp -r "$root/packaging/debian" "$deps/debian"
	log "installing the build dependencies"
	apt_retry build-dep "$deps" >/dev/null
}

make_work rpm

if command -v dpkg-query >/dev/null && [[ -f /etc/debian_version ]]; then
	debian_deps
fi
command -v rpmbuild >/dev/null || die "rpmbuild not found (install rpm-build)"

name=$(rpmspec -q --srpm --qf '%{name}' "$spec")
version=$(rpmspec -q --srpm --qf '%{version}' "$spec")
topdir=$work/rpmbuild
mkdir -p "$topdir"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS}
stage=$work/stage/$name-$version
mkdir -p "$stage"

copy_tree "$root" "$stage"
tar -C "$work/stage" --owner=0 --group=0 --numeric-owner \
	-czf "$topdir/SOURCES/$name-$version.tar.gz" "$name-$version"
cp "$spec" "$topdir/SPECS/"
log "source tarball $topdir/SOURCES/$name-$version.tar.gz"

rpmbuild_args=(-bb --nodeps --define "_topdir $topdir")
[[ ${RPM_NOCHECK:-0} == 1 ]] && rpmbuild_args+=(--without check)
log "rpmbuild ${rpmbuild_args[*]}"
rpmbuild "${rpmbuild_args[@]}" "$topdir/SPECS/$(basename "$spec")" \
	>"$work/rpmbuild.log" 2>&1 || {
	tail -n 60 "$work/rpmbuild.log" >&2
	die "rpmbuild failed (full log: $work/rpmbuild.log; KEEP_WORK=1 keeps it)"
}
grep -E '^([0-9]+% tests passed|Total Test time)' "$work/rpmbuild.log" >&2 || true

shopt -s nullglob
deliver "$outdir" "rpmbuild produced no .rpm" "$topdir"/RPMS/*/*.rpm
