#!/usr/bin/env bash
# Bad input to the command line: each case must exit with the documented
# code, print a message naming the file and the node or tensor at fault, and
# leave no output behind (and not clobber an existing one).
# usage: bad_input.sh TFXC DATA_DIR
set -u
tfxc=$1
data=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

expect() { # expect NAME CODE PATTERN... -- ARGS...
  local name=$1 code=$2
  shift 2
  local pats=()
  while [ "$1" != "--" ]; do pats+=("$1"); shift; done
  shift
  rm -f "$tmp"/out.* 
  "$tfxc" "$@" >"$tmp/stdout" 2>"$tmp/stderr"
  local rc=$?
  if [ "$rc" != "$code" ]; then
    echo "FAIL $name: exit $rc, expected $code"; cat "$tmp/stderr"; fails=$((fails + 1)); return
  fi
  for p in "${pats[@]}"; do
    if ! grep -q -- "$p" "$tmp/stderr"; then
      echo "FAIL $name: stderr lacks '$p'"; cat "$tmp/stderr"; fails=$((fails + 1)); return
    fi
  done
  if [ "$code" != 0 ] && ls "$tmp"/out.* >/dev/null 2>&1; then
    echo "FAIL $name: output left behind: $(ls "$tmp")"; fails=$((fails + 1)); return
  fi
  echo "ok   $name"
}

head -c 60 "$data/good.onnx" >"$tmp/truncated.onnx"
head -c 4096 /dev/urandom >"$tmp/garbage.onnx"
: >"$tmp/empty.onnx"

expect missing_file 1 "nonexistent.onnx" -- "$tmp/nonexistent.onnx" -o "$tmp/out.c"
expect truncated 1 "truncated.onnx" -- "$tmp/truncated.onnx" -o "$tmp/out.c"
expect garbage 1 "garbage.onnx" -- "$tmp/garbage.onnx" -o "$tmp/out.c"
expect empty 1 "empty.onnx" -- "$tmp/empty.onnx" -o "$tmp/out.c"
expect unsupported_ops 1 "first_fancy" "FancyOp" "second_missing" "OtherMissingOp" -- \
  "$data/unsupported_ops.onnx" -o "$tmp/out.c"
expect missing_value 1 "add_ghost" "ghost" -- "$data/missing_value.onnx" -o "$tmp/out.c"
expect bad_broadcast 1 "add_mismatch" -- "$data/bad_broadcast.onnx" -o "$tmp/out.c"
expect no_output 2 "no output" -- "$data/good.onnx"
expect not_c 2 "must be a .c file" -- "$data/good.onnx" -o "$tmp/out.txt"
expect bad_level 2 "-O expects" -- "$data/good.onnx" -o "$tmp/out.c" -O9
expect bad_dim 2 "--dim" -- "$data/good.onnx" -o "$tmp/out.c" --dim seq
expect unknown_dim 1 "no dimension named 'nope'" -- "$data/good.onnx" -o "$tmp/out.c" --dim nope=3
expect bad_name 1 "not a C identifier" -- "$data/good.onnx" -o "$tmp/out.c" --name 9lives
expect huge_dim 1 "huge_dim.onnx" "input 'x' would be larger than 1 TiB" -- "$data/huge_dim.onnx" -o "$tmp/out.c"
expect seq_over_bound 1 "allows at most seq=16" -- "$data/../../models/hf/bert_tiny" -o "$tmp/out.c" \
  --dim batch=1 --dim seq=100
expect no_config 1 "config.json" -- "$data" -o "$tmp/out.c"
expect good 0 -- "$data/good.onnx" -o "$tmp/out.c"

# a failing compile must not clobber an existing output
echo "keep me" >"$tmp/keep.c"
"$tfxc" "$data/unsupported_ops.onnx" -o "$tmp/keep.c" 2>/dev/null
if [ "$(cat "$tmp/keep.c")" != "keep me" ]; then echo "FAIL clobber: existing output changed"; fails=$((fails + 1)); else echo "ok   no_clobber"; fi

[ "$fails" = 0 ] && echo "all bad-input cases behave" || echo "$fails case(s) failed"
exit $((fails != 0))
