#!/usr/bin/env bash
# Benchmark (issue 8): check_smtp_verify against Debian's check_smtp / check_ssmtp
# (monitoring-plugins-basic), alternating, on the same work against one private local Postfix.
# Prints a Markdown table: instructions (callgrind), median CPU and wall, median peak RSS, the
# ratios ours/theirs and the issues' targets, the round trips through a 20 ms-each-way delay
# proxy (delay_proxy.py, issue 18), then per-phase medians of ours, then the in-flight memory
# of 40 concurrent checks of each tool (inflight.py, issue 18; its own server and ports).
#
#   tests/bench/run.sh [--runs N] [--plugin LABEL=PATH]... [--out FILE] [--callgrind-dir DIR]
#                      [--jobs J]
#
#   --runs N             alternating runs per tool and scenario (default 30)
#   --plugin LABEL=PATH  bench this binary of ours (repeatable) instead of building; the
#                        labels "default" and "static" get that build's targets
#   --out FILE           also write the table to FILE
#   --callgrind-dir DIR  keep the callgrind.out files there (for callgrind_annotate)
#   --jobs J             build parallelism (default: nproc)
#
# Without --plugin it builds the checkout twice: build/bench-default (RelWithDebInfo, as distros
# ship it) and build/bench-static (-DSMTPVERIFY_STATIC_RUNTIME=ON). Must run as root on Debian 12
# (Postfix's master runs as root; missing packages are installed with apt-get).
#
# Ports: the first wholly free block of BASE+25 (STARTTLS), +26 (no TLS), +27 (PROXY), +465
# (implicit TLS), +28, +29 (certificate tests), +30 (TLS only) and +53 (unbound) for BASE =
# 13000, 14000, ... 19000 (never the test suite's 10025..). Given any of POSTFIX_PORT,
# POSTFIX_NOTLS_PORT, POSTFIX_PROXY_PORT, POSTFIX_SMTPS_PORT, POSTFIX_EXPIRED_PORT,
# POSTFIX_SOON_PORT, POSTFIX_TLSONLY_PORT, UNBOUND_PORT in the environment, those are used and
# the rest default to 13025 and so on.
#
# No DNS query ever leaves for the system's resolver: -H is 127.0.0.1, ours runs with
# --helo-dns ignore or --dns-server 127.0.0.1:$UNBOUND_PORT, and strace checks that no tool
# sends anything to port 53.
#
# Exit status: 0 when every run returned OK (whatever the figures: they are not tests),
# 1 when a run of either tool did not return OK, 2 when the setup failed.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

# shellcheck source=tests/lib.sh disable=SC2119 # usage: the whole header
source "$root/tests/lib.sh"
DIE_STATUS=2 # a setup failure


runs=30
jobs=$(nproc)
out=""
callgrind_dir=""
plugins=()
while (($#)); do
	case $1 in
	--runs) runs=${2:?}; shift 2 ;;
	--runs=*) runs=${1#*=}; shift ;;
	--plugin) plugins+=("${2:?}"); shift 2 ;;
	--plugin=*) plugins+=("${1#*=}"); shift ;;
	--out) out=${2:?}; shift 2 ;;
	--out=*) out=${1#*=}; shift ;;
	--callgrind-dir) callgrind_dir=${2:?}; shift 2 ;;
	--callgrind-dir=*) callgrind_dir=${1#*=}; shift ;;
	--jobs | -j) jobs=${2:?}; shift 2 ;;
	--jobs=*) jobs=${1#*=}; shift ;;
	-h | --help) usage ;;
	*) log "unknown argument: $1"; usage ;;
	esac
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive number"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs wants a positive number"
for p in "${plugins[@]}"; do
	[[ $p == ?*=?* ]] || die "--plugin wants LABEL=PATH, got '$p'"
	[[ -x ${p#*=} ]] || die "not an executable: ${p#*=}"
done
[[ $(id -u) -eq 0 ]] || die "must run as root (the private Postfix's master runs as root)"
[[ -f /etc/debian_version ]] || die "needs Debian (apt-get, monitoring-plugins-basic)"

# ------------------------------------------------------------------ packages

need=(valgrind time monitoring-plugins-basic strace python3 iproute2)
((${#plugins[@]})) || need+=(cmake make g++ pkg-config libboost-program-options-dev libssl-dev
	libc-ares-dev libexpected-dev nlohmann-json3-dev)
install_missing "${need[@]}" || die "apt-get install failed"
bash "$root/tests/integration/postfix.sh" install >&2 || die "postfix.sh install failed"
bash "$root/tests/integration/unbound.sh" install >&2 || die "unbound.sh install failed"

# ------------------------------------------------------------------ ports

port_vars=(POSTFIX_PORT POSTFIX_NOTLS_PORT POSTFIX_PROXY_PORT POSTFIX_SMTPS_PORT
	POSTFIX_EXPIRED_PORT POSTFIX_SOON_PORT POSTFIX_TLSONLY_PORT UNBOUND_PORT)
port_offsets=(25 26 27 465 28 29 30 53)
port_free() { [[ -z $(ss -Hlntu "sport = :$1") ]]; }
# set_ports BASE: every variable not given in the environment becomes BASE + its offset.
set_ports() {
	local i
	for i in "${!port_vars[@]}"; do
		declare -gx "${port_vars[i]}=${!port_vars[i]:-$(($1 + port_offsets[i]))}"
	done
}
given=0
for v in "${port_vars[@]}"; do [[ -n ${!v:-} ]] && given=1; done
if ((given)); then
	set_ports 13000
else
	# The first block of 13000.., 14000.., ... 19000.. that is wholly free.
	for base in 13000 14000 15000 16000 17000 18000 19000; do
		all_free=1
		for off in "${port_offsets[@]}"; do port_free $((base + off)) || all_free=0; done
		((all_free)) && break
	done
	((all_free)) || die "no free block of ports in 13000..19999; set POSTFIX_*_PORT and UNBOUND_PORT"
	set_ports "$base"
fi
for v in "${port_vars[@]}"; do
	port=${!v}
	if [[ ! $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65535)); then
		die "bad port number: $v=$port"
	fi
	port_free "$port" || die "port $port ($v) is in use (another bench or test run?)"
done
log "ports: $(for v in "${port_vars[@]}"; do printf '%s=%s ' "$v" "${!v}"; done)"

# ------------------------------------------------------------------ builds

# build LABEL CMAKE_ARGS...: configure and build build/bench-LABEL; prints the binary's path.
build() {
	local label=$1 dir=$root/build/bench-$1
	shift
	log "building $label in ${dir#"$root"/} (${*:-no extra cmake options})"
	mkdir -p "$dir"
	if ! cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSMTPVERIFY_BUILD_TESTS=OFF \
		"$@" >"$dir/bench-build.log" 2>&1 ||
		! cmake --build "$dir" -j "$jobs" >>"$dir/bench-build.log" 2>&1; then
		tail -n 30 "$dir/bench-build.log" >&2
		die "the $label build failed; see $dir/bench-build.log"
	fi
	[[ -x $dir/plugin/check_smtp_verify ]] || die "no $dir/plugin/check_smtp_verify after the build"
	printf '%s\n' "$dir/plugin/check_smtp_verify"
}

notes=()
if ((${#plugins[@]} == 0)); then
	start_build=$SECONDS
	plugins+=("default=$(build default)")
	plugins+=("static=$(build static -DSMTPVERIFY_STATIC_RUNTIME=ON)")
	# An option this checkout does not know stays UNINITIALIZED in the cache.
	if grep -q '^SMTPVERIFY_STATIC_RUNTIME:UNINITIALIZED=' "$root/build/bench-static/CMakeCache.txt"; then
		notes+=("**Note:** this checkout has no SMTPVERIFY_STATIC_RUNTIME option: the \"static\" build is the default one.")
		log "warning: SMTPVERIFY_STATIC_RUNTIME is unknown to this checkout; static = default"
	fi
	log "builds done in $((SECONDS - start_build)) s"
fi

# ------------------------------------------------------------------ services

work=$(mktemp -d /tmp/smtpverify-bench.XXXXXX)
chmod 0755 "$work" # Postfix's unprivileged processes must reach their queue below it
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	local rc=$?
	bash "$root/tests/integration/unbound.sh" stop "$work/unbound" >&2 || true
	bash "$root/tests/integration/postfix.sh" stop "$work/postfix" >&2 || true
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 2' INT TERM HUP

bash "$root/tests/integration/postfix.sh" start "$work/postfix" >&2 || die "postfix.sh start failed"
bash "$root/tests/integration/unbound.sh" start "$work/unbound" "$work/postfix/pki" >&2 ||
	die "unbound.sh start failed"
set -a
# shellcheck source=/dev/null
source "$work/postfix/env"
# shellcheck source=/dev/null
source "$work/unbound/env"
set +a

# ------------------------------------------------------------------ floors

# Programs that speak no SMTP (tests/bench/floor/), built like the default build links: what
# loading Debian's libstdc++ and Boost.Program_options costs on this machine before the plugin
# does anything, beside check_smtp's whole plain check. Skipped (with a note) without g++.
floors=()
if command -v g++ >/dev/null; then
	mkdir -p "$work/floor"
	if g++ -std=c++20 -O2 -o "$work/floor/libstdcxx" "$here/floor/libstdcxx.cpp" &&
		g++ -std=c++20 -O2 -o "$work/floor/boost_po" "$here/floor/boost_po.cpp" \
			-lboost_program_options; then
		floors+=("libstdcxx=0=C++ \`main\`, Debian's libstdc++ linked dynamically (floor/libstdcxx.cpp)=$work/floor/libstdcxx")
		floors+=("boost_po=0=the same + Boost.Program_options (dynamic) parsing \`-H 127.0.0.1 -p 25\` (floor/boost_po.cpp)=$work/floor/boost_po -H 127.0.0.1 -p 25")
	else
		notes+=("**Note:** the floor programs did not build; no floors in this table.")
	fi
fi
for p in "${plugins[@]}"; do
	floors+=("ours-${p%%=*}=3=ours: ${p%%=*}, \`--version\` (parses, prints, exits 3)=${p#*=} --version")
done

# ------------------------------------------------------------------ machine and versions

first_line() { "$@" 2>&1 | head -n1 || true; }
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
machine="Machine: $(nproc) CPUs (${cpu:-unknown CPU}), Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg) at the start."
rev=$(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)
versions="Versions: check_smtp_verify $rev; $(first_line /usr/lib/nagios/plugins/check_smtp -V);"
versions+=" $(first_line openssl version | cut -d' ' -f1-2); Postfix $(dpkg-query -W -f='${Version}' postfix);"
versions+=" $(first_line valgrind --version); $(first_line python3 --version)."
links=""
for p in "${plugins[@]}"; do
	label=${p%%=*} bin=${p#*=}
	ver=$(first_line "$bin" --version)
	needed=$(readelf -d "$bin" 2>/dev/null | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
	needed=${needed:-?}
	cc=$(readelf -p .comment "$bin" 2>/dev/null | sed -n 's/^ *\[ *[0-9a-f]*\] *//p' | grep -m1 -i gcc || true)
	links+="- ours: $label = \`${bin#"$root"/}\` ($ver${cc:+, $cc}), links ${needed% }"$'\n'
done
machine+=$'\n'"$versions"$'\n\n'"$links"
for n in "${notes[@]}"; do machine+=$'\n'"$n"; done

# ------------------------------------------------------------------ measure

mkdir -p "$work/run"
args=(--runs "$runs" --work "$work/run" --machine "$machine"
	--command "tests/bench/run.sh --runs $runs")
for p in "${plugins[@]}"; do args+=(--tool "$p"); done
for f in "${floors[@]}"; do args+=(--floor "$f"); done
if [[ -n $callgrind_dir ]]; then
	mkdir -p "$callgrind_dir"
	args+=(--callgrind-dir "$(cd "$callgrind_dir" && pwd)")
fi
set +e
if [[ -n $out ]]; then
	python3 "$here/bench.py" "${args[@]}" | tee "$out"
	rc=${PIPESTATUS[0]}
else
	python3 "$here/bench.py" "${args[@]}"
	rc=$?
fi

# ------------------------------------------------------------------ in-flight memory

# inflight.py (issue 18 #2): Pss of 40 checks of each tool held mid-dialogue against a server of
# its own (ephemeral ports, no Postfix), for the "default" build (else the first one benched).
# Figures only: a failure here is a note, never the exit status.
inflight_bin=${plugins[0]#*=}
for p in "${plugins[@]}"; do [[ ${p%%=*} == default ]] && inflight_bin=${p#*=}; done
log "in-flight memory: inflight.py --plugin ${inflight_bin#"$root"/}"
inflight_out=$(python3 "$here/inflight.py" --plugin "$inflight_bin")
inflight_rc=$?
if ((inflight_rc == 0)); then
	inflight_out=$'\n'"In-flight memory (\`inflight.py\`, ours = ${inflight_bin#"$root"/}):"$'\n\n'"$inflight_out"
else
	inflight_out=$'\n'"**Note:** inflight.py failed (exit $inflight_rc); no in-flight memory figures."
	log "warning: inflight.py failed (exit $inflight_rc); skipped"
fi
printf '%s\n' "$inflight_out"
[[ -n $out ]] && printf '%s\n' "$inflight_out" >>"$out"
set -e
exit "$rc"
