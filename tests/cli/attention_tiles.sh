#!/usr/bin/env bash
# The tiled attention kernel (tfx_attn) on shapes the model fixtures do not
# reach:
#  - `tfxc check` against onnx's reference evaluator (make_attention.py): 200
#    queries over two key tiles with a broadcast float mask, grouped-query
#    causal attention with head size 72 (Kᵀ in two slices, V columns 16 x 4 + 8),
#    a bool mask with both windows and Dk 36 / Dv 20 (narrow tails), batch 2;
#    portable C, AVX2+FMA where the compiler targets it, and ASan+UBSan where
#    the compiler has them;
#  - a decoder (llama_gqa, --max seq=160): 150 tokens prefilled at once, in
#    chunks of 70 and 80 (the second chunk attends from position 70, over two
#    key tiles) and as 70 then one at a time give the same logits within
#    1e-4 relative; the chunked run on 2 threads gives the bits of 1 thread.
# usage: attention_tiles.sh TFXC SOURCE_DIR
set -u
tfxc=$1
src=$2
cc=${CC:-cc}
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

"$py" "$src/tests/cli/make_attention.py" "$tmp/cases" || { echo "FAIL make_attention.py"; exit 1; }
echo 'int main(void) { return 0; }' >"$tmp/t.c"
ccs=("$cc")
$cc -O2 -march=native -o "$tmp/t" "$tmp/t.c" 2>/dev/null && ccs+=("$cc -O2 -march=native")
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
# shellcheck disable=SC2086
$cc $san -o "$tmp/t" "$tmp/t.c" 2>/dev/null && "$tmp/t" 2>/dev/null && ccs+=("$cc $san")

for d in "$tmp"/cases/*; do
  c=$(basename "$d")
  for compiler in "${ccs[@]}"; do
    CC="$compiler" "$tfxc" check "$d" --keep "$tmp/k_$c" >"$tmp/log" 2>&1 || { fail "$c: check with $compiler"; cat "$tmp/log"; }
  done
  grep -q 'tfx_attn(tfx_pp, &a);' "$tmp/k_$c"/*.c || fail "$c: the fused kernel is not used"
done

"$tfxc" "$src/tests/models/onnx/llama_gqa/model.onnx" -o "$tmp/lm.c" --cpu auto --name lm --dim batch=1 --max seq=160 --threads 2 \
  >/dev/null || fail "llama_gqa: compile --max seq=160"
cat >"$tmp/drv.c" <<'CEOF'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lm.h"
#define T 150
/* mode 0: T tokens prefilled at once; 1: 70, then T - 70; 2: 70, then one at a time */
static int run(lm_ctx *ctx, int n, int mode, float *out) {
  int64_t tok[T];
  int i;
  for (i = 0; i < T; i++) tok[i] = (i * 7 + 3) % LM_VOCAB;
  if (lm_set_threads(ctx, n) != LM_OK || lm_reset(ctx) != LM_OK) return 1;
  if (mode == 0) return lm_prefill(ctx, tok, T, out) != LM_OK;
  if (lm_prefill(ctx, tok, 70, out) != LM_OK) return 1;
  if (mode == 1) return lm_prefill(ctx, tok + 70, T - 70, out + (size_t)70 * LM_VOCAB) != LM_OK;
  for (i = 70; i < T; i++)
    if (lm_decode(ctx, tok[i], out + (size_t)i * LM_VOCAB) != LM_OK) return 1;
  return 0;
}
/* max |a - b|; *scale = max(1, max |a|) */
static double maxdiff(const float *a, const float *b, double *scale) {
  double d = 0, s = 1;
  size_t i;
  for (i = 0; i < (size_t)T * LM_VOCAB; i++) {
    d = fabs((double)a[i] - b[i]) > d ? fabs((double)a[i] - b[i]) : d;
    s = fabs((double)a[i]) > s ? fabs((double)a[i]) : s;
  }
  *scale = s;
  return d;
}
int main(void) {
  lm_ctx ctx;
  void *ws = malloc(LM_WORKSPACE_BYTES);
  float *y[4];
  double d, s;
  int k, bad = 0;
  for (k = 0; k < 4; k++) y[k] = calloc((size_t)T * LM_VOCAB, sizeof(float));
  if (!ws || !y[0] || !y[1] || !y[2] || !y[3] || lm_init(&ctx, ws, LM_WORKSPACE_BYTES, NULL, 0)) return 2;
  if (run(&ctx, 1, 0, y[0]) || run(&ctx, 1, 1, y[1]) || run(&ctx, 1, 2, y[2]) || run(&ctx, 2, 1, y[3]))
    return fprintf(stderr, "a step failed\n"), 1;
  for (k = 1; k < 3; k++) {
    d = maxdiff(y[0], y[k], &s);
    if (!(d <= 1e-4 * s))
      bad = 1, fprintf(stderr, "%s: max diff %g (max |logit| %g)\n", k == 1 ? "chunked prefill" : "prefill + decode", d, s);
  }
  if (memcmp(y[1], y[3], (size_t)T * LM_VOCAB * sizeof(float)) != 0) bad = 1, fprintf(stderr, "2 threads differ from 1\n");
  if (lm_set_threads(&ctx, 1) != LM_OK) bad = 1;
  free(ws);
  for (k = 0; k < 4; k++) free(y[k]);
  return bad;
}
CEOF
for compiler in "${ccs[@]}"; do
  # shellcheck disable=SC2086
  $compiler -std=c99 -O1 -Wall -Wextra -Werror -pthread -I"$tmp" -o "$tmp/drv" "$tmp/lm.c" "$tmp/drv.c" -lm ||
    { fail "decoder driver: build with $compiler"; continue; }
  "$tmp/drv" || fail "decoder driver built with $compiler"
done

[ "$fails" = 0 ] && echo "all tiled attention checks passed"
exit $((fails != 0))
