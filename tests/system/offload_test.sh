#!/usr/bin/env bash
# offload_test.sh USTACKD: bulk TCP between the kernel and ustackd on a TAP, with the TAP
# offloads (IFF_VNET_HDR, checksum offload, TSO/GSO) on and then off, in a namespace of its own.
#
# For each of --offload on and --offload off:
#  (a) 200 MB through --echo with a client that sends and reads at once (both directions at
#      once); what comes back must have the same length and sha256;
#  (b) 200 MB into --discard: the client sends, half-closes and must read a clean EOF;
#  (c) 200 MB read from --source, checked against the sha256 of the pattern source sends.
# Then, from the counters ustackd prints on exit: with offloads on, GSO frames went both ways
# (dev.rx_gso, dev.tx_gso); with them off, none; either way no bad virtio-net header, no bad
# checksum. The whole test is bounded (timeout 280 s).
#
# Needs root and /dev/net/tun, otherwise exits 77 (SKIP). Run by hand:
#   sudo tests/system/offload_test.sh build/apps/ustackd
set -euo pipefail
if [[ -z ${USTACK_TEST_BOUNDED:-} ]]; then
  USTACK_TEST_BOUNDED=1 exec timeout --foreground -k 10 280 "$0" "$@"
fi
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../../tools/lib/netns.sh"

USTACKD=${1:-${USTACKD:-}}
[[ -n $USTACKD ]] || fail "usage: $0 PATH/TO/ustackd"
require_netns_or_skip
command -v python3 >/dev/null || skip "python3 is not installed; run tools/setup"

BYTES=200000000
make_tmpdir ustack-offload

client() {
  local seconds=$1
  shift
  timeout --foreground "$seconds" ip netns exec "$NETNS" python3 "$here/tcp_client.py" "$@"
}

# source_check HOST PORT BYTES: reads BYTES from ustackd --source and compares their sha256
# with that of the stream it sends (byte i is ' ' + i % 95, apps/echo_services.cpp).
source_check() {
  timeout --foreground 120 ip netns exec "$NETNS" python3 - "$@" <<'PY'
import hashlib, socket, sys, time
host, port, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cycle = bytes(32 + i % 95 for i in range(95))
block = cycle * (1 << 12)  # a multiple of 95 bytes, so each block starts the cycle anew
want, left = hashlib.sha256(), total
while left:
    n = min(left, len(block))
    want.update(block[:n])
    left -= n
got, n = hashlib.sha256(), 0
start = time.monotonic()
s = socket.create_connection((host, port), timeout=30)
while n < total:
    data = s.recv(min(1 << 20, total - n))
    if not data:
        sys.exit(f"source: EOF after {n} of {total} bytes")
    got.update(data)
    n += len(data)
s.close()
secs = time.monotonic() - start
if got.hexdigest() != want.hexdigest():
    sys.exit(f"source: sha256 {got.hexdigest()} differs from the pattern's {want.hexdigest()}")
print(f"source: {n / 1e6:.1f} MB in {secs:.2f} s, {n / 1e6 / secs:.1f} MB/s, sha256 matches")
PY
}

run_mode() {
  local mode=$1
  echo "=== --offload $mode"
  netns_create ustack-offl
  local log=$TMPD/ustackd-$mode.log
  show_on_failure "$log"
  ustackd_start "$NETNS" "$log" "$USTACKD" --tap tap0 --ip 10.0.0.2/24 --host-ip 10.0.0.1/24 \
    --echo 7 --discard 9 --source 19 --offload "$mode" --log dev=info
  wait_for_ready "$log" "$USTACKD_PID" 10
  grep -q "offloads $mode" "$log" || fail "ustackd did not say it runs with offloads $mode"
  grep "offloads $mode" "$log" | head -1

  echo "--- (a) 200 MB through echo"
  client 120 echo 10.0.0.2 7 $BYTES || fail "$mode: 200 MB through echo failed"
  echo "--- (b) 200 MB into discard"
  client 120 discard 10.0.0.2 9 $BYTES || fail "$mode: 200 MB into discard failed"
  echo "--- (c) 200 MB out of source"
  source_check 10.0.0.2 19 $BYTES || fail "$mode: 200 MB out of source failed"

  pid_alive "$USTACKD_PID" || fail "ustackd died during the test"
  ustackd_stop "$USTACKD_PID" INT 5
  ((USTACKD_STATUS == 0)) || fail "ustackd exited with status $USTACKD_STATUS"
  local rx_gso tx_gso bad
  rx_gso=$(counter_value "$log" dev.rx_gso)
  tx_gso=$(counter_value "$log" dev.tx_gso)
  echo "counters: dev.rx_gso $rx_gso dev.tx_gso $tx_gso"
  for bad in dev.bad_vnet_header dev.bad_gso dev.bad_csum_offset tcp.bad_checksum \
    ip.bad_checksum eth.oversize; do
    (($(counter_value "$log" $bad) == 0)) || fail "$mode: $bad is $(counter_value "$log" $bad)"
  done
  if [[ $mode == on ]]; then
    ((rx_gso > 0)) || fail "offloads on, but the kernel sent no GSO frame"
    ((tx_gso > 0)) || fail "offloads on, but ustack sent no TSO frame"
  else
    ((rx_gso == 0 && tx_gso == 0)) || fail "offloads off, but GSO frames moved"
  fi
}

run_mode on
run_mode off
echo "PASS"
