/* gemm_main.c — times the generated code of one of the bench's single-MatMul
 * models (make_models.py): built with -DMODEL_H='"mmN.h"' -DMODEL=mm
 * -DMODEL_UC=MM -DMM_N=N, it fills the N x N input with random values, runs
 * mm_run REPS times after a warm-up and prints "median_ms best_ms".
 * usage: ./prog REPS */
#include "bench_util.h"

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 10;
  if (reps < 1 || reps > 10000) reps = 10;
  static M(ctx) ctx;
  bench_init(&ctx, NULL, 1);
  float *a = bench_alloc(sizeof(float) * MM_N * MM_N), *y = bench_alloc(sizeof(float) * MM_N * MM_N);
  double *t = bench_alloc(sizeof(double) * (size_t)reps);
  srand(1);
  for (long i = 0; i < (long)MM_N * MM_N; i++) a[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  bench_check(M(run)(&ctx, a, y), "run"); /* warm-up */
  for (int r = 0; r < reps; r++) {
    double t0 = bench_now_ms();
    M(run)(&ctx, a, y);
    t[r] = bench_now_ms() - t0;
  }
  bench_report(t, reps);
  return 0;
}
