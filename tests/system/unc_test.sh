#!/usr/bin/env bash
# unc_test.sh UNC: unc, the netcat over ustack, reaches a kernel-side `nc -u -l` and back.
#
# In a namespace of its own: the kernel listens with `nc -u -l 9000`; unc on its own TAP
# (10.0.1.2/24, kernel side 10.0.1.1/24) sends a line to 10.0.1.1:9000, which must arrive; then
# unc listens (-l -p 9001) and a kernel `nc -u` sends it a line, which unc must print.
#
# Needs root and /dev/net/tun, otherwise exits 77 (SKIP). Run by hand:
#   sudo tests/system/unc_test.sh build/apps/unc
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/lib/netns.sh"

UNC=${1:-${UNC:-}}
[[ -n $UNC ]] || fail "usage: $0 PATH/TO/unc"
require_netns_or_skip
command -v nc >/dev/null || skip "nc (netcat-openbsd) is not installed; run tools/setup"

make_tmpdir ustack-unc
netns_create ustack-unc

echo "--- unc -> kernel nc -u -l"
ip netns exec "$NETNS" timeout 20 nc -u -l 9000 >"$TMPD/nc.out" 2>&1 &
nc_pid=$!
cleanup_add_pid "$nc_pid"
sleep 0.3
printf 'hello from ustack\n' | timeout --foreground 20 ip netns exec "$NETNS" "$UNC" --tap tap1 \
  --ip 10.0.1.2/24 --host-ip 10.0.1.1/24 -u -w 1 10.0.1.1 9000 >"$TMPD/unc1.out" 2>&1 ||
  fail "unc client exited with an error: $(cat "$TMPD/unc1.out")"
for ((i = 0; i < 50; i++)); do
  grep -q 'hello from ustack' "$TMPD/nc.out" && break
  sleep 0.1
done
cat "$TMPD/nc.out"
grep -q 'hello from ustack' "$TMPD/nc.out" || fail "the kernel's nc did not receive unc's line"

echo "--- kernel nc -u -> unc -l"
# unc reads stdin from a FIFO held open, so it keeps listening until it is stopped.
mkfifo "$TMPD/in"
sleep 30 >"$TMPD/in" &
holder=$!
cleanup_add_pid "$holder"
ip netns exec "$NETNS" "$UNC" --tap tap2 --ip 10.0.2.2/24 --host-ip 10.0.2.1/24 -u -l -p 9001 \
  <"$TMPD/in" >"$TMPD/unc2.out" 2>"$TMPD/unc2.err" &
unc_pid=$!
cleanup_add_pid "$unc_pid"
for ((i = 0; i < 50; i++)); do
  ip netns exec "$NETNS" ip -4 addr show dev tap2 2>/dev/null | grep -q 10.0.2.1 && break
  sleep 0.1
done
for ((i = 0; i < 5; i++)); do
  printf 'hello to ustack\n' | timeout --foreground 5 ip netns exec "$NETNS" nc -u -w 1 10.0.2.2 9001 || true
  grep -q 'hello to ustack' "$TMPD/unc2.out" && break
done
cat "$TMPD/unc2.out"
grep -q 'hello to ustack' "$TMPD/unc2.out" || fail "unc -l did not print the kernel's line: $(cat "$TMPD/unc2.err")"

echo "PASS: unc_test"
