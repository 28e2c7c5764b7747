# shellcheck shell=bash disable=SC2034,SC2154  # variables shared with the sourcing scripts
# Shared by the tests/packaging scripts: Postfix ports, the plugin to run, daemons and the time
# budget. The ok/FAIL lines, the closing "N passed, M failed" line and installing packages come
# from tests/lib.sh (the same for every test script).

# shellcheck source=tests/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# free_port FROM: the first TCP port >= FROM that nothing listens on (loopback tests only).
free_port() {
  local port=$1
  while [[ -n $(ss -Hltn "sport = :$port") ]]; do port=$((port + 1)); done
  printf '%s\n' "$port"
}

# postfix_ports BASE: set the POSTFIX_*_PORT variables of tests/integration/postfix.sh to
# BASE+25 (STARTTLS), +26 (no TLS), +27 (PROXY), +28 (expired), +29 (expiring soon), +30 (TLS
# only) and +465
# (implicit TLS), each moved up to the next free port if something else listens there
# (other test suites run Postfix instances too).
postfix_ports() {
  local base=$1 next
  POSTFIX_PORT=$(free_port $((base + 25)))
  next=$(free_port $((POSTFIX_PORT > base + 26 ? POSTFIX_PORT + 1 : base + 26)))
  POSTFIX_NOTLS_PORT=$next
  POSTFIX_PROXY_PORT=$(free_port $((next + 1)))
  POSTFIX_EXPIRED_PORT=$(free_port $((POSTFIX_PROXY_PORT + 1)))
  POSTFIX_SOON_PORT=$(free_port $((POSTFIX_EXPIRED_PORT + 1)))
  POSTFIX_TLSONLY_PORT=$(free_port $((POSTFIX_SOON_PORT + 1)))
  POSTFIX_SMTPS_PORT=$(free_port $((base + 465)))
  export POSTFIX_PORT POSTFIX_NOTLS_PORT POSTFIX_PROXY_PORT POSTFIX_EXPIRED_PORT \
    POSTFIX_SOON_PORT POSTFIX_TLSONLY_PORT POSTFIX_SMTPS_PORT
}

# start_postfix DIR BASE: a private Postfix in DIR on the ports of postfix_ports BASE, its
# POSTFIX_* variables sourced into this shell; its output in DIR.log, shown if it fails.
start_postfix() {
  local dir=$1
  postfix_ports "$2"
  bash tests/integration/postfix.sh start "$dir" >"$dir.log" 2>&1 ||
    { cat "$dir.log"; abort "postfix.sh start failed"; }
  # shellcheck source=/dev/null
  source "$dir/env"
}

# end_tmp: the end of each daemon test's cleanup: stops the Postfix in $postfix_dir and removes
# $tmp (KEEP_TMP=1 keeps it).
end_tmp() {
  close_dirs
  bash "$repo/tests/integration/postfix.sh" stop "$postfix_dir" >/dev/null 2>&1
  if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}

# plugin_and_postfix PLUGIN_DIR PORT_BASE: sets $plugin_dir and $plugin, the check_smtp_verify
# there, which $RUN_AS can run (see plugin_dir_for; named with its version), and starts a private
# Postfix in $postfix_dir on the ports of postfix_ports PORT_BASE.
plugin_and_postfix() {
  plugin_dir=$1
  plugin_dir_for "$RUN_AS" "$plugin_dir"
  plugin=$plugin_dir/check_smtp_verify
  echo "plugin: $plugin ($("$plugin" -V))"
  start_postfix "$postfix_dir" "$2"
}

# stops_on_sigterm WHO PID: SIGTERM to PID, which must be gone by the end of its wait: the case
# "WHO stops on SIGTERM". Returns 1 when it is still running.
stops_on_sigterm() {
  local who=$1 pid=$2 deadline
  kill -TERM "$pid" 2>/dev/null
  deadline=$(wait_until)
  while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    fail "$who stops on SIGTERM within ${WAIT}s"
    return 1
  fi
  wait "$pid" 2>/dev/null
  pass "$who stops on SIGTERM"
}

# find_plugin_dir [DIR]: the folder holding check_smtp_verify: DIR if given, else the installed
# package's, else the build tree's (build/ci/plugin, build/plugin). Without one it prints why
# and returns 1 (the caller aborts: `dir=$(find_plugin_dir "$1") || abort "$dir"`).
find_plugin_dir() {
  local dir=${1:-} d
  if [[ -z $dir && -x /usr/lib/nagios/plugins/check_smtp_verify ]]; then
    dir=/usr/lib/nagios/plugins
  elif [[ -z $dir ]]; then
    for d in build/ci/plugin build/plugin; do
      [[ -x $d/check_smtp_verify ]] && dir=$d && break
    done
    [[ -n $dir ]] || { echo "no plugin: install the package, build the tree or pass PLUGIN_DIR"; return 1; }
  fi
  dir=$(realpath -- "$dir")
  [[ -x $dir/check_smtp_verify ]] || { echo "$dir/check_smtp_verify is not executable"; return 1; }
  printf '%s\n' "$dir"
}

# start_budget: everything after the package installation fits in BUDGET (110) seconds: each
# wait ends at its own WAIT or at the end of the budget, whichever comes first
# (`wait_until` prints that end, `left` the seconds left of the budget).
start_budget() {
  readonly BUDGET=110
  budget_end=$((SECONDS + BUDGET))
}
wait_until() { local end=$((SECONDS + WAIT)); echo $((end < budget_end ? end : budget_end)); }
left() { local l=$((budget_end - SECONDS)); echo $((l > 1 ? l : 1)); }

# plugin_dir_for USER DIR: DIR, which USER must be able to run check_smtp_verify from. A build
# tree's plugin loads its TLS module only from that build tree (lib/net/tls_loader.cpp: a copy
# elsewhere would look in the install folder), so a checkout under a folder only root may enter
# (a mktemp folder, /root) gets the search bit (o+x, never read) on each such folder on the way,
# taken back by end_tmp.
opened_dirs=()
plugin_dir_for() {
  local user=$1 dir=$2 d path="" parts=()
  IFS=/ read -r -a parts <<<"${dir#/}"
  for d in "${parts[@]}"; do
    path+=/$d
    if ! runuser -u "$user" -- test -x "$path"; then
      opened_dirs+=("$path:$(stat -c %a "$path")")
      chmod o+x "$path"
    fi
  done
  runuser -u "$user" -- test -x "$dir/check_smtp_verify" || abort "$user cannot run $dir/check_smtp_verify"
}

# close_dirs: the folders plugin_dir_for opened get their modes back.
close_dirs() {
  local entry
  for entry in "${opened_dirs[@]}"; do chmod "${entry##*:}" "${entry%:*}"; done
  opened_dirs=()
}

# stop_daemon PID FOLDER: SIGTERM to PID (if set), SIGKILL after 5 s; then SIGKILL to every
# process still running with FOLDER on its command line (a daemon's children).
stop_daemon() {
  local pid=$1 folder=$2 p cmd
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
  fi
  for p in /proc/[0-9]*; do
    cmd=$({ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null) || continue
    [[ $cmd == *"$folder"* ]] && kill -KILL "${p#/proc/}" 2>/dev/null
  done
  return 0
}
