#!/usr/bin/env bash
# Build the Debian package of check_smtp_verify and lint it.
#
#   bash packaging/build-deb.sh OUTDIR
#
# Copies the source tree (the files git knows about plus new, not ignored ones; without git:
# everything except build*/ folders) to a temp folder, moves packaging/debian to ./debian
# there, installs the build dependencies (apt-get build-dep on that folder, plus the
# packaging tools), runs dpkg-buildpackage -us -uc -b (which runs the unit tests), copies the
# .deb files to OUTDIR and runs lintian on them: any E: or W: line fails the build.
# Must run as root on Debian 12 (it installs packages). Leaves nothing behind but OUTDIR.
# Environment: KEEP_WORK=1 keeps the temp folder; DEB_BUILD_OPTIONS is passed through
# (default: parallel=<nproc>).
set -euo pipefail

log() { printf 'build-deb.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

[[ $# -eq 1 && -n $1 ]] || {
	sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}
[[ $(id -u) -eq 0 ]] || die "must run as root (installs the build dependencies)"

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
outdir=$(realpath -m -- "$1")
[[ -f $root/packaging/debian/control ]] || die "$root/packaging/debian/control not found"

readonly TOOLS=(dpkg-dev debhelper lintian)
readonly APT_OPTS=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600)

apt_install() {
	# A stale or missing package list makes the first attempt fail.
	if ! DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install "$@"; then
		log "retrying after apt-get update"
		apt-get -q -o DPkg::Lock::Timeout=600 update
		DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install "$@"
	fi
}

missing=()
for pkg in "${TOOLS[@]}"; do
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true) == installed ]] ||
		missing+=("$pkg")
done
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	apt_install "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/check-smtp-verify-deb.XXXXXX)
if [[ ${KEEP_WORK:-0} == 1 ]]; then
	log "keeping $work"
else
	trap 'rm -rf "$work"' EXIT
fi
version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
upstream=${version%-*}
src=$work/check-smtp-verify-$upstream
mkdir -p "$src"

bash "$here/copy-tree.sh" "$root" "$src"
mv "$src/packaging/debian" "$src/debian"
log "source tree in $src ($(find "$src" -type f | wc -l) files)"

log "installing the build dependencies"
if ! DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" build-dep "$src" >/dev/null; then
	apt-get -q -o DPkg::Lock::Timeout=600 update
	DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" build-dep "$src" >/dev/null
fi

log "dpkg-buildpackage -us -uc -b"
(
	cd "$src"
	export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-parallel=$(nproc)}
	dpkg-buildpackage -us -uc -b
) >"$work/build.log" 2>&1 || {
	tail -n 60 "$work/build.log" >&2
	die "dpkg-buildpackage failed (full log: $work/build.log; KEEP_WORK=1 keeps it)"
}
grep -E '^(test |[0-9]+% tests passed|Total Test time)' "$work/build.log" | tail -n 3 >&2 || true

shopt -s nullglob
debs=("$work"/*.deb)
((${#debs[@]})) || die "dpkg-buildpackage produced no .deb"
mkdir -p "$outdir"
cp -f "${debs[@]}" "$outdir/"
for deb in "${debs[@]}"; do
	log "built $outdir/$(basename "$deb")"
done

log "lintian"
lint_rc=0
# --display-info shows I: lines too; only E: and W: fail.
lintian --display-info --fail-on error,warning "${debs[@]}" >"$work/lintian.txt" 2>&1 || lint_rc=$?
cp -f "$work/lintian.txt" "$outdir/lintian.txt"
cat "$work/lintian.txt"
if ((lint_rc != 0)) || grep -qE '^[EW]: ' "$work/lintian.txt"; then
	die "lintian reports errors or warnings (see above)"
fi
log "lintian: no errors, no warnings"
