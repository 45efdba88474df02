#!/usr/bin/env bash
# counters_test.sh USTACKD: malformed frames injected from the kernel side of the TAP (a raw
# AF_PACKET socket, inject_frames.py) neither crash nor wedge ustackd: it still answers ping after
# them, exits 0 on SIGTERM, and the counters it prints on exit name every kind of frame it dropped,
# each exactly as often as it was sent (eth.unknown_type, ip.bad_checksum, ip.bad_header_length,
# arp.short, ...).
#
# The kernel refuses to send frames shorter than an Ethernet header (14 bytes) out of a packet
# socket, so eth.runt is checked only if the runt was really sent (the unit tests cover it).
#
# Needs root and /dev/net/tun, otherwise exits 77 (SKIP). Run by hand:
#   sudo tests/system/counters_test.sh build/apps/ustackd
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../tools/lib/netns.sh"

USTACKD=${1:-${USTACKD:-}}
[[ -n $USTACKD ]] || fail "usage: $0 PATH/TO/ustackd"
require_netns_or_skip
command -v ping >/dev/null || skip "ping (iputils-ping) is not installed; run tools/setup"
PYTHON=$(command -v python3 || true)
[[ -x /usr/bin/python3 ]] && PYTHON=/usr/bin/python3
[[ -n $PYTHON ]] || skip "python3 is not installed; run tools/setup"

# The counter each kind of frame of inject_frames.py must raise.
declare -A COUNTER=(
  [runt]=eth.runt
  [unknown_type]=eth.unknown_type
  [not_for_us]=eth.not_for_us
  [ip_short]=ip.short
  [ip_bad_version]=ip.bad_version
  [ip_bad_header_length]=ip.bad_header_length
  [ip_bad_total_length]=ip.bad_total_length
  [ip_truncated]=ip.truncated
  [ip_bad_checksum]=ip.bad_checksum
  [ip_bad_source]=ip.bad_source
  [ip_not_for_us]=ip.not_for_us
  [ip_unknown_protocol]=ip.unknown_protocol
  [icmp_short]=icmp.short
  [icmp_bad_checksum]=icmp.bad_checksum
  [arp_short]=arp.short
  [arp_bad_format]=arp.bad_format
  [arp_bad_op]=arp.bad_op
)
REPEAT=3

make_tmpdir ustack-counters
netns_create ustack-counters
# No IPv6 on the TAP: no MLD or router solicitations from the kernel, so each counter below
# moves only for the frames injected here and must match them exactly.
netns_disable_ipv6 "$NETNS"
log=$TMPD/ustackd.log
show_on_failure "$log"
ustackd_start "$NETNS" "$log" "$USTACKD" --tap tap0 --ip 10.0.0.2/24 --host-ip 10.0.0.1/24 \
  --mac 02:00:00:00:00:02
wait_for_ready "$log" "$USTACKD_PID" 10

echo "--- injecting malformed frames ($REPEAT of each kind)"
rc=0
timeout --foreground 30 ip netns exec "$NETNS" "$PYTHON" "$here/inject_frames.py" tap0 02:00:00:00:00:02 \
  10.0.0.2 10.0.0.1 "$REPEAT" >"$TMPD/inject.txt" || rc=$?
cat "$TMPD/inject.txt"
((rc == 0)) || fail "inject_frames.py exited with status $rc"

# A moment for ustackd to read them, then it must still answer.
sleep 0.5
pid_alive "$USTACKD_PID" || fail "ustackd died after the malformed frames"
echo "--- ping after the malformed frames"
rc=0
timeout --foreground 30 ip netns exec "$NETNS" ping -n -c 3 -i 0.2 -W 3 -w 20 10.0.0.2 || rc=$?
((rc == 0)) || fail "ustackd no longer answers ping after the malformed frames (status $rc)"

ustackd_stop "$USTACKD_PID" TERM 5
echo "--- ustackd output"
cat "$log"
((USTACKD_STATUS == 0)) || fail "ustackd exited with status $USTACKD_STATUS on SIGTERM, want 0"

bad=0
while read -r verdict kind detail; do
  name=${COUNTER[$kind]:-}
  [[ -n $name ]] || fail "inject_frames.py reported an unknown kind: $kind"
  if [[ $verdict == refused ]]; then
    echo "not checked: $name (the kernel refused to send the $kind frame: $detail)"
    continue
  fi
  got=$(counter_value "$log" "$name")
  if ((got == detail)); then
    echo "ok:  $name = $got (sent $detail)"
  else
    echo "BAD: $name = $got, sent $detail $kind frames"
    bad=$((bad + 1))
  fi
done <"$TMPD/inject.txt"
((bad == 0)) || fail "$bad counter(s) did not count the malformed frames"

echo "PASS: counters_test"
