#!/usr/bin/env bash
# `tfxc check` on case data that contradicts the model: a missing or extra
# input file, a wrong dtype or rank, a symbol with two values, a truncated
# .pb.  Every mode (fixed, --reference, --max, --decode) must exit 1 with a
# message naming the input and the file, without crashing; bad --max/--decode
# flags are usage errors (exit 2).  The .pb files are written here byte by
# byte (TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9).
# usage: check_bad_inputs.sh TFXC CASE_DIR   (CASE_DIR: tests/models/onnx/bert_tiny,
#        inputs input_ids, attention_mask, token_type_ids: int64 [batch, seq])
set -u
tfxc=$1
base=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

varint() { # the protobuf varint of $1 as printf escapes
  local v=$1 out=""
  while [ "$v" -ge 128 ]; do
    out+=$(printf '\\x%02x' $(((v & 127) | 128)))
    v=$((v >> 7))
  done
  out+=$(printf '\\x%02x' "$v")
  printf '%s' "$out"
}

pb() { # pb FILE ONNX_DTYPE ELEM_BYTES NAME DIM...: a zero-filled tensor
  local file=$1 dt=$2 es=$3 name=$4 n=1 hdr="" d
  shift 4
  for d in "$@"; do
    hdr+="\\x08$(varint "$d")"
    n=$((n * d))
  done
  hdr+="\\x10$(varint "$dt")"
  [ -n "$name" ] && hdr+="\\x42$(varint ${#name})$name"
  hdr+="\\x4a$(varint $((n * es)))"
  { printf "$hdr"; head -c $((n * es)) /dev/zero; } >"$file"
}

newcase() { # newcase NAME: model and expected outputs of the base case, no inputs
  local d=$tmp/$1/test_data_set_0
  mkdir -p "$d"
  cp "$base/model.onnx" "$tmp/$1/"
  cp "$base"/test_data_set_0/output_*.pb "$d/"
  echo "$d"
}

expect() { # expect NAME CODE PATTERN... -- ARGS...: exit code, and patterns in stdout+stderr
  local name=$1 code=$2
  shift 2
  local pats=()
  while [ "$1" != "--" ]; do pats+=("$1"); shift; done
  shift
  "$tfxc" check "$@" >"$tmp/out" 2>&1
  local rc=$?
  if [ "$rc" != "$code" ]; then
    echo "FAIL $name: exit $rc, expected $code"; cat "$tmp/out"; fails=$((fails + 1)); return
  fi
  for p in "${pats[@]}"; do
    if ! grep -q -- "$p" "$tmp/out"; then
      echo "FAIL $name: output lacks '$p'"; cat "$tmp/out"; fails=$((fails + 1)); return
    fi
  done
  echo "ok   $name"
}

# every mode reads and matches the data the same way
modes() { # modes NAME PATTERN... -- CASE
  local name=$1
  shift
  local pats=()
  while [ "$1" != "--" ]; do pats+=("$1"); shift; done
  shift
  expect "$name" 1 "${pats[@]}" -- "$1"
  expect "$name --reference" 1 "${pats[@]}" -- --reference "$1"
  expect "$name --max" 1 "${pats[@]}" -- --max seq=8 "$1"
  expect "$name --decode" 1 "${pats[@]}" -- --decode "$1"
}

d=$(newcase extra_input)
for k in 0 1 2 3; do pb "$d/input_$k.pb" 7 8 "" 1 5; done
modes extra_input "input_3.pb" "matches no model input" -- "$tmp/extra_input"

d=$(newcase missing_input)
for k in 0 1; do pb "$d/input_$k.pb" 7 8 "" 1 5; done
modes missing_input "model input 'token_type_ids' gets no input_K.pb" "test_data_set_0 holds 2 input files" -- \
  "$tmp/missing_input"

d=$(newcase wrong_dtype)
pb "$d/input_0.pb" 7 8 "" 1 5
pb "$d/input_1.pb" 1 4 "" 1 5
pb "$d/input_2.pb" 7 8 "" 1 5
modes wrong_dtype "input 'attention_mask': the model declares int64" "input_1.pb holds float32" -- "$tmp/wrong_dtype"

d=$(newcase wrong_rank)
pb "$d/input_0.pb" 7 8 "" 5
pb "$d/input_1.pb" 7 8 "" 1 5
pb "$d/input_2.pb" 7 8 "" 1 5
modes wrong_rank "input 'input_ids': the model declares shape \[batch,seq\]" "input_0.pb holds \[5\]" -- \
  "$tmp/wrong_rank"

d=$(newcase two_lengths)
pb "$d/input_0.pb" 7 8 "" 1 5
pb "$d/input_1.pb" 7 8 "" 1 6
pb "$d/input_2.pb" 7 8 "" 1 5
modes two_lengths "input 'attention_mask': dim 1 is 'seq' = 6 in" "input_1.pb" "'seq' = 5 in" -- "$tmp/two_lengths"

# matched by name: the file order does not matter, the name is reported
d=$(newcase named_wrong_dtype)
pb "$d/input_0.pb" 6 4 token_type_ids 1 5
pb "$d/input_1.pb" 7 8 input_ids 1 5
pb "$d/input_2.pb" 7 8 attention_mask 1 5
modes named_wrong_dtype "input 'token_type_ids': the model declares int64" "input_0.pb holds int32" -- \
  "$tmp/named_wrong_dtype"

d=$(newcase truncated)
pb "$d/input_0.pb" 7 8 "" 1 5
pb "$d/input_1.pb" 7 8 "" 1 5
pb "$tmp/whole.pb" 7 8 "" 1 5
head -c 20 "$tmp/whole.pb" >"$d/input_2.pb"
modes truncated "input_2.pb" -- "$tmp/truncated"

# --decode needs a batch-1 set with token ids only: none here
d=$(newcase no_decoder_set)
for k in 0 1 2; do pb "$d/input_$k.pb" 7 8 "" 2 5; done
expect decode_no_set 77 "no batch-1 data set with an empty past" "both hold data" -- --decode "$tmp/no_decoder_set"

# flags
expect max_no_value 2 "--max expects SYM=N" -- --max seq "$base"
expect max_zero 2 "--max expects SYM=N" -- --max seq=0 "$base"
expect max_reference 2 "do not combine with --reference" -- --max seq=8 --reference "$base"
expect decode_reference 2 "do not combine with --reference" -- --decode --reference "$base"
expect decode_small_max 2 "--decode needs --max 9" -- --decode --max 5 "$base"
expect max_unknown_sym 1 "no dimension named 'nope'" -- --max nope=8 "$base"

[ "$fails" = 0 ] && echo "all bad case data is reported" || echo "$fails case(s) failed"
exit $((fails != 0))
