#!/usr/bin/env bash
# Copy the source tree ROOT into DEST for a package build: what git tracks (as it is in the
# working tree, so uncommitted edits count) plus new files that are not ignored; no build
# trees, no .git. Without git: everything except build*/ and .git.
# Usage: bash packaging/copy-tree.sh ROOT DEST        (used by build-deb.sh and build-rpm.sh)
set -euo pipefail
root=$1
dest=$2
mkdir -p "$dest"
if git -C "$root" rev-parse --show-toplevel >/dev/null 2>&1 &&
	[[ $(git -C "$root" rev-parse --show-toplevel) == "$root" ]]; then
	(
		cd "$root"
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
