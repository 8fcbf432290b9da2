/* encoder_main.c — times a BERT-style encoder tfxc compiled with --max seq=N
 * (<name>_run(ctx, seq, input_ids, attention_mask, token_type_ids,
 * last_hidden_state, pooler_output)): the first LEN ids of IDS.bin, mask all
 * ones, token types 0, REPS runs after a warm-up; prints the median and best
 * ms and writes last_hidden_state (LEN x HIDDEN floats) to OUT.bin.
 * Build with -DHIDDEN=<hidden size>.
 * usage: ./encoder_bench W.bin IDS.bin LEN REPS THREADS OUT.bin */
#include "bench_util.h"

int main(int argc, char **argv) {
  if (argc != 7) {
    fprintf(stderr, "usage: %s W.bin IDS.bin LEN REPS THREADS OUT.bin\n", argv[0]);
    return 2;
  }
  int64_t len = atoll(argv[3]);
  int reps = atoi(argv[4]);
  if (len < 1 || len > MC(MAX_SEQ) || reps < 1) return 2;
  static M(ctx) ctx;
  bench_init(&ctx, argv[1], atoi(argv[5]));
  int64_t *ids = bench_read(argv[2], sizeof(int64_t) * (size_t)len);
  int64_t *mask = bench_alloc(sizeof(int64_t) * (size_t)len), *types = bench_alloc(sizeof(int64_t) * (size_t)len);
  float *hidden = bench_alloc(sizeof(float) * (size_t)len * HIDDEN), pooled[HIDDEN];
  double *t = malloc(sizeof(double) * (size_t)reps);
  if (!t) return 1;
  for (int64_t i = 0; i < len; i++) mask[i] = 1, types[i] = 0;
  for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
    double t0 = bench_now_ms();
    bench_check(M(run)(&ctx, len, ids, mask, types, hidden, pooled), "run");
    if (r >= 0) t[r] = bench_now_ms() - t0;
  }
  bench_report(t, reps);
  bench_write(argv[6], hidden, (size_t)len * HIDDEN);
  return 0;
}
