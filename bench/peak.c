/* peak.c — this core's limits: "fma GFLOP/s" from independent chains of f32 FMAs
 * on the widest vectors -march=native offers (AVX-512, AVX2+FMA, else scalar), and
 * "read GB/s" from summing a 1 GiB array.  usage: ./peak [fma|bw] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define CHAINS 12 /* > FMA latency x FMA ports: every unit stays busy */

#if defined(__AVX512F__)
#include <immintrin.h>
#define W 16
typedef __m512 vec;
#define VSET(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VFIRST(a) _mm512_cvtss_f32(a)
#elif defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define W 8
typedef __m256 vec;
#define VSET(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VFIRST(a) _mm256_cvtss_f32(a)
#else
#define W 1
typedef float vec;
#define VSET(x) (x)
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VFIRST(a) (a)
#endif

static double fma_peak(void) {
  vec acc[CHAINS];
  const vec x = VSET(1.0f + 1e-7f), y = VSET(1e-7f);
  const long iters = 12000000L; /* ~5 ms per rep: the best rep misses the neighbours' noise */
  double best = 0;
  float s = 0;
  for (int rep = 0; rep < 60; rep++) {
    for (int c = 0; c < CHAINS; c++) acc[c] = VSET((float)c);
    double t0 = now_s();
    for (long i = 0; i < iters / CHAINS; i++) {
      acc[0] = VFMA(acc[0], x, y), acc[1] = VFMA(acc[1], x, y), acc[2] = VFMA(acc[2], x, y);
      acc[3] = VFMA(acc[3], x, y), acc[4] = VFMA(acc[4], x, y), acc[5] = VFMA(acc[5], x, y);
      acc[6] = VFMA(acc[6], x, y), acc[7] = VFMA(acc[7], x, y), acc[8] = VFMA(acc[8], x, y);
      acc[9] = VFMA(acc[9], x, y), acc[10] = VFMA(acc[10], x, y), acc[11] = VFMA(acc[11], x, y);
    }
    double dt = now_s() - t0;
    for (int c = 0; c < CHAINS; c++) s += VFIRST(acc[c]);
    double gf = 2.0 * W * (double)(iters / CHAINS * CHAINS) / dt * 1e-9;
    if (gf > best) best = gf;
  }
  fprintf(stderr, "(checksum %g)\n", (double)s);
  return best;
}

static double read_bw(void) {
  size_t n = ((size_t)1 << 30) / sizeof(float);
  float *a = malloc(n * sizeof(float));
  if (!a) return 0;
  for (size_t i = 0; i < n; i++) a[i] = (float)(i & 7);
  double best = 0;
  float total = 0;
  for (int rep = 0; rep < 3; rep++) {
    float s[16] = {0};
    double t0 = now_s();
    for (size_t i = 0; i < n; i += 16)
      for (int j = 0; j < 16; j++) s[j] += a[i + (size_t)j];
    double dt = now_s() - t0;
    for (int j = 0; j < 16; j++) total += s[j];
    double gb = (double)(n * sizeof(float)) / dt * 1e-9;
    if (gb > best) best = gb;
  }
  fprintf(stderr, "(checksum %g)\n", (double)total);
  free(a);
  return best;
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "bw")) printf("%.2f\n", read_bw());
  else printf("%.2f\n", fma_peak());
  return 0;
}
