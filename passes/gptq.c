/* gptq.c — the factor behind GPTQ error compensation (Frantar et al. 2022).
 * For calibration rows X, H = X^T X + damping is factored as H = R R^T with R
 * upper triangular (Cholesky run from the last channel back).  R^-1 is the
 * upper Cholesky factor of H^-1 that GPTQ updates with, so the quantiser can
 * use R itself (see tfx_gptq_factor in passes.h) and no inverse is formed.
 * With fewer rows than half the channels, H is damping plus a low-rank term
 * and R comes from a rank-sized recursion (O(rows^2 K + rows K^2), not K^3).
 * Everything is double; R is dense row-major [K, K], only j >= i is used. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

/* Columns factored per block: the tail of each row is read once per block. */
enum { CHOL_BLOCK = 16, GRAM_BLOCK = 8 };

static double *xalloc_d(int64_t n) {
  double *p = calloc((size_t)(n ? n : 1), sizeof *p);
  if (!p) abort();
  return p;
}

/* Upper triangle of H = sum_r (x_r * scale)(x_r * scale)^T into h. */
static void gram(const float *x, int64_t rows, int64_t K, const float *scale, double *h) {
  double *xb = malloc(sizeof *xb * (size_t)(GRAM_BLOCK * K));
  if (!xb) abort();
  memset(h, 0, sizeof *h * (size_t)(K * K));
  for (int64_t r0 = 0; r0 < rows; r0 += GRAM_BLOCK) {
    int64_t nb = rows - r0 < GRAM_BLOCK ? rows - r0 : GRAM_BLOCK;
    for (int64_t b = 0; b < nb; b++)
      for (int64_t k = 0; k < K; k++) xb[b * K + k] = (double)x[(r0 + b) * K + k] * (scale ? scale[k] : 1.0f);
    for (int64_t i = 0; i < K; i++) {
      double *hi = h + i * K;
      for (int64_t b = 0; b < nb; b++) {
        const double *xr = xb + b * K;
        double a = xr[i];
        if (a == 0) continue;
        for (int64_t j = i; j < K; j++) hi[j] += a * xr[j];
      }
    }
  }
  free(xb);
}

/* Columns [j1, j0] of every row i <= j0 lose their products with the rows
 * j of the block over the finished tail m > j0: the bulk of the work, as
 * axpys over a transposed copy of the block's tails (bt [tail, CHOL_BLOCK]). */
static void chol_tail(double *r, int64_t K, int64_t j1, int64_t j0, double *bt) {
  int64_t tail = K - 1 - j0, nb = j0 - j1 + 1;
  if (!tail) return;
  memset(bt, 0, sizeof *bt * (size_t)(tail * CHOL_BLOCK));
  for (int64_t b = 0; b < nb; b++)
    for (int64_t m = 0; m < tail; m++) bt[m * CHOL_BLOCK + b] = r[(j1 + b) * K + j0 + 1 + m];
  for (int64_t i = 0; i <= j0; i++) {
    const double *ri = r + i * K + j0 + 1;
    double acc[CHOL_BLOCK] = {0};
    for (int64_t m = 0; m < tail; m++) {
      double a = ri[m];
      const double *row = bt + m * CHOL_BLOCK;
      for (int b = 0; b < CHOL_BLOCK; b++) acc[b] += a * row[b];
    }
    for (int64_t b = i > j1 ? i - j1 : 0; b < nb; b++) r[i * K + j1 + b] -= acc[b];
  }
}

/* Columns j0 down to j1 within the block, each from the ones right of it. */
static bool chol_block(double *r, int64_t K, int64_t j1, int64_t j0) {
  for (int64_t j = j0; j >= j1; j--) {
    const double *rj = r + j * K;
    double d = rj[j];
    for (int64_t m = j + 1; m <= j0; m++) d -= rj[m] * rj[m];
    if (!(d > 0)) return false;
    double rjj = sqrt(d);
    r[j * K + j] = rjj;
    for (int64_t i = 0; i < j; i++) {
      double *ri = r + i * K, s = ri[j];
      for (int64_t m = j + 1; m <= j0; m++) s -= ri[m] * rj[m];
      ri[j] = s / rjj;
    }
  }
  return true;
}

/* H = V V^T + lambda I, V [K, rows] the scaled rows transposed.  From the
 * last channel back, with S [rows, rows] the core of the Schur complement of
 * the channels done (S = I at first): R_jj^2 = lambda + v_j' S v_j, and for
 * i < j, R_ij = v_i' u_j with u_j = S v_j / R_jj; then S -= u_j u_j'. */
bool tfx_gptq_lowrank(const float *x, int64_t rows, int64_t K, const float *scale, double damp, TfxGptqLowRank *lr) {
  *lr = (TfxGptqLowRank){.K = K, .rank = rows, .v = xalloc_d(K * rows), .u = xalloc_d(K * rows),
                         .diag = xalloc_d(K)};
  double *s = xalloc_d(rows * rows), *v = lr->v, mean = 0;
  for (int64_t k = 0; k < K; k++)
    for (int64_t m = 0; m < rows; m++) {
      double a = (double)x[m * K + k] * (scale ? scale[k] : 1.0f);
      v[k * rows + m] = a, mean += a * a;
    }
  mean /= (double)K;
  bool ok = mean > 0 && isfinite(mean);
  for (int64_t m = 0; m < rows; m++) s[m * rows + m] = 1;
  for (int64_t j = K - 1; j >= 0 && ok; j--) {
    const double *vj = v + j * rows;
    double d = damp * mean, *uj = lr->u + j * rows;
    for (int64_t a = 0; a < rows; a++) {
      double t = 0;
      for (int64_t b = 0; b < rows; b++) t += s[a * rows + b] * vj[b];
      uj[a] = t, d += vj[a] * t;
    }
    if (!(d > 0)) ok = false;
    lr->diag[j] = sqrt(d);
    for (int64_t a = 0; a < rows; a++) uj[a] /= lr->diag[j];
    for (int64_t a = 0; a < rows; a++)
      for (int64_t b = 0; b < rows; b++) s[a * rows + b] -= uj[a] * uj[b];
  }
  free(s);
  if (!ok) tfx_gptq_lowrank_free(lr);
  return ok;
}

void tfx_gptq_lowrank_free(TfxGptqLowRank *lr) {
  free(lr->v), free(lr->u), free(lr->diag);
  lr->v = lr->u = lr->diag = NULL;
}

/* Dense R from the low-rank form, the products v_i' u_j as axpys over u
 * transposed (ut [rows, K]). */
static bool chol_lowrank(const float *x, int64_t rows, int64_t K, const float *scale, double damp, double *r) {
  TfxGptqLowRank lr;
  if (!tfx_gptq_lowrank(x, rows, K, scale, damp, &lr)) return false;
  double *ut = xalloc_d(rows * K);
  for (int64_t j = 0; j < K; j++)
    for (int64_t a = 0; a < rows; a++) ut[a * K + j] = lr.u[j * rows + a];
  memset(r, 0, sizeof *r * (size_t)(K * K));
  for (int64_t i = 0; i < K; i++) {
    double *ri = r + i * K;
    ri[i] = lr.diag[i];
    for (int64_t a = 0; a < rows; a++) {
      double via = lr.v[i * rows + a];
      const double *ua = ut + a * K;
      for (int64_t j = i + 1; j < K; j++) ri[j] += via * ua[j];
    }
  }
  free(ut);
  tfx_gptq_lowrank_free(&lr);
  return true;
}

bool tfx_gptq_factor(const float *x, int64_t rows, int64_t K, const float *scale, double damp, double *r) {
  if (2 * rows < K) return chol_lowrank(x, rows, K, scale, damp, r);
  gram(x, rows, K, scale, r);
  double mean = 0;
  for (int64_t k = 0; k < K; k++) mean += r[k * K + k];
  mean /= (double)K;
  if (!(mean > 0) || !isfinite(mean)) return false;
  for (int64_t k = 0; k < K; k++) r[k * K + k] += damp * mean;
  double *bt = malloc(sizeof *bt * (size_t)(K * CHOL_BLOCK));
  if (!bt) abort();
  bool ok = true;
  for (int64_t j0 = K - 1; j0 >= 0 && ok; j0 -= CHOL_BLOCK) {
    int64_t j1 = j0 - CHOL_BLOCK + 1 > 0 ? j0 - CHOL_BLOCK + 1 : 0;
    chol_tail(r, K, j1, j0, bt);
    ok = chol_block(r, K, j1, j0);
  }
  free(bt);
  return ok;
}
