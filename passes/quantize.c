/* quantize.c — weight quantisation: every live MatMul whose B is a 2-D
 * float32 constant [K, N], and Gemm with constant B (alpha = beta = 1, no
 * transA, bias absent or [N]), becomes WeightQMatMul (ir/ops/quant.c) on the
 * weight transposed to [N, K] and quantised:
 *   int8: per output channel (or, with a group, per group of `group` along K),
 *         q = round(w / scale) in [-127, 127]
 *   int4: per group of `group` along K, q = round(w / scale) in [-8, 7], or
 *         with q->asym q = round((w - offset) / scale), the group's 16 levels
 *         spread over its range [min, max] (offset = min + 8 scale)
 * Each scale is max|w| / 127 (/ 7) (asym: the range / 15) shrunk by the ratio
 * (down to 0.8 for int8, 0.5 for int4) that minimises the group's squared
 * error.  A product's scales and offsets are stored as bfloat16 (design note
 * 13): each candidate is rounded to it before q is chosen, so q is the best for
 * the value stored.  Each input channel's error is weighted by the
 * calibration energy E[x_k^2] of the activation it multiplies (unweighted
 * without statistics).  With statistics the weight is
 * also rescaled first (AWQ): W diag(s) with s_k = mean|x_k|^alpha is quantised
 * and the product reads x_k / s_k (the node's fifth input holds 1 / s_k); alpha
 * in 0, 0.1 .. 1 is the one whose product has the smallest squared error on
 * the sampled calibration rows (0: no rescaling, no fifth input).  Then GPTQ
 * (unless q->no_gptq): the rescaled weight is quantised again channel by
 * channel, each channel's rounding error pushed onto the channels after it
 * through the Cholesky factor of the rescaled activations' X^T X (gptq.c), a
 * group's scale searched when the quantiser enters it; the result is kept
 * when its product error on the sampled rows is the smaller.
 * The node is rewritten in place (same output value, same position in the
 * topological order).  Unless q->float_acts, its x is quantised too: a
 * BlockQuantize node (int8 per block of ACT_BLOCK along K, 1/s applied there)
 * is added before it, shared by the products reading the same x and 1/s, and
 * the graph is sorted again at the end.  Left float32: weights named in keep[], int4 weights
 * whose K is not a multiple of the group, and the LM head unless q->lm_head.
 * A weight given other bits with tfx_quant_calib_set_bits (an int4 weight
 * that breaks the accuracy budget) is quantised with those, int8 per output
 * channel or with the requested group.
 * The LM head is a MatMul/Gemm whose output is a graph output, directly or
 * through at most two single-consumer Add/Reshape/Transpose/Squeeze/Unsqueeze/
 * Identity nodes.  changed counts distinct weights quantised.  With
 * q->embeddings, Gather tables too (see quantize_tables). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

/* Scales tried per group: max|w| / lim times 1, then down to the smallest ratio
 * in STEPS steps.  SAMPLE_ROWS rows of each activation are kept for GPTQ's
 * X^T X; ERROR_ROWS of them, evenly spaced, measure a candidate's error. */
enum { SCALE_STEPS = 20, ALPHA_STEPS = 10, SAMPLE_ROWS = 1024, ERROR_ROWS = 128 };
/* Activations are quantised to int8 in blocks of ACT_BLOCK along K (BlockQuantize)
 * unless q->float_acts, or K or the weight's group is not a multiple of it. */
enum { ACT_BLOCK = 32 };
/* GPTQ's damping: this fraction of the mean diagonal of X^T X added to it.
 * The paper's 0.01 fits calibration sets of a few hundred rows too closely
 * (on MiniLM held-out text it beat round-to-nearest less than 0.1 does). */
static const double GPTQ_DAMP = 0.1;

/* ---- calibration statistics and the quantised weights ---------------------- */
typedef struct {
  char *weight;
  int shared;       /* >= 0: the statistics are those of w[shared] (same activation) */
  int64_t K, seen;  /* seen: rows recorded */
  double *sq, *abs; /* [K] sums of x_k^2 and |x_k| */
  float *x;         /* [rows, K]: a uniform sample of the rows (reservoir) */
  int64_t rows, cap; /* cap: rows allocated */
  uint64_t rng;
} WStats;

typedef struct {
  char *weight;
  bool trans;
  int bits;
  int64_t group;
  TfxTensor q, s, o, xs; /* o.data NULL: symmetric; xs.data NULL: no rescaling */
  double alpha;
  bool gptq; /* the error-compensated quantisation was kept */
} Memo;

/* A weight quantised to other bits than the pass's (mixed precision). */
typedef struct {
  char *weight;
  int bits;
} Override;

struct TfxQuantCalib {
  WStats *w;
  int n_w;
  Memo *m;
  int n_m;
  Override *o;
  int n_o;
};

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) abort();
  return p;
}

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) abort();
  return p;
}

static char *xstrdup(const char *s) {
  char *d = strdup(s);
  if (!d) abort();
  return d;
}

TfxQuantCalib *tfx_quant_calib_new(void) { return xcalloc(1, sizeof(TfxQuantCalib)); }

void tfx_quant_calib_free(TfxQuantCalib *c) {
  if (!c) return;
  for (int i = 0; i < c->n_w; i++) free(c->w[i].weight), free(c->w[i].sq), free(c->w[i].abs), free(c->w[i].x);
  for (int i = 0; i < c->n_m; i++)
    free(c->m[i].weight), free(c->m[i].q.data), free(c->m[i].s.data), free(c->m[i].o.data), free(c->m[i].xs.data);
  for (int i = 0; i < c->n_o; i++) free(c->o[i].weight);
  free(c->w), free(c->m), free(c->o), free(c);
}

void tfx_quant_calib_set_bits(TfxQuantCalib *c, const char *weight, int bits) {
  for (int i = 0; i < c->n_o; i++)
    if (strcmp(c->o[i].weight, weight) == 0) {
      c->o[i].bits = bits;
      return;
    }
  c->o = xrealloc(c->o, sizeof *c->o * (size_t)(c->n_o + 1));
  c->o[c->n_o++] = (Override){.weight = xstrdup(weight), .bits = bits};
}

/* The bits the pass uses for weight: its override, else def. */
static int bits_of(const TfxQuantCalib *c, const char *weight, int def) {
  for (int i = 0; c && i < c->n_o; i++)
    if (strcmp(c->o[i].weight, weight) == 0) return c->o[i].bits;
  return def;
}

static WStats *find_stats(const TfxQuantCalib *c, const char *weight) {
  for (int i = 0; c && i < c->n_w; i++)
    if (strcmp(c->w[i].weight, weight) == 0) return c->w[i].shared >= 0 ? &c->w[c->w[i].shared] : &c->w[i];
  return NULL;
}

static WStats *new_stats(TfxQuantCalib *c, const char *weight, int64_t K, int shared) {
  c->w = xrealloc(c->w, sizeof *c->w * (size_t)(c->n_w + 1));
  WStats *st = &c->w[c->n_w++];
  *st = (WStats){.weight = xstrdup(weight), .shared = shared, .K = K, .rng = 0x9E3779B97F4A7C15ull};
  if (shared < 0) {
    st->sq = xcalloc((size_t)K, sizeof *st->sq);
    st->abs = xcalloc((size_t)K, sizeof *st->abs);
  }
  return st;
}

void tfx_quant_calib_share(TfxQuantCalib *c, const char *weight, const char *with) {
  const WStats *to = find_stats(c, with);
  if (!to || find_stats(c, weight)) return;
  new_stats(c, weight, to->K, (int)(to - c->w));
}

void tfx_quant_calib_add(TfxQuantCalib *c, const char *weight, const float *x, int64_t rows, int64_t K) {
  WStats *st = find_stats(c, weight);
  if (st && st->K != K) return; /* a weight read with two different K: not one activation */
  if (!st) st = new_stats(c, weight, K, -1);
  for (int64_t r = 0; r < rows; r++) {
    const float *xr = x + r * K;
    for (int64_t k = 0; k < K; k++) st->sq[k] += (double)xr[k] * xr[k], st->abs[k] += fabs((double)xr[k]);
    int64_t slot = -1;
    if (st->rows < SAMPLE_ROWS) {
      if (st->rows == st->cap) {
        st->cap = st->cap ? (2 * st->cap < SAMPLE_ROWS ? 2 * st->cap : SAMPLE_ROWS) : 64;
        st->x = xrealloc(st->x, sizeof *st->x * (size_t)(st->cap * K));
      }
      slot = st->rows++;
    } else { /* keep row number `seen` with probability SAMPLE_ROWS / (seen + 1) */
      st->rng = st->rng * 6364136223846793005ull + 1442695040888963407ull;
      uint64_t j = (st->rng >> 11) % (uint64_t)(st->seen + 1);
      if (j < SAMPLE_ROWS) slot = (int64_t)j;
    }
    if (slot >= 0) memcpy(st->x + slot * K, xr, sizeof(float) * (size_t)K);
    st->seen++;
  }
}

static Memo *find_memo(const TfxQuantCalib *c, const char *weight, bool trans, int bits, int64_t group) {
  for (int i = 0; c && i < c->n_m; i++) {
    Memo *m = &c->m[i];
    if (m->trans == trans && m->bits == bits && m->group == group && strcmp(m->weight, weight) == 0) return m;
  }
  return NULL;
}

/* The latest quantisation of weight as a product (an override to int8 comes
 * after the int4 one), not as a gathered table (group < 0). */
static const Memo *memo_of(const TfxQuantCalib *c, const char *weight) {
  for (int i = c ? c->n_m - 1 : -1; i >= 0; i--)
    if (c->m[i].group >= 0 && strcmp(c->m[i].weight, weight) == 0) return &c->m[i];
  return NULL;
}

double tfx_quant_calib_alpha(const TfxQuantCalib *c, const char *weight) {
  const Memo *m = memo_of(c, weight);
  return m ? m->alpha : -1;
}

int tfx_quant_calib_gptq(const TfxQuantCalib *c, const char *weight) {
  const Memo *m = memo_of(c, weight);
  return m ? m->gptq : -1;
}

/* ---- choosing scales ---------------------------------------------------------- */
typedef struct {
  int bits, lo, hi; /* q in [lo, hi] */
  bool asym;        /* w = q * scale + offset per group (else offset 0) */
  bool bf16;        /* scales and offsets rounded to bfloat16 as they are chosen */
  int64_t N, K, G, ng;
  double min_ratio; /* smallest clipping ratio tried */
  int steps;        /* ratios tried between 1 and min_ratio: 0 for max|w| alone */
} QFormat;

/* x as the format stores it */
static float stored(const QFormat *f, float x) { return f->bf16 ? tfx_bf16_to_f32(tfx_f32_to_bf16(x)) : x; }

/* the bfloat16 value d steps from bfloat16 x (d < 0: towards minus infinity) */
static float bf16_step(float x, int d) {
  uint16_t h = tfx_f32_to_bf16(x);
  for (; d > 0; d--) h = (uint16_t)(h & 0x8000u ? (h == 0x8000u ? 1u : h - 1u) : h + 1u);
  for (; d < 0; d++) h = (uint16_t)(h & 0x8000u ? h + 1u : (h == 0 ? 0x8001u : h - 1u));
  return tfx_bf16_to_f32(h);
}

static int qround(float v, const QFormat *f) {
  if (v < (float)f->lo) v = (float)f->lo;
  if (v > (float)f->hi) v = (float)f->hi;
  return (int)(v + (v >= 0 ? 0.5f : -0.5f));
}

/* The weighted squared error of group w[0..G) as q * scale + off (q into qg),
 * or a partial sum of it once that reaches bound (the terms are not negative,
 * so such a candidate cannot beat the one that set the bound). */
static double group_error(const QFormat *f, const float *w, const double *imp, float scale, float off, int8_t *qg,
                          double bound) {
  const float inv = 1.0f / scale;
  double err = 0;
  for (int64_t k = 0; k < f->G && err < bound; k++) {
    const int q = qround((w[k] - off) * inv, f);
    const double d = (double)w[k] - ((double)q * scale + off);
    if (qg) qg[k] = (int8_t)q;
    err += (imp ? imp[k] : 1.0) * d * d;
  }
  return err;
}

/* One group w[0..G) (imp: per-element error weights or NULL): the scale (and
 * with f->asym the offset *off, else 0) with the smallest weighted squared
 * error, and the quantised values in q.  Symmetric: scale = max|w| / hi times
 * a ratio from 1 down to min_ratio.  Asymmetric: the range [min w, max w]
 * shrunk about its middle by the same ratios, scale = range / (hi - lo) and
 * off = its bottom - lo * scale, so that q = lo stands for the bottom.  A
 * constant group is its offset alone (scale 0), or with bfloat16 the offset
 * rounded and the rest as one step of the scale (q = 1). */
static float quant_group(const QFormat *f, const float *w, const double *imp, int8_t *q, float *off) {
  float amax = 0, wmin = w[0], wmax = w[0];
  for (int64_t k = 0; k < f->G; k++) {
    if (fabsf(w[k]) > amax) amax = fabsf(w[k]);
    if (w[k] < wmin) wmin = w[k];
    if (w[k] > wmax) wmax = w[k];
  }
  *off = 0;
  if (f->asym ? wmax == wmin : amax == 0) { /* a constant group */
    const float rest = f->asym ? wmin - stored(f, wmin) : 0.0f;
    memset(q, rest != 0, (size_t)f->G);
    if (f->asym) *off = stored(f, wmin);
    return stored(f, rest);
  }
  float best_scale = 0, best_off = 0;
  double best = INFINITY;
  for (int step = 0; step <= f->steps; step++) {
    double ratio = 1.0 - (1.0 - f->min_ratio) * step / (f->steps ? f->steps : 1);
    float cand, coff = 0;
    if (f->asym) {
      double mid = 0.5 * ((double)wmax + wmin), half = 0.5 * ((double)wmax - wmin) * ratio;
      cand = stored(f, (float)(2 * half / (f->hi - f->lo)));
      coff = stored(f, (float)(mid - half - f->lo * (double)cand));
    } else {
      cand = stored(f, (float)(amax * ratio / f->hi));
    }
    double err = group_error(f, w, imp, cand, coff, NULL, best);
    if (err < best) best = err, best_scale = cand, best_off = coff;
  }
  if (f->bf16 && f->steps) { /* the stored values are a grid: its neighbours of the best */
    const float s0 = best_scale, o0 = best_off;
    for (int ds = -3; ds <= 3; ds++)
      for (int dz = f->asym ? -2 : 0; dz <= (f->asym ? 2 : 0); dz++) {
        const float cand = bf16_step(s0, ds), coff = bf16_step(o0, dz);
        if (!(cand > 0) || (ds == 0 && dz == 0)) continue;
        double err = group_error(f, w, imp, cand, coff, NULL, best);
        if (err < best) best = err, best_scale = cand, best_off = coff;
      }
  }
  group_error(f, w, imp, best_scale, best_off, q, INFINITY);
  *off = best_off;
  return best_scale;
}

/* w [N, K] into q [N, K] (one value a byte), scales [N, ng] and offsets of
 * (asym; else NULL). */
static void quant_matrix(const QFormat *f, const float *w, const double *imp, int8_t *q, float *sc, float *of) {
  for (int64_t n = 0; n < f->N; n++)
    for (int64_t gi = 0; gi < f->ng; gi++) {
      int64_t o = n * f->K + gi * f->G;
      float off;
      sc[n * f->ng + gi] = quant_group(f, w + o, imp ? imp + gi * f->G : NULL, q + o, &off);
      if (of) of[n * f->ng + gi] = off;
    }
}

/* GPTQ's step for channel k of row wn: it is quantised as w_k + p_k / R_kk,
 * where p_k = sum over m < k of (w_m - Q_m) R_mk is the compensation so far
 * (pk; pg: those of the G channels of a group the quantiser enters, whose
 * scale *s and offset *o are then searched on its compensated weights).
 * Returns the channel's error w_k - Q_k. */
static double gptq_step(const QFormat *f, const float *wn, int64_t k, const double *pg, double pk,
                        const double *rdiag, const double *imp, float *cur, int8_t *qn, float *s, float *o) {
  if (k % f->G == 0) {
    for (int64_t j = 0; j < f->G; j++) cur[j] = (float)(wn[k + j] + pg[j] / rdiag[k + j]);
    *s = quant_group(f, cur, imp ? imp + k : NULL, qn + k, o);
  }
  float v = (float)(wn[k] + pk / rdiag[k]);
  int qk = *s != 0 ? qround((v - *o) * (1.0f / *s), f) : 0;
  qn[k] = (int8_t)qk;
  return (double)wn[k] - ((double)qk * *s + *o);
}

/* GPTQ on w [N, K] with dense R from tfx_gptq_factor, p kept per channel;
 * RB rows at a time share each read of a row of R. */
static void gptq_matrix(const QFormat *f, const float *w, const double *r, const double *imp, int8_t *q,
                        float *sc, float *of) {
  enum { RB = 16 };
  int64_t K = f->K;
  double *p = xcalloc((size_t)(RB * K), sizeof *p), *rdiag = xcalloc((size_t)K, sizeof *rdiag), t[RB];
  float *cur = xcalloc((size_t)f->G, sizeof *cur), off[RB] = {0};
  for (int64_t k = 0; k < K; k++) rdiag[k] = r[k * K + k];
  for (int64_t n0 = 0; n0 < f->N; n0 += RB) {
    int64_t nb = f->N - n0 < RB ? f->N - n0 : RB;
    memset(p, 0, sizeof *p * (size_t)(RB * K));
    for (int64_t k = 0; k < K; k++) {
      for (int64_t b = 0; b < nb; b++) {
        const double *pb = p + b * K;
        const int64_t gi = (n0 + b) * f->ng + k / f->G;
        t[b] = gptq_step(f, w + (n0 + b) * K, k, pb + k, pb[k], rdiag, imp, cur, q + (n0 + b) * K, sc + gi,
                         of ? of + gi : off + b);
      }
      const double *rk = r + k * K;
      for (int64_t b = 0; b < nb; b++) {
        double *pb = p + b * K, tb = t[b];
        for (int64_t j = k + 1; j < K; j++) pb[j] += tb * rk[j];
      }
    }
  }
  free(p), free(rdiag), free(cur);
}

/* Four partial sums, so that the compiler may keep them in vector lanes. */
static double dot(const double *a, const double *b, int64_t n) {
  double s[4] = {0};
  int64_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (int l = 0; l < 4; l++) s[l] += a[i + l] * b[i + l];
  for (; i < n; i++) s[0] += a[i] * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

/* GPTQ on w [N, K] with R in low-rank form: p_j = sum_m t_m v_m . u_j =
 * a . u_j with a = sum of t_m v_m over the channels done, so a row keeps
 * only a [rank]. */
static void gptq_matrix_lowrank(const QFormat *f, const float *w, const TfxGptqLowRank *lr, const double *imp,
                                int8_t *q, float *sc, float *of) {
  int64_t K = f->K, R = lr->rank;
  double *a = xcalloc((size_t)R, sizeof *a), *pg = xcalloc((size_t)f->G, sizeof *pg);
  float *cur = xcalloc((size_t)f->G, sizeof *cur), off = 0;
  for (int64_t n = 0; n < f->N; n++) {
    memset(a, 0, sizeof *a * (size_t)R);
    for (int64_t k = 0; k < K; k++) {
      if (k % f->G == 0)
        for (int64_t j = 0; j < f->G; j++) pg[j] = dot(a, lr->u + (k + j) * R, R);
      double pk = k % f->G == 0 ? pg[0] : dot(a, lr->u + k * R, R);
      const int64_t gi = n * f->ng + k / f->G;
      double t = gptq_step(f, w + n * K, k, pg, pk, lr->diag, imp, cur, q + n * K, sc + gi, of ? of + gi : &off);
      const double *vk = lr->v + k * R;
      for (int64_t i = 0; i < R; i++) a[i] += t * vk[i];
    }
  }
  free(a), free(pg), free(cur);
}

/* GPTQ on w [N, K] over the rows x (channel k times scale[k]) into q and sc:
 * the low-rank form when rows are few enough (its per-row cost, about
 * 3 rows K, below the dense K^2 / 2), else dense R.  False when X^T X cannot
 * be factored (q and sc untouched). */
static bool gptq_run(const QFormat *f, const float *w, const float *x, int64_t rows, const float *scale,
                     const double *imp, int8_t *q, float *sc, float *of) {
  int64_t K = f->K;
  if (6 * rows <= K) {
    TfxGptqLowRank lr;
    if (!tfx_gptq_lowrank(x, rows, K, scale, GPTQ_DAMP, &lr)) return false;
    gptq_matrix_lowrank(f, w, &lr, imp, q, sc, of);
    tfx_gptq_lowrank_free(&lr);
    return true;
  }
  double *r = xcalloc((size_t)(K * K), sizeof *r);
  bool ok = tfx_gptq_factor(x, rows, K, scale, GPTQ_DAMP, r);
  if (ok) gptq_matrix(f, w, r, imp, q, sc, of);
  free(r);
  return ok;
}

/* Squared error of the quantised product on ERROR_ROWS of the sampled rows:
 * the weight it stands for is (q * scale + offset) * inv_s (of NULL: offsets
 * 0; inv_s NULL: 1). */
static double output_error(const QFormat *f, const WStats *st, const float *w, const int8_t *q, const float *sc,
                           const float *of, const float *inv_s) {
  float *d = xcalloc((size_t)f->K, sizeof *d);
  double err = 0;
  int64_t rows = st->rows < ERROR_ROWS ? st->rows : ERROR_ROWS;
  for (int64_t n = 0; n < f->N; n++) {
    for (int64_t k = 0; k < f->K; k++)
      d[k] = w[n * f->K + k] - ((float)q[n * f->K + k] * sc[n * f->ng + k / f->G] + (of ? of[n * f->ng + k / f->G] : 0.0f)) *
                                   (inv_s ? inv_s[k] : 1.0f);
    for (int64_t i = 0; i < rows; i++) {
      const float *x = st->x + i * st->rows / rows * f->K;
      float acc[8] = {0};
      int64_t k = 0;
      for (; k + 8 <= f->K; k += 8)
        for (int i = 0; i < 8; i++) acc[i] += x[k + i] * d[k + i];
      for (; k < f->K; k++) acc[0] += x[k] * d[k];
      double dot = 0;
      for (int i = 0; i < 8; i++) dot += acc[i];
      err += dot * dot;
    }
  }
  free(d);
  return err;
}

/* The AWQ scales for alpha: s_k = mean|x_k|^alpha, centred on 1 so that they
 * stay in float range; inv = 1 / s and imp = E[x_k^2] / s_k^2 (the energy of
 * the rescaled activation). */
static void awq_scales(const WStats *st, double alpha, float *s, float *inv, double *imp) {
  double smax = 0, smin = INFINITY;
  for (int64_t k = 0; k < st->K; k++) {
    double mean = st->abs[k] / (double)st->seen;
    s[k] = (float)pow(mean > 1e-8 ? mean : 1e-8, alpha);
    if (s[k] > smax) smax = s[k];
    if (s[k] < smin) smin = s[k];
  }
  float norm = (float)sqrt(smax * smin);
  for (int64_t k = 0; k < st->K; k++) {
    s[k] /= norm;
    inv[k] = 1.0f / s[k];
    imp[k] = st->sq[k] / (double)st->seen * (double)inv[k] * (double)inv[k];
  }
}

/* GPTQ on ws (w rescaled by 1 / inv), in place of q, sc and of when its
 * product error on the sampled rows is below err. */
static void try_gptq(const QFormat *f, const float *w, const float *ws, const WStats *st, const float *inv,
                     const double *imp, double err, Memo *m, int8_t *q, float *sc, float *of) {
  int64_t K = f->K, NG = f->N * f->ng;
  int8_t *q2 = xcalloc((size_t)(f->N * K), 1);
  float *sc2 = xcalloc((size_t)NG, sizeof *sc2), *of2 = of ? xcalloc((size_t)NG, sizeof *of2) : NULL;
  if (gptq_run(f, ws, st->x, st->rows, inv, imp, q2, sc2, of2) &&
      output_error(f, st, w, q2, sc2, of2, m->alpha > 0 ? inv : NULL) < err) {
    memcpy(q, q2, (size_t)(f->N * K));
    memcpy(sc, sc2, sizeof *sc * (size_t)NG);
    if (of) memcpy(of, of2, sizeof *of * (size_t)NG);
    m->gptq = true;
  }
  free(q2), free(sc2), free(of2);
}

/* Quantise w [N, K] into q (one value a byte), sc and m->xs: without
 * statistics the plain scale search; with them, the alpha whose max|w|
 * quantisation gives the smallest product error on the sampled rows, then
 * the energy-weighted scale search on the weight rescaled with it, and GPTQ
 * on that weight if asked and better. */
static void quant_search(const QFormat *f, const float *w, const WStats *st, bool gptq, Memo *m, int8_t *q,
                         float *sc, float *of) {
  m->alpha = 0;
  if (!st || !st->rows) {
    quant_matrix(f, w, NULL, q, sc, of);
    return;
  }
  int64_t K = f->K, NK = f->N * K;
  float *ws = xcalloc((size_t)NK, sizeof *ws), *s = xcalloc((size_t)K, sizeof *s),
        *inv = xcalloc((size_t)K, sizeof *inv);
  double *imp = xcalloc((size_t)K, sizeof *imp);
  QFormat plain = *f;
  plain.steps = 0;
  double best = INFINITY;
  for (int a = 0; a <= ALPHA_STEPS; a++) {
    awq_scales(st, (double)a / ALPHA_STEPS, s, inv, imp);
    for (int64_t i = 0; i < NK; i++) ws[i] = w[i] * s[i % K];
    quant_matrix(&plain, ws, NULL, q, sc, of);
    double err = output_error(f, st, w, q, sc, of, a ? inv : NULL);
    if (err < best) best = err, m->alpha = (double)a / ALPHA_STEPS;
  }
  awq_scales(st, m->alpha, s, inv, imp);
  for (int64_t i = 0; i < NK; i++) ws[i] = w[i] * s[i % K];
  quant_matrix(f, ws, imp, q, sc, of);
  if (gptq)
    try_gptq(f, w, ws, st, inv, imp, output_error(f, st, w, q, sc, of, m->alpha > 0 ? inv : NULL), m, q, sc, of);
  if (m->alpha > 0) {
    m->xs = (TfxTensor){.dtype = TFX_F32, .rank = 1, .dims = {K}};
    m->xs.data = memcpy(xcalloc((size_t)K, sizeof(float)), inv, sizeof(float) * (size_t)K);
  }
  free(ws), free(s), free(inv), free(imp);
}

static QFormat qformat(int bits, bool asym, int64_t N, int64_t K, int64_t group) {
  QFormat f = {.bits = bits, .lo = bits == 8 ? -127 : -8, .hi = bits == 8 ? 127 : 7, .asym = asym, .N = N, .K = K,
               .G = group ? group : K, .min_ratio = bits == 8 ? 0.8 : 0.5, .steps = SCALE_STEPS};
  f.ng = K / f.G;
  return f;
}

void tfx_quant_matrix(const float *w, int64_t N, int64_t K, int bits, int64_t group, const float *x, int64_t rows,
                      bool gptq, int8_t *q, float *scales) {
  QFormat f = qformat(bits, false, N, K, group);
  double *imp = NULL;
  if (x && rows > 0) {
    imp = xcalloc((size_t)K, sizeof *imp);
    for (int64_t i = 0; i < rows; i++)
      for (int64_t k = 0; k < K; k++) imp[k] += (double)x[i * K + k] * x[i * K + k] / (double)rows;
  }
  if (!imp || !gptq || !gptq_run(&f, w, x, rows, NULL, imp, q, scales, NULL)) quant_matrix(&f, w, imp, q, scales, NULL);
  free(imp);
}

/* A float32 tensor whose values are bfloat16 already as a bfloat16 tensor, in place. */
static void to_bf16(TfxTensor *t) {
  const int64_t n = tfx_numel(t->rank, t->dims);
  uint16_t *h = xcalloc((size_t)(n > 0 ? n : 1), sizeof *h);
  for (int64_t i = 0; i < n; i++) h[i] = tfx_f32_to_bf16(((const float *)t->data)[i]);
  free(t->data);
  t->data = h, t->dtype = TFX_BF16;
}

/* Quantise weight wv (float32 2-D, [K, N] or, when trans, [N, K]) into m's
 * malloc'd tensors; group 0: one group per output channel; asym: offsets too;
 * bf16: scales and offsets as bfloat16 (WeightQMatMul's), else float32. */
static void quantise(const TfxGraph *g, uint32_t wv, bool trans, int bits, bool asym, int64_t group,
                     const WStats *st, bool gptq, bool bf16, Memo *m) {
  const TfxTensor *w = g->values[wv].konst;
  int64_t K = trans ? w->dims[1] : w->dims[0], N = trans ? w->dims[0] : w->dims[1];
  QFormat f = qformat(bits, asym, N, K, group);
  f.bf16 = bf16;
  const float *src = w->data;
  float *wt = xcalloc((size_t)(N * K), sizeof *wt); /* [N, K] */
  for (int64_t n = 0; n < N; n++)
    for (int64_t k = 0; k < K; k++) wt[n * K + k] = src[trans ? n * K + k : k * N + n];
  int8_t *q = xcalloc((size_t)(N * K), 1);
  m->s = (TfxTensor){.dtype = TFX_F32, .rank = group ? 2 : 1, .dims = {N, f.ng}};
  m->s.data = xcalloc((size_t)(N * f.ng), sizeof(float));
  if (asym) {
    m->o = m->s;
    m->o.data = xcalloc((size_t)(N * f.ng), sizeof(float));
  }
  quant_search(&f, wt, st && st->K == K ? st : NULL, gptq, m, q, m->s.data, m->o.data);
  if (bf16) {
    to_bf16(&m->s);
    if (m->o.data) to_bf16(&m->o);
  }
  if (bits == 8) {
    m->q = (TfxTensor){.dtype = TFX_I8, .rank = 2, .dims = {N, K}, .data = q};
  } else {
    uint8_t *b = xcalloc((size_t)(N * K / 2), 1);
    for (int64_t i = 0; i < N * K; i++) b[i / 2] = (uint8_t)(b[i / 2] | ((unsigned)(q[i] + 8) << ((i & 1) * 4)));
    free(q);
    m->q = (TfxTensor){.dtype = TFX_U8, .rank = 2, .dims = {N, K / 2}, .data = b};
  }
  free(wt);
}

static bool in_keep(const char *name, const char *const *keep, int n_keep) {
  for (int i = 0; i < n_keep; i++)
    if (strcmp(keep[i], name) == 0) return true;
  return false;
}

/* The only live node reading value v, or NULL (none, several, or an output). */
static const TfxNode *sole_consumer(const TfxGraph *g, uint32_t v) {
  const TfxNode *found = NULL;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] == v) {
        if (found && found != n) return NULL;
        found = n;
      }
  }
  return found;
}

static bool is_lm_head(const TfxGraph *g, uint32_t out) {
  for (int step = 0; step < 3; step++) {
    if (g->values[out].is_output) return true;
    const TfxNode *c = sole_consumer(g, out);
    if (!c || c->n_outputs < 1) return false;
    if (c->op != TFX_OP_Add && c->op != TFX_OP_Reshape && c->op != TFX_OP_Transpose &&
        c->op != TFX_OP_Squeeze && c->op != TFX_OP_Unsqueeze && c->op != TFX_OP_Identity)
      return false;
    out = c->outputs[0];
  }
  return g->values[out].is_output;
}

static const char *derived(TfxGraph *g, const char *base, const char *suffix) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s%s", base, suffix);
  for (int i = 1; tfx_graph_find_value(g, buf) != TFX_NONE; i++)
    snprintf(buf, sizeof buf, "%s%s_%d", base, suffix, i);
  return tfx_graph_strdup(g, buf);
}

/* A copy of t in the graph arena, as a new constant value named base + suffix. */
static uint32_t add_const(TfxGraph *g, const char *base, const char *suffix, const TfxTensor *t) {
  TfxTensor *c = tfx_graph_new_tensor(g, t->dtype, t->rank, t->dims);
  memcpy(c->data, t->data, tfx_tensor_bytes(t));
  uint32_t v = tfx_graph_add_value(g, derived(g, base, suffix));
  tfx_value_set_const(g, v, c);
  return v;
}

/* A node the pass may rewrite: its weight, whether it is stored [N, K], its bias. */
typedef struct {
  uint32_t w, bias;
  bool trans;
} Cand;

static bool candidate(const TfxGraph *g, const TfxNode *n, Cand *c) {
  if (n->dead || (n->op != TFX_OP_MatMul && n->op != TFX_OP_Gemm) || n->n_outputs < 1) return false;
  const TfxValue *a = tfx_node_in(g, n, 0), *b = tfx_node_in(g, n, 1);
  if (!a || !b || !b->konst || b->dtype != TFX_F32 || a->dtype != TFX_F32 || b->rank != 2 || a->rank < 1)
    return false;
  *c = (Cand){.w = n->inputs[1], .bias = TFX_NONE};
  if (n->op != TFX_OP_Gemm) return true;
  if (tfx_attr_int(n, "transA", 0) || tfx_attr_float(n, "alpha", 1.0f) != 1.0f || a->rank != 2) return false;
  c->trans = tfx_attr_int(n, "transB", 0) != 0;
  const TfxValue *bias = tfx_node_in(g, n, 2);
  if (!bias) return true;
  int64_t N = c->trans ? b->dims[0] : b->dims[1];
  if (tfx_attr_float(n, "beta", 1.0f) != 1.0f || !bias->konst || bias->dtype != TFX_F32 || bias->rank < 1 ||
      bias->rank > 2 || bias->dims[bias->rank - 1] != N || tfx_numel(bias->rank, bias->dims) != N)
    return false;
  c->bias = n->inputs[2];
  return true;
}

uint32_t tfx_quant_weight_of(const TfxGraph *g, const TfxNode *n) {
  Cand c;
  return candidate(g, n, &c) ? c.w : TFX_NONE;
}

static TfxAttr *q_attrs(TfxGraph *g, int bits, int64_t group) {
  TfxAttr *a = tfx_graph_alloc(g, 2 * sizeof *a);
  a[0].name = "bits", a[0].kind = TFX_ATTR_INT, a[0].i = bits;
  a[1].name = "group", a[1].kind = TFX_ATTR_INT, a[1].i = group;
  return a;
}

/* ---- embedding tables ------------------------------------------------------------ */

/* Whether every live reader of v is a Gather: a table also read as a matrix
 * (tied LM head) stays float32 unless the head may be quantised too. */
static bool only_gathered(const TfxGraph *g, uint32_t v) {
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    for (int k = 0; !n->dead && k < n->n_inputs; k++)
      if (n->inputs[k] == v && (n->op != TFX_OP_Gather || k != 0)) return false;
  }
  return true;
}

/* Gather on a float32 constant [V, D] along axis 0 with computed indices
 * becomes WeightQGather on int8 rows, a scale per row or per group of the
 * row with --group (the same scale search as a weight's; memo group -1 - G keeps it apart from a tied
 * head's own quantisation, which may carry activation rescaling). */
static TfxStatus quantize_tables(TfxGraph *g, const TfxQuantOptions *q, int64_t group, TfxQuantCalib *memo,
                                 const char *const *keep, int n_keep, int *changed) {
  uint32_t n_nodes = g->n_nodes, done_v = TFX_NONE, done_q = TFX_NONE, done_s = TFX_NONE;
  int64_t gq_v = 0;
  for (uint32_t i = 0; i < n_nodes; i++) {
    TfxNode *n = &g->nodes[i];
    if (n->dead || n->op != TFX_OP_Gather || n->n_inputs != 2) continue;
    const TfxValue *t = tfx_node_in(g, n, 0), *ind = tfx_node_in(g, n, 1);
    if (!t || !t->konst || t->dtype != TFX_F32 || t->rank != 2 || !ind || ind->konst) continue;
    if (tfx_axis(tfx_attr_int(n, "axis", 0), 2) != 0 || in_keep(t->name, keep, n_keep)) continue;
    if (!q->lm_head && !only_gathered(g, n->inputs[0])) continue;
    uint32_t tv = n->inputs[0], iv = n->inputs[1];
    if (tv != done_v) { /* the tables of a model are few: remembering the last suffices */
      const char *tname = t->name;
      int64_t D = t->dims[1], gq = group && D % group == 0 ? group : 0;
      Memo *m = find_memo(memo, tname, true, 8, -1 - gq);
      if (!m) {
        memo->m = xrealloc(memo->m, sizeof *memo->m * (size_t)(memo->n_m + 1));
        m = &memo->m[memo->n_m++];
        *m = (Memo){.weight = xstrdup(tname), .trans = true, .bits = 8, .group = -1 - gq};
        quantise(g, tv, true, 8, false, gq, NULL, false, false, m);
      }
      done_v = tv;
      done_q = add_const(g, tname, ".q8", &m->q);
      done_s = add_const(g, tname, ".scale", &m->s);
      gq_v = gq;
      (*changed)++;
    }
    n = &g->nodes[i];
    free(n->inputs);
    n->inputs = xcalloc(3, sizeof(uint32_t));
    n->inputs[0] = done_q, n->inputs[1] = done_s, n->inputs[2] = iv;
    n->n_inputs = 3;
    n->op = TFX_OP_WeightQGather;
    n->op_type = "WeightQGather";
    n->attrs = tfx_graph_alloc(g, sizeof *n->attrs);
    n->attrs[0] = (TfxAttr){.name = "group", .kind = TFX_ATTR_INT, .i = gq_v};
    n->n_attrs = gq_v ? 1 : 0;
    if (tfx_ops[TFX_OP_WeightQGather].infer(g, n)) return TFX_ERR;
  }
  return TFX_OK;
}

/* The BlockQuantize nodes added so far: one per activation and xs, shared by
 * the products that read both (the projections of one x without AWQ). */
typedef struct {
  uint32_t *node;
  int n;
} Acts;

/* A BlockQuantize of x (times xs, TFX_NONE: none) in blocks of ACT_BLOCK: the
 * node's id, new or shared.  Added at the end: the pass sorts the graph after. */
static uint32_t block_quantize(TfxGraph *g, Acts *a, uint32_t x, uint32_t xs, const char *wname) {
  for (int k = 0; k < a->n; k++) {
    const TfxNode *b = &g->nodes[a->node[k]];
    if (b->inputs[0] == x && (b->n_inputs > 1 ? b->inputs[1] : TFX_NONE) == xs) return a->node[k];
  }
  uint32_t ins[2] = {x, xs};
  uint32_t outs[3] = {tfx_graph_add_value(g, derived(g, wname, ".xq")), tfx_graph_add_value(g, derived(g, wname, ".xd")),
                      tfx_graph_add_value(g, derived(g, wname, ".xhat"))};
  uint32_t id = tfx_graph_add_node(g, TFX_OP_BlockQuantize, "BlockQuantize", derived(g, wname, ".BlockQuantize"), ins,
                                   xs != TFX_NONE ? 2 : 1, outs, 3);
  TfxNode *b = &g->nodes[id];
  b->attrs = tfx_graph_alloc(g, sizeof *b->attrs);
  b->attrs[0] = (TfxAttr){.name = "block", .kind = TFX_ATTR_INT, .i = ACT_BLOCK};
  b->n_attrs = 1;
  a->node = xrealloc(a->node, sizeof *a->node * (size_t)(a->n + 1));
  a->node[a->n++] = id;
  return tfx_ops[TFX_OP_BlockQuantize].infer(g, b) ? TFX_NONE : id;
}

TfxStatus tfx_pass_quantize_weights(TfxGraph *g, const TfxQuantOptions *q, const char *const *keep, int n_keep,
                                    int *changed) {
  *changed = 0;
  if (!q->weight_bits) return TFX_OK;
  if (q->weight_bits != 8 && q->weight_bits != 4)
    return tfx_error(g->diag, "%s: --quantize-weights: %d bits is not supported (int8 or int4)", g->path,
                     q->weight_bits);
  if (q->asym && q->weight_bits != 4)
    return tfx_error(g->diag, "%s: --asymmetric applies to int4 weights (int8 is symmetric)", g->path);
  /* int8 is per output channel unless a group is asked for */
  int64_t group = q->group ? q->group : q->weight_bits == 4 ? 32 : 0;
  if (group && group != 32 && group != 64 && group != 128)
    return tfx_error(g->diag, "%s: --group must be 32, 64 or 128, got %lld", g->path, (long long)group);
  /* one quantised copy per weight, shared by the nodes reading it (twice: transposed or not) */
  uint32_t n_vals = g->n_values;
  uint32_t *qcache = xcalloc((size_t)(n_vals + 1), 8 * sizeof(uint32_t));
  memset(qcache, 0xff, sizeof(uint32_t) * 8 * (n_vals + 1));
  TfxQuantCalib *local = q->stats ? NULL : tfx_quant_calib_new();
  TfxQuantCalib *memo = q->stats ? q->stats : local;
  uint32_t n_nodes = g->n_nodes;
  TfxStatus st = TFX_OK;
  Acts acts = {0};
  for (uint32_t i = 0; i < n_nodes && !st; i++) {
    TfxNode *n = &g->nodes[i];
    Cand c;
    if (!candidate(g, n, &c)) continue;
    const char *wname = g->values[c.w].name; /* g->values moves as constants are added */
    int64_t K = g->values[c.w].dims[c.trans ? 1 : 0];
    if (q->weight_bits == 4 && K % group) continue;
    int bits = bits_of(q->stats, wname, q->weight_bits);
    int64_t gw = bits == q->weight_bits ? group : q->group; /* an int8 override: per channel unless --group */
    int64_t gq = gw && K % gw == 0 ? gw : 0;                /* int8: per channel when K is not a multiple */
    if (in_keep(wname, keep, n_keep)) continue;
    if (!q->lm_head && is_lm_head(g, n->outputs[0])) continue;
    uint32_t *slot = &qcache[8 * c.w + 4 * c.trans]; /* q, scales, xs, offsets */
    if (slot[0] == TFX_NONE) {
      Memo *m = find_memo(memo, wname, c.trans, bits, gq);
      if (!m) {
        memo->m = xrealloc(memo->m, sizeof *memo->m * (size_t)(memo->n_m + 1));
        m = &memo->m[memo->n_m++];
        *m = (Memo){.weight = xstrdup(wname), .trans = c.trans, .bits = bits, .group = gq};
        quantise(g, c.w, c.trans, bits, q->asym && bits == 4, gq, find_stats(q->stats, wname), !q->no_gptq, true, m);
      }
      slot[0] = add_const(g, wname, bits == 8 ? ".q8" : ".q4", &m->q);
      slot[1] = add_const(g, wname, ".scale", &m->s);
      slot[2] = m->xs.data ? add_const(g, wname, ".xs", &m->xs) : TFX_NONE;
      slot[3] = m->o.data ? add_const(g, wname, ".offset", &m->o) : TFX_NONE;
      (*changed)++;
    }
    uint32_t ins[8] = {n->inputs[0], slot[0], slot[1], c.bias, slot[2], TFX_NONE, TFX_NONE, slot[3]};
    int n_ins = slot[2] != TFX_NONE ? 5 : c.bias != TFX_NONE ? 4 : 3;
    if (!q->float_acts && K % ACT_BLOCK == 0 && gq % ACT_BLOCK == 0) { /* gq 0: one group of K */
      uint32_t bq = block_quantize(g, &acts, ins[0], slot[2], wname);
      if (bq == TFX_NONE) {
        st = TFX_ERR;
        break;
      }
      const TfxNode *b = &g->nodes[bq];
      ins[0] = b->outputs[2], ins[4] = TFX_NONE, ins[5] = b->outputs[0], ins[6] = b->outputs[1];
      n_ins = 7;
      n = &g->nodes[i];
    }
    if (slot[3] != TFX_NONE) n_ins = 8;
    free(n->inputs);
    n->n_inputs = n_ins;
    n->inputs = xcalloc(8, sizeof(uint32_t));
    memcpy(n->inputs, ins, sizeof ins);
    n->op = TFX_OP_WeightQMatMul;
    n->op_type = "WeightQMatMul";
    n->attrs = q_attrs(g, bits, gq);
    n->n_attrs = gq ? 2 : 1;
    st = tfx_ops[TFX_OP_WeightQMatMul].infer(g, n);
  }
  if (!st && q->embeddings) st = quantize_tables(g, q, group, memo, keep, n_keep, changed);
  if (!st && acts.n) st = tfx_graph_toposort(g);
  tfx_quant_calib_free(local);
  free(acts.node);
  free(qcache);
  return st;
}
