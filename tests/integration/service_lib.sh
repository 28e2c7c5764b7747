# shellcheck shell=bash
# Shared by postfix.sh and unbound.sh: installing a Debian package that ships a service without
# letting the package start it (our tests run private instances instead), and without touching
# more of the system than that. Needs: SERVICE (the init script's name), PACKAGES, log().

readonly POLICY_RC_D=/usr/sbin/policy-rc.d

# policy-rc.d exit code 101 = "action forbidden": invoke-rc.d/deb-systemd-invoke then skip
# starting the package's service (and report success to postinst).
policy_denies_start() {
	[[ -x $POLICY_RC_D ]] || return 1
	local rc=0
	"$POLICY_RC_D" "$SERVICE" start >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 101 ]]
}

POLICY_BACKUP=""
POLICY_CREATED=0

policy_block_services() {
	policy_denies_start && return 0 # e.g. Docker images ship one already
	if [[ -e $POLICY_RC_D ]]; then
		POLICY_BACKUP=$(mktemp "$POLICY_RC_D.smtpverify.XXXXXX")
		cp -p "$POLICY_RC_D" "$POLICY_BACKUP"
	fi
	POLICY_CREATED=1
	printf '#!/bin/sh\n# Temporary, from %s: do not start services.\nexit 101\n' \
		"$0" >"$POLICY_RC_D"
	chmod 0755 "$POLICY_RC_D"
}

# Undo policy_block_services: only remove/restore what we changed.
policy_restore() {
	[[ $POLICY_CREATED -eq 1 ]] || return 0
	if [[ -n $POLICY_BACKUP ]]; then
		mv -f "$POLICY_BACKUP" "$POLICY_RC_D"
	else
		rm -f "$POLICY_RC_D"
	fi
	POLICY_CREATED=0
}

# The packages of PACKAGES that are not installed, one per line.
missing_packages() {
	local pkg status
	for pkg in "${PACKAGES[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
		[[ $status == installed ]] || printf '%s\n' "$pkg"
	done
}

# apt-get install "$@" with every service start blocked; --no-install-recommends keeps the
# system lean (for unbound: no dns-root-data, nothing that would prime a root trust anchor).
install_without_starting() {
	local -a apt=(apt-get -y -q --no-install-recommends
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
		install "$@")
	policy_block_services
	trap policy_restore EXIT
	log "installing $*"
	# A stale or missing package list makes the first attempt fail.
	if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}"; then
		log "retrying after apt-get update"
		apt-get -q update
		DEBIAN_FRONTEND=noninteractive "${apt[@]}"
	fi
	policy_restore
	trap - EXIT
}
