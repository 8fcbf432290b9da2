#!/usr/bin/env bash
# --threads N: generated code on a thread pool.
#  - `tfxc check --threads 2` passes (absolute tolerance 1e-5, as the model tests) on an encoder (bert_tiny, fixed and --max)
#    and a decoder (llama_gqa, --max and --decode);
#  - the outputs are bit for bit those of one thread: the --emit-main program
#    run with --threads 1 and 2, and the code compiled without --threads;
#    TFX_SGEMM_SERIAL=1 makes even these small GEMMs split between threads;
#  - a decoder driver: set_threads(0) and (N+1) give ERR_DIM, prefill/decode
#    logits on 2 threads equal those on 1, set_threads(1) joins the workers
#    (built with ASan+UBSan when the compiler has them);
#  - quantised weights (int8, int4): gpt2_tiny at 1, 7 and 12 rows and the decoder
#    driver give the same bits on 1 and 2 threads, portable and, where the
#    compiler targets AVX2, with -march=native (the integer prefill kernel
#    tfx_qpf_job, its 96- and 128-channel products split between the threads).
# usage: threads.sh TFXC SOURCE_DIR
set -u
tfxc=$1
src=$2
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
cflags="-std=c99 -O2 -Wall -Wextra -Werror -DTFX_SGEMM_SERIAL=1"
native= # -march=native where it gives AVX2+FMA, the integer prefill kernel's target
printf '#if !defined(__AVX2__) || !defined(__FMA__)\n#error no AVX2\n#endif\nint main(void) { return 0; }\n' >"$tmp/t.c"
$cc -march=native -o "$tmp/t" "$tmp/t.c" 2>/dev/null && native=-march=native
bert=$src/tests/models/onnx/bert_tiny
llama=$src/tests/models/onnx/llama_gqa

for args in "$bert" "--max seq=$(cat "$bert/max_seq") $bert" "--max seq=$(cat "$llama/max_seq") $llama" \
  "--decode $llama"; do
  # shellcheck disable=SC2086
  "$tfxc" check --threads 2 --atol 1e-5 $args >"$tmp/check.log" 2>&1 || { fail "tfxc check --threads 2 $args"; cat "$tmp/check.log"; }
done

# --emit-main at fixed shapes: 1 thread, 2 threads, and no pool at all agree exactly
for c in bert_tiny llama_gqa; do
  d=$src/tests/models/onnx/$c/test_data_set_4 # batch 1, seq 16
  ins=$(ls "$d"/input_*.pb)
  nout=$(ls "$d"/output_*.pb | wc -l)
  for t in 1 2; do
    "$tfxc" "$src/tests/models/onnx/$c/model.onnx" -o "$tmp/m$t.c" --cpu auto --name m --dim batch=1 --dim seq=16 \
      --emit-main --threads $t >/dev/null || fail "$c: compile --threads $t"
    $cc $cflags -pthread -o "$tmp/p$t" "$tmp/m$t.c" -lm || fail "$c: build --threads $t"
  done
  run() { # run PROG OUT_PREFIX [--threads N]
    local prog=$1 pre=$2 outs=() k
    shift 2
    for ((k = 0; k < nout; k++)); do outs+=("$tmp/$pre.$k.pb"); done
    # shellcheck disable=SC2086
    "$prog" "$@" $ins "${outs[@]}" || fail "$c: $prog $*"
  }
  run "$tmp/p1" one
  run "$tmp/p2" t1 --threads 1
  run "$tmp/p2" t2 --threads 2
  for ((k = 0; k < nout; k++)); do
    cmp -s "$tmp/one.$k.pb" "$tmp/t1.$k.pb" || fail "$c: output $k: --threads 2 code on 1 thread differs from unthreaded code"
    cmp -s "$tmp/t1.$k.pb" "$tmp/t2.$k.pb" || fail "$c: output $k: 2 threads differ from 1"
  done
  "$tmp/p1" --threads 2 $ins "$tmp/x.pb" "$tmp/y.pb" 2>/dev/null && fail "$c: unthreaded program accepted --threads 2"
done

# the decoder API on threads
"$tfxc" "$llama/model.onnx" -o "$tmp/lm.c" --cpu auto --name lm --dim batch=1 --max seq=64 --threads 2 >/dev/null ||
  fail "llama_gqa: compile --max seq=64 --threads 2"
grep -q 'int lm_set_threads(lm_ctx \*ctx, int n);' "$tmp/lm.h" || fail "lm.h: no lm_set_threads"
grep -q '#include <pthread' "$tmp/lm.h" && fail "lm.h must not need pthread.h"
cat >"$tmp/drv.c" <<'CEOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lm.h"
/* prefill 5 tokens, decode 6 more, on n threads; logits of every step to out */
static int steps(lm_ctx *ctx, int n, float *out) {
  static const int64_t tok[11] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5};
  int i;
  if (lm_set_threads(ctx, n) != LM_OK || lm_reset(ctx) != LM_OK) return 1;
  if (lm_prefill(ctx, tok, 5, out) != LM_OK) return 1;
  for (i = 5; i < 11; i++)
    if (lm_decode(ctx, tok[i], out + (size_t)i * LM_VOCAB) != LM_OK) return 1;
  return 0;
}
int main(void) {
  lm_ctx ctx;
  void *ws = NULL;
  float *a = calloc(11 * LM_VOCAB, sizeof *a), *b = calloc(11 * LM_VOCAB, sizeof *b);
  int bad = 0;
  if (!a || !b || !(ws = malloc(LM_WORKSPACE_BYTES)) || lm_init(&ctx, ws, LM_WORKSPACE_BYTES, NULL, 0))
    return 2;
  if (lm_set_threads(&ctx, 0) != LM_ERR_DIM) bad |= 1, fprintf(stderr, "set_threads(0) is not ERR_DIM\n");
  if (lm_set_threads(&ctx, LM_MAX_THREADS + 1) != LM_ERR_DIM) bad |= 1, fprintf(stderr, "set_threads(N+1) is not ERR_DIM\n");
  if (lm_set_threads(NULL, 1) != LM_ERR_NULL) bad |= 1, fprintf(stderr, "set_threads(NULL) is not ERR_NULL\n");
  if (steps(&ctx, 1, a) || steps(&ctx, 2, b) || steps(&ctx, 2, b)) bad |= 1, fprintf(stderr, "a step failed\n");
  if (memcmp(a, b, 11 * LM_VOCAB * sizeof *a) != 0) bad |= 1, fprintf(stderr, "2 threads differ from 1\n");
  if (lm_set_threads(&ctx, 1) != LM_OK) bad |= 1, fprintf(stderr, "set_threads(1) failed\n");
  free(ws);
  free(a);
  free(b);
  return bad;
}
CEOF
$cc $cflags -pthread -I"$tmp" -o "$tmp/drv" "$tmp/lm.c" "$tmp/drv.c" -lm || fail "decoder driver: build"
[ -x "$tmp/drv" ] && { "$tmp/drv" || fail "decoder driver"; }
# quantised products (tfx_qmm) split whole blocks of channels between threads, so
# 2 threads give the bits of 1: int8 and int4 (with the AWQ input scales), rows of
# decode size (< 6: in-register dequantisation) and of prefill size (dequantised
# blocks through tfx_sgemm), and the decoder driver's prefill and decode steps
gpt=$src/tests/models/onnx/gpt2_tiny
for q in int8 int4; do
  for set in "2 1 1" "3 1 7" "0 2 6"; do # data set, batch, seq
    read -r ds b s <<<"$set"
    ins=$gpt/test_data_set_$ds/input_0.pb
    "$tfxc" "$gpt/model.onnx" -o "$tmp/q.c" --cpu auto --name m --dim batch="$b" --dim seq="$s" --emit-main --threads 2 \
      --quantize-weights=$q --quantize-lm-head >/dev/null 2>&1 || { fail "gpt2_tiny $q: compile"; continue; }
    grep -q 'tfx_qmm(tfx_pp' "$tmp/q.c" || fail "gpt2_tiny $q: no tfx_qmm call"
    for arch in "" $native; do
      $cc $cflags $arch -pthread -o "$tmp/q" "$tmp/q.c" -lm || { fail "gpt2_tiny $q $arch: build"; continue; }
      "$tmp/q" --threads 1 "$ins" "$tmp/q1.pb" && "$tmp/q" --threads 2 "$ins" "$tmp/q2.pb" || fail "gpt2_tiny $q $arch: run"
      cmp -s "$tmp/q1.pb" "$tmp/q2.pb" || fail "gpt2_tiny $q $arch, $b x $s tokens: 2 threads differ from 1"
    done
  done
  "$tfxc" "$llama/model.onnx" -o "$tmp/lm.c" --cpu auto --name lm --dim batch=1 --max seq=64 --threads 2 \
    --quantize-weights=$q --quantize-lm-head >/dev/null 2>&1 || { fail "llama_gqa $q: compile"; continue; }
  $cc $cflags -pthread -I"$tmp" -o "$tmp/drv_q" "$tmp/lm.c" "$tmp/drv.c" -lm || { fail "llama_gqa $q: build"; continue; }
  "$tmp/drv_q" || fail "llama_gqa $q: decoder driver"
done

san="-fsanitize=address,undefined -fno-sanitize-recover=all"
if echo 'int main(void){return 0;}' | $cc $san -x c -o "$tmp/s" - 2>/dev/null; then
  $cc $cflags $san -g -pthread -I"$tmp" -o "$tmp/drv_asan" "$tmp/lm.c" "$tmp/drv.c" -lm || fail "decoder driver: ASan build"
  [ -x "$tmp/drv_asan" ] && { "$tmp/drv_asan" || fail "decoder driver under ASan+UBSan"; }
fi

[ $fails -eq 0 ] && echo "threads: all passed"
exit $((fails != 0))
