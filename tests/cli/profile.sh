#!/usr/bin/env bash
# --profile: the generated code times every node.
#  - bert_tiny with --emit-main: the program's outputs are the bits of the build
#    without --profile, and it prints one row per operator of the graph, the
#    "all" row counting every node, the shares summing to 100%;
#  - a llama_gqa decoder (--max, 2 threads) through a driver: before any run
#    every node has 0 runs; after a prefill and 3 decode steps every node has
#    4, the seconds are >= 0 and sum to at most the driver's own clock around
#    the calls (and more than 0); KvAttention and Linear nodes are named;
#    _profile_reset zeroes; i outside the nodes gives ERR_DIM, NULL ctx
#    ERR_NULL, an uninitialised one ERR_STATE; the logits equal those of the
#    build without --profile; under ASan+UBSan where the compiler has them.
# usage: profile.sh TFXC SOURCE_DIR
set -u
tfxc=$1
src=$2
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
cflags="-std=c99 -O2 -Wall -Wextra -Werror"

bert=$src/tests/models/onnx/bert_tiny
d=$bert/test_data_set_4 # batch 1, seq 16
ins=$(ls "$d"/input_*.pb)
nout=$(ls "$d"/output_*.pb | wc -l)
for p in plain prof; do
  flag=; [ $p = prof ] && flag=--profile
  "$tfxc" "$bert/model.onnx" -o "$tmp/$p.c" --name m --dim batch=1 --dim seq=16 --emit-main $flag >/dev/null ||
    fail "bert_tiny: compile $flag"
  $cc $cflags -o "$tmp/$p" "$tmp/$p.c" -lm || { fail "bert_tiny: build $flag"; continue; }
  outs=()
  for ((k = 0; k < nout; k++)); do outs+=("$tmp/$p.$k.pb"); done
  # shellcheck disable=SC2086
  "$tmp/$p" $ins "${outs[@]}" 2>"$tmp/$p.err" || fail "bert_tiny: run $flag"
done
for ((k = 0; k < nout; k++)); do
  cmp -s "$tmp/plain.$k.pb" "$tmp/prof.$k.pb" || fail "bert_tiny: output $k differs with --profile"
done
[ -s "$tmp/plain.err" ] && fail "bert_tiny: the program without --profile printed: $(head -2 "$tmp/plain.err")"
nodes=$(sed -n 's/^#define M_PROFILE_NODES \([0-9]*\)$/\1/p' "$tmp/prof.h")
[ -n "$nodes" ] || fail "prof.h: no M_PROFILE_NODES"
grep -q '^operator ' "$tmp/prof.err" || fail "bert_tiny: no profile table on stderr"
awk -v n="${nodes:-0}" '$1 == "all" { found = 1; if ($2 != n) { print "all row: " $2 " nodes, the header says " n; bad = 1 } }
  $1 != "operator" && $1 != "all" { sum += $5; rows++ }
  END { if (!found) { print "no all row"; bad = 1 }
        if (sum < 99.5 || sum > 100.5) { print "shares sum to " sum; bad = 1 }
        exit bad }' "$tmp/prof.err" || fail "bert_tiny: the profile table"
for op in Attention Linear LayerNormalization; do
  grep -q "^$op " "$tmp/prof.err" || fail "bert_tiny: no $op row in the profile"
done

llama=$src/tests/models/onnx/llama_gqa
for p in plain prof; do
  flag=; [ $p = prof ] && flag=--profile
  "$tfxc" "$llama/model.onnx" -o "$tmp/lm_$p.c" --name lm --dim batch=1 --max seq=32 --threads 2 $flag >/dev/null ||
    fail "llama_gqa: compile $flag"
done
cat >"$tmp/drv.c" <<'CEOF'
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lm.h"
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
/* prefill 5 tokens, decode 3, logits of the last step to out; the seconds they took */
static int steps(lm_ctx *ctx, float *out, double *sec) {
  static const int64_t tok[8] = {3, 1, 4, 1, 5, 9, 2, 6};
  float *all = malloc(5 * LM_VOCAB * sizeof *all);
  double t0 = now();
  int i, bad = !all || lm_reset(ctx) != LM_OK || lm_prefill(ctx, tok, 5, all) != LM_OK;
  for (i = 5; i < 8 && !bad; i++) bad = lm_decode(ctx, tok[i], out) != LM_OK;
  *sec = now() - t0;
  free(all);
  return bad;
}
int main(int argc, char **argv) {
  lm_ctx ctx, none;
  void *ws = malloc(LM_WORKSPACE_BYTES);
  float logits[LM_VOCAB];
  double sec = 0;
  int bad = 0;
  FILE *f;
  if (argc != 2 || !ws || lm_init(&ctx, ws, LM_WORKSPACE_BYTES, NULL, 0) || lm_set_threads(&ctx, 2)) return 2;
#ifdef LM_PROFILE_NODES
  {
    double s, total = 0;
    int64_t runs;
    const char *node, *op;
    int i, kv = 0, lin = 0;
    for (i = 0; i < LM_PROFILE_NODES; i++)
      if (lm_profile(&ctx, i, NULL, NULL, &s, &runs) != LM_OK || s != 0 || runs != 0)
        bad = 1, fprintf(stderr, "node %d: not zero before any run\n", i);
    if (steps(&ctx, logits, &sec)) bad = 1, fprintf(stderr, "a step failed\n");
    for (i = 0; i < LM_PROFILE_NODES; i++) {
      if (lm_profile(&ctx, i, &node, &op, &s, &runs) != LM_OK || !node || !op) {
        bad = 1, fprintf(stderr, "lm_profile(%d) failed\n", i);
        continue;
      }
      if (runs != 4 || s < 0) bad = 1, fprintf(stderr, "node %s (%s): %lld runs, %g s\n", node, op, (long long)runs, s);
      total += s, kv += !strcmp(op, "KvAttention"), lin += !strcmp(op, "Linear");
    }
    if (!(total > 0 && total <= sec)) bad = 1, fprintf(stderr, "nodes took %g s, the calls %g s\n", total, sec);
    if (!kv || !lin) bad = 1, fprintf(stderr, "%d KvAttention and %d Linear nodes\n", kv, lin);
    if (lm_profile(&ctx, -1, NULL, NULL, NULL, NULL) != LM_ERR_DIM ||
        lm_profile(&ctx, LM_PROFILE_NODES, NULL, NULL, NULL, NULL) != LM_ERR_DIM)
      bad = 1, fprintf(stderr, "an index outside the nodes is not ERR_DIM\n");
    if (lm_profile(NULL, 0, NULL, NULL, NULL, NULL) != LM_ERR_NULL || lm_profile_reset(NULL) != LM_ERR_NULL ||
        lm_profile_print(&ctx, NULL) != LM_ERR_NULL)
      bad = 1, fprintf(stderr, "a NULL is not ERR_NULL\n");
    memset(&none, 0, sizeof none);
    if (lm_profile(&none, 0, NULL, NULL, NULL, NULL) != LM_ERR_STATE || lm_profile_print(&none, stdout) != LM_ERR_STATE)
      bad = 1, fprintf(stderr, "an uninitialised context is not ERR_STATE\n");
    if (lm_profile_print(&ctx, stdout) != LM_OK) bad = 1, fprintf(stderr, "lm_profile_print failed\n");
    if (lm_profile_reset(&ctx) != LM_OK) bad = 1;
    for (i = 0; i < LM_PROFILE_NODES; i++)
      if (lm_profile(&ctx, i, NULL, NULL, &s, &runs) != LM_OK || s != 0 || runs != 0)
        bad = 1, fprintf(stderr, "node %d: not zero after lm_profile_reset\n", i);
  }
#else
  (void)none;
  if (steps(&ctx, logits, &sec)) bad = 1, fprintf(stderr, "a step failed\n");
#endif
  f = fopen(argv[1], "wb");
  if (!f || fwrite(logits, sizeof logits, 1, f) != 1 || fclose(f)) bad = 1;
  lm_set_threads(&ctx, 1);
  free(ws);
  return bad;
}
CEOF
san="-fsanitize=address,undefined -fno-sanitize-recover=all"
echo 'int main(void){return 0;}' | $cc $san -x c -o "$tmp/s" - 2>/dev/null || san=
for p in plain prof; do
  cp "$tmp/lm_$p.h" "$tmp/lm.h"
  $cc $cflags $san -g -pthread -I"$tmp" -o "$tmp/drv_$p" "$tmp/lm_$p.c" "$tmp/drv.c" -lm || { fail "driver $p: build"; continue; }
  "$tmp/drv_$p" "$tmp/logits_$p.bin" >"$tmp/drv_$p.out" || fail "llama_gqa decoder driver ($p${san:+, ASan+UBSan})"
done
cmp -s "$tmp/logits_plain.bin" "$tmp/logits_prof.bin" || fail "llama_gqa: logits differ with --profile"
grep -q '^KvAttention ' "$tmp/drv_prof.out" || fail "llama_gqa: no KvAttention row in lm_profile_print"

[ $fails -eq 0 ] && echo "profile: all passed"
exit $((fails != 0))
