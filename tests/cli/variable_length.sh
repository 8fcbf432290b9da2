#!/usr/bin/env bash
# --max and decoders at the command line:
#  - bad --max uses are refused with a message, exit 1 (2 for a malformed
#    flag), and leave no file behind;
#  - a causal LM gets <name>_prefill/_decode/_reset, --no-kv-cache or an
#    encoder gets <name>_run(ctx, seq, ...) only;
#  - the variable-length code is deterministic and compiles warning-free
#    with gcc and clang at -O0 and -O2 (-pedantic, C99).
# usage: variable_length.sh TFXC REPO_ROOT
set -u
tfxc=$1
root=$2
models=$root/tests/models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

refuse() { # refuse EXPECTED_EXIT EXPECTED_TEXT ARGS...
  local want=$1 text=$2
  shift 2
  mkdir -p "$tmp/r"
  "$tfxc" "$@" -o "$tmp/r/m.c" 2>"$tmp/err" >/dev/null
  local rc=$?
  if [ $rc -ne "$want" ]; then fail "exit $rc (want $want): $*"; cat "$tmp/err"
  elif ! grep -qF -- "$text" "$tmp/err"; then fail "message lacks '$text': $*"; cat "$tmp/err"
  elif [ -n "$(ls -A "$tmp/r")" ]; then fail "files left behind: $*"; ls "$tmp/r"
  else echo "ok   refused: $*"; fi
}

gpt2=$models/onnx/gpt2_tiny/model.onnx
refuse 1 "at least 5" "$gpt2" --dim batch=1 --max seq=4 --no-kv-cache
refuse 1 "a decoder needs a bound of at least 9" "$gpt2" --dim batch=1 --max seq=8
refuse 1 "no dimension named 'nosuch'" "$gpt2" --dim batch=1 --max nosuch=9
refuse 2 "--max given twice" "$gpt2" --dim batch=1 --max seq=9 --max batch=2
refuse 2 "not a positive integer" "$gpt2" --dim batch=1 --max seq=0
refuse 1 "--emit-main" "$gpt2" --dim batch=1 --max seq=16 --emit-main
refuse 1 "allows at most seq=12" "$models/hf/gpt2_model_gelu" --dim batch=1 --max seq=16
refuse 1 "batch" "$gpt2" --max seq=16

mkdir -p "$tmp/d" "$tmp/d2" "$tmp/p" "$tmp/e"
"$tfxc" "$gpt2" -o "$tmp/d/dec.c" --dim batch=1 --max seq=16 || fail "compile decoder"
"$tfxc" "$gpt2" -o "$tmp/d2/dec.c" --dim batch=1 --max seq=16 || fail "compile decoder again"
cmp -s "$tmp/d/dec.c" "$tmp/d2/dec.c" && cmp -s "$tmp/d/dec.h" "$tmp/d2/dec.h" && echo "ok   deterministic" ||
  fail "two compiles differ"
for fn in "int dec_prefill(" "int dec_decode(" "int dec_reset(" "int64_t dec_position(" \
          "int dec_run(dec_ctx *ctx, int64_t seq," "#define DEC_MAX_SEQ 16" "#define DEC_VOCAB 64" "DEC_KV_BYTES"; do
  grep -qF "$fn" "$tmp/d/dec.h" || fail "decoder header lacks '$fn'"
done
"$tfxc" "$gpt2" -o "$tmp/p/plain.c" --dim batch=1 --max seq=16 --no-kv-cache || fail "compile --no-kv-cache"
grep -q "plain_prefill" "$tmp/p/plain.h" && fail "--no-kv-cache still has a cache"
grep -qF "int plain_run(plain_ctx *ctx, int64_t seq," "$tmp/p/plain.h" || fail "plain run lacks its length"
"$tfxc" "$models/onnx/bert_tiny/model.onnx" -o "$tmp/e/enc.c" --dim batch=1 --max seq=16 || fail "compile encoder"
grep -q "enc_prefill" "$tmp/e/enc.h" && fail "an encoder got a KV cache"
for cc in gcc clang; do
  command -v $cc >/dev/null || continue
  for o in -O0 -O2; do
    for f in "$tmp/d/dec.c" "$tmp/p/plain.c" "$tmp/e/enc.c"; do
      $cc -std=c99 -pedantic $o -Wall -Wextra -Werror -c "$f" -o "$tmp/x.o" || fail "$cc $o $f"
    done
  done
done
[ $fails -eq 0 ] && echo "ok   generated code compiles cleanly"
exit $((fails != 0))
