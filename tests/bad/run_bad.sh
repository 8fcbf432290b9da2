#!/usr/bin/env bash
# run_bad.sh TFXC [NAME...] — the bad-input contract: for each case of
# tests/bad/cases.txt (or the ones named), run tfxc on tests/bad/cases/NAME and
# require
#   - the exit status the manifest gives (1: bad input; 77: check's "not
#     supported"),
#   - exactly one error line on stderr, containing the manifest's message
#     (for `check`, whose verdict line goes to stdout, stdout and stderr
#     together hold it),
#   - no output left behind: compile writes into an empty temp folder that
#     must stay empty, check's work folder ($TMPDIR) must be removed, and the
#     case's own folder is unchanged,
#   - no sanitizer report (AddressSanitizer, LeakSanitizer, UBSan) when tfxc
#     is a sanitizer build.
# Exit status 0 when every case behaves, 1 otherwise.
set -u
tfxc=${1:?usage: run_bad.sh TFXC [NAME...]}
shift
here=$(cd "$(dirname "$0")" && pwd)
manifest=$here/cases.txt
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# LeakSanitizer is on by default with ASan on Linux; say so in case a caller
# turned it off.  Ignored by a build without sanitizers.
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}"

fails=0
ran=0
fail() {
  echo "FAIL $name: $*"
  sed 's/^/     | /' "$tmp/stderr" "$tmp/stdout" | head -40
  fails=$((fails + 1))
}

run_case() { # NAME KIND EXIT MESSAGE
  local kind=$2 want=$3 msg=$4 target=$here/cases/$1
  rm -rf "$tmp/out" "$tmp/work"
  mkdir -p "$tmp/out" "$tmp/work"
  # what the case folder holds before (nothing may be written into it)
  local dir=$target
  [ -d "$dir" ] || dir=$(dirname "$target")
  local before
  before=$(cd "$dir" && find . | sort)
  local rc
  case $kind in
  compile) TMPDIR=$tmp/work "$tfxc" "$target" -o "$tmp/out/model.c" >"$tmp/stdout" 2>"$tmp/stderr" ;;
  check) TMPDIR=$tmp/work "$tfxc" check "$target" >"$tmp/stdout" 2>"$tmp/stderr" ;;
  *) echo "FAIL $name: unknown kind '$kind' in $manifest"; fails=$((fails + 1)); return ;;
  esac
  rc=$?
  if grep -q -E 'Sanitizer|runtime error:|^==[0-9]+==' "$tmp/stderr"; then
    fail "sanitizer report"; return
  fi
  if [ "$rc" != "$want" ]; then
    fail "exit $rc, expected $want"; return
  fi
  local lines
  lines=$(grep -c . "$tmp/stderr")
  local text=$tmp/stderr
  if [ "$kind" = check ]; then
    cat "$tmp/stderr" "$tmp/stdout" >"$tmp/both"
    text=$tmp/both
    [ "$lines" -le 1 ] || { fail "$lines lines on stderr, expected at most one message"; return; }
  else
    [ "$lines" = 1 ] || { fail "$lines lines on stderr, expected one message"; return; }
  fi
  if ! grep -q -F -- "$msg" "$text"; then
    fail "the message lacks: $msg"; return
  fi
  if [ -n "$(ls -A "$tmp/out")" ]; then
    fail "output left behind: $(ls -A "$tmp/out" | tr '\n' ' ')"; return
  fi
  if [ -n "$(ls -A "$tmp/work")" ]; then
    fail "temporary files left behind: $(ls -A "$tmp/work" | tr '\n' ' ')"; return
  fi
  if [ "$(cd "$dir" && find . | sort)" != "$before" ]; then
    fail "the case folder $dir changed"; return
  fi
  echo "ok   $name"
}

found=0
while read -r name kind code msg; do
  case $name in '' | '#'*) continue ;; esac
  if [ $# -gt 0 ]; then
    hit=0
    for want in "$@"; do [ "$want" = "$name" ] && hit=1; done
    [ $hit = 1 ] || continue
  fi
  found=$((found + 1))
  ran=$((ran + 1))
  run_case "$name" "$kind" "$code" "$msg"
done <"$manifest"

if [ $# -gt 0 ] && [ "$found" != $# ]; then
  echo "FAIL: $# case(s) named, $found found in $manifest"
  fails=$((fails + 1))
fi
echo "$((ran - fails < 0 ? 0 : ran - fails)) of $ran bad-input case(s) behave"
exit $((fails != 0))
