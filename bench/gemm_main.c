/* gemm_main.c — times the generated code of one single-input model (the bench's
 * MatMul models): built with -DNAME=mm -include <model>.h, it fills the input with
 * random values, runs <name>_run REPS times and prints "median_ms best_ms".
 * usage: ./prog REPS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int reps = argc > 1 ? atoi(argv[1]) : 10;
  if (reps < 1 || reps > 10000) reps = 10;
  static mm_ctx ctx;
  void *ws = NULL;
  if (MM_WORKSPACE_BYTES && posix_memalign(&ws, 64, MM_WORKSPACE_BYTES)) return 1;
  if (mm_init(&ctx, ws, MM_WORKSPACE_BYTES, NULL, 0) != MM_OK) return 1;
  float *a = malloc(sizeof(float) * MM_N * MM_N), *y = malloc(sizeof(float) * MM_N * MM_N);
  double *t = malloc(sizeof(double) * (size_t)reps);
  if (!a || !y || !t) return 1;
  srand(1);
  for (long i = 0; i < (long)MM_N * MM_N; i++) a[i] = (float)rand() / (float)RAND_MAX - 0.5f;
  mm_run(&ctx, a, y); /* warm-up */
  for (int r = 0; r < reps; r++) {
    double t0 = now_ms();
    mm_run(&ctx, a, y);
    t[r] = now_ms() - t0;
  }
  qsort(t, (size_t)reps, sizeof *t, cmp);
  printf("%.4f %.4f %g\n", t[reps / 2], t[0], (double)y[MM_N + 1]);
  return 0;
}
