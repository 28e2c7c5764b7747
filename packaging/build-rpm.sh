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

log() { printf 'build-rpm.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ $# -eq 1 && -n $1 ]] || {
	sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
outdir=$(realpath -m -- "$1")
spec=$root/packaging/rpm/check_smtp_verify.spec
[[ -f $spec ]] || die "$spec not found"

readonly APT_OPTS=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
debian_deps() {
	[[ $(id -u) -eq 0 ]] || die "must run as root on Debian (installs rpm and build dependencies)"
	local -a missing=()
	[[ $(dpkg-query -W -f='${db:Status-Status}' rpm 2>/dev/null || true) == installed ]] ||
		missing+=(rpm)
	if ((${#missing[@]})); then
		log "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install "${missing[@]}" >/dev/null ||
			{
				apt-get -q -o DPkg::Lock::Timeout=600 update
				DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install "${missing[@]}" >/dev/null
			}
	fi
	# apt-get build-dep on a folder reads its debian/control: the same dependencies as the
	# Debian package, so the two builds cannot drift apart.
	local deps=$work/debian-build-deps
	mkdir -p "$deps"
	cp -r "$root/packaging/debian" "$deps/debian"
	log "installing the build dependencies"
	DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" build-dep "$deps" >/dev/null ||
		{
			apt-get -q -o DPkg::Lock::Timeout=600 update
			DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" build-dep "$deps" >/dev/null
		}
}

work=$(mktemp -d /tmp/check-smtp-verify-rpm.XXXXXX)
if [[ ${KEEP_WORK:-0} == 1 ]]; then
	log "keeping $work"
else
	trap 'rm -rf "$work"' EXIT
fi

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

bash "$here/copy-tree.sh" "$root" "$stage"
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
rpms=("$topdir"/RPMS/*/*.rpm)
((${#rpms[@]})) || die "rpmbuild produced no .rpm"
mkdir -p "$outdir"
cp -f "${rpms[@]}" "$outdir/"
for r in "${rpms[@]}"; do
	log "built $outdir/$(basename "$r")"
done
