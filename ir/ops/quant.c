/* quant.c — WeightQMatMul(x, wq, scales[, bias[, xs[, xq, xd[, offsets]]]]) -> y: a matrix
 * product with quantised weights, made by passes/quantize.c from MatMul/Gemm on
 * float32 constant weights.
 *
 *   x      float32 [..., K]
 *   wq     bits 8: int8  [N, K]      q in [-127, 127]
 *          bits 4: uint8 [N, K/2]    two nibbles per byte, low nibble = even k,
 *                                    each holding q + 8 with q in [-8, 7]
 *   scales bfloat16 [N] (bits 8 without a group) or [N, K/group] (attribute group;
 *          bits 4 always has one, 32 by default): 2 bytes, not 4, beside 16 bytes
 *          of an int4 group of 32 (design note 13)
 *   bias   optional float32 [N]
 *   xs     optional float32 [K]: x[m, k] is read as x[m, k] * xs[k] (the inverse of
 *          the activation-aware rescaling the weight was quantised with)
 *   offsets optional, bits 4 only: bfloat16 [N, K/group], the weight of q being
 *          q * scale + offset (asymmetric: the group's minimum is offset - 8 scale)
 *   y      float32 [..., N],  y[m, n] = sum_g (scale[n, g] * (sum_{k in g} x[m, k] xs[k] q[n, k])
 *                                             + offset[n, g] * sum_{k in g} x[m, k] xs[k]) + bias[n]
 *
 * With xq and xd (the outputs q and d of a BlockQuantize of x; xs then absent,
 * BlockQuantize applied it) the activations are integers too, and
 *   y[m, n] = sum_b xd[m, b] * (scale[n, g(b)] * (sum_{k in b} xq[m, k] q[n, k])
 *                               + offset[n, g(b)] * (sum_{k in b} xq[m, k])) + bias[n]
 * over x's blocks b of L = K / xd's last dimension (each inside one group): the
 * inner sums are exact integers, which the generated code forms with integer
 * SIMD (decode) or, from x = BlockQuantize's xhat, as a float product
 * (prefill; the same value up to float rounding).
 *
 * The weight is stored transposed (row n = output channel n, contiguous along
 * K) so that one row of x streams each weight byte exactly once.  For int8
 * without a group the whole row is one group (the scale factors out of the sum).  The reference
 * evaluator computes the same expression in double, so the generated float code
 * differs from it only by float rounding and summation order.
 *
 * BlockQuantize(x[, xs]) -> (q, d, xhat): x float32 [..., K] (times xs [K] when
 * given) in blocks of `block` (attribute, dividing K) along K, each quantised
 * symmetrically to int8 with its own scale:
 *   d = amax / 127 (amax = max |x| over the block), q = round_even(x * (127 / amax)),
 *   xhat = q * d (float32, the value q stands for)
 * q int8 [..., K], d float32 [..., K/block], xhat float32 [..., K].  A block whose
 * amax is below 1e-30 is all zero (d = 0); one holding an infinity or NaN gets
 * d = NaN (q = 0, xhat = NaN), so that the product it feeds is NaN, not a
 * finite guess.  Every step is one float32 operation, which the generated code
 * repeats exactly.
 *
 * WeightQGather(table, scales, indices) -> y: an embedding lookup in an int8
 * table (made by the same pass from Gather on a float32 constant [V, D], axis 0)
 *   table   int8 [V, D], one scale per row: scales float32 [V], or with the
 *           attribute group one per group of D: scales [V, D/group]
 *   indices int32 or int64, any shape, each in [-V, V) as Gather's
 *   y       float32 [indices..., D],  y[j, d] = table[k_j, d] * scales[k_j, d / group]
 * An index outside [-V, V) is the caller's error (ERR_INPUT at run time). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

typedef struct {
  int bits;
  int64_t K, N, group, n_groups, M; /* M: rows of x (all leading dims) */
  int64_t block;                     /* with xq: activation block L; else 0 */
  bool has_bias, has_xs, has_off;
} QShape;

static TfxStatus q_shape(TfxGraph *g, const TfxNode *n, QShape *s) {
  const TfxValue *x = tfx_node_in(g, n, 0), *w = tfx_node_in(g, n, 1), *sc = tfx_node_in(g, n, 2),
                 *b = tfx_node_in(g, n, 3);
  if (!x || !w || !sc) return tfx_node_error(g, n, "WeightQMatMul needs inputs x, wq and scales");
  s->bits = (int)tfx_attr_int(n, "bits", 8);
  if (s->bits != 8 && s->bits != 4) return tfx_node_error(g, n, "bits must be 8 or 4, got %d", s->bits);
  if (x->dtype != TFX_F32) return tfx_node_error(g, n, "x must be float32, got %s", tfx_dtype_name(x->dtype));
  if (x->rank < 1) return tfx_node_error(g, n, "x must have rank >= 1");
  if (w->rank != 2) return tfx_node_error(g, n, "wq must be 2-D [N, K]");
  if (sc->dtype != TFX_BF16) return tfx_node_error(g, n, "scales must be bfloat16, got %s", tfx_dtype_name(sc->dtype));
  s->K = x->dims[x->rank - 1];
  s->N = w->dims[0];
  s->M = tfx_numel(x->rank - 1, x->dims);
  int64_t per_byte = s->bits == 8 ? 1 : 2;
  if (w->dtype != (s->bits == 8 ? TFX_I8 : TFX_U8))
    return tfx_node_error(g, n, "bits %d: wq must be %s, got %s", s->bits, s->bits == 8 ? "int8" : "uint8",
                          tfx_dtype_name(w->dtype));
  if (w->dims[1] * per_byte != s->K)
    return tfx_node_error(g, n, "bits %d: wq must be [N, K/%lld] = [%lld, %lld]", s->bits, (long long)per_byte,
                          (long long)s->N, (long long)(s->K / per_byte));
  s->group = tfx_attr_int(n, "group", s->bits == 8 ? 0 : 32);
  if (!s->group) { /* int8 per output channel */
    s->group = s->K;
    s->n_groups = 1;
    if (tfx_numel(sc->rank, sc->dims) != s->N || sc->rank > 2)
      return tfx_node_error(g, n, "bits 8: scales must hold one value per output channel (%lld)", (long long)s->N);
  } else {
    if (s->group < 2 || s->group % 2 || s->K % s->group)
      return tfx_node_error(g, n, "group %lld must be even and divide K=%lld", (long long)s->group, (long long)s->K);
    s->n_groups = s->K / s->group;
    if (sc->rank != 2 || sc->dims[0] != s->N || sc->dims[1] != s->n_groups)
      return tfx_node_error(g, n, "scales must be [N, K/group] = [%lld, %lld]", (long long)s->N,
                            (long long)s->n_groups);
  }
  s->has_bias = b != NULL;
  if (b && (b->dtype != TFX_F32 || tfx_numel(b->rank, b->dims) != s->N || b->rank > 2))
    return tfx_node_error(g, n, "bias must be float32 with %lld elements", (long long)s->N);
  const TfxValue *xs = tfx_node_in(g, n, 4);
  s->has_xs = xs != NULL;
  if (xs && (xs->dtype != TFX_F32 || xs->rank != 1 || xs->dims[0] != s->K))
    return tfx_node_error(g, n, "xs must be float32 [K] = [%lld]", (long long)s->K);
  const TfxValue *off = tfx_node_in(g, n, 7);
  s->has_off = off != NULL;
  if (off && (s->bits != 4 || off->dtype != TFX_BF16 || off->rank != 2 || off->dims[0] != s->N ||
              off->dims[1] != s->n_groups))
    return tfx_node_error(g, n, "offsets must be bfloat16 [N, K/group] = [%lld, %lld], with int4 weights",
                          (long long)s->N, (long long)s->n_groups);
  const TfxValue *xq = tfx_node_in(g, n, 5), *xd = tfx_node_in(g, n, 6);
  s->block = 0;
  if (!xq && !xd) return TFX_OK;
  if (!xq || !xd || xs) return tfx_node_error(g, n, "xq and xd come together, and without xs");
  if (xq->dtype != TFX_I8 || xq->rank != x->rank || tfx_numel(xq->rank, xq->dims) != s->M * s->K ||
      xq->dims[xq->rank - 1] != s->K)
    return tfx_node_error(g, n, "xq must be int8 with x's shape");
  int64_t nb = xd->rank == x->rank ? xd->dims[xd->rank - 1] : 0;
  if (xd->dtype != TFX_F32 || nb < 1 || s->K % nb || tfx_numel(xd->rank, xd->dims) != s->M * nb)
    return tfx_node_error(g, n, "xd must be float32 [..., K/block] with x's leading dimensions");
  s->block = s->K / nb;
  if (s->group % s->block)
    return tfx_node_error(g, n, "activation block %lld must divide the weight group %lld", (long long)s->block,
                          (long long)s->group);
  return TFX_OK;
}

static TfxStatus mm_infer(TfxGraph *g, TfxNode *n) {
  QShape s;
  if (q_shape(g, n, &s)) return TFX_ERR;
  const TfxValue *x = tfx_node_in(g, n, 0);
  int64_t dims[TFX_MAX_RANK];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[x->rank - 1] = s.N;
  tfx_node_set_out(g, n, 0, TFX_F32, x->rank, dims);
  return TFX_OK;
}

/* Quantised weight q[n, k] as an integer. */
static int q_at(const QShape *s, const TfxTensor *w, int64_t n, int64_t k) {
  if (s->bits == 8) return ((const int8_t *)w->data)[n * s->K + k];
  uint8_t byte = ((const uint8_t *)w->data)[n * (s->K / 2) + k / 2];
  return (int)((k & 1) ? byte >> 4 : byte & 15) - 8;
}

static TfxStatus mm_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  QShape s;
  if (q_shape(g, n, &s)) return TFX_ERR;
  const float *x = in[0]->data, *b = n->n_inputs > 3 && in[3] ? in[3]->data : NULL;
  const float *xs = n->n_inputs > 4 && in[4] ? in[4]->data : NULL;
  const TfxTensor *sc = in[2], *of = s.has_off ? in[7] : NULL; /* bfloat16, read as they are stored */
  float *y = out[0].data;
  if (s.block) { /* integer activations: exact sums per block */
    const int8_t *xq = in[5]->data;
    const float *xd = in[6]->data;
    const int64_t nb = s.K / s.block;
    for (int64_t m = 0; m < s.M; m++)
      for (int64_t j = 0; j < s.N; j++) {
        double acc = 0;
        for (int64_t bi = 0; bi < nb; bi++) {
          int64_t isum = 0, xsum = 0, gi = j * s.n_groups + bi * s.block / s.group;
          for (int64_t k = bi * s.block; k < (bi + 1) * s.block; k++)
            isum += xq[m * s.K + k] * q_at(&s, in[1], j, k), xsum += xq[m * s.K + k];
          acc += (double)xd[m * nb + bi] *
                 ((double)isum * tfx_tensor_get_f64(sc, gi) + (of ? (double)xsum * tfx_tensor_get_f64(of, gi) : 0.0));
        }
        if (b) acc += b[j];
        y[m * s.N + j] = (float)acc;
      }
    return TFX_OK;
  }
  for (int64_t m = 0; m < s.M; m++)
    for (int64_t j = 0; j < s.N; j++) {
      double acc = 0;
      for (int64_t gi = 0; gi < s.n_groups; gi++) {
        double part = 0, xsum = 0;
        for (int64_t k = gi * s.group; k < (gi + 1) * s.group; k++) {
          double v = (double)x[m * s.K + k] * (xs ? xs[k] : 1.0);
          part += v * q_at(&s, in[1], j, k), xsum += v;
        }
        const int64_t si = j * s.n_groups + gi;
        acc += part * tfx_tensor_get_f64(sc, si) + (of ? xsum * tfx_tensor_get_f64(of, si) : 0.0);
      }
      if (b) acc += b[j];
      y[m * s.N + j] = (float)acc;
    }
  return TFX_OK;
}

/* The call: all M rows (row < 0), or row `row` of x, xq and xd alone. */
static void qmm_call(TfxCEmit *e, const TfxNode *n, const QShape *s, int64_t row, const char *indent) {
  char x[160], xq[160], xd[160];
  const char *vx = tfx_c_var(e, n->inputs[0]);
  if (row >= 0) snprintf(x, sizeof x, "%s + %lld", vx, (long long)(row * s->K));
  else snprintf(x, sizeof x, "%s", vx);
  if (!s->block) {
    snprintf(xq, sizeof xq, "NULL");
    snprintf(xd, sizeof xd, "NULL");
  } else if (row >= 0) {
    snprintf(xq, sizeof xq, "%s + %lld", tfx_c_var(e, n->inputs[5]), (long long)(row * s->K));
    snprintf(xd, sizeof xd, "%s + %lld", tfx_c_var(e, n->inputs[6]), (long long)(row * (s->K / s->block)));
  } else {
    snprintf(xq, sizeof xq, "%s", tfx_c_var(e, n->inputs[5]));
    snprintf(xd, sizeof xd, "%s", tfx_c_var(e, n->inputs[6]));
  }
  tfx_c_line(e, "%stfx_qmm(tfx_pp, %lld, %lld, %lld, %s, %s, %s, %s, %lld, %d, %s, %s, %s, %s, %lld, %s);", indent,
             row >= 0 ? 1LL : (long long)s->M, (long long)s->N, (long long)s->K, x, tfx_c_var(e, n->inputs[1]),
             tfx_c_var(e, n->inputs[2]), s->has_off ? tfx_c_var(e, n->inputs[7]) : "NULL", (long long)s->group,
             s->bits, s->has_bias ? tfx_c_var(e, n->inputs[3]) : "NULL",
             s->has_xs ? tfx_c_var(e, n->inputs[4]) : "NULL", xq, xd, (long long)s->block,
             tfx_c_var(e, n->outputs[0]));
}

/* A call into tfx_qmm (codegen/c/kernels_quant.c), which takes its shapes at run
 * time: the printed code differs between sequence lengths in M only. */
static TfxStatus mm_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  QShape s;
  if (q_shape(g, n, &s)) return TFX_ERR;
  if (s.bits == 8 && s.n_groups == 1)
    tfx_c_line(e, "{ /* WeightQMatMul int8: (%lld x %lld) x (%lld x %lld)^T, per-channel scales */", (long long)s.M,
               (long long)s.K, (long long)s.N, (long long)s.K);
  else
    tfx_c_line(e, "{ /* WeightQMatMul int%d: (%lld x %lld) x (%lld x %lld)^T, group %lld%s */", s.bits, (long long)s.M,
               (long long)s.K, (long long)s.N, (long long)s.K, (long long)s.group, s.has_off ? ", offsets" : "");
  tfx_c_indent(e, 1);
  tfx_c_need(e, TFX_HELP_QMM);
  tfx_c_need(e, TFX_HELP_BF16); /* tfx_b2f reads the scales */
  if (tfx_c_last_row(e, n)) { /* row M - 1 alone, into row 0 of the output */
    tfx_c_line(e, "if (tfx_last)");
    qmm_call(e, n, &s, s.M - 1, "  ");
    tfx_c_line(e, "else");
    qmm_call(e, n, &s, -1, "  ");
  } else {
    qmm_call(e, n, &s, -1, "");
  }
  tfx_c_close(e, 1);
  return TFX_OK;
}

/* ---- WeightQGather ------------------------------------------------------------ */

static TfxStatus qg_shape(TfxGraph *g, const TfxNode *n, int64_t *V, int64_t *D, int64_t *G) {
  const TfxValue *t = tfx_node_in(g, n, 0), *sc = tfx_node_in(g, n, 1), *ind = tfx_node_in(g, n, 2);
  if (!t || !sc || !ind) return tfx_node_error(g, n, "WeightQGather needs inputs table, scales and indices");
  if (t->dtype != TFX_I8 || t->rank != 2) return tfx_node_error(g, n, "table must be int8 [V, D]");
  *V = t->dims[0], *D = t->dims[1];
  *G = tfx_attr_int(n, "group", 0);
  if (*G < 0 || (*G && *D % *G)) return tfx_node_error(g, n, "group %lld must divide D=%lld", (long long)*G, (long long)*D);
  if (!*G) *G = *D ? *D : 1;
  if (sc->dtype != TFX_F32 || tfx_numel(sc->rank, sc->dims) != *V * (*D / *G) || sc->rank > 2 || sc->dims[0] != *V)
    return tfx_node_error(g, n, "scales must be float32 [V, D/group] = [%lld, %lld]", (long long)*V,
                          (long long)(*D / *G));
  if (ind->dtype != TFX_I32 && ind->dtype != TFX_I64)
    return tfx_node_error(g, n, "indices must be int32 or int64, got %s", tfx_dtype_name(ind->dtype));
  if (ind->rank + 1 > TFX_MAX_RANK) return tfx_node_error(g, n, "output rank exceeds %d", TFX_MAX_RANK);
  if (*V == 0 && tfx_numel(ind->rank, ind->dims) > 0) return tfx_node_error(g, n, "gathers from an empty table");
  return TFX_OK;
}

static TfxStatus qg_infer(TfxGraph *g, TfxNode *n) {
  int64_t V, D, G, dims[TFX_MAX_RANK];
  if (qg_shape(g, n, &V, &D, &G)) return TFX_ERR;
  const TfxValue *ind = tfx_node_in(g, n, 2);
  memcpy(dims, ind->dims, sizeof(int64_t) * (size_t)ind->rank);
  dims[ind->rank] = D;
  tfx_node_set_out(g, n, 0, TFX_F32, ind->rank + 1, dims);
  return TFX_OK;
}

static TfxStatus qg_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  int64_t V, D, G;
  if (qg_shape(g, n, &V, &D, &G)) return TFX_ERR;
  const int8_t *t = in[0]->data;
  const float *sc = in[1]->data;
  float *y = out[0].data;
  for (int64_t j = 0; j < tfx_tensor_numel(in[2]); j++) {
    int64_t k = tfx_tensor_get_i64(in[2], j);
    if (k < -V || k >= V)
      return tfx_node_error(g, n, "index %lld is outside [-%lld, %lld)", (long long)k, (long long)V, (long long)V);
    if (k < 0) k += V;
    for (int64_t d = 0; d < D; d++) y[j * D + d] = (float)((double)t[k * D + d] * sc[k * (D / G) + d / G]);
  }
  return TFX_OK;
}

static TfxStatus qg_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  int64_t V, D, G;
  if (qg_shape(g, n, &V, &D, &G)) return TFX_ERR;
  const TfxValue *ind = tfx_node_in(g, n, 2);
  tfx_c_line(e, "{ /* WeightQGather int8: %lld rows of [%lld, %lld] */", (long long)tfx_numel(ind->rank, ind->dims),
             (long long)V, (long long)D);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "for (int64_t j = 0; j < %lld; ++j) {", (long long)tfx_numel(ind->rank, ind->dims));
  tfx_c_indent(e, 1);
  tfx_c_line(e, "int64_t k = (int64_t)%s[j];", tfx_c_var(e, n->inputs[2]));
  /* a token id outside the vocabulary stops the run, as Gather does */
  tfx_c_line(e, "if (k < -%lld || k >= %lld) return TFX_ERR_INPUT;", (long long)V, (long long)V);
  tfx_c_line(e, "if (k < 0) k += %lld;", (long long)V);
  tfx_c_line(e, "const int8_t *const row = %s + k * %lld;", tfx_c_var(e, n->inputs[0]), (long long)D);
  tfx_c_line(e, "const float *const s = %s + k * %lld;", tfx_c_var(e, n->inputs[1]), (long long)(D / G));
  tfx_c_line(e, "float *const yr = %s + j * %lld;", tfx_c_var(e, n->outputs[0]), (long long)D);
  tfx_c_line(e, "for (int64_t d = 0; d < %lld; ++d) yr[d] = (float)row[d] * s[d / %lld];", (long long)D, (long long)G);
  tfx_c_close(e, 2);
  return TFX_OK;
}

/* ---- BlockQuantize --------------------------------------------------------- */

static TfxStatus bq_shape(TfxGraph *g, const TfxNode *n, int64_t *M, int64_t *K, int64_t *L) {
  const TfxValue *x = tfx_node_in(g, n, 0), *xs = tfx_node_in(g, n, 1);
  if (!x) return tfx_node_error(g, n, "BlockQuantize needs an input x");
  if (x->dtype != TFX_F32 || x->rank < 1) return tfx_node_error(g, n, "x must be float32 of rank >= 1");
  *K = x->dims[x->rank - 1];
  *M = tfx_numel(x->rank - 1, x->dims);
  *L = tfx_attr_int(n, "block", 32);
  if (*L < 1 || *K % *L) return tfx_node_error(g, n, "block %lld must divide K=%lld", (long long)*L, (long long)*K);
  if (xs && (xs->dtype != TFX_F32 || xs->rank != 1 || xs->dims[0] != *K))
    return tfx_node_error(g, n, "xs must be float32 [K] = [%lld]", (long long)*K);
  return TFX_OK;
}

static TfxStatus bq_infer(TfxGraph *g, TfxNode *n) {
  int64_t M, K, L, dims[TFX_MAX_RANK];
  if (bq_shape(g, n, &M, &K, &L)) return TFX_ERR;
  const TfxValue *x = tfx_node_in(g, n, 0);
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  tfx_node_set_out(g, n, 0, TFX_I8, x->rank, dims);
  tfx_node_set_out(g, n, 2, TFX_F32, x->rank, dims);
  dims[x->rank - 1] = K / L;
  tfx_node_set_out(g, n, 1, TFX_F32, x->rank, dims);
  return TFX_OK;
}

/* One block of L: the arithmetic the generated tfx_bq repeats (kernels_quant.c). */
static void bq_block(const float *x, const float *xs, int64_t L, int8_t *q, float *d, float *xhat) {
  float amax = 0;
  bool finite = true;
  for (int64_t k = 0; k < L; k++) {
    float v = xs ? x[k] * xs[k] : x[k];
    if (!isfinite(v)) finite = false;
    else if (fabsf(v) > amax) amax = fabsf(v);
  }
  if (!finite || amax < 1e-30f) {
    *d = finite ? 0.0f : NAN;
    for (int64_t k = 0; k < L; k++) q[k] = 0, xhat[k] = *d;
    return;
  }
  const float id = 127.0f / amax;
  *d = amax / 127.0f;
  for (int64_t k = 0; k < L; k++) {
    float v = xs ? x[k] * xs[k] : x[k];
    q[k] = (int8_t)nearbyintf(v * id);
    xhat[k] = (float)q[k] * *d;
  }
}

static TfxStatus bq_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  int64_t M, K, L;
  if (bq_shape(g, n, &M, &K, &L)) return TFX_ERR;
  const float *x = in[0]->data, *xs = n->n_inputs > 1 && in[1] ? in[1]->data : NULL;
  for (int64_t m = 0; m < M; m++)
    for (int64_t b = 0; b < K / L; b++)
      bq_block(x + m * K + b * L, xs ? xs + b * L : NULL, L, (int8_t *)out[0].data + m * K + b * L,
               (float *)out[1].data + m * (K / L) + b, (float *)out[2].data + m * K + b * L);
  return TFX_OK;
}

static TfxStatus bq_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  int64_t M, K, L;
  if (bq_shape(g, n, &M, &K, &L)) return TFX_ERR;
  tfx_c_need(e, TFX_HELP_QMM);
  tfx_c_line(e, "tfx_bq(%lld, %lld, %lld, %s, %s, %s, %s, %s); /* BlockQuantize */", (long long)M, (long long)K,
             (long long)L, tfx_c_var(e, n->inputs[0]), n->n_inputs > 1 && n->inputs[1] != TFX_NONE ? tfx_c_var(e, n->inputs[1]) : "NULL",
             tfx_c_var(e, n->outputs[0]), tfx_c_var(e, n->outputs[1]), tfx_c_var(e, n->outputs[2]));
  return TFX_OK;
}

TfxStatus tfx_quant_infer(TfxGraph *g, TfxNode *n) {
  return n->op == TFX_OP_WeightQGather ? qg_infer(g, n) : n->op == TFX_OP_BlockQuantize ? bq_infer(g, n) : mm_infer(g, n);
}

TfxStatus tfx_quant_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  return n->op == TFX_OP_WeightQGather ? qg_eval(g, n, in, out)
         : n->op == TFX_OP_BlockQuantize ? bq_eval(g, n, in, out)
                                         : mm_eval(g, n, in, out);
}

TfxStatus tfx_quant_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  return n->op == TFX_OP_WeightQGather ? qg_emit_c(e, g, n)
         : n->op == TFX_OP_BlockQuantize ? bq_emit_c(e, g, n)
                                         : mm_emit_c(e, g, n);
}
