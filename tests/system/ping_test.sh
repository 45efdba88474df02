#!/usr/bin/env bash
# ping_test.sh USTACKD: the kernel's own ping against ustackd on a TAP in a namespace of its own.
#
# Replies for -s 0, 56, 1472 (one full 1500-byte frame), 4000 and 20000 (fragmented and
# reassembled both ways) and 65507 (the largest IPv4 echo) with 0% loss, each reply exactly the
# size sent and with its data intact; then a flood of 2000 pings loses none. ustackd must exit 0 on
# SIGINT and count every echo request.
#
# Needs root and /dev/net/tun, otherwise exits 77 (SKIP). Run by hand:
#   sudo tests/system/ping_test.sh build/apps/ustackd
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib/netns.sh"

USTACKD=${1:-${USTACKD:-}}
[[ -n $USTACKD ]] || fail "usage: $0 PATH/TO/ustackd"
require_netns_or_skip
command -v ping >/dev/null || skip "ping (iputils-ping) is not installed; run tools/setup"

make_tmpdir ustack-ping
netns_create ustack-ping
log=$TMPD/ustackd.log
show_on_failure "$log"
ustackd_start "$NETNS" "$log" "$USTACKD" --tap tap0 --ip 10.0.0.2/24 --host-ip 10.0.0.1/24 \
  --mac 02:00:00:00:00:02
wait_for_ready "$log" "$USTACKD_PID" 10
echo "namespace $NETNS, ustackd PID $USTACKD_PID: $(grep '^ustackd: ready' "$log")"

requests=0

# ping_sizes SIZE COUNT: COUNT pings of SIZE data bytes, all answered, each reply SIZE+8 bytes.
ping_size() {
  local size=$1 count=$2 out rc=0 replies
  echo "--- ping -s $size -c $count"
  out=$(timeout --foreground 60 ip netns exec "$NETNS" ping -n -c "$count" -i 0.2 -W 3 -w 40 -s "$size" \
    10.0.0.2 2>&1) || rc=$?
  echo "$out"
  ((rc == 0)) || fail "ping -s $size exited with status $rc"
  grep -q "^$count packets transmitted, $count received, 0% packet loss" <<<"$out" ||
    fail "ping -s $size: not every echo was answered"
  replies=$(grep -c "^$((size + 8)) bytes from 10.0.0.2: icmp_seq=" <<<"$out" || true)
  ((replies == count)) || fail "ping -s $size: $replies replies of $((size + 8)) bytes, want $count"
  if grep -Eq 'truncated|wrong data|DUP!|corrupted' <<<"$out"; then
    fail "ping -s $size: a reply was truncated, duplicated or had wrong data"
  fi
  requests=$((requests + count))
}

ping_size 0 3
ping_size 56 5
ping_size 1472 3
ping_size 4000 3
ping_size 20000 3
ping_size 65507 2

echo "--- ping -f -c 2000 (flood)"
rc=0
out=$(timeout --foreground 90 ip netns exec "$NETNS" ping -n -q -f -c 2000 -w 60 10.0.0.2 2>&1) || rc=$?
echo "$out"
((rc == 0)) || fail "flood ping exited with status $rc"
grep -q '^2000 packets transmitted, 2000 received, 0% packet loss' <<<"$out" ||
  fail "flood ping lost packets"
requests=$((requests + 2000))

pid_alive "$USTACKD_PID" || fail "ustackd died during the test"
ustackd_stop "$USTACKD_PID" INT 5
echo "--- ustackd output"
cat "$log"
((USTACKD_STATUS == 0)) || fail "ustackd exited with status $USTACKD_STATUS on SIGINT, want 0"

got=$(counter_value "$log" icmp.echo_request)
((got >= requests)) || fail "icmp.echo_request is $got, want at least $requests"
got=$(counter_value "$log" ip.reassembled)
((got > 0)) || fail "ip.reassembled is $got after fragmented pings, want > 0"

echo "PASS: ping_test ($requests echo requests answered)"
