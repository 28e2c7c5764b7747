# Shared by packaging/build-deb.sh and packaging/build-rpm.sh (sourced, not run): what only
# package builds need; log/die and installing packages come from tests/lib.sh.
# shellcheck shell=bash

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tests/lib.sh"

# usage_unless_one_arg ARGS...: exactly one non-empty argument (OUTDIR), else the script's
# header comment as usage, exit 2.
usage_unless_one_arg() {
	[[ $# -eq 1 && -n $1 ]] && return 0
	# shellcheck disable=SC2119 # the whole header
	usage
}

# deliver OUTDIR NONE_MESSAGE FILE...: copies the built packages FILE... to OUTDIR and names
# each; no FILE at all dies with NONE_MESSAGE.
deliver() {
	local outdir=$1 none=$2 f
	shift 2
	(($#)) || die "$none"
	mkdir -p "$outdir"
	cp -f "$@" "$outdir/"
	for f in "$@"; do
		log "built $outdir/${f##*/}"
	done
}

# make_work NAME: a temp folder in $work, removed on exit unless KEEP_WORK=1.
make_work() {
	work=$(mktemp -d "/tmp/check-smtp-verify-$1.XXXXXX")
	if [[ ${KEEP_WORK:-0} == 1 ]]; then
		log "keeping $work"
	else
		trap 'rm -rf "$work"' EXIT
	fi
}

# copy_tree ROOT DEST: the source tree for a package build: what git tracks (as it is in the
# working tree, so uncommitted edits count) plus new files that are not ignored; no build
# trees, no .git. Without git: everything except build*/ and .git.
copy_tree() {
	local root=$1 dest=$2
	mkdir -p "$dest"
	if git -C "$root" rev-parse --show-toplevel >/dev/null 2>&1 &&
		[[ $(git -C "$root" rev-parse --show-toplevel) == "$root" ]]; then
		(
			cd "$root" || exit 1
			git ls-files -z --cached --others --exclude-standard |
				while IFS= read -r -d '' f; do
					# Tracked but deleted in the working tree: not part of the tree.
					[[ -e $f || -L $f ]] && printf '%s\0' "$f"
				done |
				tar --null -T - -cf -
		) | tar -C "$dest" -xf -
	else
		tar -C "$root" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$dest" -xf -
	fi
}
