#!/usr/bin/env bash
# <name>_prefill_last: a decoder's prefill that gives the last token's logits
# alone.  On llama_gqa (float32, and int8 weights with the LM head quantised)
# and gpt2_tiny, and on llama_gqa with its logits scaled by a Mul after the
# head (the node writing them cannot leave rows out: one token a step):
#  - the generated step has the last-row product (`if (tfx_last)`), or for the
#    scaled model the one-token loop;
#  - prefill_last's logits are prefill's last row (within 1e-5 of the largest
#    logit: the one-row product sums in another order), the position is the
#    same, and the decode steps that follow give the same bits: the cache is
#    the same (for the scaled model, filled a token at a time, the same within
#    1e-5 of the largest logit);
#  - for one token it gives prefill's bits;
#  - NULL logits (ERR_NULL), n = 0 and n past the cache (ERR_DIM), a token
#    outside the vocabulary (ERR_INPUT) are refused with the position unchanged;
# also under ASan+UBSan where the compiler has them.  The identity Cast that
# llama_gqa's export puts after the head is gone (the head writes the logits).
# usage: prefill_last.sh TFXC SOURCE_DIR
set -u
tfxc=$1
src=$2
cc=${CC:-cc}
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
cflags="-std=c99 -O2 -Wall -Wextra -Werror"
llama=$src/tests/models/onnx/llama_gqa
gpt=$src/tests/models/onnx/gpt2_tiny

cat >"$tmp/drv.c" <<'CEOF'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lm.h"
#define N 11
#define D 3
static int64_t tok[N + D];
static float full[N * LM_VOCAB], last[LM_VOCAB], dec[2][D][LM_VOCAB];
static int bad = 0;
#define CHECK(c, ...) do { if (!(c)) { printf(__VA_ARGS__); printf("\n"); bad = 1; } } while (0)
static void decode(lm_ctx *ctx, float out[D][LM_VOCAB]) {
  int i;
  for (i = 0; i < D; i++) CHECK(lm_decode(ctx, tok[N + i], out[i]) == LM_OK, "decode %d", i);
}
int main(void) {
  static lm_ctx ctx;
  static float one[2][LM_VOCAB];
  void *ws = malloc(LM_WORKSPACE_BYTES + 16);
  int i;
  float amax = 0, err = 0;
  int64_t oov = LM_TOKENS;
  for (i = 0; i < N + D; i++) tok[i] = (i * 7 + 3) % LM_TOKENS;
  if (!ws || lm_init(&ctx, (void *)(((size_t)ws + 15) / 16 * 16), LM_WORKSPACE_BYTES, NULL, 0) != LM_OK) return 2;
  CHECK(lm_prefill(&ctx, tok, N, full) == LM_OK, "prefill");
  decode(&ctx, dec[0]);
  CHECK(lm_reset(&ctx) == LM_OK, "reset");
  CHECK(lm_prefill_last(&ctx, tok, N, last) == LM_OK, "prefill_last");
  CHECK(lm_position(&ctx) == N, "position after prefill_last: %lld", (long long)lm_position(&ctx));
  for (i = 0; i < LM_VOCAB; i++) {
    float a = fabsf(full[(N - 1) * LM_VOCAB + i]), e = fabsf(full[(N - 1) * LM_VOCAB + i] - last[i]);
    amax = a > amax ? a : amax;
    err = e > err ? e : err;
  }
  CHECK(amax > 0 && err <= 1e-5f * amax, "prefill_last's logits differ from prefill's last row by %g (largest %g)",
        err, amax);
  decode(&ctx, dec[1]);
#ifdef ONE_TOKEN_STEPS /* the cache was filled a token at a time: the same within rounding */
  err = 0;
  for (i = 0; i < D * LM_VOCAB; i++) err = fmaxf(err, fabsf(dec[0][i / LM_VOCAB][i % LM_VOCAB] - dec[1][i / LM_VOCAB][i % LM_VOCAB]));
  CHECK(err <= 1e-5f * amax, "the decode steps after prefill_last differ from those after prefill by %g", err);
#else
  CHECK(memcmp(dec[0], dec[1], sizeof dec[0]) == 0, "the decode steps after prefill_last differ from those after prefill");
#endif
  CHECK(lm_reset(&ctx) == LM_OK && lm_prefill(&ctx, tok, 1, one[0]) == LM_OK, "prefill of one token");
  CHECK(lm_reset(&ctx) == LM_OK && lm_prefill_last(&ctx, tok, 1, one[1]) == LM_OK, "prefill_last of one token");
  CHECK(memcmp(one[0], one[1], sizeof one[0]) == 0, "prefill_last of one token differs from prefill");
  CHECK(lm_prefill_last(&ctx, tok, 2, NULL) == LM_ERR_NULL, "NULL logits");
  CHECK(lm_prefill_last(&ctx, tok, 0, last) == LM_ERR_DIM, "n = 0");
  CHECK(lm_prefill_last(&ctx, tok, LM_MAX_SEQ, last) == LM_ERR_DIM, "n past the cache");
  CHECK(lm_prefill_last(&ctx, &oov, 1, last) == LM_ERR_INPUT, "token outside the vocabulary");
  CHECK(lm_position(&ctx) == 1, "position after refused calls: %lld", (long long)lm_position(&ctx));
  free(ws);
  return bad;
}
CEOF

# the llama export with its logits times 0.5 after the head
"$py" - "$llama/model.onnx" "$tmp/scaled.onnx" <<'PEOF' || fail "scaled model: python/onnx"
import sys
import onnx
from onnx import helper, TensorProto
m = onnx.load(sys.argv[1])
g = m.graph
out = g.output[0].name
for n in g.node:
    for k, o in enumerate(n.output):
        if o == out:
            n.output[k] = out + "_unscaled"
g.initializer.append(helper.make_tensor("logit_scale", TensorProto.FLOAT, [], [0.5]))
g.node.append(helper.make_node("Mul", [out + "_unscaled", "logit_scale"], [out], name="scale_logits"))
onnx.save(m, sys.argv[2])
PEOF

san="-fsanitize=address,undefined -fno-sanitize-recover=all"
asan=
echo 'int main(void){return 0;}' | $cc $san -x c -o "$tmp/s" - 2>/dev/null && asan=1
for v in llama llama_int8 gpt2 scaled; do
  case $v in
    llama) model=$llama/model.onnx q=() ;;
    llama_int8) model=$llama/model.onnx q=(--quantize-weights=int8 --quantize-lm-head) ;;
    gpt2) model=$gpt/model.onnx q=() ;;
    scaled) model=$tmp/scaled.onnx q=() ;;
  esac
  mkdir -p "$tmp/$v"
  "$tfxc" "$model" -o "$tmp/$v/lm.c" --name lm --dim batch=1 --max seq=16 --weights=embed "${q[@]}" >/dev/null 2>&1 ||
    { fail "$v: compile"; continue; }
  if [ $v = scaled ]; then
    grep -q 'lm_step(ctx, 1, tokens + i, logits, 0)' "$tmp/$v/lm.c" || fail "$v: no one-token loop"
    grep -q 'if (tfx_last)' "$tmp/$v/lm.c" && fail "$v: a last-row product, but a Mul writes the logits"
  else
    grep -q 'if (tfx_last)' "$tmp/$v/lm.c" || fail "$v: no last-row product"
  fi
  [ $v = llama ] && grep -q '/model/Cast: Cast' "$tmp/$v/lm.c" && fail "$v: the identity Cast after the head is still there"
  def=; [ $v = scaled ] && def=-DONE_TOKEN_STEPS
  $cc $cflags $def -I"$tmp/$v" -o "$tmp/$v/drv" "$tmp/drv.c" "$tmp/$v/lm.c" -lm || { fail "$v: build"; continue; }
  "$tmp/$v/drv" || fail "$v: driver"
  if [ -n "$asan" ]; then
    $cc $cflags $def $san -g -I"$tmp/$v" -o "$tmp/$v/drv_asan" "$tmp/drv.c" "$tmp/$v/lm.c" -lm || fail "$v: ASan build"
    [ -x "$tmp/$v/drv_asan" ] && { "$tmp/$v/drv_asan" || fail "$v: driver under ASan+UBSan"; }
  fi
done

[ $fails -eq 0 ] && echo "prefill_last: all passed"
exit $((fails != 0))
