/* quant.c — WeightQMatMul(x, wq, scales[, bias[, xs]]) -> y: a matrix product with
 * weight-only quantised weights, made by passes/quantize.c from MatMul/Gemm on
 * float32 constant weights.
 *
 *   x      float32 [..., K]
 *   wq     bits 8: int8  [N, K]      q in [-127, 127]
 *          bits 4: uint8 [N, K/2]    two nibbles per byte, low nibble = even k,
 *                                    each holding q + 8 with q in [-8, 7]
 *   scales float32 [N] (bits 8 without a group) or [N, K/group] (attribute group;
 *          bits 4 always has one, 32 by default)
 *   bias   optional float32 [N]
 *   xs     optional float32 [K]: x[m, k] is read as x[m, k] * xs[k] (the inverse of
 *          the activation-aware rescaling the weight was quantised with)
 *   y      float32 [..., N],  y[m, n] = sum_g scale[n, g] * (sum_{k in g} x[m, k] xs[k] q[n, k]) + bias[n]
 *
 * The weight is stored transposed (row n = output channel n, contiguous along
 * K) so that one row of x streams each weight byte exactly once.  For int8
 * without a group the whole row is one group (the scale factors out of the sum).  The reference
 * evaluator computes the same expression in double, so the generated float code
 * differs from it only by float rounding and summation order. */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

typedef struct {
  int bits;
  int64_t K, N, group, n_groups, M; /* M: rows of x (all leading dims) */
  bool has_bias, has_xs;
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
  if (sc->dtype != TFX_F32) return tfx_node_error(g, n, "scales must be float32");
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
      return tfx_node_error(g, n, "bits 8: scales must hold one float per output channel (%lld)", (long long)s->N);
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
  return TFX_OK;
}

TfxStatus tfx_quant_infer(TfxGraph *g, TfxNode *n) {
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

TfxStatus tfx_quant_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  QShape s;
  if (q_shape(g, n, &s)) return TFX_ERR;
  const float *x = in[0]->data, *sc = in[2]->data, *b = n->n_inputs > 3 && in[3] ? in[3]->data : NULL;
  const float *xs = n->n_inputs > 4 && in[4] ? in[4]->data : NULL;
  float *y = out[0].data;
  for (int64_t m = 0; m < s.M; m++)
    for (int64_t j = 0; j < s.N; j++) {
      double acc = 0;
      for (int64_t gi = 0; gi < s.n_groups; gi++) {
        double part = 0;
        for (int64_t k = gi * s.group; k < (gi + 1) * s.group; k++)
          part += (double)x[m * s.K + k] * (xs ? xs[k] : 1.0) * q_at(&s, in[1], j, k);
        acc += part * sc[j * s.n_groups + gi];
      }
      if (b) acc += b[j];
      y[m * s.N + j] = (float)acc;
    }
  return TFX_OK;
}

/* Channels computed together: x's row is read once per block of them. */
enum { QB = 4 };

/* Prints the dot products of xr with channels n0 + 0..nb-1 into a0.. (float),
 * per group scaled; wrow(c) is channel c's weight row. */
static void emit_block(TfxCEmit *e, const QShape *s, int nb) {
  int64_t rowb = s->bits == 8 ? s->K : s->K / 2;
  const char *wt = s->bits == 8 ? "int8_t" : "uint8_t";
  for (int c = 0; c < nb; c++) {
    tfx_c_line(e, "const %s *const w%d = pw + (n0 + %d) * %lld;", wt, c, c, (long long)rowb);
    tfx_c_line(e, "float a%d = 0;", c);
  }
  if (s->bits == 8 && s->n_groups == 1) { /* int8 per channel: the scale factors out of the sum */
    tfx_c_line(e, "for (int64_t k = 0; k < %lld; ++k) {", (long long)s->K);
    tfx_c_indent(e, 1);
    tfx_c_line(e, "const float xv = xr[k]%s;", s->has_xs ? " * pxs[k]" : "");
    for (int c = 0; c < nb; c++) tfx_c_line(e, "a%d += xv * (float)w%d[k];", c, c);
    tfx_c_close(e, 1);
    for (int c = 0; c < nb; c++) tfx_c_line(e, "a%d *= ps[n0 + %d];", c, c);
    return;
  }
  /* a partial sum per group, times the group's scale */
  int64_t gb = s->bits == 8 ? s->group : s->group / 2; /* bytes per group */
  tfx_c_line(e, "for (int64_t gi = 0; gi < %lld; ++gi) {", (long long)s->n_groups);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const float *const xg = xr + gi * %lld;", (long long)s->group);
  if (s->has_xs) tfx_c_line(e, "const float *const sg = pxs + gi * %lld;", (long long)s->group);
  for (int c = 0; c < nb; c++) {
    tfx_c_line(e, "const %s *const g%d = w%d + gi * %lld;", wt, c, c, (long long)gb);
    tfx_c_line(e, "float p%d = 0;", c);
  }
  tfx_c_line(e, "for (int64_t k = 0; k < %lld; ++k) {", (long long)gb);
  tfx_c_indent(e, 1);
  const char *xm0 = s->has_xs ? " * sg[2 * k]" : "", *xm1 = s->has_xs ? " * sg[2 * k + 1]" : "";
  if (s->bits == 8) {
    tfx_c_line(e, "const float xv = xg[k]%s;", s->has_xs ? " * sg[k]" : "");
    for (int c = 0; c < nb; c++) tfx_c_line(e, "p%d += xv * (float)g%d[k];", c, c);
  } else {
    tfx_c_line(e, "const float x0 = xg[2 * k]%s, x1 = xg[2 * k + 1]%s;", xm0, xm1);
    for (int c = 0; c < nb; c++)
      tfx_c_line(e, "p%d += x0 * (float)((int)(g%d[k] & 15) - 8) + x1 * (float)((int)(g%d[k] >> 4) - 8);", c, c,
                 c);
  }
  tfx_c_close(e, 1);
  for (int c = 0; c < nb; c++) tfx_c_line(e, "a%d += p%d * ps[(n0 + %d) * %lld + gi];", c, c, c, (long long)s->n_groups);
  tfx_c_close(e, 1);
}

static void emit_stores(TfxCEmit *e, const QShape *s, int nb) {
  for (int c = 0; c < nb; c++)
    if (s->has_bias) tfx_c_line(e, "yr[n0 + %d] = a%d + pb[n0 + %d];", c, c, c);
    else tfx_c_line(e, "yr[n0 + %d] = a%d;", c, c);
}

/* Decisions depend on K, N and the group only, never on M (the token count):
 * the printed code must differ between sequence lengths in literals only. */
TfxStatus tfx_quant_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  QShape s;
  if (q_shape(g, n, &s)) return TFX_ERR;
  if (s.bits == 8 && s.n_groups == 1)
    tfx_c_line(e, "{ /* WeightQMatMul int8: (%lld x %lld) x (%lld x %lld)^T, per-channel scales */", (long long)s.M,
               (long long)s.K, (long long)s.N, (long long)s.K);
  else
    tfx_c_line(e, "{ /* WeightQMatMul int%d: (%lld x %lld) x (%lld x %lld)^T, group %lld */", s.bits, (long long)s.M,
               (long long)s.K, (long long)s.N, (long long)s.K, (long long)s.group);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const float *const px = %s;", tfx_c_var(e, n->inputs[0]));
  tfx_c_line(e, "const %s *const pw = %s;", s.bits == 8 ? "int8_t" : "uint8_t", tfx_c_var(e, n->inputs[1]));
  tfx_c_line(e, "const float *const ps = %s;", tfx_c_var(e, n->inputs[2]));
  if (s.has_bias) tfx_c_line(e, "const float *const pb = %s;", tfx_c_var(e, n->inputs[3]));
  if (s.has_xs) tfx_c_line(e, "const float *const pxs = %s;", tfx_c_var(e, n->inputs[4]));
  tfx_c_line(e, "float *const py = %s;", tfx_c_var(e, n->outputs[0]));
  tfx_c_line(e, "for (int64_t m = 0; m < %lld; ++m) {", (long long)s.M);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const float *const xr = px + m * %lld;", (long long)s.K);
  tfx_c_line(e, "float *const yr = py + m * %lld;", (long long)s.N);
  int64_t full = s.N / QB * QB;
  if (full) {
    tfx_c_line(e, "for (int64_t n0 = 0; n0 < %lld; n0 += %d) {", (long long)full, QB);
    tfx_c_indent(e, 1);
    emit_block(e, &s, QB);
    emit_stores(e, &s, QB);
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  if (s.N > full) {
    tfx_c_line(e, "for (int64_t n0 = %lld; n0 < %lld; ++n0) {", (long long)full, (long long)s.N);
    tfx_c_indent(e, 1);
    emit_block(e, &s, 1);
    emit_stores(e, &s, 1);
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  tfx_c_close(e, 2);
  return TFX_OK;
}
