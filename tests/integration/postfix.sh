#!/usr/bin/env bash
# Manage a private, throwaway Postfix instance for the integration tests.
#
#   postfix.sh install      install the Debian packages (idempotent), keep the
#                           system instance stopped
#   postfix.sh start DIR    (re)create and start a private instance in DIR,
#                           write DIR/env with what the tests need to know
#   postfix.sh stop DIR     stop that instance; never fails if it is not running
#
# Everything of the instance lives in DIR (must be run as root):
#   DIR/etc/      main.cf, master.cf, recipients   (config_directory)
#   DIR/etc/sasl/ Cyrus SASL: smtpd.conf and the sasldb2 password file
#   DIR/queue/    queue_directory
#   DIR/data/     data_directory (master.lock etc.)
#   DIR/mail/     Maildirs of the accepted local recipients
#   DIR/pki/      the test PKI, made afresh by every "start" (see write_pki)
#   DIR/authpass  the AUTH password of probe@smtpverify.test (0600, no newline)
#   DIR/maillog   the Postfix log (maillog_file, no syslog needed)
#   DIR/env       shell assignments for the tests (POSTFIX_PORT=… etc.)
#
# The instance talks to nobody but its loopback clients: no DNS anywhere,
# no SMTP client (mail for other domains goes to the "error" transport),
# and mail for the one local recipient ends up as a file in DIR/mail.
#
# Listeners (each on 127.0.0.1 and, if available, [::1]). All certificates
# are for mail.smtpverify.test (also localhost, 127.0.0.1, ::1), issued by
# an intermediate of the root CA DIR/pki/root.pem, sent with the intermediate.
# AUTH PLAIN/LOGIN is offered only inside TLS.
#   10025  plain SMTP, offers STARTTLS (good certificate)
#   10465  implicit TLS, "wrappermode" (good certificate)
#   10026  no TLS at all: EHLO lists no STARTTLS
#   10027  PROXY protocol: never speaks (see below)
#   10028  STARTTLS with a certificate that expired 30 days ago
#   10029  STARTTLS with a certificate that expires in 20 days
#   10030  TLS only (smtpd_tls_security_level=encrypt, smtpd_tls_auth_only=yes):
#          offers STARTTLS, answers MAIL before it "530 5.7.0 Must issue a
#          STARTTLS command first" and AUTH only inside TLS (submission style)
#
# Environment overrides for "start":
#   POSTFIX_PORT=10025          plain SMTP listener (with STARTTLS)
#   POSTFIX_SMTPS_PORT=10465    implicit TLS listener
#   POSTFIX_NOTLS_PORT=10026    listener without TLS
#   POSTFIX_EXPIRED_PORT=10028  STARTTLS listener, expired certificate
#   POSTFIX_SOON_PORT=10029     STARTTLS listener, certificate expiring soon
#   POSTFIX_TLSONLY_PORT=10030  STARTTLS listener that refuses everything before TLS
#   POSTFIX_PROXY_PORT=10027    smtpd behind "haproxy" PROXY protocol: it waits
#                               silently for a PROXY header ("never speaks")
#   POSTFIX_PROXY_TIMEOUT=30s   how long that listener waits before hanging up
#   POSTFIX_IPV6=auto|0|1       also listen on [::1] (auto: if ::1 is configured)
set -euo pipefail

readonly POSTFIX=/usr/sbin/postfix
readonly MARKER=.postfix-sh-instance # marks DIR as ours (safe to wipe)

readonly MY_HOSTNAME=mail.smtpverify.test
readonly MY_DOMAIN=smtpverify.test
readonly LOCAL_RCPT=probe@smtpverify.test
readonly UNKNOWN_RCPT=nosuchuser@smtpverify.test
readonly FOREIGN_RCPT=someone@example.com
# The AUTH account is the local mailbox's address (user@realm in sasldb).
readonly AUTH_USER=$LOCAL_RCPT

# Bounds for waiting on the instance.
readonly START_TIMEOUT=15 # seconds until the 220 banner must be there
readonly STOP_TIMEOUT=15  # seconds until all processes must be gone

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (Postfix's master runs as root)"
}

require_postfix() {
	[[ -x $POSTFIX ]] || die "$POSTFIX not found; run '$0 install' first"
	local tool
	for tool in openssl saslpasswd2; do
		command -v "$tool" >/dev/null || die "$tool not found; run '$0 install' first"
	done
}

# ---------------------------------------------------------------- install

# Debian packages the instance needs: Postfix itself; openssl (the CLI makes
# the test PKI); Cyrus SASL's PLAIN/LOGIN and sasldb plugins (libsasl2-modules,
# which pulls in libsasl2-modules-db) and saslpasswd2 (sasl2-bin) for AUTH.
readonly PACKAGES=(postfix openssl libsasl2-modules sasl2-bin)
readonly SERVICE=postfix

# Before the packages are installed: what their maintainer scripts ask and look up.
preseed_postfix() {
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
	[[ -z $(missing_packages "${PACKAGES[@]}") ]] || preseed_postfix
	# sasl2-bin ships saslauthd's init script: not started either (and not
	# needed: smtpd reads the sasldb file itself).
	install_service "$SERVICE" "${PACKAGES[@]}" || exit
	stop_system_instance
}

# ------------------------------------------------------------------ start

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
	local dir=$1 pki=$1/pki
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
			# TLS session cache, ticket keys and PRNG seed for every smtpd.
			tlsmgr    unix  -       -       n       1000?   1       tlsmgr
			# maillog_file needs the postlog service (postfix check insists on it).
			postlog   unix-dgram n  -       n       -       1       postlogd
			# ---- SMTP listeners
		EOF
		# Offers STARTTLS with the good certificate (main.cf's defaults).
		smtpd_listener smtp "$PORT"
		# Waits silently for a PROXY v1/v2 header: "a server that never speaks".
		smtpd_listener proxy "$PROXY_PORT" \
			smtpd_upstream_proxy_protocol=haproxy \
			"smtpd_upstream_proxy_timeout=$PROXY_TIMEOUT"
		# Implicit TLS ("SMTPS", like port 465): the handshake comes first.
		smtpd_listener smtps "$SMTPS_PORT" \
			smtpd_tls_wrappermode=yes \
			smtpd_tls_security_level=encrypt
		smtpd_listener notls "$NOTLS_PORT" \
			smtpd_tls_security_level=none
		smtpd_listener expired "$EXPIRED_PORT" \
			"smtpd_tls_chain_files=$pki/expired-chain.pem"
		smtpd_listener soon "$SOON_PORT" \
			"smtpd_tls_chain_files=$pki/soon-chain.pem"
		# A TLS-only promise (RFC 3207 §4), as on a submission port: no mail and no
		# AUTH before STARTTLS (auth_only is main.cf's too; said here so the
		# listener keeps its promise whatever main.cf says).
		smtpd_listener tlsonly "$TLSONLY_PORT" \
			smtpd_tls_security_level=encrypt \
			smtpd_tls_auth_only=yes
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

		# TLS: STARTTLS offered with the good certificate, sent with its
		# intermediate (key first, then leaf, then intermediate in one file);
		# master.cf overrides this per listener. smtpd reads the file as root
		# before it drops privileges, so it stays root-only. Log level 1 puts
		# each handshake (protocol, cipher, "Anonymous" or not) in the maillog.
		smtpd_tls_chain_files = $dir/pki/good-chain.pem
		smtpd_tls_security_level = may
		smtpd_tls_loglevel = 1

		# AUTH PLAIN/LOGIN, offered only after TLS (never on the listener
		# without TLS): Cyrus SASL inside smtpd checks DIR/etc/sasl/sasldb2 itself,
		# so neither saslauthd nor Dovecot has to run. Authenticating grants
		# nothing (no permit_sasl_authenticated above): every client gets the
		# same 550/554 replies.
		smtpd_sasl_auth_enable = yes
		smtpd_sasl_type = cyrus
		smtpd_sasl_path = smtpd
		# Debian's smtpd 3.7 looks for smtpd.conf only in \$config_directory/sasl
		# and /usr/lib/sasl, whatever this says (seen with strace); other
		# builds need it.
		cyrus_sasl_config_path = $dir/etc/sasl
		smtpd_tls_auth_only = yes

		biff = no
		append_dot_mydomain = no
	EOF
	# texthash: read as-is, no postmap needed. Left column: accepted address;
	# right column: its Maildir (trailing slash) relative to DIR/mail.
	printf '%s %s/\n' "$LOCAL_RCPT" "${LOCAL_RCPT%@*}" >"$dir/etc/recipients"
}

# openssl's "ca" command can set a certificate's dates freely (OpenSSL 3.0's
# "x509 -req" has only -days from now), so it signs everything here, even
# the self-signed root. Its config is ours: nothing of /etc/ssl/openssl.cnf.
write_ca_cnf() {
	local ca=$1
	cat <<-EOF
		# Generated by tests/integration/postfix.sh: the test CA of one start.
		[ca]
		default_ca = test_ca

		[test_ca]
		database = $ca/index.txt
		serial = $ca/serial
		new_certs_dir = $ca
		default_md = sha256
		policy = policy_any
		# The three leaves share one subject.
		unique_subject = no
		email_in_dn = no

		[policy_any]
		commonName = supplied

		[req]
		prompt = no
		distinguished_name = req_dn

		# Always replaced by -subj.
		[req_dn]
		CN = unused

		[ext_root]
		basicConstraints = critical, CA:TRUE
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash

		[ext_intermediate]
		basicConstraints = critical, CA:TRUE, pathlen:0
		keyUsage = critical, keyCertSign, cRLSign
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid:always

		[ext_leaf]
		basicConstraints = critical, CA:FALSE
		keyUsage = critical, digitalSignature
		extendedKeyUsage = serverAuth
		subjectAltName = DNS:$MY_HOSTNAME, DNS:localhost, IP:127.0.0.1, IP:::1
		subjectKeyIdentifier = hash
		authorityKeyIdentifier = keyid:always
	EOF
}

# openssl SUBCOMMAND ARGS... with the test CA's config; its chatter is shown
# only if it fails.
pki_openssl() {
	local out
	out=$(openssl "$@" -config "$PKI_CONFIG" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "openssl $1 failed while making the test PKI"
	}
}

# An EC P-256 key (fast to make, unlike RSA) and a request for it.
#   pki_key_and_csr KEY CSR SUBJECT
pki_key_and_csr() {
	pki_openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1" -out "$2" -subj "$3"
}

# Sign CSR with the issuer's certificate and key ("self": selfsign with KEY).
#   pki_sign CSR ISSUER_CERT|self ISSUER_KEY EXTENSIONS FROM UNTIL OUT
# FROM and UNTIL are seconds from now (negative: in the past).
pki_sign() {
	local csr=$1 cert=$2 key=$3 ext=$4 from until out=$7
	# printf's %(...)T in UTC, not date(1): no process per date.
	TZ=UTC0 printf -v from '%(%Y%m%d%H%M%S)TZ' "$((EPOCHSECONDS + $5))"
	TZ=UTC0 printf -v until '%(%Y%m%d%H%M%S)TZ' "$((EPOCHSECONDS + $6))"
	local -a issuer=(-cert "$cert")
	[[ $cert == self ]] && issuer=(-selfsign)
	pki_openssl ca -batch -notext -rand_serial "${issuer[@]}" -keyfile "$key" \
		-in "$csr" -extensions "$ext" -startdate "$from" -enddate "$until" -out "$out"
}

# The test PKI, made afresh by every start (the dates are relative to now):
#   DIR/pki/root.pem            root CA "smtpverify test root" (POSTFIX_CA_FILE)
#   DIR/pki/intermediate.pem    the CA that issued the leaves
#   DIR/pki/leaf.key            the key of all three leaves
#   DIR/pki/good.pem            leaf, valid since 1 hour ago for 90 days
#   DIR/pki/expired.pem         leaf, valid from 120 until 30 days ago
#   DIR/pki/soon.pem            leaf, valid since 70 days ago, ends in 20 days
#   DIR/pki/NAME-chain.pem      key, leaf NAME, intermediate: what smtpd serves
#   DIR/pki/ca/                 CA keys, requests and openssl's CA database
# The CAs date from a year ago so that they cover every leaf's validity.
write_pki() {
	local pki=$1/pki ca=$1/pki/ca name
	local -r hour=3600 day=86400
	install -d -m 0755 "$pki"
	install -d -m 0700 "$ca"
	PKI_CONFIG=$ca/ca.cnf
	write_ca_cnf "$ca" >"$PKI_CONFIG"
	: >"$ca/index.txt"

	pki_key_and_csr "$ca/root.key" "$ca/root.csr" "/CN=smtpverify test root"
	pki_sign "$ca/root.csr" self "$ca/root.key" ext_root \
		$((-365 * day)) $((3650 * day)) "$pki/root.pem"
	pki_key_and_csr "$ca/intermediate.key" "$ca/intermediate.csr" \
		"/CN=smtpverify test intermediate"
	pki_sign "$ca/intermediate.csr" "$pki/root.pem" "$ca/root.key" ext_intermediate \
		$((-365 * day)) $((3650 * day)) "$pki/intermediate.pem"

	# One key and request for the three leaves: they differ only in dates.
	pki_key_and_csr "$pki/leaf.key" "$ca/leaf.csr" "/CN=$MY_HOSTNAME"
	local -a sign_leaf=("$ca/leaf.csr" "$pki/intermediate.pem" "$ca/intermediate.key" ext_leaf)
	pki_sign "${sign_leaf[@]}" $((-hour)) $((90 * day)) "$pki/good.pem"
	pki_sign "${sign_leaf[@]}" $((-120 * day)) $((-30 * day)) "$pki/expired.pem"
	pki_sign "${sign_leaf[@]}" $((-70 * day)) $((20 * day)) "$pki/soon.pem"
	for name in good expired soon; do
		(
			umask 077
			cat "$pki/leaf.key" "$pki/$name.pem" "$pki/intermediate.pem" >"$pki/$name-chain.pem"
		)
	done
}

# Cyrus SASL for smtpd (see cyrus_sasl_config_path): PLAIN and LOGIN against
# a sasldb2 file holding one account with a password new each start.
write_sasl() {
	local dir=$1 sasl=$1/etc/sasl pass
	install -d -o root -g root -m 0755 "$sasl"
	cat >"$sasl/smtpd.conf" <<-EOF
		pwcheck_method: auxprop
		auxprop_plugin: sasldb
		sasldb_path: $sasl/sasldb2
		mech_list: PLAIN LOGIN
	EOF
	pass=$(openssl rand -hex 12)
	# No trailing newline: "$(cat authpass)" and reading the whole file agree.
	(
		umask 077
		printf '%s' "$pass" >"$dir/authpass"
	)
	# sasldb2 stores user and realm apart; a client's "user@realm" is split
	# the same way when it logs in.
	printf '%s' "$pass" |
		saslpasswd2 -p -c -f "$sasl/sasldb2" -u "${AUTH_USER#*@}" "${AUTH_USER%@*}" ||
		die "saslpasswd2 failed"
	# smtpd opens it after dropping privileges to user postfix.
	chgrp postfix "$sasl/sasldb2"
	chmod 0640 "$sasl/sasldb2"
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
			POSTFIX_SMTPS_PORT "$SMTPS_PORT" \
			POSTFIX_NOTLS_PORT "$NOTLS_PORT" \
			POSTFIX_EXPIRED_PORT "$EXPIRED_PORT" \
			POSTFIX_SOON_PORT "$SOON_PORT" \
			POSTFIX_TLSONLY_PORT "$TLSONLY_PORT" \
			POSTFIX_ADDRS "$addrs" \
			POSTFIX_IPV6 "$IPV6" \
			POSTFIX_HOSTNAME "$MY_HOSTNAME" \
			POSTFIX_LOCAL_RCPT "$LOCAL_RCPT" \
			POSTFIX_UNKNOWN_RCPT "$UNKNOWN_RCPT" \
			POSTFIX_FOREIGN_RCPT "$FOREIGN_RCPT" \
			POSTFIX_MAILDIR "$dir/mail/${LOCAL_RCPT%@*}" \
			POSTFIX_MAILLOG "$dir/maillog" \
			POSTFIX_TLS_NAME "$MY_HOSTNAME" \
			POSTFIX_CA_FILE "$dir/pki/root.pem" \
			POSTFIX_PKI_DIR "$dir/pki" \
			POSTFIX_AUTH_USER "$AUTH_USER" \
			POSTFIX_AUTHPASS_FILE "$dir/authpass"
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
	SMTPS_PORT=${POSTFIX_SMTPS_PORT:-10465}
	NOTLS_PORT=${POSTFIX_NOTLS_PORT:-10026}
	EXPIRED_PORT=${POSTFIX_EXPIRED_PORT:-10028}
	SOON_PORT=${POSTFIX_SOON_PORT:-10029}
	TLSONLY_PORT=${POSTFIX_TLSONLY_PORT:-10030}
	PROXY_TIMEOUT=${POSTFIX_PROXY_TIMEOUT:-30s}
	local -a ports=("$PORT" "$PROXY_PORT" "$SMTPS_PORT" "$NOTLS_PORT" "$EXPIRED_PORT" "$SOON_PORT"
		"$TLSONLY_PORT")
	local port
	for port in "${ports[@]}"; do
		if [[ ! $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port < 1 || port > 65535)); then
			die "bad port number: $port"
		fi
	done
	# Every listener is a service of its own: one port each.
	[[ $(printf '%s\n' "${ports[@]}" | sort -u | wc -l) -eq ${#ports[@]} ]] ||
		die "the listener ports must differ: ${ports[*]}"
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
	for port in "${ports[@]}"; do
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

	rm -rf "${dir:?}/etc" "$dir/queue" "$dir/data" "$dir/mail" "$dir/maillog" "$dir/env" \
		"$dir/pki" "$dir/authpass"
	# Config and queue top directory must be root-owned (postfix check warns
	# otherwise); post-install creates the queue subdirectories and data_directory
	# with the right owners (postfix, group postdrop) during "postfix start".
	install -d -o root -g root -m 0755 "$dir/etc" "$dir/queue"
	MAIL_UID=$(id -u nobody)
	MAIL_GID=$(id -g nobody)
	install -d -o "$MAIL_UID" -g "$MAIL_GID" -m 0755 "$dir/mail"
	write_pki "$dir"
	write_sasl "$dir"
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
	log "instance in $dir is up (${LISTEN_ADDRS[*]}): SMTP+STARTTLS on port $PORT," \
		"implicit TLS on $SMTPS_PORT, no TLS on $NOTLS_PORT, PROXY on $PROXY_PORT," \
		"expired certificate on $EXPIRED_PORT, expiring certificate on $SOON_PORT," \
		"TLS only on $TLSONLY_PORT"
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

instance_main 1 "$@"
