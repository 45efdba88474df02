#!/usr/bin/env bash
# gdb_printers_test.sh SAMPLE: checks tools/gdb/ustack.py by running gdb in batch mode on
# gdb_printers_sample (built -g -O0), stopping in inspect() and printing one value of each type.
# Exits 77 (SKIP) when gdb is missing or cannot run a program here (no ptrace).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../tools/lib/common.sh"

SAMPLE=${1:-}
[[ -x $SAMPLE ]] || { echo "FAIL: usage: $0 PATH/TO/gdb_printers_sample"; exit 1; }
command -v gdb >/dev/null || { echo "SKIP: gdb is not installed; run tools/setup"; exit 77; }

out=$(mktemp)
trap 'rm -f "$out"' EXIT

# expect "EXPRESSION" "OUTPUT": `print EXPRESSION` must print exactly "$N = OUTPUT".
exprs=()
wants=()
expect() { exprs+=("$1"); wants+=("$2"); }

expect s.ip '10.0.0.2'
expect s.mac '02:00:00:00:00:02'
expect s.cidr '192.168.7.1/24'
expect s.packet 'Packet size 20 headroom 160 tailroom 0 [ff ff ff ff ff ff 02 00 00 00 00 01 08 06 00 01 08 00 06 04]'
expect s.empty 'Packet (no buffer: moved from, or never allocated)'
expect s.eth 'eth 02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff type 0x0806 (arp) = {dst = ff:ff:ff:ff:ff:ff, src = 02:00:00:00:00:01, ethertype = 2054}'
expect s.arp_request 'arp who-has 10.0.0.2 tell 10.0.0.1 (02:00:00:00:00:01)*'
expect s.arp_reply 'arp reply 10.0.0.2 is-at 02:00:00:00:00:02 (to 10.0.0.1 02:00:00:00:00:01)*'
expect s.ip_header 'ip 10.0.0.1 > 10.0.0.2 proto 1 (icmp) len 84 id 4660 ttl 64 DF = {header_length = 20, *ttl = 64, protocol = 1,*src = 10.0.0.1, dst = 10.0.0.2}'
expect s.fragment 'ip 10.0.0.1 > 10.0.0.2 proto 17 (udp) len 1500 id 4660 ttl 64 frag 1480+*'
expect s.icmp 'icmp echo request id 77 seq 3*'
expect s.unreachable 'icmp unreachable code 3*'
expect s.instant '12.000345s'
expect s.never 'never'
expect s.ip_header.src '10.0.0.1'
expect ip_ref 'ip 10.0.0.1 > 10.0.0.2 proto 1 (icmp) len 84 id 4660 ttl 64 DF = {header_length = 20,*}'

args=(-batch -nx -ex "source $here/../../tools/gdb/ustack.py" -ex 'break inspect' -ex run -ex up)
for e in "${exprs[@]}"; do args+=(-ex "print $e"); done
args+=(-ex 'ustack-dump s.packet')

rc=0
timeout --foreground 60 gdb "${args[@]}" "$SAMPLE" >"$out" 2>&1 || rc=$?
cat "$out"
if grep -Eq 'ptrace: Operation not permitted|could not (run|start)|Couldn.t get registers' "$out"; then
  echo "SKIP: gdb cannot run programs here (ptrace not permitted)"
  exit 77
fi
((rc == 0)) || { echo "FAIL: gdb exited with status $rc"; exit 1; }

mapfile -t printed < <(grep -E '^\$[0-9]+ = ' "$out" | sed -E 's/^\$[0-9]+ = //')
bad=0
for i in "${!exprs[@]}"; do
  got=${printed[$i]:-<nothing>}
  # The wants are glob patterns where only * is special: escape the brackets.
  pattern=${wants[$i]//[/\\[}
  pattern=${pattern//]/\\]}
  # shellcheck disable=SC2053
  if [[ $got == $pattern ]]; then
    echo "ok:  print ${exprs[$i]}"
  else
    echo "BAD: print ${exprs[$i]}"
    echo "     got:  $got"
    echo "     want: ${wants[$i]}"
    bad=$((bad + 1))
  fi
done
grep -q '^0010  08 00 06 04' "$out" || { echo "BAD: ustack-dump output"; bad=$((bad + 1)); }
((bad == 0)) || { echo "FAIL: $bad pretty-printer check(s) failed"; exit 1; }
echo "PASS: gdb_printers_test"
