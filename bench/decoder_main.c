/* decoder_main.c — times a decoder tfxc compiled with --max seq=N
 * (<name>_prefill / _decode / _reset) on the token ids in IDS.bin.
 *   prefill: REPS x (reset, prefill of the first LEN ids), median and best ms;
 *            OUT.bin gets the LEN rows of logits.
 *   prefill_last: the same with <name>_prefill_last; OUT.bin gets the last row.
 *   decode:  prefill LEN - REPS - 1 ids, then decode the remaining REPS + 1
 *            one at a time, the first untimed: the timed steps end at context
 *            LEN (median and best ms of them); OUT.bin gets the last step's
 *            logits, those of ids[LEN - 1] with LEN - 1 tokens before it.
 * With -DBENCH_PROFILE (a model compiled with tfxc --profile) the time per
 * operator of the timed runs follows the "median best" line.
 * usage: ./decoder_bench W.bin IDS.bin prefill|prefill_last|decode LEN REPS THREADS OUT.bin */
#include "bench_util.h"

#include <string.h>

static int last_only;

static void run_prefill(M(ctx) *ctx, const int64_t *ids, int64_t len, int reps, float *logits, double *t) {
  for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
    bench_profile_start(ctx, r);
    bench_check(M(reset)(ctx), "reset");
    double t0 = bench_now_ms();
    bench_check((last_only ? M(prefill_last) : M(prefill))(ctx, ids, len, logits), "prefill");
    if (r >= 0) t[r] = bench_now_ms() - t0;
  }
}

static void run_decode(M(ctx) *ctx, const int64_t *ids, int64_t len, int reps, float *logits, double *t) {
  int64_t start = len - reps - 1;
  bench_check(M(reset)(ctx), "reset");
  bench_check(M(prefill)(ctx, ids, start, logits), "prefill");
  for (int r = -1; r < reps; r++) {
    bench_profile_start(ctx, r);
    double t0 = bench_now_ms();
    bench_check(M(decode)(ctx, ids[start + 1 + r], logits), "decode");
    if (r >= 0) t[r] = bench_now_ms() - t0;
  }
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: %s W.bin IDS.bin prefill|prefill_last|decode LEN REPS THREADS OUT.bin\n", argv[0]);
    return 2;
  }
  int decode = !strcmp(argv[3], "decode");
  last_only = !strcmp(argv[3], "prefill_last");
  int64_t len = atoll(argv[4]);
  int reps = atoi(argv[5]);
  if ((!decode && !last_only && strcmp(argv[3], "prefill")) || len < 1 || len > MC(MAX_SEQ) || reps < 1 ||
      (decode && len - reps - 1 < 1)) {
    fprintf(stderr, "decoder_bench: bad arguments (LEN 1..%d, decode needs LEN > REPS + 1)\n",
            (int)MC(MAX_SEQ));
    return 2;
  }
  static M(ctx) ctx;
  bench_init(&ctx, argv[1], atoi(argv[6]));
  const int64_t *ids = bench_read(argv[2], sizeof(int64_t) * (size_t)len);
  /* decode prefills len - reps - 1 rows first: room for len rows either way */
  size_t rows = decode || last_only ? 1 : (size_t)len;
  float *logits = bench_alloc(sizeof(float) * (size_t)len * MC(VOCAB));
  double *t = malloc(sizeof(double) * (size_t)reps);
  if (!t) return 1;
  (decode ? run_decode : run_prefill)(&ctx, ids, len, reps, logits, t);
  bench_report(t, reps);
#ifdef BENCH_PROFILE
  bench_check(M(profile_print)(&ctx, stdout), "profile_print");
#endif
  bench_write(argv[7], logits, rows * MC(VOCAB));
  return 0;
}
