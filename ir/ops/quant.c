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
 * differs from it only by float rounding and summation order.
 *
 * WeightQGather(table, scales, indices) -> y: an embedding lookup in an int8
 * table (made by the same pass from Gather on a float32 constant [V, D], axis 0)
 *   table   int8 [V, D], one scale per row: scales float32 [V], or with the
 *           attribute group one per group of D: scales [V, D/group]
 *   indices int32 or int64, any shape, each in [-V, V) as Gather's
 *   y       float32 [indices..., D],  y[j, d] = table[k_j, d] * scales[k_j, d / group]
 * An index outside [-V, V) is the caller's error (ERR_INPUT at run time). */
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
/* Bytes of weight rows kept hot in the cache while every row of x passes over
 * them, so that a prefill reads the weights from memory once. */
enum { Q_TILE_BYTES = 256 * 1024 };

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

/* ---- AVX2 + FMA: QB channels at once, each weight byte loaded once per row of
 * x and widened to float in registers.  Used when a group (or, per channel,
 * the whole row) holds a multiple of the 8 (int8) or 16 (int4) weights one
 * step reads, and a row of x fits a stack copy (xq) made once per row and
 * cache tile: x times 1/s, and for int4 each 16 k reordered as 8 even then
 * 8 odd k, so that low nibbles meet even x and high ones odd x without a
 * shuffle per channel.  int4 keeps the nibbles' +8 and subtracts
 * 8 * sum(x) once per group (x8[group] holds sum(x)). */
enum { Q_STACK_FLOATS = 16384 };

static bool simd_fits(const QShape *s) {
  return s->group % (s->bits == 8 ? 8 : 16) == 0 && s->K + s->n_groups <= Q_STACK_FLOATS;
}

static bool simd_copies_x(const QShape *s) { return s->bits == 4 || s->has_xs; }

static void emit_simd_hsum(TfxCEmit *e, const char *v, const char *dst) {
  tfx_c_line(e, "const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(%s), _mm256_extractf128_ps(%s, 1));", v, v);
  tfx_c_line(e, "const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));");
  tfx_c_line(e, "%s = _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2)));", dst);
}

/* The row's copy xq (and x8), or xq = xr when the row is used as it is. */
static void emit_simd_xprep(TfxCEmit *e, const QShape *s) {
  if (!simd_copies_x(s)) {
    tfx_c_line(e, "const float *const xq = xr;");
    return;
  }
  tfx_c_line(e, "float xq[%lld];", (long long)s->K);
  if (s->bits == 8) {
    tfx_c_line(e, "for (int64_t k = 0; k < %lld; ++k) xq[k] = xr[k] * pxs[k];", (long long)s->K);
    return;
  }
  const char *xs = s->has_xs ? "_mm256_mul_ps(_mm256_loadu_ps(pxs + k), " : "(";
  tfx_c_line(e, "float x8[%lld];", (long long)s->n_groups);
  tfx_c_line(e, "for (int64_t gi = 0; gi < %lld; ++gi) {", (long long)s->n_groups);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "__m256 xsum = _mm256_setzero_ps();");
  tfx_c_line(e, "for (int64_t k = gi * %lld; k < (gi + 1) * %lld; k += 16) {", (long long)s->group,
             (long long)s->group);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const __m256 xa = %s_mm256_loadu_ps(xr + k));", xs);
  tfx_c_line(e, "const __m256 xb = %s_mm256_loadu_ps(xr + k + 8));", s->has_xs ? "_mm256_mul_ps(_mm256_loadu_ps(pxs + k + 8), " : "(");
  tfx_c_line(e, "xsum = _mm256_add_ps(xsum, _mm256_add_ps(xa, xb));");
  for (int odd = 0; odd < 2; odd++)
    tfx_c_line(e, "_mm256_storeu_ps(xq + k + %d, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd("
                  "_mm256_shuffle_ps(xa, xb, 0x%s)), 0xD8)));", odd * 8, odd ? "DD" : "88");
  tfx_c_close(e, 1);
  /* 8 * sum(x) is owed in all; each of the 8 lanes of a partial sum pays sum(x) */
  emit_simd_hsum(e, "xsum", "x8[gi]");
  tfx_c_close(e, 1);
}

/* acc_c += the weights at wrow_c + kk times the x vectors. */
static void emit_simd_step(TfxCEmit *e, const QShape *s, const char *acc, const char *wrow) {
  for (int c = 0; c < QB; c++) {
    if (s->bits == 8) {
      tfx_c_line(e, "%s%d = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64("
                    "(const __m128i *)(%s%d + kk)))), xa, %s%d);", acc, c, wrow, c, acc, c);
      continue;
    }
    tfx_c_line(e, "{");
    tfx_c_indent(e, 1);
    tfx_c_line(e, "const __m256i b = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(%s%d + kk)));", wrow, c);
    tfx_c_line(e, "%s%d = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_and_si256(b, lo4)), xe, %s%d);", acc, c, acc, c);
    tfx_c_line(e, "%s%d = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(b, 4)), xo, %s%d);", acc, c, acc, c);
    tfx_c_close(e, 1);
  }
}

/* The loop over one group's (or the row's) bytes; xbase: x at its start. */
static void emit_simd_loop(TfxCEmit *e, const QShape *s, int64_t bytes, const char *acc, const char *wrow,
                           const char *xbase) {
  tfx_c_line(e, "for (int64_t kk = 0; kk < %lld; kk += 8) {", (long long)bytes);
  tfx_c_indent(e, 1);
  if (s->bits == 8) {
    tfx_c_line(e, "const __m256 xa = _mm256_loadu_ps(%s + kk);", xbase);
  } else {
    tfx_c_line(e, "const __m256 xe = _mm256_loadu_ps(%s + 2 * kk), xo = _mm256_loadu_ps(%s + 2 * kk + 8);", xbase,
               xbase);
  }
  emit_simd_step(e, s, acc, wrow);
  tfx_c_close(e, 1);
}

/* The QB sums of v0..v3 into yr[n0 ..], times the per-channel scales if sc. */
static void emit_simd_store(TfxCEmit *e, const QShape *s, bool sc) {
  tfx_c_line(e, "const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v0, v1), _mm256_hadd_ps(v2, v3));");
  tfx_c_line(e, "__m128 r = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));");
  if (sc) tfx_c_line(e, "r = _mm_mul_ps(r, _mm_loadu_ps(ps + n0));");
  if (s->has_bias) tfx_c_line(e, "r = _mm_add_ps(r, _mm_loadu_ps(pb + n0));");
  tfx_c_line(e, "_mm_storeu_ps(yr + n0, r);");
}

static void emit_simd_block(TfxCEmit *e, const QShape *s) {
  int64_t rowb = s->bits == 8 ? s->K : s->K / 2;
  const char *wt = s->bits == 8 ? "int8_t" : "uint8_t";
  for (int c = 0; c < QB; c++) {
    tfx_c_line(e, "const %s *const w%d = pw + (n0 + %d) * %lld;", wt, c, c, (long long)rowb);
    tfx_c_line(e, "__m256 v%d = _mm256_setzero_ps();", c);
  }
  if (s->bits == 8 && s->n_groups == 1) {
    emit_simd_loop(e, s, s->K, "v", "w", "xq");
    emit_simd_store(e, s, true);
    return;
  }
  int64_t gb = s->bits == 8 ? s->group : s->group / 2;
  tfx_c_line(e, "for (int64_t gi = 0; gi < %lld; ++gi) {", (long long)s->n_groups);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const float *const xg = xq + gi * %lld;", (long long)s->group);
  for (int c = 0; c < QB; c++) {
    tfx_c_line(e, "const %s *const g%d = w%d + gi * %lld;", wt, c, c, (long long)gb);
    tfx_c_line(e, "__m256 p%d = _mm256_setzero_ps();", c);
  }
  emit_simd_loop(e, s, gb, "p", "g", "xg");
  if (s->bits == 4) tfx_c_line(e, "const __m256 xg8 = _mm256_set1_ps(x8[gi]);");
  for (int c = 0; c < QB; c++)
    tfx_c_line(e, "v%d = _mm256_fmadd_ps(%s(p%d%s), _mm256_set1_ps(ps[(n0 + %d) * %lld + gi]), v%d);", c,
               s->bits == 4 ? "_mm256_sub_ps" : "", c, s->bits == 4 ? ", xg8" : "", c, (long long)s->n_groups, c);
  tfx_c_close(e, 1);
  emit_simd_store(e, s, false);
}

/* One block of QB channels for the current row: intrinsics when the compiler
 * targets AVX2+FMA, the portable loop otherwise. */
static void emit_full_block(TfxCEmit *e, const QShape *s) {
  if (!simd_fits(s)) {
    emit_block(e, s, QB);
    emit_stores(e, s, QB);
    return;
  }
  tfx_c_line(e, "#ifdef TFX_SIMD");
  emit_simd_block(e, s);
  tfx_c_line(e, "#else");
  emit_block(e, s, QB);
  emit_stores(e, s, QB);
  tfx_c_line(e, "#endif");
}

/* Decisions depend on K, N and the group only, never on M (the token count):
 * the printed code must differ between sequence lengths in literals only.
 * Blocks of channels whose weights fit the cache are the outer loop, so rows of
 * x (a prefill) reuse them and one row (a decode step) streams them once. */
static TfxStatus mm_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  QShape s;
  if (q_shape(g, n, &s)) return TFX_ERR;
  if (s.bits == 8 && s.n_groups == 1)
    tfx_c_line(e, "{ /* WeightQMatMul int8: (%lld x %lld) x (%lld x %lld)^T, per-channel scales */", (long long)s.M,
               (long long)s.K, (long long)s.N, (long long)s.K);
  else
    tfx_c_line(e, "{ /* WeightQMatMul int%d: (%lld x %lld) x (%lld x %lld)^T, group %lld */", s.bits, (long long)s.M,
               (long long)s.K, (long long)s.N, (long long)s.K, (long long)s.group);
  tfx_c_indent(e, 1);
  if (simd_fits(&s)) tfx_c_need(e, TFX_HELP_SIMD);
  tfx_c_line(e, "const float *const px = %s;", tfx_c_var(e, n->inputs[0]));
  tfx_c_line(e, "const %s *const pw = %s;", s.bits == 8 ? "int8_t" : "uint8_t", tfx_c_var(e, n->inputs[1]));
  tfx_c_line(e, "const float *const ps = %s;", tfx_c_var(e, n->inputs[2]));
  if (s.has_bias) tfx_c_line(e, "const float *const pb = %s;", tfx_c_var(e, n->inputs[3]));
  if (s.has_xs) tfx_c_line(e, "const float *const pxs = %s;", tfx_c_var(e, n->inputs[4]));
  tfx_c_line(e, "float *const py = %s;", tfx_c_var(e, n->outputs[0]));
  if (s.bits == 4 && simd_fits(&s)) {
    tfx_c_line(e, "#ifdef TFX_SIMD");
    tfx_c_line(e, "const __m256i lo4 = _mm256_set1_epi32(15);");
    tfx_c_line(e, "#endif");
  }
  int64_t full = s.N / QB * QB, rowb = s.bits == 8 ? s.K : s.K / 2;
  int64_t tile = Q_TILE_BYTES / rowb / QB * QB;
  if (tile < QB) tile = QB;
  if (full) {
    tfx_c_line(e, "for (int64_t t0 = 0; t0 < %lld; t0 += %lld) {", (long long)full, (long long)tile);
    tfx_c_indent(e, 1);
    tfx_c_line(e, "const int64_t t1 = t0 + %lld < %lld ? t0 + %lld : %lld;", (long long)tile, (long long)full,
               (long long)tile, (long long)full);
    tfx_c_line(e, "for (int64_t m = 0; m < %lld; ++m) {", (long long)s.M);
    tfx_c_indent(e, 1);
    tfx_c_line(e, "const float *const xr = px + m * %lld;", (long long)s.K);
    tfx_c_line(e, "float *const yr = py + m * %lld;", (long long)s.N);
    if (simd_fits(&s)) {
      tfx_c_line(e, "#ifdef TFX_SIMD");
      emit_simd_xprep(e, &s);
      tfx_c_line(e, "#endif");
    }
    tfx_c_line(e, "for (int64_t n0 = t0; n0 < t1; n0 += %d) {", QB);
    tfx_c_indent(e, 1);
    emit_full_block(e, &s);
    tfx_c_close(e, 3);
  }
  if (s.N > full) {
    tfx_c_line(e, "for (int64_t m = 0; m < %lld; ++m) {", (long long)s.M);
    tfx_c_indent(e, 1);
    tfx_c_line(e, "const float *const xr = px + m * %lld;", (long long)s.K);
    tfx_c_line(e, "float *const yr = py + m * %lld;", (long long)s.N);
    tfx_c_line(e, "for (int64_t n0 = %lld; n0 < %lld; ++n0) {", (long long)full, (long long)s.N);
    tfx_c_indent(e, 1);
    emit_block(e, &s, 1);
    emit_stores(e, &s, 1);
    tfx_c_close(e, 2);
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

TfxStatus tfx_quant_infer(TfxGraph *g, TfxNode *n) {
  return n->op == TFX_OP_WeightQGather ? qg_infer(g, n) : mm_infer(g, n);
}

TfxStatus tfx_quant_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  return n->op == TFX_OP_WeightQGather ? qg_eval(g, n, in, out) : mm_eval(g, n, in, out);
}

TfxStatus tfx_quant_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  return n->op == TFX_OP_WeightQGather ? qg_emit_c(e, g, n) : mm_emit_c(e, g, n);
}
