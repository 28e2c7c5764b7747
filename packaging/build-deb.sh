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

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
source "$here/lib.sh"
usage_unless_one_arg "$@"
[[ $(id -u) -eq 0 ]] || die "must run as root (installs the build dependencies)"

root=$(dirname "$here")
outdir=$(realpath -m -- "$1")
[[ -f $root/packaging/debian/control ]] || die "$root/packaging/debian/control not found"

install_missing dpkg-dev debhelper lintian
make_work deb
version=$(dpkg-parsechangelog -l "$root/packaging/debian/changelog" -S Version)
upstream=${version%-*}
src=$work/check-smtp-verify-$upstream
mkdir -p "$src"

copy_tree "$root" "$src"
mv "$src/packaging/debian" "$src/debian"
log "source tree in $src ($(find "$src" -type f | wc -l) files)"

log "installing the build dependencies"
apt_retry build-dep "$src" >/dev/null

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
deliver "$outdir" "dpkg-buildpackage produced no .deb" "${debs[@]}"

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
