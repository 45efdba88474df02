# Shared helpers for the bash tools (tools/setup, tools/test, tools/demo) and the system tests.
# Source it; it defines functions and USTACK_ROOT (the repository root) and changes nothing else.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# shellcheck shell=bash

USTACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [[ -t 1 && -z "${NO_COLOR:-}" ]]; then
  _c_bold=$'\e[1m' _c_red=$'\e[31m' _c_green=$'\e[32m' _c_yellow=$'\e[33m' _c_reset=$'\e[0m'
else
  _c_bold='' _c_red='' _c_green='' _c_yellow='' _c_reset=''
fi

# The name of the running tool, for message prefixes ("setup", "demo", "ping_test").
ustack_tool_name() { basename "${0%.sh}"; }

info() { printf '%s==> %s%s\n' "$_c_bold" "$*" "$_c_reset"; }
note() { printf '    %s\n' "$*"; }
warn() { printf '%s%s: warning: %s%s\n' "$_c_yellow" "$(ustack_tool_name)" "$*" "$_c_reset" >&2; }
die() {
  printf '%s%s: error: %s%s\n' "$_c_red" "$(ustack_tool_name)" "$*" "$_c_reset" >&2
  exit 1
}

# A loud banner on stdout (ctest shows stdout), e.g. for SKIP and FAIL.
banner() {
  local colour=$1
  shift
  printf '%s\n' "$colour************************************************************************"
  printf '*** %s\n' "$@"
  printf '%s\n' "************************************************************************$_c_reset"
}

require_root() {
  [[ $EUID -eq 0 ]] || die "must run as root (try: sudo $0 $*)"
}

# The number of CPUs to build and test with.
ustack_jobs() { nproc 2>/dev/null || echo 2; }
