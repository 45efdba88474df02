#!/usr/bin/env bash
# unc_tcp_test.sh UNC: unc, the netcat over ustack, moves files over TCP to and from the kernel.
#
# In a namespace of its own, each unc on a TAP of its own (10.0.N.2/24, kernel side 10.0.N.1/24),
# with a 5 MB random file checked by sha256 every time:
#  (1) unc downloads it from a kernel server (python); unc's stdin stays open, so unc must exit
#      because the server closed, with status 0;
#  (2) unc uploads it to a kernel server that reads until EOF: unc's half-close at end of input;
#  (3) unc -l -p receives it from a kernel client (python) that sends, half-closes and waits for
#      unc to close;
#  (4) the same from the kernel's nc -N;
#  (5) unc to a port nobody listens on exits non-zero saying "Connection refused".
# The whole test is bounded (timeout 200 s).
#
# Needs root and /dev/net/tun, otherwise exits 77 (SKIP). Run by hand:
#   sudo tests/system/unc_tcp_test.sh build/apps/unc
set -euo pipefail
if [[ -z ${USTACK_TEST_BOUNDED:-} ]]; then
  # One overall deadline; on expiry timeout sends SIGTERM and the cleanup trap runs.
  USTACK_TEST_BOUNDED=1 exec timeout --foreground -k 10 200 "$0" "$@"
fi
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../../tools/lib/netns.sh"

UNC=${1:-${UNC:-}}
[[ -n $UNC ]] || fail "usage: $0 PATH/TO/unc"
[[ -x $UNC ]] || fail "unc binary not found or not executable: $UNC"
require_netns_or_skip
command -v python3 >/dev/null || skip "python3 is not installed; run tools/setup"
command -v nc >/dev/null || skip "nc (netcat-openbsd) is not installed; run tools/setup"

make_tmpdir ustack-unc-tcp
netns_create ustack-unc-tcp
file=$TMPD/file
head -c 5000000 /dev/urandom >"$file"
want=$(sha256sum <"$file" | cut -d' ' -f1)
echo "namespace $NETNS; test file: 5000000 random bytes, sha256 $want"

# unc_args N: the TAP flags of the Nth unc (its own TAP and subnet, so runs never overlap).
unc_args() { echo "--tap tap$1 --ip 10.0.$1.2/24 --host-ip 10.0.$1.1/24"; }

# wait_for_line FILE PATTERN SECONDS PID: until FILE has a line matching PATTERN; fails if PID
# exits first or the time runs out.
wait_for_line() {
  local file=$1 pattern=$2 seconds=$3 pid=$4 i
  for ((i = 0; i < seconds * 10; i++)); do
    grep -q -- "$pattern" "$file" 2>/dev/null && return 0
    pid_alive "$pid" || fail "PID $pid exited before printing '$pattern': $(cat "$file")"
    sleep 0.1
  done
  fail "no '$pattern' within ${seconds}s: $(cat "$file")"
}

# wait_exit PID SECONDS NAME: waits for PID (ours) to exit and sets STATUS; fails on time-out.
wait_exit() {
  local pid=$1 seconds=$2 name=$3 i
  for ((i = 0; i < seconds * 10; i++)); do
    pid_alive "$pid" || break
    sleep 0.1
  done
  pid_alive "$pid" && fail "$name did not exit within ${seconds}s"
  STATUS=0
  wait "$pid" || STATUS=$?
  cleanup_forget_pid "$pid"
}

# check_file OUT WHAT: OUT must be the test file, byte for byte.
check_file() {
  local got
  got=$(sha256sum <"$1" | cut -d' ' -f1)
  [[ $got == "$want" ]] ||
    fail "$2: got $(stat -c %s "$1") bytes with sha256 $got, want 5000000 bytes with $want"
  echo "$2: 5000000 bytes intact (sha256 matches)"
}

# A kernel-side python peer in the background: kernel_peer LOG MODE ARGS...; sets PEER_PID.
kernel_peer() {
  local log=$1
  shift
  ip netns exec "$NETNS" timeout 60 python3 "$here/tcp_client.py" "$@" >"$log" 2>&1 &
  PEER_PID=$!
  cleanup_add_pid "$PEER_PID"
}

echo "--- (1) unc downloads from a kernel server; its stdin stays open"
kernel_peer "$TMPD/serve.log" serve-file 9000 "$file"
wait_for_line "$TMPD/serve.log" listening 10 "$PEER_PID"
mkfifo "$TMPD/stdin"
sleep 60 >"$TMPD/stdin" &
holder=$!
cleanup_add_pid "$holder"
rc=0
# shellcheck disable=SC2046
timeout --foreground 60 ip netns exec "$NETNS" "$UNC" $(unc_args 1) 10.0.1.1 9000 \
  <"$TMPD/stdin" >"$TMPD/out1" 2>"$TMPD/err1" || rc=$?
((rc == 0)) || fail "unc (download) exited with status $rc: $(cat "$TMPD/err1")"
kill "$holder" 2>/dev/null || true
wait_exit "$holder" 5 "the stdin holder"
wait_exit "$PEER_PID" 10 "the kernel server"
cat "$TMPD/serve.log"
((STATUS == 0)) || fail "the kernel server failed (status $STATUS)"
check_file "$TMPD/out1" "download"

echo "--- (2) unc uploads to a kernel server, half-closing at end of input"
kernel_peer "$TMPD/receive.log" receive-file 9001 "$TMPD/out2"
wait_for_line "$TMPD/receive.log" listening 10 "$PEER_PID"
rc=0
# shellcheck disable=SC2046
timeout --foreground 60 ip netns exec "$NETNS" "$UNC" $(unc_args 2) 10.0.2.1 9001 \
  <"$file" >/dev/null 2>"$TMPD/err2" || rc=$?
((rc == 0)) || fail "unc (upload) exited with status $rc: $(cat "$TMPD/err2")"
wait_exit "$PEER_PID" 10 "the kernel server"
cat "$TMPD/receive.log"
((STATUS == 0)) || fail "the kernel server failed (status $STATUS)"
check_file "$TMPD/out2" "upload"

# unc_listen N PORT: unc -l -p PORT on the Nth TAP in the background, stdin empty; sets UNC_PID
# once it says it listens.
unc_listen() {
  # shellcheck disable=SC2046
  ip netns exec "$NETNS" "$UNC" $(unc_args "$1") -v -l -p "$2" </dev/null >"$TMPD/out$1" \
    2>"$TMPD/err$1" &
  UNC_PID=$!
  cleanup_add_pid "$UNC_PID"
  wait_for_line "$TMPD/err$1" "listening" 20 "$UNC_PID"
}

echo "--- (3) unc -l receives from a kernel client (python)"
unc_listen 3 9002
timeout --foreground 60 ip netns exec "$NETNS" python3 "$here/tcp_client.py" send-file 10.0.3.2 \
  9002 "$file" || fail "the kernel client could not send the file to unc -l"
wait_exit "$UNC_PID" 20 "unc -l"
cat "$TMPD/err3"
((STATUS == 0)) || fail "unc -l exited with status $STATUS"
check_file "$TMPD/out3" "unc -l from python"

echo "--- (4) unc -l receives from the kernel's nc -N"
unc_listen 4 9003
rc=0
timeout --foreground 60 ip netns exec "$NETNS" nc -N -w 30 10.0.4.2 9003 <"$file" || rc=$?
((rc == 0)) || fail "nc -N exited with status $rc"
wait_exit "$UNC_PID" 20 "unc -l"
cat "$TMPD/err4"
((STATUS == 0)) || fail "unc -l exited with status $STATUS"
check_file "$TMPD/out4" "unc -l from nc"

echo "--- (5) unc to a port nobody listens on"
rc=0
# shellcheck disable=SC2046
timeout --foreground 30 ip netns exec "$NETNS" "$UNC" $(unc_args 5) 10.0.5.1 9004 </dev/null \
  >/dev/null 2>"$TMPD/err5" || rc=$?
cat "$TMPD/err5"
((rc != 0 && rc != 124)) || fail "unc to a closed port exited with status $rc, want an error"
grep -q "Connection refused" "$TMPD/err5" || fail "unc did not report 'Connection refused'"
echo "closed port: unc exited with status $rc and said 'Connection refused'"

echo "PASS: unc_tcp_test"
