#!/usr/bin/env bash
# pcap_test.sh USTACKD: a session run with --pcap writes a capture that tshark reads, holding the
# ARP exchange and the ICMP echo requests and replies (including a fragmented one) both ways.
#
# Needs root and /dev/net/tun, otherwise exits 77 (SKIP). Run by hand:
#   sudo tests/system/pcap_test.sh build/apps/ustackd
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib/netns.sh"

USTACKD=${1:-${USTACKD:-}}
[[ -n $USTACKD ]] || fail "usage: $0 PATH/TO/ustackd"
require_netns_or_skip
command -v tshark >/dev/null || skip "tshark is not installed; run tools/setup"
command -v ping >/dev/null || skip "ping (iputils-ping) is not installed; run tools/setup"

make_tmpdir ustack-pcap
netns_create ustack-pcap
log=$TMPD/ustackd.log
pcap=$TMPD/session.pcap
show_on_failure "$log"
ustackd_start "$NETNS" "$log" "$USTACKD" --tap tap0 --ip 10.0.0.2/24 --host-ip 10.0.0.1/24 \
  --mac 02:00:00:00:00:02 --pcap "$pcap"
wait_for_ready "$log" "$USTACKD_PID" 10

rc=0
timeout --foreground 30 ip netns exec "$NETNS" ping -n -c 3 -i 0.2 -W 3 -w 20 10.0.0.2 || rc=$?
((rc == 0)) || fail "ping exited with status $rc"
rc=0
timeout --foreground 30 ip netns exec "$NETNS" ping -n -c 1 -W 3 -w 20 -s 4000 10.0.0.2 || rc=$?
((rc == 0)) || fail "ping -s 4000 exited with status $rc"

ustackd_stop "$USTACKD_PID" INT 5
((USTACKD_STATUS == 0)) || fail "ustackd exited with status $USTACKD_STATUS on SIGINT, want 0"
[[ -s $pcap ]] || fail "no capture written at $pcap"

# tshark refuses to run some dissectors as root only with a warning; its exit status still tells
# whether the file is a readable, complete capture.
tshark_out=$TMPD/tshark.txt
show_on_failure "$tshark_out"
rc=0
tshark -n -r "$pcap" >"$tshark_out" 2>"$TMPD/tshark.err" || rc=$?
echo "--- tshark -r (first 40 lines)"
head -n 40 "$tshark_out"
if ((rc != 0)); then
  cat "$TMPD/tshark.err"
  fail "tshark could not read the capture (status $rc)"
fi

# count FILTER: how many frames of the capture match a display filter.
count() { tshark -n -r "$pcap" -Y "$1" 2>/dev/null | wc -l; }

n=$(count 'icmp.type == 8 && ip.src == 10.0.0.1 && ip.dst == 10.0.0.2')
((n >= 4)) || fail "capture has $n ICMP echo requests from the kernel, want at least 4"
n=$(count 'icmp.type == 0 && ip.src == 10.0.0.2 && ip.dst == 10.0.0.1')
((n >= 4)) || fail "capture has $n ICMP echo replies from ustack, want at least 4"
n=$(count 'arp.opcode == 2 && arp.src.proto_ipv4 == 10.0.0.2')
((n >= 1)) || fail "capture has no ARP reply from 10.0.0.2"
n=$(count 'arp')
((n >= 2)) || fail "capture has $n ARP frames, want at least a request and a reply"
n=$(count 'ip.flags.mf == 1 && ip.src == 10.0.0.2')
((n >= 1)) || fail "capture has no fragment sent by ustack (the -s 4000 reply)"
n=$(count '_ws.malformed || _ws.expert.severity == error')
((n == 0)) || fail "tshark finds $n malformed or erroneous frames in the capture"

echo "PASS: pcap_test"
