#!/usr/bin/env bash
# udp_echo_test.sh USTACKD: the kernel's UDP sockets against ustackd --udp-echo 7 on a TAP in a
# namespace of its own.
#
# A Python client echoes 206 datagrams — 0, 1, 1472, 1473, 8000, 65507 bytes and 200 mixed sizes —
# byte for byte through ustack (fragmented and reassembled both ways); a closed port gives the
# client ECONNREFUSED (ICMP port unreachable); `nc -u` echoes a line. ustackd exits 0 on SIGINT.
#
# Needs root and /dev/net/tun, otherwise exits 77 (SKIP). Run by hand:
#   sudo tests/system/udp_echo_test.sh build/apps/ustackd
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../../tools/lib/netns.sh"

USTACKD=${1:-${USTACKD:-}}
[[ -n $USTACKD ]] || fail "usage: $0 PATH/TO/ustackd"
require_netns_or_skip
command -v python3 >/dev/null || skip "python3 is not installed; run tools/setup"
command -v nc >/dev/null || skip "nc (netcat-openbsd) is not installed; run tools/setup"

make_tmpdir ustack-udp
netns_create ustack-udp
log=$TMPD/ustackd.log
show_on_failure "$log"
ustackd_start "$NETNS" "$log" "$USTACKD" --tap tap0 --ip 10.0.0.2/24 --host-ip 10.0.0.1/24 \
  --udp-echo 7
wait_for_ready "$log" "$USTACKD_PID" 10
echo "namespace $NETNS, ustackd PID $USTACKD_PID: $(grep '^ustackd: ready' "$log")"

echo "--- python client: 206 datagrams up to 65507 bytes, then a closed port"
timeout --foreground 120 ip netns exec "$NETNS" python3 "$here/udp_client.py" 10.0.0.2 7 9 ||
  fail "the UDP echo check failed"

echo "--- nc -u"
got=$(printf 'hello over udp\n' | timeout --foreground 10 ip netns exec "$NETNS" nc -u -w 1 10.0.0.2 7 || true)
echo "nc got: $got"
[[ $got == "hello over udp" ]] || fail "nc -u got '$got', want 'hello over udp'"

pid_alive "$USTACKD_PID" || fail "ustackd died during the test"
ustackd_stop "$USTACKD_PID" INT 5
echo "--- ustackd output"
cat "$log"
((USTACKD_STATUS == 0)) || fail "ustackd exited with status $USTACKD_STATUS on SIGINT, want 0"
got=$(counter_value "$log" udp.delivered)
((got >= 207)) || fail "udp.delivered is $got, want at least 207"
got=$(counter_value "$log" udp.no_port)
((got >= 1)) || fail "udp.no_port is $got, want at least 1"

echo "PASS: udp_echo_test"
