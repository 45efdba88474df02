#!/usr/bin/env bash
# http_test.sh USTACKD HTTP_GET: the kernel's HTTP clients against `ustackd --http 80 --www DIR`
# on a TAP in a namespace of its own, and ustack's http-get against a kernel-side server.
#
#  (a) curl gets the index page (a directory gives its index.html) with its Content-Type;
#  (b) curl gets a 3 MB file byte for byte (sha256);
#  (c) a missing file is 404; POST is 405 with Allow;
#  (d) traversal attempts (/../, %2e%2e, a symlink out of the root) never return what is
#      outside the root;
#  (e) HEAD has the headers of GET and no body; Range gives 206 with exactly those bytes, and
#      an unsatisfiable range 416;
#  (f) ab -k -n 5000 -c 20 and ab -n 2000 -c 20 finish with 0 failed requests;
#  (g) http-get on its own ustack downloads the 3 MB file from `python3 -m http.server` intact.
# ustackd must then exit 0 on SIGINT. The whole test is bounded (timeout 280 s).
#
# Needs root and /dev/net/tun, otherwise exits 77 (SKIP). Run by hand:
#   sudo tests/system/http_test.sh build/apps/ustackd build/apps/http-get
set -euo pipefail
if [[ -z ${USTACK_TEST_BOUNDED:-} ]]; then
  # One overall deadline; on expiry timeout sends SIGTERM and the cleanup trap runs.
  USTACK_TEST_BOUNDED=1 exec timeout --foreground -k 10 280 "$0" "$@"
fi
here="$(dirname "${BASH_SOURCE[0]}")"
source "$here/../../tools/lib/netns.sh"

USTACKD=${1:-${USTACKD:-}}
HTTP_GET=${2:-${HTTP_GET:-}}
[[ -n $USTACKD && -n $HTTP_GET ]] || fail "usage: $0 PATH/TO/ustackd PATH/TO/http-get"
[[ -x $HTTP_GET ]] || fail "http-get binary not found or not executable: $HTTP_GET"
require_netns_or_skip
for tool in curl ab python3; do
  command -v "$tool" >/dev/null || skip "$tool is not installed; run tools/setup"
done

make_tmpdir ustack-http
netns_create ustack-http
www=$TMPD/www
mkdir -p "$www/docs"
printf '<!doctype html>\n<title>ustack</title>\n<h1>Served by ustack</h1>\n' >"$www/index.html"
printf 'docs index\n' >"$www/docs/index.html"
head -c 3000000 /dev/urandom >"$www/big.bin"
echo "secret outside the root" >"$TMPD/secret.txt"
ln -s "$TMPD/secret.txt" "$www/escape.txt"
big_sha=$(sha256sum <"$www/big.bin" | cut -d' ' -f1)

log=$TMPD/ustackd.log
show_on_failure "$log"
ustackd_start "$NETNS" "$log" "$USTACKD" --tap tap0 --ip 10.0.0.2/24 --host-ip 10.0.0.1/24 \
  --http 80 --www "$www"
wait_for_ready "$log" "$USTACKD_PID" 10
echo "namespace $NETNS, ustackd PID $USTACKD_PID: $(grep '^ustackd: ready' "$log")"

# in_ns SECONDS COMMAND...: a kernel-side command inside the namespace, bounded.
in_ns() {
  local seconds=$1
  shift
  timeout --foreground "$seconds" ip netns exec "$NETNS" "$@"
}
# get ARGS... : curl inside the namespace; prints "status content-type size".
get() {
  in_ns 30 curl -sS -o "$TMPD/body" -w '%{http_code} %{content_type} %{size_download}' "$@"
}
expect_status() {
  local want=$1 got=$2 what=$3
  [[ ${got%% *} == "$want" ]] || fail "$what: got '$got', want status $want"
  echo "$what: $got"
}

echo "--- (a) the index page"
r=$(get http://10.0.0.2/)
expect_status 200 "$r" "GET /"
[[ $r == *text/html* ]] || fail "GET /: Content-Type is not text/html: $r"
cmp -s "$TMPD/body" "$www/index.html" || fail "GET /: the body differs from index.html"
r=$(get http://10.0.0.2/docs/)
expect_status 200 "$r" "GET /docs/"
cmp -s "$TMPD/body" "$www/docs/index.html" || fail "GET /docs/: the body differs"

echo "--- (b) a 3 MB file"
r=$(get http://10.0.0.2/big.bin)
expect_status 200 "$r" "GET /big.bin"
got=$(sha256sum <"$TMPD/body" | cut -d' ' -f1)
[[ $got == "$big_sha" ]] || fail "GET /big.bin: sha256 $got, want $big_sha"
echo "GET /big.bin: 3000000 bytes intact (sha256 matches)"

echo "--- (c) errors"
expect_status 404 "$(get http://10.0.0.2/missing.html)" "GET /missing.html"
in_ns 30 curl -sS -o /dev/null -D "$TMPD/headers" -X POST -d x http://10.0.0.2/ || true
head -1 "$TMPD/headers" | grep -q ' 405' || fail "POST /: $(head -1 "$TMPD/headers")"
grep -qi '^Allow: .*GET' "$TMPD/headers" || fail "POST /: 405 without Allow: $(cat "$TMPD/headers")"
echo "POST /: 405 with $(grep -i '^Allow' "$TMPD/headers" | tr -d '\r')"

echo "--- (d) traversal"
for target in /../../../etc/passwd /%2e%2e/%2e%2e/etc/passwd /docs/..%2f..%2f..%2fetc/passwd \
  /escape.txt /docs/../../secret.txt; do
  r=$(get --path-as-is "http://10.0.0.2$target")
  code=${r%% *}
  [[ $code =~ ^4[0-9][0-9]$ ]] || fail "GET $target: got '$r', want a 4xx refusal"
  ! grep -q 'root:\|secret outside' "$TMPD/body" || fail "GET $target: leaked a file outside the root"
  echo "GET $target: refused with $code"
done

echo "--- (e) HEAD and Range"
in_ns 30 curl -sS -I -o "$TMPD/head" http://10.0.0.2/big.bin
head -1 "$TMPD/head" | grep -q ' 200' || fail "HEAD /big.bin: $(head -1 "$TMPD/head")"
grep -qi '^Content-Length: 3000000' "$TMPD/head" || fail "HEAD: wrong Content-Length: $(cat "$TMPD/head")"
grep -qi '^Last-Modified: ' "$TMPD/head" || fail "HEAD: no Last-Modified"
echo "HEAD /big.bin: 200, Content-Length 3000000, no body"
r=$(get -r 1000-1999 http://10.0.0.2/big.bin)
expect_status 206 "$r" "Range 1000-1999"
cmp -s "$TMPD/body" <(tail -c +1001 "$www/big.bin" | head -c 1000) || fail "Range: wrong bytes"
r=$(get -r 2999990- http://10.0.0.2/big.bin)
expect_status 206 "$r" "Range 2999990-"
[[ $(stat -c %s "$TMPD/body") == 10 ]] || fail "Range 2999990-: not 10 bytes"
expect_status 416 "$(get -r 5000000-5000001 http://10.0.0.2/big.bin)" "Range beyond the end"
lm=$(grep -i '^Last-Modified: ' "$TMPD/head" | cut -d' ' -f2- | tr -d '\r')
expect_status 304 "$(get -H "If-Modified-Since: $lm" http://10.0.0.2/big.bin)" "If-Modified-Since"

# ab_check ARGS...: ab inside the namespace; every request must complete, none fail.
ab_check() {
  local out=$TMPD/ab.out
  in_ns 120 ab -q "$@" >"$out" 2>&1 || fail "ab $* exited non-zero: $(tail -5 "$out")"
  local complete failed non2xx
  complete=$(awk '/^Complete requests:/ {print $3}' "$out")
  failed=$(awk '/^Failed requests:/ {print $3}' "$out")
  non2xx=$(awk '/^Non-2xx responses:/ {print $3}' "$out")
  echo "ab $*: complete $complete, failed $failed, $(grep '^Requests per second' "$out")"
  [[ $failed == 0 && -z $non2xx ]] || fail "ab $*: $(cat "$out")"
}
echo "--- (f) ab, keep-alive and a connection per request"
ab_check -k -n 5000 -c 20 http://10.0.0.2/
ab_check -n 2000 -c 20 http://10.0.0.2/

echo "--- (g) http-get on ustack from a kernel-side python3 -m http.server"
# The server listens on every address of the namespace (and nothing outside it): the kernel
# side of tap1, 10.0.1.1, only appears once http-get has made its TAP.
ip netns exec "$NETNS" timeout 120 python3 -m http.server 8000 --bind 0.0.0.0 --directory "$www" \
  >"$TMPD/pyhttp.log" 2>&1 &
py_pid=$!
cleanup_add_pid "$py_pid"
for ((i = 0; i < 100; i++)); do
  ip netns exec "$NETNS" ss -ltn 2>/dev/null | grep -q ':8000 ' && break
  sleep 0.1
done
rc=0
in_ns 60 "$HTTP_GET" --tap tap1 --ip 10.0.1.2/24 --host-ip 10.0.1.1/24 --timeout 20 \
  -o "$TMPD/got.bin" http://10.0.1.1:8000/big.bin 2>"$TMPD/http-get.err" || rc=$?
cat "$TMPD/http-get.err"
((rc == 0)) || fail "http-get exited with status $rc"
got=$(sha256sum <"$TMPD/got.bin" | cut -d' ' -f1)
[[ $got == "$big_sha" ]] || fail "http-get: sha256 $got, want $big_sha"
echo "http-get: 3000000 bytes intact (sha256 matches)"

pid_alive "$USTACKD_PID" || fail "ustackd died during the test"
ustackd_stop "$USTACKD_PID" INT 5
((USTACKD_STATUS == 0)) || fail "ustackd exited with status $USTACKD_STATUS"
echo "PASS"
