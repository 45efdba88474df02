#!/usr/bin/env bash
# tcp_echo_test.sh USTACKD: the kernel's TCP sockets against ustackd --echo 7 --discard 9 on a
# TAP in a namespace of its own.
#
#  (a) 20 MB of random data through echo with a Python client that sends and reads at once;
#      what comes back must have the same length and sha256;
#  (b) the same with socat (nc -N if socat is missing), compared by sha256;
#  (c) 50 echo connections at once, 200 KB each, every one intact;
#  (d) 100 MB into discard: the client sends, half-closes, and must then read a clean EOF (the
#      server closes only after reading everything);
#  (e) a closed port refuses the connection (RST: ECONNREFUSED).
# ustackd must then exit 0 on SIGINT. The whole test is bounded (timeout 280 s).
#
# Needs root and /dev/net/tun, otherwise exits 77 (SKIP). Run by hand:
#   sudo tests/system/tcp_echo_test.sh build/apps/ustackd
set -euo pipefail
if [[ -z ${USTACK_TEST_BOUNDED:-} ]]; then
  # One overall deadline; on expiry timeout sends SIGTERM and the cleanup trap runs.
  USTACK_TEST_BOUNDED=1 exec timeout --foreground -k 10 280 "$0" "$@"
fi
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../../tools/lib/netns.sh"

USTACKD=${1:-${USTACKD:-}}
[[ -n $USTACKD ]] || fail "usage: $0 PATH/TO/ustackd"
require_netns_or_skip
command -v python3 >/dev/null || skip "python3 is not installed; run tools/setup"

make_tmpdir ustack-tcp
netns_create ustack-tcp
log=$TMPD/ustackd.log
show_on_failure "$log"
ustackd_start "$NETNS" "$log" "$USTACKD" --tap tap0 --ip 10.0.0.2/24 --host-ip 10.0.0.1/24 \
  --echo 7 --discard 9
wait_for_ready "$log" "$USTACKD_PID" 10
echo "namespace $NETNS, ustackd PID $USTACKD_PID: $(grep '^ustackd: ready' "$log")"

# client SECONDS MODE ARGS...: tcp_client.py inside the namespace, bounded.
client() {
  local seconds=$1
  shift
  timeout --foreground "$seconds" ip netns exec "$NETNS" python3 "$here/tcp_client.py" "$@"
}

echo "--- (a) 20 MB through echo, python client"
client 120 echo 10.0.0.2 7 20000000 || fail "20 MB through echo (python) failed"

echo "--- (b) 20 MB through echo, socat or nc"
head -c 20000000 /dev/urandom >"$TMPD/in"
if command -v socat >/dev/null; then
  # -t: after stdin's EOF (our FIN) wait up to 60 s for the echo to finish and the server's FIN.
  tool=(socat -t 60 -T 60 STDIO TCP:10.0.0.2:7)
else
  echo "socat is not installed (tools/setup installs it); using nc -N"
  tool=(nc -N -w 60 10.0.0.2 7)
fi
start=$(date +%s.%N)
rc=0
timeout --foreground 120 ip netns exec "$NETNS" "${tool[@]}" <"$TMPD/in" >"$TMPD/out" || rc=$?
end=$(date +%s.%N)
((rc == 0)) || fail "${tool[0]} exited with status $rc"
want=$(sha256sum <"$TMPD/in" | cut -d' ' -f1)
got=$(sha256sum <"$TMPD/out" | cut -d' ' -f1)
echo "${tool[0]}: sent $(stat -c %s "$TMPD/in") bytes, got $(stat -c %s "$TMPD/out") back in" \
  "$(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}') s"
[[ $got == "$want" ]] || fail "${tool[0]}: the echo differs from what was sent (sha256 $got, want $want)"
echo "${tool[0]}: sha256 matches ($want)"
rm -f "$TMPD/in" "$TMPD/out"

echo "--- (c) 50 concurrent echo connections, 200 KB each"
client 120 concurrent 10.0.0.2 7 50 200000 || fail "50 concurrent echo connections failed"

echo "--- (d) 100 MB into discard"
client 120 discard 10.0.0.2 9 100000000 || fail "100 MB into discard failed"

echo "--- (e) closed port"
client 20 refused 10.0.0.2 8 || fail "a closed port was not refused"

pid_alive "$USTACKD_PID" || fail "ustackd died during the test"
ustackd_stop "$USTACKD_PID" INT 5
echo "--- ustackd counters (tcp)"
grep '^tcp\.' "$log" || echo "(no tcp counters)"
((USTACKD_STATUS == 0)) || fail "ustackd exited with status $USTACKD_STATUS on SIGINT, want 0"

echo "PASS: tcp_echo_test"
