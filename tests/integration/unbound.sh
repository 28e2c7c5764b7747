#!/usr/bin/env bash
# Manage a private, throwaway unbound serving the test zone smtpverify.test.
#
#   unbound.sh install                   install the Debian packages (idempotent),
#                                        keep the system unbound stopped
#   unbound.sh start DIR [POSTFIX_PKI]   (re)create and start a private unbound in DIR,
#                                        write DIR/env with what the tests need to know
#   unbound.sh stop DIR                  stop it; never fails if it is not running
#
# Everything of the instance lives in DIR (must be run as root):
#   DIR/unbound.conf  the whole configuration (no include of /etc/unbound)
#   DIR/unbound.pid   pidfile
#   DIR/unbound.log   its log (logfile, plus stderr for early startup errors)
#   DIR/env           shell assignments for the tests (UNBOUND_PORT=… etc.)
#
# The server answers from local data only and never sends a packet to any
# other server: names outside the test zone are REFUSED (local-zone "."
# refuse), and the one upstream it knows, used only for the SERVFAIL name, is
# a closed loopback port that do-not-query-localhost forbids it to query.
#
# The test zone (all TTLs 300 s; the names are also in DIR/env):
#   mail.smtpverify.test             A 127.0.0.1, AAAA ::1
#   probe-ok.smtpverify.test         A 127.0.0.1, AAAA ::1        HELO_OK
#   probe-v4.smtpverify.test         A 127.0.0.1 only             HELO_V4
#   probe-elsewhere.smtpverify.test  A 192.0.2.55 (not us)        HELO_ELSEWHERE
#   probe-noaddr.smtpverify.test     TXT only: NODATA for A/AAAA  HELO_NOADDR
#   probe-nx.smtpverify.test         NXDOMAIN                     HELO_NX
#   servfail.smtpverify.test         SERVFAIL for every type      SERVFAIL
#   PTR 127.0.0.1 and ::1            probe-ok.smtpverify.test
#   smtpverify.test        MX 10 mail                             MX_DOMAIN
#   mx-tie.smtpverify.test MX 10 nowhere (NXDOMAIN), MX 10 mail   MX_TIE
#                          (always in this order: no round robin)
#   mx-order.smtpverify.test MX 20 mail, MX 10 mx1 (A 127.0.0.1)  MX_ORDER
#                          (sent in this order: the client must sort)
#   nullmx.smtpverify.test   MX 0 . (RFC 7505)                    NULLMX
#   dangling.smtpverify.test MX 10 nx-host (NXDOMAIN)             DANGLING
#   nomx.smtpverify.test     A 127.0.0.1, no MX (implicit MX)     NOMX
#   half-dead.smtpverify.test A 127.0.0.1, A 127.0.0.3 (nothing   HALF_DEAD
#                          listens there: one live, one dead address)
# MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) domains, each MX 10 mail, each with
# mta-sts.DOMAIN A 127.0.0.1 (the policy server of mta_sts_test.sh) and
# _mta-sts.DOMAIN TXT "v=STSv1; id=20261204T000000":
#   sts-enforce   + _smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@smtpverify.test"  STS_ENFORCE
#   sts-nomatch   STS_NOMATCH     sts-testing   STS_TESTING      sts-wild   STS_WILD
#   sts-missing   STS_MISSING     sts-badcert   STS_BADCERT
#   sts-badtype   STS_BADTYPE     sts-modenone  STS_MODENONE
#   sts-none      MX 10 mail, no _mta-sts, no _smtp._tls records        STS_NONE
#   sts-double    two v=STSv1 TXT records                                STS_DOUBLE
#   (what each policy server answers: tests/integration/mta_sts_server.py)
# With POSTFIX_PKI (the DIR/pki of a running postfix.sh instance, so start
# unbound after Postfix: its PKI is new on every Postfix start):
#   _10025._tcp.mail.smtpverify.test  TLSA 3 1 1 <SHA-256 of good.pem's key>
#   _10465._tcp.mail.smtpverify.test  the same
#   _10026._tcp.mail.smtpverify.test  TLSA 3 1 1 <wrong: 00…0001>
#   no TLSA for any other port (e.g. _10029._tcp…: NXDOMAIN)
#   (DIR/env: TLSA_HOST, TLSA_SPKI_SHA256, TLSA_GOOD_PORTS, TLSA_WRONG_PORTS;
#   all but TLSA_HOST empty without POSTFIX_PKI)
# No answer has the AD bit: there is no DNSSEC here (hence --dane-insecure).
# Names outside these zones: REFUSED (localhost and the RFC 1918 reverse
# zones keep unbound's built-in local answers).
#
# DIR/env also has UNBOUND_SERVER=127.0.0.1:PORT and UNBOUND_SERVER6=[::1]:PORT
# (empty without IPv6). Self-check of every record over UDP and TCP on both
# addresses: tests/integration/unbound/check_zone.sh DIR.
#
# Environment for "start":
#   UNBOUND_PORT=10053          UDP and TCP port on 127.0.0.1 and [::1]
#   UNBOUND_IPV6=auto|0|1       also listen on [::1] (auto: if ::1 is configured)
#   POSTFIX_PORT=10025          the TLSA owner names follow the Postfix ports
#   POSTFIX_SMTPS_PORT=10465
#   POSTFIX_NOTLS_PORT=10026
set -euo pipefail

readonly UNBOUND=/usr/sbin/unbound
readonly CHECKCONF=/usr/sbin/unbound-checkconf
readonly MARKER=.unbound-sh-instance # marks DIR as ours (safe to overwrite)

readonly ZONE=smtpverify.test
readonly TTL=300
# The reverse zone of ::1: its 32 nibbles, lowest first.
readonly LOOPBACK6_ARPA=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa

# Bounds for waiting on the instance.
readonly START_TIMEOUT=10 # seconds until it must answer
readonly STOP_TIMEOUT=10  # seconds until it must be gone (then SIGKILL)

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

require_root() {
	[[ $(id -u) -eq 0 ]] || die "must run as root (installs packages, binds as root)"
}

require_unbound() {
	[[ -x $UNBOUND && -x $CHECKCONF ]] || die "$UNBOUND not found; run '$0 install' first"
	local tool
	for tool in dig openssl ss; do
		command -v "$tool" >/dev/null || die "$tool not found; run '$0 install' first"
	done
}

# ---------------------------------------------------------------- install

# unbound itself (with unbound-checkconf); bind9-dnsutils for dig (start
# waits with it, and the tests may use it); openssl computes the TLSA data;
# iproute2 for ss (port checks).
readonly PACKAGES=(unbound bind9-dnsutils openssl iproute2)
readonly SERVICE=unbound

# The system unbound must not run: it would resolve through the Internet and
# own port 53. There may be no init system (no systemd as PID 1); then only
# the Debian pidfile identifies it (never kill by process name: a private
# instance of ours or of a parallel test run may be running).
stop_system_instance() {
	if [[ -d /run/systemd/system ]]; then
		systemctl stop unbound.service unbound-resolvconf.service >/dev/null 2>&1 || true
	fi
	local pid
	if [[ -s /run/unbound.pid ]] && read -r pid </run/unbound.pid &&
		[[ $pid =~ ^[0-9]+$ ]] && is_unbound_with_conf "$pid" /etc/unbound/unbound.conf; then
		log "stopping the system unbound (pid $pid)"
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone "$pid" || kill -KILL "$pid" 2>/dev/null || true
	fi
	if [[ -n $(ss -Hlntu 'sport = :53') ]]; then
		log "note: something listens on port 53 (not ours to stop):"
		ss -Hlntup 'sport = :53' >&2 || true
	fi
}

cmd_install() {
	require_root
	install_service "$SERVICE" "${PACKAGES[@]}" || exit
	stop_system_instance
}

# ------------------------------------------------------------- processes

# Is PID an unbound started with "-c CONF"? (The system one may also run
# without -c: CONF /etc/unbound/unbound.conf matches that too.)
# Only bash builtins: this runs for every process on the machine.
#   is_unbound_with_conf PID CONF
is_unbound_with_conf() {
	local pid=$1 conf=$2 i
	local -a argv
	mapfile -d '' -t argv 2>/dev/null <"/proc/$pid/cmdline" || return 1
	# Kernel threads and zombies have an empty command line.
	((${#argv[@]})) && [[ ${argv[0]##*/} == unbound ]] || return 1
	for ((i = 1; i < ${#argv[@]}; i++)); do
		case ${argv[i]} in
		-c) [[ ${argv[i + 1]:-} == "$conf" ]] && return 0 ;;
		-c*) [[ ${argv[i]#-c} == "$conf" ]] && return 0 ;;
		esac
	done
	[[ $conf == /etc/unbound/unbound.conf && ! ${argv[*]:1} =~ (^| )-c ]]
}

# PIDs of unbound processes running with DIR/unbound.conf (normally one).
# Found via /proc, not the pidfile alone: a crash or a second "unbound -d"
# may leave the pidfile stale.
instance_pids() {
	local conf=$1 dir pid
	for dir in /proc/[0-9]*; do
		pid=${dir#/proc/}
		is_unbound_with_conf "$pid" "$conf" && printf '%s\n' "$pid"
	done
	return 0
}

# Is PID running? A zombie is not: its sockets are closed already, and when
# the caller is not its parent (unbound outlives "start"), whoever reaps it
# may take a while (this machine's init: about a second).
running() {
	local stat
	# read, not $(<file): that one ends a "set -e" script if the file is gone.
	{ read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
	# "pid (comm) state ...": comm may contain spaces and parentheses.
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# Wait (bounded) until PID is gone; fails if it is still there.
wait_gone() {
	local pid=$1 deadline=$((SECONDS + STOP_TIMEOUT))
	while running "$pid"; do
		((SECONDS < deadline)) || return 1
		sleep 0.05
	done
}

stop_instance() {
	local dir=$1 conf=$1/unbound.conf pid
	# Never touch a directory that unbound.sh did not set up.
	[[ -f $dir/$MARKER ]] || return 0
	local -a pids
	mapfile -t pids < <(instance_pids "$conf")
	((${#pids[@]})) || return 0
	# SIGTERM: unbound closes its sockets, removes the pidfile and exits at once.
	kill -TERM "${pids[@]}" 2>/dev/null || true
	for pid in "${pids[@]}"; do
		if ! wait_gone "$pid"; then
			log "unbound $pid ignored SIGTERM for ${STOP_TIMEOUT}s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	rm -f "$dir/unbound.pid"
}

# ------------------------------------------------------------------ start

valid_port() {
	[[ $1 =~ ^[1-9][0-9]{0,4}$ ]] && (($1 <= 65535))
}

# UDP or TCP, any address: unbound binds without SO_REUSEPORT (see the
# config), so a clash would fail anyway, but this names the culprit.
port_in_use() {
	[[ -n $(ss -Hlntu "sport = :$1") ]]
}

# The TLSA "3 1 1" data of a certificate: SHA-256 over its DER SubjectPublicKeyInfo.
spki_sha256() {
	local cert=$1 out
	out=$(openssl x509 -in "$cert" -noout -pubkey | openssl pkey -pubin -outform DER |
		openssl dgst -sha256 -hex) || die "cannot hash the public key of $cert"
	# "SHA2-256(stdin)= <hex>" (the label differs between OpenSSL versions).
	out=${out##*= }
	[[ $out =~ ^[0-9a-f]{64}$ ]] || die "unexpected openssl dgst output for $cert: $out"
	printf '%s\n' "$out"
}

# One local-data line: owner (relative to the zone, "@" = apex), type, data.
#   rr OWNER TYPE DATA...
rr() {
	local owner=$1 type=$2
	shift 2
	if [[ $owner == @ ]]; then owner=$ZONE.; else owner=$owner.$ZONE.; fi
	# Single quotes: TXT data has double quotes of its own.
	printf "    local-data: '%s %s IN %s %s'\n" "$owner" "$TTL" "$type" "$*"
}

write_conf() {
	local dir=$1 addr
	# The heredoc's tabs are stripped; the spaces indent unbound.conf.
	cat <<-EOF
		# Generated by tests/integration/unbound.sh: a private unbound that
		# answers only from the local data below and never contacts another server.
		server:
		$(for addr in "${LISTEN_ADDRS[@]}"; do printf '    interface: %s\n' "$addr"; done)
		    port: $PORT
		    do-ip4: yes
		    do-ip6: $([[ $IPV6 -eq 1 ]] && echo yes || echo no)
		    do-udp: yes
		    do-tcp: yes
		$(for addr in "${LISTEN_ADDRS[@]}"; do printf '    access-control: %s allow\n' "$addr"; done)
		    # Another process on this port must make us fail, not share the port.
		    so-reuseport: no

		    # Runs as root in DIR: no user switch, no chroot, no control socket.
		    username: ""
		    chroot: ""
		    directory: "$dir"
		    pidfile: "$dir/unbound.pid"
		    logfile: "$dir/unbound.log"
		    use-syslog: no
		    log-time-ascii: yes
		    verbosity: 1
		    # One line per answer (client, name, type, rcode): the tests can see
		    # which lookups the plugin made.
		    log-replies: yes

		    # Small and single-threaded: it serves a handful of names.
		    num-threads: 1
		    outgoing-range: 16
		    num-queries-per-thread: 32
		    msg-cache-size: 1m
		    rrset-cache-size: 2m
		    key-cache-size: 1m
		    neg-cache-size: 1m

		    # No DNSSEC (no trust anchor, no validator): answers never carry AD.
		    module-config: "iterator"
		    # Records of one RRset leave in the order written below (mx-tie,
		    # mx-order): deterministic tests; clients must shuffle/sort themselves.
		    rrset-roundrobin: no
		    # No recursion and no forwarding, twice over: every name outside the
		    # zones below is REFUSED, and any query that still got past them would
		    # go to the "." forwarder at the end, a loopback address that this
		    # setting forbids to query: SERVFAIL without a single packet sent.
		    do-not-query-localhost: yes
		    prefetch: no

		    local-zone: "." refuse

		    local-zone: "$ZONE." static
		$(rr @ SOA "ns.$ZONE. hostmaster.$ZONE. 1 3600 600 86400 60")
		$(rr mail A 127.0.0.1)
		$(rr mail AAAA ::1)
		$(rr probe-ok A 127.0.0.1)
		$(rr probe-ok AAAA ::1)
		$(rr probe-v4 A 127.0.0.1)
		$(rr probe-elsewhere A 192.0.2.55)
		$(rr probe-noaddr TXT '"no address records here"')
		    # probe-nx, nowhere, nx-host: not here, so NXDOMAIN (static zone).
		$(rr @ MX "10 mail.$ZONE.")
		$(rr mx-tie MX "10 nowhere.$ZONE.")
		$(rr mx-tie MX "10 mail.$ZONE.")
		$(rr mx-order MX "20 mail.$ZONE.")
		$(rr mx-order MX "10 mx1.$ZONE.")
		$(rr mx1 A 127.0.0.1)
		$(rr half-dead A 127.0.0.1)
		$(rr half-dead A 127.0.0.3)
		$(rr nullmx MX "0 .")
		$(rr dangling MX "10 nx-host.$ZONE.")
		$(rr nomx A 127.0.0.1)
		$(write_mta_sts)
		$(write_tlsa)

		    # SERVFAIL: no local data here, so the query goes on to the "."
		    # forwarder, which it may not use (see do-not-query-localhost).
		    local-zone: "servfail.$ZONE." transparent

		    # Reverse lookups of our own addresses. A zone of our own replaces
		    # unbound's default one (which answers "localhost").
		    local-zone: "127.in-addr.arpa." static
		    local-data-ptr: "127.0.0.1 $TTL probe-ok.$ZONE."
		    local-zone: "$LOOPBACK6_ARPA." static
		    local-data-ptr: "::1 $TTL probe-ok.$ZONE."

		remote-control:
		    control-enable: no

		# The only upstream: port 9 (discard) on loopback, never asked.
		forward-zone:
		    name: "."
		    forward-addr: 127.0.0.1@9
		    forward-first: no
	EOF
}

# The MTA-STS and TLS-RPT domains (see the top of this file).
write_mta_sts() {
	local d
	for d in sts-enforce sts-nomatch sts-testing sts-wild sts-missing sts-badcert sts-badtype \
		sts-modenone sts-double; do
		rr "$d" MX "10 mail.$ZONE."
		rr "mta-sts.$d" A 127.0.0.1
		rr "_mta-sts.$d" TXT '"v=STSv1; id=20261204T000000"'
	done
	rr "_mta-sts.sts-double" TXT '"v=STSv1; id=20261205T000000"'
	rr "_smtp._tls.sts-enforce" TXT '"v=TLSRPTv1; rua=mailto:tlsrpt@smtpverify.test"'
	rr sts-none MX "10 mail.$ZONE."
}

# TLSA records for the Postfix listeners, if a PKI was given (TLSA_GOOD,
# computed by cmd_start: this runs in a subshell, where die would not stop us).
write_tlsa() {
	[[ -n $TLSA_GOOD ]] || return 0
	local wrong
	wrong=$(printf '%062d01' 0)
	printf '    # TLSA 3 1 1 (DANE-EE, SPKI, SHA-256) of %s\n' "$PKI/good.pem"
	rr "_$SMTP_PORT._tcp.mail" TLSA "3 1 1 $TLSA_GOOD"
	rr "_$SMTPS_PORT._tcp.mail" TLSA "3 1 1 $TLSA_GOOD"
	printf '    # A wrong hash for the listener without TLS, and for a TLS one (DANE mismatch).\n'
	rr "_$NOTLS_PORT._tcp.mail" TLSA "3 1 1 $wrong"
	rr "_$EXPIRED_PORT._tcp.mail" TLSA "3 1 1 $wrong"
}

# Does SERVER answer mail.ZONE A with 127.0.0.1 over both UDP and TCP?
# (One dig process: query options such as +tcp are per question, the server
# is not.)
answers_udp_and_tcp() {
	local out
	out=$(dig "@$1" -p "$PORT" +time=1 +tries=1 +short \
		"mail.$ZONE" A +notcp "mail.$ZONE" A +tcp 2>/dev/null) || return 1
	[[ $out == $'127.0.0.1\n127.0.0.1' ]]
}

# Wait (bounded) until every listener answers over UDP and TCP; fail early
# if the process died. unbound writes its pidfile once its sockets are open:
# wait for that first (no fork per round), so that no dig is sent before,
# only to wait for its 1 s timeout.
wait_for_answers() {
	local pid=$1 deadline=$((SECONDS + START_TIMEOUT)) addr written=""
	local -a pending=("${LISTEN_ADDRS[@]}") still
	while ((${#pending[@]})); do
		running "$pid" || {
			tail -n 20 "$INSTANCE_LOG" >&2
			die "unbound exited during startup; see $INSTANCE_LOG"
		}
		((SECONDS < deadline)) || {
			tail -n 20 "$INSTANCE_LOG" >&2
			die "no answer from ${pending[*]} port $PORT (UDP and TCP) within ${START_TIMEOUT}s; see $INSTANCE_LOG"
		}
		if [[ $written != "$pid" ]]; then
			{ read -r written <"$PID_FILE"; } 2>/dev/null || true
			[[ $written == "$pid" ]] || {
				sleep 0.01
				continue
			}
		fi
		still=()
		for addr in "${pending[@]}"; do
			answers_udp_and_tcp "$addr" || still+=("$addr")
		done
		pending=("${still[@]}")
		((${#pending[@]})) && sleep 0.05
	done
	return 0
}

write_env() {
	local dir=$1 server6=""
	[[ $IPV6 -eq 1 ]] && server6="[::1]:$PORT"
	{
		printf '# Written by tests/integration/unbound.sh start\n'
		printf '%s=%q\n' \
			UNBOUND_DIR "$dir" \
			UNBOUND_PORT "$PORT" \
			UNBOUND_SERVER "127.0.0.1:$PORT" \
			UNBOUND_SERVER6 "$server6" \
			UNBOUND_IPV6 "$IPV6" \
			UNBOUND_LOG "$INSTANCE_LOG" \
			UNBOUND_ZONE "$ZONE" \
			HELO_OK "probe-ok.$ZONE" \
			HELO_V4 "probe-v4.$ZONE" \
			HELO_ELSEWHERE "probe-elsewhere.$ZONE" \
			HELO_NOADDR "probe-noaddr.$ZONE" \
			HELO_NX "probe-nx.$ZONE" \
			SERVFAIL "servfail.$ZONE" \
			MX_DOMAIN "$ZONE" \
			MX_HOST "mail.$ZONE" \
			MX_TIE "mx-tie.$ZONE" \
			MX_ORDER "mx-order.$ZONE" \
			NULLMX "nullmx.$ZONE" \
			DANGLING "dangling.$ZONE" \
			NOMX "nomx.$ZONE" \
			HALF_DEAD "half-dead.$ZONE" \
			STS_ENFORCE "sts-enforce.$ZONE" \
			STS_NOMATCH "sts-nomatch.$ZONE" \
			STS_TESTING "sts-testing.$ZONE" \
			STS_WILD "sts-wild.$ZONE" \
			STS_MISSING "sts-missing.$ZONE" \
			STS_BADCERT "sts-badcert.$ZONE" \
			STS_NONE "sts-none.$ZONE" \
			STS_BADTYPE "sts-badtype.$ZONE" \
			STS_MODENONE "sts-modenone.$ZONE" \
			STS_DOUBLE "sts-double.$ZONE" \
			TLSA_HOST "mail.$ZONE" \
			TLSA_SPKI_SHA256 "$TLSA_GOOD" \
			TLSA_GOOD_PORTS "${TLSA_GOOD:+$SMTP_PORT $SMTPS_PORT}" \
			TLSA_WRONG_PORTS "${TLSA_GOOD:+$NOTLS_PORT $EXPIRED_PORT}"
	} >"$dir/env"
}

cmd_start() {
	require_root
	require_unbound
	local dir
	dir=$(instance_dir "$1")
	INSTANCE_LOG=$dir/unbound.log
	PID_FILE=$dir/unbound.pid
	PKI="" TLSA_GOOD=""
	if [[ -n ${2:-} ]]; then
		PKI=$(realpath -e -- "$2" 2>/dev/null) || die "no such PKI directory: $2"
		[[ -r $PKI/good.pem ]] || die "$PKI/good.pem not found (the DIR/pki of postfix.sh start)"
		TLSA_GOOD=$(spki_sha256 "$PKI/good.pem")
	fi

	PORT=${UNBOUND_PORT:-10053}
	SMTP_PORT=${POSTFIX_PORT:-10025}
	SMTPS_PORT=${POSTFIX_SMTPS_PORT:-10465}
	NOTLS_PORT=${POSTFIX_NOTLS_PORT:-10026}
	EXPIRED_PORT=${POSTFIX_EXPIRED_PORT:-10028}
	local port
	for port in "$PORT" "$SMTP_PORT" "$SMTPS_PORT" "$NOTLS_PORT" "$EXPIRED_PORT"; do
		valid_port "$port" || die "bad port number: $port"
	done
	case ${UNBOUND_IPV6:-auto} in
	auto) if ipv6_loopback_works; then IPV6=1; else IPV6=0; fi ;;
	0 | 1) IPV6=$UNBOUND_IPV6 ;;
	*) die "UNBOUND_IPV6 must be auto, 0 or 1" ;;
	esac
	LISTEN_ADDRS=(127.0.0.1)
	[[ $IPV6 -eq 1 ]] && LISTEN_ADDRS+=(::1)

	# Only ever write into a directory that is empty or one of ours.
	mkdir -p "$dir"
	if [[ ! -f $dir/$MARKER && -n $(ls -A "$dir") ]]; then
		die "$dir is neither empty nor an unbound.sh instance directory"
	fi
	touch "$dir/$MARKER"

	# Idempotent: a running instance in DIR is stopped and rebuilt.
	stop_instance "$dir"
	port_in_use "$PORT" && die "port $PORT is already in use: $(ss -Hlntup "sport = :$PORT")"
	rm -f "$dir/unbound.conf" "$dir/unbound.log" "$dir/unbound.pid" "$dir/env"

	write_conf "$dir" >"$dir/unbound.conf"
	local out
	out=$("$CHECKCONF" "$dir/unbound.conf" 2>&1) || {
		printf '%s\n' "$out" >&2
		die "unbound-checkconf rejected $dir/unbound.conf"
	}

	# -d: stay in the foreground (no fork, so $! is unbound itself); setsid
	# and the redirections detach it from the caller's session and pipes
	# (CTest waits for the pipes of a test to close), so every other
	# inherited descriptor is closed too. Early errors go to stderr, later
	# messages to the logfile: both end up in unbound.log.
	(
		for fd in /proc/"$BASHPID"/fd/*; do
			fd=${fd##*/}
			((fd > 2)) && exec {fd}>&-
		done
		exec setsid "$UNBOUND" -d -c "$dir/unbound.conf" </dev/null >>"$INSTANCE_LOG" 2>&1
	) &
	local pid=$!
	wait_for_answers "$pid"
	write_env "$dir"
	log "unbound (pid $pid) in $dir answers on ${LISTEN_ADDRS[*]} port $PORT (UDP, TCP)" \
		"for $ZONE${TLSA_GOOD:+, with TLSA for ports $SMTP_PORT $SMTPS_PORT (good) and $NOTLS_PORT (wrong)}"
}

# ------------------------------------------------------------------- stop

cmd_stop() {
	require_root
	local dir
	dir=$(instance_dir "$1")
	stop_instance "$dir"
}

# ------------------------------------------------------------------- main

instance_main 2 "$@"
