#!/usr/bin/env bash
# Manage a private, throwaway Postfix instance for the integration tests.
#
#   postfix.sh install      install the Debian package (idempotent), keep the
#                           system instance stopped
#   postfix.sh start DIR    (re)create and start a private instance in DIR,
#                           write DIR/env with what the tests need to know
#   postfix.sh stop DIR     stop that instance; never fails if it is not running
#
# Everything of the instance lives in DIR (must be run as root):
#   DIR/etc/      main.cf, master.cf, recipients   (config_directory)
#   DIR/queue/    queue_directory
#   DIR/data/     data_directory (master.lock etc.)
#   DIR/mail/     Maildirs of the accepted local recipients
#   DIR/maillog   the Postfix log (maillog_file, no syslog needed)
#   DIR/env       shell assignments for the tests (POSTFIX_PORT=… etc.)
#
# The instance talks to nobody but its loopback clients: no DNS anywhere,
# no SMTP client (mail for other domains goes to the "error" transport),
# and mail for the one local recipient ends up as a file in DIR/mail.
#
# Environment overrides for "start":
#   POSTFIX_PORT=10025          plain SMTP listener
#   POSTFIX_PROXY_PORT=10027    smtpd behind "haproxy" PROXY protocol: it waits
#                               silently for a PROXY header ("never speaks")
#   POSTFIX_PROXY_TIMEOUT=30s   how long that listener waits before hanging up
#   POSTFIX_IPV6=auto|0|1       also listen on [::1] (auto: if ::1 is configured)
set -euo pipefail

readonly POSTFIX=/usr/sbin/postfix
readonly POLICY_RC_D=/usr/sbin/policy-rc.d
readonly MARKER=.postfix-sh-instance # marks DIR as ours (safe to wipe)

readonly MY_HOSTNAME=mail.smtpverify.test
readonly MY_DOMAIN=smtpverify.test
readonly LOCAL_RCPT=probe@smtpverify.test
readonly UNKNOWN_RCPT=nosuchuser@smtpverify.test
readonly FOREIGN_RCPT=someone@example.com

# Bounds for waiting on the instance.
readonly START_TIMEOUT=15 # seconds until the 220 banner must be there
readonly STOP_TIMEOUT=15  # seconds until all processes must be gone

log() { printf 'postfix.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

usage() {
	sed -n '2,9s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

require_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (Postfix's master runs as root)"
}

require_postfix() {
	[[ -x $POSTFIX ]] || die "$POSTFIX not found; run '$0 install' first"
}

# ---------------------------------------------------------------- install

# policy-rc.d exit code 101 = "action forbidden": invoke-rc.d/deb-systemd-invoke
# then skip starting the package's service (and report success to postinst).
policy_denies_start() {
	[[ -x $POLICY_RC_D ]] || return 1
	local rc=0
	"$POLICY_RC_D" postfix start >/dev/null 2>&1 || rc=$?
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

apt_install_postfix() {
	local -a apt=(apt-get -y -q --no-install-recommends
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
		install postfix)

	# The maintainer scripts run "hostname --fqdn". With the host name in
	# /etc/hosts that is answered locally; otherwise it costs a DNS query.
	if ! grep -qw -- "$(hostname)" /etc/hosts; then
		log "warning: host name '$(hostname)' is not in /etc/hosts;" \
			"the postfix package scripts will look it up via DNS"
	fi

	# "Local only": the package's own main.cf never relays. Keep an existing
	# /etc/mailname; otherwise use a name without a dot, which makes postinst
	# leave /etc/mailname alone.
	local mailname=localhost
	[[ -s /etc/mailname ]] && mailname=$(head -n1 /etc/mailname)
	debconf-set-selections <<-EOF
		postfix postfix/main_mailer_type select Local only
		postfix postfix/mailname string $mailname
	EOF

	policy_block_services
	trap policy_restore EXIT
	log "installing the postfix package"
	# A stale or missing package list makes the first attempt fail.
	if ! DEBIAN_FRONTEND=noninteractive "${apt[@]}"; then
		log "retrying after apt-get update"
		apt-get -q update
		DEBIAN_FRONTEND=noninteractive "${apt[@]}"
	fi
	policy_restore
	trap - EXIT
}

# The system instance must not run: it would own port 25 and confuse tests.
# There may be no init system (no systemd as PID 1), so fall back to postfix(1).
stop_system_instance() {
	if [[ -d /run/systemd/system ]]; then
		systemctl stop postfix.service >/dev/null 2>&1 || true
	fi
	if [[ -f /etc/postfix/main.cf ]] && "$POSTFIX" status >/dev/null 2>&1; then
		log "stopping the system Postfix instance"
		"$POSTFIX" stop || true
	fi
	if [[ -n $(ss -Hltn 'sport = :25') ]]; then
		log "warning: something still listens on port 25:"
		ss -Hltnp 'sport = :25' >&2 || true
	fi
}

cmd_install() {
	require_root
	if [[ -x $POSTFIX ]]; then
		log "postfix already installed ($(dpkg-query -W -f='${Version}' postfix 2>/dev/null || echo '?'))"
	else
		apt_install_postfix
	fi
	stop_system_instance
}

# ------------------------------------------------------------------ start

# Canonical absolute path of DIR. Postfix parameter values are split at
# whitespace and commas and expand '$', so only allow plain path characters.
instance_dir() {
	local dir
	dir=$(realpath -m -- "$1")
	[[ $dir =~ ^/[A-Za-z0-9._/+-]+$ ]] || die "unsupported instance directory: $dir"
	printf '%s\n' "$dir"
}

ipv6_loopback_works() {
	[[ -r /proc/net/if_inet6 ]] || return 1
	[[ $(cat /proc/sys/net/ipv6/conf/lo/disable_ipv6 2>/dev/null || echo 1) == 0 ]] || return 1
	grep -q '^00000000000000000000000000000001 .* lo$' /proc/net/if_inet6
}

# Is the instance with this config directory running? (master -t via postfix)
instance_running() {
	local conf=$1
	[[ -f $conf/main.cf ]] || return 1
	"$POSTFIX" -c "$conf" status >/dev/null 2>&1
}

port_in_use() {
	[[ -n $(ss -Hltn "sport = :$1") ]]
}

# One smtpd listener on every loopback address.
#   smtpd_listener NAME PORT [param=value ...]
# NAME shows up in the log as postfix/NAME/smtpd. To add a listener (e.g.
# STARTTLS, wrappermode TLS, no TLS) add one call in write_master_cf.
smtpd_listener() {
	local name=$1 port=$2 addr opt
	shift 2
	for addr in "${LISTEN_ADDRS[@]}"; do
		printf '%s:%s inet n - n - - smtpd\n' "$addr" "$port"
		printf '  -o syslog_name=postfix/%s\n' "$name"
		for opt in "$@"; do
			printf '  -o %s\n' "$opt"
		done
	done
}

write_master_cf() {
	local dir=$1
	{
		cat <<-'EOF'
			# Generated by tests/integration/postfix.sh. chroot is "n" everywhere,
			# so no chroot jail (resolv.conf, services, …) has to be populated.
			# service type  private unpriv  chroot  wakeup  maxproc command
			pickup    unix  n       -       n       60      1       pickup
			cleanup   unix  n       -       n       -       0       cleanup
			qmgr      unix  n       -       n       300     1       qmgr
			rewrite   unix  -       -       n       -       -       trivial-rewrite
			bounce    unix  -       -       n       -       0       bounce
			defer     unix  -       -       n       -       0       bounce
			trace     unix  -       -       n       -       0       bounce
			verify    unix  -       -       n       -       1       verify
			flush     unix  n       -       n       1000?   0       flush
			proxymap  unix  -       -       n       -       -       proxymap
			showq     unix  n       -       n       -       -       showq
			error     unix  -       -       n       -       -       error
			retry     unix  -       -       n       -       -       error
			discard   unix  -       -       n       -       -       discard
			virtual   unix  -       n       n       -       -       virtual
			anvil     unix  -       -       n       -       1       anvil
			scache    unix  -       -       n       -       1       scache
			# maillog_file needs the postlog service (postfix check insists on it).
			postlog   unix-dgram n  -       n       -       1       postlogd
			# ---- SMTP listeners
		EOF
		smtpd_listener smtp "$PORT"
		# Waits silently for a PROXY v1/v2 header: "a server that never speaks".
		smtpd_listener proxy "$PROXY_PORT" \
			smtpd_upstream_proxy_protocol=haproxy \
			"smtpd_upstream_proxy_timeout=$PROXY_TIMEOUT"
	} >"$dir/etc/master.cf"
}

write_main_cf() {
	local dir=$1 protocols=ipv4 interfaces=127.0.0.1 loopnets=127.0.0.0/8
	if [[ $IPV6 -eq 1 ]]; then
		protocols=all
		interfaces='127.0.0.1, [::1]'
		loopnets='127.0.0.0/8, [::1]/128'
	fi
	cat >"$dir/etc/main.cf" <<-EOF
		# Generated by tests/integration/postfix.sh: a private test instance.
		compatibility_level = 3.6
		queue_directory = $dir/queue
		data_directory = $dir/data

		# Log to a file: no syslog needed (requires the postlog service).
		maillog_file = $dir/maillog
		maillog_file_prefixes = $dir

		myhostname = $MY_HOSTNAME
		mydomain = $MY_DOMAIN
		myorigin = \$mydomain
		mydestination = \$myhostname, localhost, $MY_DOMAIN
		inet_protocols = $protocols
		inet_interfaces = $interfaces

		# Relaying is denied from loopback: mynetworks must not contain it, so a
		# foreign recipient gets "554 5.7.1 Relay access denied" at RCPT.
		mynetworks = 192.0.2.1/32
		smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
		smtpd_recipient_restrictions =

		# The only local recipient is listed in DIR/etc/recipients; others get
		# "550 5.1.1 User unknown" at RCPT. Accepted mail is delivered by
		# virtual(8) (as nobody) into a Maildir under DIR/mail: no local users,
		# no aliases, no extra packages.
		local_recipient_maps = texthash:$dir/etc/recipients
		local_transport = virtual
		virtual_mailbox_maps = texthash:$dir/etc/recipients
		virtual_mailbox_base = $dir/mail
		virtual_uid_maps = static:$MAIL_UID
		virtual_gid_maps = static:$MAIL_GID
		alias_maps =
		alias_database =

		# Never deliver over the network (bounces to foreign senders included).
		default_transport = error:5.7.1 outbound mail disabled in this test instance
		relay_transport = \$default_transport

		# No DNS anywhere; no reverse lookup of the client (::1 once cost 5 s).
		smtpd_peername_lookup = no
		smtp_dns_support_level = disabled
		lmtp_dns_support_level = disabled

		# Keep timings honest: no 1 s flow-control waits after probes that QUIT
		# early, no error-count tarpit, no per-client limits for loopback.
		in_flow_delay = 0
		smtpd_error_sleep_time = 0s
		smtpd_client_event_limit_exceptions = $loopnets

		biff = no
		append_dot_mydomain = no
	EOF
	# texthash: read as-is, no postmap needed. Left column: accepted address;
	# right column: its Maildir (trailing slash) relative to DIR/mail.
	printf '%s %s/\n' "$LOCAL_RCPT" "${LOCAL_RCPT%@*}" >"$dir/etc/recipients"
}

# First line the server sends on HOST PORT (empty output if none within 1 s).
smtp_banner() {
	local host=$1 port=$2
	(
		exec 3<>"/dev/tcp/$host/$port" || exit 1
		IFS= read -r -t 1 line <&3 || exit 1
		printf 'QUIT\r\n' >&3
		IFS= read -r -t 1 _ <&3 || true
		printf '%s\n' "${line%$'\r'}"
	) 2>/dev/null
}

wait_for_banner() {
	local host=$1 port=$2 deadline=$((SECONDS + START_TIMEOUT)) banner=""
	while ((SECONDS < deadline)); do
		banner=$(smtp_banner "$host" "$port" || true)
		[[ $banner == 220[\ -]* ]] && return 0
		sleep 0.1
	done
	die "no 220 banner from $host port $port within ${START_TIMEOUT}s (last: '${banner}'); see $INSTANCE_LOG"
}

write_env() {
	local dir=$1 addrs=127.0.0.1
	[[ $IPV6 -eq 1 ]] && addrs='127.0.0.1 ::1'
	{
		printf '# Written by tests/integration/postfix.sh start\n'
		printf '%s=%q\n' \
			POSTFIX_DIR "$dir" \
			POSTFIX_CONFIG_DIR "$dir/etc" \
			POSTFIX_PORT "$PORT" \
			POSTFIX_PROXY_PORT "$PROXY_PORT" \
			POSTFIX_ADDRS "$addrs" \
			POSTFIX_IPV6 "$IPV6" \
			POSTFIX_HOSTNAME "$MY_HOSTNAME" \
			POSTFIX_LOCAL_RCPT "$LOCAL_RCPT" \
			POSTFIX_UNKNOWN_RCPT "$UNKNOWN_RCPT" \
			POSTFIX_FOREIGN_RCPT "$FOREIGN_RCPT" \
			POSTFIX_MAILDIR "$dir/mail/${LOCAL_RCPT%@*}" \
			POSTFIX_MAILLOG "$dir/maillog"
	} >"$dir/env"
}

cmd_start() {
	require_root
	require_postfix
	local dir
	dir=$(instance_dir "$1")
	INSTANCE_LOG=$dir/maillog

	PORT=${POSTFIX_PORT:-10025}
	PROXY_PORT=${POSTFIX_PROXY_PORT:-10027}
	PROXY_TIMEOUT=${POSTFIX_PROXY_TIMEOUT:-30s}
	local port
	for port in "$PORT" "$PROXY_PORT"; do
		if [[ ! $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port < 1 || port > 65535)); then
			die "bad port number: $port"
		fi
	done
	[[ $PROXY_TIMEOUT =~ ^[0-9]+[smhdw]?$ ]] || die "bad POSTFIX_PROXY_TIMEOUT: $PROXY_TIMEOUT"
	case ${POSTFIX_IPV6:-auto} in
	auto) if ipv6_loopback_works; then IPV6=1; else IPV6=0; fi ;;
	0 | 1) IPV6=$POSTFIX_IPV6 ;;
	*) die "POSTFIX_IPV6 must be auto, 0 or 1" ;;
	esac
	LISTEN_ADDRS=(127.0.0.1)
	[[ $IPV6 -eq 1 ]] && LISTEN_ADDRS+=('[::1]')

	# Idempotent: a running instance in DIR is stopped and rebuilt from scratch.
	stop_instance "$dir"
	for port in "$PORT" "$PROXY_PORT"; do
		port_in_use "$port" && die "port $port is already in use"
	done

	# Only ever wipe a directory that is empty or one of ours.
	mkdir -p "$dir"
	if [[ ! -f $dir/$MARKER && -n $(ls -A "$dir") ]]; then
		die "$dir is neither empty nor a postfix.sh instance directory"
	fi
	touch "$dir/$MARKER"
	# Postfix's unprivileged processes (user postfix) must reach DIR/queue.
	chmod 0755 "$dir"
	runuser -u postfix -- test -x "$dir" ||
		die "user postfix cannot enter $dir (a parent directory is not world-searchable)"

	rm -rf "${dir:?}/etc" "$dir/queue" "$dir/data" "$dir/mail" "$dir/maillog" "$dir/env"
	# Config and queue top directory must be root-owned (postfix check warns
	# otherwise); post-install creates the queue subdirectories and data_directory
	# with the right owners (postfix, group postdrop) during "postfix start".
	install -d -o root -g root -m 0755 "$dir/etc" "$dir/queue"
	MAIL_UID=$(id -u nobody)
	MAIL_GID=$(id -g nobody)
	install -d -o "$MAIL_UID" -g "$MAIL_GID" -m 0755 "$dir/mail"
	write_main_cf "$dir"
	write_master_cf "$dir"
	# Postfix re-reads a config/table file that was modified within the
	# current second, sleeping 300 ms per round (about 2 s per "postfix start"
	# and again in every daemon opening a fresh texthash table): backdate them.
	touch -d '-1 minute' "$dir"/etc/*

	# "postfix start" runs the integrity checks (post-install create-missing,
	# postsuper) and master -w, which returns once the listeners are bound.
	if ! "$POSTFIX" -c "$dir/etc" start; then
		[[ -f $INSTANCE_LOG ]] && tail -n 20 "$INSTANCE_LOG" >&2
		die "postfix -c $dir/etc start failed"
	fi
	local addr
	for addr in "${LISTEN_ADDRS[@]}"; do
		addr=${addr#[}
		wait_for_banner "${addr%]}" "$PORT"
	done
	write_env "$dir"
	log "instance in $dir is up: SMTP on port $PORT, PROXY on port $PROXY_PORT (${LISTEN_ADDRS[*]})"
}

# ------------------------------------------------------------------- stop

# PIDs of processes of the instance: master exports MAIL_CONFIG=<config dir>
# to all its children. Used to make sure nothing (and no socket) is left over.
instance_pids() {
	local conf=$1 env_file pid var
	local -a vars
	for env_file in /proc/[0-9]*/environ; do
		pid=${env_file#/proc/}
		pid=${pid%/environ}
		[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
		# mapfile, not tr/grep: no fork per process (this runs in a loop).
		mapfile -d '' -t vars 2>/dev/null <"$env_file" || continue
		for var in "${vars[@]}"; do
			if [[ $var == "MAIL_CONFIG=$conf" ]]; then
				printf '%s\n' "$pid"
				break
			fi
		done
	done
	return 0
}

stop_instance() {
	local dir=$1 conf=$1/etc pids deadline
	# Never touch a directory that postfix.sh did not set up.
	[[ -f $dir/$MARKER && -f $conf/main.cf ]] || return 0
	if instance_running "$conf"; then
		# postfix-script stop: SIGTERM, waits 5 s, then SIGKILLs the group.
		timeout "$STOP_TIMEOUT" "$POSTFIX" -c "$conf" stop || true
	fi
	deadline=$((SECONDS + STOP_TIMEOUT))
	while pids=$(instance_pids "$conf") && [[ -n $pids ]]; do
		if ((SECONDS >= deadline)); then
			log "killing leftover processes of $dir: $(echo "$pids" | tr '\n' ' ')"
			# shellcheck disable=SC2086 # one PID per word
			kill -KILL $pids 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
}

cmd_stop() {
	require_root
	local dir
	dir=$(instance_dir "$1")
	[[ -x $POSTFIX ]] || return 0
	stop_instance "$dir"
}

# ------------------------------------------------------------------- main

main() {
	local cmd=${1:-}
	case $cmd/$# in
	install/1) cmd_install ;;
	start/2) cmd_start "$2" ;;
	stop/2) cmd_stop "$2" ;;
	*) usage ;;
	esac
}

main "$@"
