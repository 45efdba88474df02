# Network-namespace helpers for tools/demo and tests/system: a uniquely named namespace per run,
# ustackd started inside it, waits that are always bounded, and cleanup by trap that kills only the
# processes started here and deletes only the namespaces made here.
#
#   source "$USTACK_ROOT/tools/lib/netns.sh"
#   require_netns_or_skip               # exit 77 with "SKIP: ..." unless root + /dev/net/tun
#   netns_create ustack-ping            # sets NETNS=ustack-ping-<pid>-<rand>, deleted on exit
#   show_on_failure "$log"              # printed if the script fails
#   ustackd_start "$NETNS" "$log" "$bin" --tap tap0 --ip 10.0.0.2/24 --host-ip 10.0.0.1/24
#   wait_for_ready "$log" "$USTACKD_PID" 10
#   ...
#   ustackd_stop "$USTACKD_PID"         # SIGINT, bounded wait; sets USTACKD_STATUS
#   counter_value "$log" ip.bad_checksum
#
# Safety: nothing here touches the root namespace's links, addresses or routes. Every TAP lives in
# a namespace made by netns_create; only 10.0.0.0/8 addresses are used inside it.

# shellcheck shell=bash
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SKIP_CODE=77

# Prints a loud SKIP banner and exits 77 (ctest's SKIP_RETURN_CODE for the system tests).
skip() {
  banner "$_c_yellow" "SKIP: $(ustack_tool_name): $*"
  exit "$SKIP_CODE"
}

# Prints a loud FAIL banner and exits 1.
fail() {
  banner "$_c_red" "FAIL: $(ustack_tool_name): $*"
  exit 1
}

# Skips (exit 77) unless this process can make namespaces and TAP devices: root, /dev/net/tun,
# iproute2, and a namespace that can really be created (containers may forbid it).
require_netns_or_skip() {
  [[ $EUID -eq 0 ]] || skip "needs root (TAP devices and network namespaces); run with sudo"
  [[ -c /dev/net/tun ]] || skip "/dev/net/tun does not exist (modprobe tun?)"
  command -v ip >/dev/null || skip "ip (iproute2) is not installed; run tools/setup"
  local probe="ustack-probe-$$-$RANDOM"
  if ! ip netns add "$probe" 2>/dev/null; then
    skip "cannot create a network namespace here (ip netns add failed)"
  fi
  ip netns del "$probe" 2>/dev/null || true
}

# --- cleanup registry -------------------------------------------------------------------------

_CLEANUP_PIDS=()
_CLEANUP_NETNS=()
_CLEANUP_PATHS=()
_CLEANUP_SHOW=()
_CLEANUP_TRAPPED=0

_cleanup_install_trap() {
  ((_CLEANUP_TRAPPED)) && return
  _CLEANUP_TRAPPED=1
  trap '_cleanup_run' EXIT
  # A signal ends the script through exit, so the EXIT trap runs exactly once.
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
}

cleanup_add_pid() { _cleanup_install_trap; _CLEANUP_PIDS+=("$1"); }
cleanup_add_netns() { _cleanup_install_trap; _CLEANUP_NETNS+=("$1"); }
cleanup_add_path() { _cleanup_install_trap; _CLEANUP_PATHS+=("$1"); }
# A log to print (its last 200 lines) if the script exits with a failure (not 0, not 77).
show_on_failure() { _cleanup_install_trap; _CLEANUP_SHOW+=("$1"); }

# Forgets a PID (after it was stopped and reaped: its number may be reused from then on).
cleanup_forget_pid() {
  local keep=() p
  for p in "${_CLEANUP_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  _CLEANUP_PIDS=("${keep[@]}")
}

# Forgets everything (tools/demo --keep hands the running stack over to the user).
cleanup_forget_all() { _CLEANUP_PIDS=() _CLEANUP_NETNS=() _CLEANUP_PATHS=() _CLEANUP_SHOW=(); }

# True while PID is alive: exists and is not a zombie waiting to be reaped.
pid_alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  # The state follows the parenthesised command name in /proc/PID/stat.
  state=$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [[ $state != Z ]]
}

# Sends SIGNAL to PID (one of ours) and waits at most SECONDS for it to end; then SIGKILL.
# Returns 0 if it ended before the SIGKILL.
_stop_pid() {
  local pid=$1 sig=$2 seconds=$3 i
  pid_alive "$pid" || return 0
  kill "-$sig" "$pid" 2>/dev/null || return 0
  for ((i = 0; i < seconds * 10; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  return 1
}

_cleanup_run() {
  local status=$? pid ns path
  trap - EXIT INT TERM HUP
  # Processes first (SIGTERM makes ustackd print its counters into its log), then the logs of a
  # failed run, then namespaces and files.
  for pid in "${_CLEANUP_PIDS[@]}"; do
    _stop_pid "$pid" TERM 3 || warn "PID $pid did not stop on SIGTERM, killed"
    wait "$pid" 2>/dev/null || true
  done
  if ((status != 0 && status != SKIP_CODE)); then
    for path in "${_CLEANUP_SHOW[@]}"; do
      [[ -f $path ]] || continue
      echo "--- last lines of $path ---"
      tail -n 200 "$path"
      echo "--- end of $path ---"
    done
  fi
  for ns in "${_CLEANUP_NETNS[@]}"; do
    ip netns del "$ns" 2>/dev/null || warn "could not delete namespace $ns"
  done
  for path in "${_CLEANUP_PATHS[@]}"; do
    [[ -n $path && $path != / ]] && rm -rf -- "$path"
  done
  exit "$status"
}

# --- namespaces ---------------------------------------------------------------------------------

# netns_create PREFIX: makes a namespace named PREFIX-<pid>-<random>, brings its loopback up,
# registers it for deletion on exit and sets NETNS to its name.
netns_create() {
  local prefix=$1 name i
  for ((i = 0; i < 5; i++)); do
    name="$prefix-$$-$RANDOM"
    [[ -e /run/netns/$name ]] && continue
    if ip netns add "$name"; then
      cleanup_add_netns "$name"
      ip -n "$name" link set lo up
      NETNS=$name
      return 0
    fi
  done
  fail "could not create a network namespace with prefix $prefix"
}

# netns_disable_ipv6 NS: no IPv6 on links made in NS from now on (a sysctl of that namespace
# only), so the kernel sends no MLD reports, router or neighbour solicitations onto its TAP.
netns_disable_ipv6() {
  ip netns exec "$1" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 \
    net.ipv6.conf.all.disable_ipv6=1 2>/dev/null || true
}

# A private temporary directory, removed on exit. Sets TMPD.
make_tmpdir() {
  TMPD=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  cleanup_add_path "$TMPD"
}

# --- ustackd ------------------------------------------------------------------------------------

# ustackd_start NETNS LOGFILE BINARY ARGS...: runs BINARY ARGS inside NETNS in the background with
# stdout and stderr in LOGFILE; registers its PID for cleanup and sets USTACKD_PID.
# `ip netns exec` execs the program, so the PID is ustackd's own.
ustackd_start() {
  local ns=$1 log=$2 bin=$3
  shift 3
  [[ -x $bin ]] || fail "ustackd binary not found or not executable: $bin"
  ip netns exec "$ns" "$bin" "$@" >"$log" 2>&1 &
  USTACKD_PID=$!
  cleanup_add_pid "$USTACKD_PID"
}

# wait_for_ready LOGFILE PID SECONDS: waits for ustackd's "ustackd: ready on" line, polling every
# 0.1 s at most SECONDS long. Fails if the process exits or the time runs out (register the log
# with show_on_failure to see it then).
wait_for_ready() {
  local log=$1 pid=$2 seconds=$3 i
  for ((i = 0; i < seconds * 10; i++)); do
    if grep -q '^ustackd: ready on' "$log" 2>/dev/null; then
      return 0
    fi
    if ! pid_alive "$pid"; then
      local rc=0
      wait "$pid" 2>/dev/null || rc=$?
      fail "ustackd exited with status $rc before it was ready"
    fi
    sleep 0.1
  done
  fail "ustackd printed no ready line within ${seconds}s"
}

# ustackd_stop PID [SIGNAL] [SECONDS]: stops it (SIGINT by default), waits at most SECONDS
# (default 5), reaps it and sets USTACKD_STATUS to its exit status (137 if it had to be killed).
ustackd_stop() {
  local pid=$1 sig=${2:-INT} seconds=${3:-5}
  USTACKD_STATUS=0
  if _stop_pid "$pid" "$sig" "$seconds"; then
    wait "$pid" 2>/dev/null || USTACKD_STATUS=$?
  else
    wait "$pid" 2>/dev/null || true
    USTACKD_STATUS=137
  fi
  cleanup_forget_pid "$pid"
}

# counter_value LOGFILE NAME: the value of a "name value" counter line ustackd printed on exit,
# 0 if it printed none (it prints only non-zero counters).
counter_value() {
  local v
  v=$(awk -v n="$2" '$1 == n && NF == 2 && $2 ~ /^[0-9]+$/ {v = $2} END {print v}' "$1")
  echo "${v:-0}"
}
