/* bench_util.h — what the bench drivers share: the model they are built
 * against (-DMODEL_H='"g.h"' -DMODEL=g -DMODEL_UC=G, as in
 * examples/generate/model.h), a monotonic clock, medians, whole-file reads
 * into aligned memory, the optional thread count (-DBENCH_THREADS when
 * tfxc generated <name>_set_threads) and profile (-DBENCH_PROFILE: tfxc
 * --profile). */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200112L /* clock_gettime, posix_memalign under -std=c99 */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if !defined(MODEL_H) || !defined(MODEL) || !defined(MODEL_UC)
#error "compile with -DMODEL_H='\"NAME.h\"' -DMODEL=NAME -DMODEL_UC=UPPER_CASE_NAME"
#endif
#include MODEL_H

#define BENCH_CAT_(a, b) a##b
#define BENCH_CAT(a, b) BENCH_CAT_(a, b)
#define M(x) BENCH_CAT(MODEL, BENCH_CAT(_, x))     /* M(decode) -> g_decode */
#define MC(x) BENCH_CAT(MODEL_UC, BENCH_CAT(_, x)) /* MC(VOCAB) -> G_VOCAB */

static double bench_now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Sorts t and prints "median_ms best_ms". */
static void bench_report(double *t, int n) {
  qsort(t, (size_t)n, sizeof *t, bench_cmp);
  printf("%.3f %.3f\n", t[n / 2], t[0]);
}

static void *bench_alloc(size_t bytes) {
  void *p = NULL;
  if (posix_memalign(&p, 64, bytes ? (bytes + 63) / 64 * 64 : 64)) {
    fprintf(stderr, "bench: out of memory (%zu bytes)\n", bytes);
    exit(1);
  }
  return p;
}

/* The first `want` bytes of path, or exit with a message. */
static void *bench_read(const char *path, size_t want) {
  void *p = bench_alloc(want);
  FILE *f = fopen(path, "rb");
  if (!f || fread(p, 1, want, f) != want) {
    fprintf(stderr, "bench: cannot read %zu bytes from %s\n", want, path);
    exit(1);
  }
  fclose(f);
  return p;
}

static void bench_write(const char *path, const float *x, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(x, sizeof *x, n, f) != n || fclose(f)) {
    fprintf(stderr, "bench: cannot write %s\n", path);
    exit(1);
  }
}

static void bench_check(int st, const char *what) {
  if (st != MC(OK)) {
    fprintf(stderr, "bench: %s: %s\n", what, M(status_str)(st));
    exit(1);
  }
}

/* A context over a fresh workspace and the weights file, running on
 * `threads` threads where the generated code can. */
static void bench_init(M(ctx) *ctx, const char *weights_path, int threads) {
  void *w = MC(WEIGHTS_BYTES) ? bench_read(weights_path, MC(WEIGHTS_BYTES)) : NULL;
  void *ws = bench_alloc(MC(WORKSPACE_BYTES));
  bench_check(M(init)(ctx, ws, MC(WORKSPACE_BYTES), w, MC(WEIGHTS_BYTES)), "init");
#ifdef BENCH_THREADS
  bench_check(M(set_threads)(ctx, threads), "set_threads");
#else
  if (threads != 1) {
    fprintf(stderr, "bench: built without threads, asked for %d\n", threads);
    exit(1);
  }
#endif
}

/* Before timed run r (r = -1: the warm-up): the profile starts at run 0. */
static inline void bench_profile_start(M(ctx) *ctx, int r) { /* inline: encoder_main does not call it */
#ifdef BENCH_PROFILE
  if (r == 0) bench_check(M(profile_reset)(ctx), "profile_reset");
#else
  (void)ctx, (void)r;
#endif
}

#endif
