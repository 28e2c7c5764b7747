# shellcheck shell=bash disable=SC2034  # variables shared with the sourcing scripts
# The one shell library of tests/ and packaging/ (sourced, not run): log/die, the per-case
# ok/FAIL lines with the closing "N passed, M failed" line CI reads, and installing missing
# Debian packages; for tests/integration/postfix.sh and unbound.sh also their command line and
# instance folder.

# Sourced once per shell (its readonly settings cannot be set twice).
[[ -z ${SMTPVERIFY_TESTS_LIB:-} ]] || return 0
SMTPVERIFY_TESTS_LIB=1

# ---------------------------------------------------------------- messages

# log MESSAGE...: "SCRIPT: MESSAGE" on stderr.
log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
# die MESSAGE...: logs "error: MESSAGE" and exits with DIE_STATUS (default 1).
die() {
	log "error: $*"
	exit "${DIE_STATUS:-1}"
}

# usage [LAST]: the script's header comment from line 2 to line LAST (default: to the first line
# that is not a comment) on stderr, and exit 2.
usage() {
	sed -n "2,${1:-/^[^#]/}s/^# \{0,1\}//p" "$0" >&2
	exit 2
}

# ---------------------------------------------------------------- cases

passed=0
failed=0

# pass NAME: one "ok   NAME" line.
pass() {
	passed=$((passed + 1))
	printf 'ok   %s\n' "$1"
}

# fail NAME [DETAIL...]: one "FAIL NAME" line, each DETAIL indented below it.
fail() {
	failed=$((failed + 1))
	printf 'FAIL %s\n' "$1"
	shift
	local line
	for line in "$@"; do printf '  %s\n' "$line"; done
}

# expect NAME COMMAND...: COMMAND must succeed.
expect() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# expect_eq NAME GOT WANT
expect_eq() {
	if [[ $2 == "$3" ]]; then
		pass "$1"
	else
		fail "$1" "got:  $2" "want: $3"
	fi
}

# finish: the closing line CI reads, and the exit status.
finish() {
	echo
	echo "$passed passed, $failed failed"
	((failed == 0))
}

# abort MESSAGE...: a setup step failed, no point in running the cases.
abort() {
	fail "setup: $*"
	finish
	exit 1
}

# ---------------------------------------------------------------- packages

readonly APT_LOCK=(-o DPkg::Lock::Timeout=600)
readonly APT_OPTS=(-y -q --no-install-recommends "${APT_LOCK[@]}"
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
apt_updated=0

# apt_update_once: apt-get update, at most once per script.
apt_update_once() {
	((apt_updated)) && return 0
	apt_updated=1
	apt-get -q "${APT_LOCK[@]}" update >/dev/null
}

# apt_retry VERB ARGS...: apt-get VERB ARGS, non-interactive; once more after apt-get update if
# it fails and the lists were not updated yet (a stale or missing package list makes the first
# attempt fail).
apt_retry() {
	DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" "$@" && return 0
	((apt_updated)) && return 1
	log "retrying after apt-get update"
	apt_update_once
	DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" "$@"
}

# missing_packages PKG...: those of the packages that are not installed, one per line.
missing_packages() {
	local pkg
	for pkg in "$@"; do
		[[ $(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true) == installed ]] ||
			printf '%s\n' "$pkg"
	done
}

readonly POLICY_RC_D=/usr/sbin/policy-rc.d
policy_backup=""
policy_created=0

# policy-rc.d exit code 101 = "action forbidden": invoke-rc.d/deb-systemd-invoke then skip
# starting the package's service (and report success to postinst).
policy_denies_start() {
	[[ -x $POLICY_RC_D ]] || return 1
	local rc=0
	"$POLICY_RC_D" "$1" start >/dev/null 2>&1 || rc=$?
	[[ $rc -eq 101 ]]
}

# policy_block_services SERVICE: a policy-rc.d that forbids starting any service, unless one
# that forbids starting SERVICE is there already (e.g. Docker images ship one).
policy_block_services() {
	policy_denies_start "$1" && return 0
	if [[ -e $POLICY_RC_D ]]; then
		policy_backup=$(mktemp "$POLICY_RC_D.smtpverify.XXXXXX")
		cp -p "$POLICY_RC_D" "$policy_backup"
	fi
	policy_created=1
	printf '#!/bin/sh\n# Temporary, from %s: do not start services.\nexit 101\n' \
		"$0" >"$POLICY_RC_D"
	chmod 0755 "$POLICY_RC_D"
}

# Undo policy_block_services: only remove/restore what it changed.
policy_restore() {
	((policy_created)) || return 0
	if [[ -n $policy_backup ]]; then
		mv -f "$policy_backup" "$POLICY_RC_D"
	else
		rm -f "$POLICY_RC_D"
	fi
	policy_backup=""
	policy_created=0
}

# install_missing [--no-start SERVICE] PKG...: installs those of the packages that are not
# installed (root). With --no-start, no service of a new package is started while it installs
# (SERVICE: the init script a policy-rc.d already there must forbid; our tests run private
# instances instead). apt-get's own output goes to stderr only (errors, warnings): stdout stays
# the script's. Fails when apt-get does.
install_missing() {
	local service=""
	if [[ ${1:-} == --no-start ]]; then
		service=$2
		shift 2
	fi
	local -a missing
	mapfile -t missing < <(missing_packages "$@")
	((${#missing[@]})) || return 0
	log "installing ${missing[*]}"
	# A fresh image has no package lists at all: then the first attempt could only fail.
	compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || apt_update_once
	[[ -z $service ]] || {
		local old_trap
		old_trap=$(trap -p EXIT)
		policy_block_services "$service"
		trap policy_restore EXIT
	}
	local rc=0
	apt_retry install "${missing[@]}" >/dev/null || rc=$?
	[[ -z $service ]] || {
		policy_restore
		eval "${old_trap:-trap - EXIT}"
	}
	return "$rc"
}

# install_service SERVICE PKG...: the packages of a service our tests run private instances of
# (SERVICE: its init script and its package): install_missing --no-start, or a log line naming
# the installed version when nothing is missing.
install_service() {
	local service=$1
	shift
	if [[ -n $(missing_packages "$@") ]]; then
		install_missing --no-start "$service" "$@"
	else
		log "$* already installed ($service $(dpkg-query -W -f='${Version}' "$service" 2>/dev/null || echo '?'))"
	fi
}

# ---------------------------------------------------------------- private instances

# instance_dir DIR: the canonical absolute path of DIR (tests/integration/postfix.sh and
# unbound.sh). Postfix parameter values are split at whitespace and commas and expand '$', and
# unbound.conf and DIR/env quote it: so only plain path characters are allowed.
instance_dir() {
	local dir
	dir=$(realpath -m -- "$1")
	[[ $dir =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "unsupported instance directory: $dir"
	printf '%s\n' "$dir"
}

# ipv6_loopback_works: ::1 is configured on lo.
ipv6_loopback_works() {
	[[ -r /proc/net/if_inet6 ]] || return 1
	[[ $(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 1) == 0 ]] || return 1
	grep -q '^00000000000000000000000000000001 .* lo$' /proc/net/if_inet6
}

# instance_main MOST ARGS...: the command line of tests/integration/postfix.sh and unbound.sh:
# "install" (cmd_install), "start DIR [ARG...]" with at most MOST arguments (cmd_start), "stop
# DIR" (cmd_stop); anything else shows the usage (header lines 2-9).
instance_main() {
	local most=$1
	shift
	case ${1:-}/$# in
	install/1) cmd_install ;;
	stop/2) cmd_stop "$2" ;;
	start/*)
		if (($# >= 2 && $# <= most + 1)); then
			shift
			cmd_start "$@"
		else
			usage 9
		fi
		;;
	*) usage 9 ;;
	esac
}
