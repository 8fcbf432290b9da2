/* nn.c — the nn family: matrix products (MatMul, Gemm) here, convolution and
 * pooling in nn_conv.c, normalisations in nn_norm.c; this file dispatches
 * every nn op and holds the helpers the three files share.  Generated f32
 * matrix products call the blocked kernel tfx_sgemm (codegen/c/kernels.h) with
 * the shape as arguments, so the printed code has one structure at every
 * sequence length; other dtypes (and Gemm with transA) run i-k-j over a bounded
 * row of accumulators (float for f16/bf16, double for f64, 64-bit for
 * integers).  The evaluator accumulates in double (floats) or wrapping 64-bit
 * integers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ops/nn_internal.h"

/* ---- shared helpers --------------------------------------------------------- */

void tfx_nn_for(TfxCEmit *e, const char *var, int64_t extent) {
  tfx_c_line(e, "for (int64_t %s = 0; %s < %lld; ++%s) {", var, var, (long long)extent, var);
  tfx_c_indent(e, 1);
}

void tfx_nn_end(TfxCEmit *e, int n) {
  for (int i = 0; i < n; i++) {
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
}

const char *tfx_nn_idx(char *buf, const char *prefix, int n, const int64_t *strides, int64_t base) {
  size_t len = 0;
  buf[0] = 0;
  for (int i = 0; i < n && len < 440; i++) {
    if (!strides[i]) continue;
    if (strides[i] == 1)
      len += (size_t)snprintf(buf + len, 512 - len, "%s%s%d", len ? " + " : "", prefix, i);
    else
      len += (size_t)snprintf(buf + len, 512 - len, "%s%s%d * %lld", len ? " + " : "", prefix, i,
                              (long long)strides[i]);
  }
  if (base || !len) snprintf(buf + len, 512 - len, "%s%lld", len ? " + " : "", (long long)base);
  return buf;
}

const char *tfx_nn_alias_in(TfxCEmit *e, TfxGraph *g, const TfxNode *n, int k) {
  const TfxValue *v = tfx_node_in(g, n, k);
  const char *name = tfx_c_tmp(e, "nn_in");
  tfx_c_line(e, "const %s *const %s = %s;", tfx_dtype_ctype(v->dtype), name,
             tfx_c_var(e, n->inputs[k]));
  return name;
}

const char *tfx_nn_alias_out(TfxCEmit *e, TfxGraph *g, const TfxNode *n, int k) {
  const TfxValue *v = tfx_node_out(g, n, k);
  const char *name = tfx_c_tmp(e, "nn_out");
  tfx_c_line(e, "%s *const %s = %s;", tfx_dtype_ctype(v->dtype), name, tfx_c_var(e, n->outputs[k]));
  return name;
}

const char *tfx_nn_acctype(TfxDtype t) {
  if (t == TFX_F64) return "double";
  if (tfx_dtype_is_float(t)) return "float";
  return tfx_dtype_is_signed(t) ? "int64_t" : "uint64_t";
}

const char *tfx_nn_lit(char *buf, TfxDtype t, double v) {
  return t == TFX_F64 ? tfx_c_double(buf, v) : tfx_c_float(buf, (float)v);
}

double *tfx_nn_f64(TfxGraph *g, const TfxNode *n, const TfxTensor *t) {
  if (!t) return NULL;
  int64_t cnt = tfx_tensor_numel(t);
  double *d = malloc(sizeof(double) * (size_t)(cnt ? cnt : 1));
  if (!d) {
    tfx_node_error(g, n, "out of memory");
    return NULL;
  }
  for (int64_t i = 0; i < cnt; i++) d[i] = tfx_tensor_get_f64(t, i);
  return d;
}

/* ---- MatMul ------------------------------------------------------------------
 * numpy matmul: A (..., M, K) x B (..., K, N) -> (..., M, N) with the batch
 * dims broadcast; a 1-D A is (1, K) and a 1-D B is (K, 1), and the added dim
 * is dropped from the result. */

typedef struct {
  int br;                          /* batch rank of the result */
  int64_t bd[TFX_MAX_RANK];        /* batch dims */
  int64_t sa[TFX_MAX_RANK], sb[TFX_MAX_RANK]; /* batch strides (elements) of A, B */
  int64_t M, K, N;
  int rank;                        /* result rank and dims */
  int64_t dims[TFX_MAX_RANK];
} NnMatMul;

static bool mm_dtype_ok(TfxDtype t) {
  return tfx_dtype_is_float(t) || tfx_dtype_is_int(t);
}

static TfxStatus mm_shape(TfxGraph *g, const TfxNode *n, int ra, const int64_t *ad, int rb,
                          const int64_t *bd, NnMatMul *mm) {
  if (ra < 1 || rb < 1) return tfx_node_error(g, n, "MatMul operands must have rank >= 1");
  int64_t ka = ad[ra - 1], kb = rb == 1 ? bd[0] : bd[rb - 2];
  if (ka != kb)
    return tfx_node_error(g, n, "inner dimensions differ: A has K=%lld, B has K=%lld",
                          (long long)ka, (long long)kb);
  mm->M = ra >= 2 ? ad[ra - 2] : 1;
  mm->K = ka;
  mm->N = rb >= 2 ? bd[rb - 1] : 1;
  int rab = ra > 2 ? ra - 2 : 0, rbb = rb > 2 ? rb - 2 : 0;
  if (!tfx_bcast_shape(rab, ad, rbb, bd, &mm->br, mm->bd))
    return tfx_node_error(g, n, "batch dimensions of A and B do not broadcast");
  tfx_bcast_strides(mm->br, mm->bd, rab, ad, mm->sa);
  tfx_bcast_strides(mm->br, mm->bd, rbb, bd, mm->sb);
  for (int i = 0; i < mm->br; i++) {
    mm->sa[i] *= mm->M * mm->K;
    mm->sb[i] *= mm->K * mm->N;
  }
  mm->rank = mm->br;
  memcpy(mm->dims, mm->bd, sizeof(int64_t) * (size_t)mm->br);
  if (ra >= 2) mm->dims[mm->rank++] = mm->M;
  if (rb >= 2) mm->dims[mm->rank++] = mm->N;
  return TFX_OK;
}

static TfxStatus matmul_infer(TfxGraph *g, TfxNode *n) {
  const TfxValue *a = tfx_node_in(g, n, 0), *b = tfx_node_in(g, n, 1);
  if (!a || !b) return tfx_node_error(g, n, "MatMul needs two inputs");
  if (a->dtype != b->dtype)
    return tfx_node_error(g, n, "operand dtypes differ (%s vs %s)", tfx_dtype_name(a->dtype),
                          tfx_dtype_name(b->dtype));
  if (!mm_dtype_ok(a->dtype))
    return tfx_node_error(g, n, "unsupported dtype %s", tfx_dtype_name(a->dtype));
  NnMatMul mm;
  if (mm_shape(g, n, a->rank, a->dims, b->rank, b->dims, &mm)) return TFX_ERR;
  tfx_node_set_out(g, n, 0, a->dtype, mm.rank, mm.dims);
  return TFX_OK;
}

/* One row of float32 A' B' in double, acc[j] = sum over k in order of
 * a[k * sak] B'(k, j), as the general loops sum; B' = B (K x N) or, with tb,
 * B^T.  For B (K x N) the row goes along B's rows, so B is read in memory
 * order: the quantisation report evaluates GPT-2's 50257-wide LM head. */
static void gemm_row_f32(int64_t N, int64_t K, const float *a, int64_t sak, const float *b, bool tb, double *acc) {
  if (tb) {
    for (int64_t j = 0; j < N; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++) s += (double)a[k * sak] * b[j * K + k];
      acc[j] = s;
    }
    return;
  }
  for (int64_t j = 0; j < N; j++) acc[j] = 0;
  for (int64_t k = 0; k < K; k++) {
    const double ak = a[k * sak];
    const float *brow = b + k * N;
    for (int64_t j = 0; j < N; j++) acc[j] += ak * brow[j];
  }
}

static TfxStatus matmul_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                             TfxTensor *out) {
  const TfxTensor *A = in[0], *B = in[1];
  NnMatMul mm;
  if (mm_shape(g, n, A->rank, A->dims, B->rank, B->dims, &mm)) return TFX_ERR;
  int64_t nb = tfx_numel(mm.br, mm.bd), idx[TFX_MAX_RANK];
  bool fl = tfx_dtype_is_float(A->dtype);
  double *a = NULL, *b = NULL;
  if (A->dtype == TFX_F32 && B->dtype == TFX_F32) {
    double *acc = malloc(sizeof(double) * (size_t)(mm.N ? mm.N : 1));
    if (!acc) return tfx_node_error(g, n, "out of memory");
    for (int64_t bi = 0; bi < nb; bi++) {
      tfx_unravel(bi, mm.br, mm.bd, idx);
      int64_t ao = 0, bo = 0;
      for (int d = 0; d < mm.br; d++) ao += idx[d] * mm.sa[d], bo += idx[d] * mm.sb[d];
      for (int64_t i = 0; i < mm.M; i++) {
        gemm_row_f32(mm.N, mm.K, (const float *)A->data + ao + i * mm.K, 1, (const float *)B->data + bo, false, acc);
        for (int64_t j = 0; j < mm.N; j++) tfx_tensor_set_f64(&out[0], (bi * mm.M + i) * mm.N + j, acc[j]);
      }
    }
    free(acc);
    return TFX_OK;
  }
  if (fl) {
    a = tfx_nn_f64(g, n, A);
    b = tfx_nn_f64(g, n, B);
    if (!a || !b) {
      free(a), free(b);
      return TFX_ERR;
    }
  }
  for (int64_t bi = 0; bi < nb; bi++) {
    tfx_unravel(bi, mm.br, mm.bd, idx);
    int64_t ao = 0, bo = 0;
    for (int d = 0; d < mm.br; d++) ao += idx[d] * mm.sa[d], bo += idx[d] * mm.sb[d];
    int64_t yo = bi * mm.M * mm.N;
    for (int64_t i = 0; i < mm.M; i++)
      for (int64_t j = 0; j < mm.N; j++) {
        if (fl) {
          double s = 0;
          for (int64_t k = 0; k < mm.K; k++) s += a[ao + i * mm.K + k] * b[bo + k * mm.N + j];
          tfx_tensor_set_f64(&out[0], yo + i * mm.N + j, s);
        } else {
          uint64_t s = 0; /* integer products wrap like the generated code's */
          for (int64_t k = 0; k < mm.K; k++)
            s += (uint64_t)tfx_tensor_get_i64(A, ao + i * mm.K + k) *
                 (uint64_t)tfx_tensor_get_i64(B, bo + k * mm.N + j);
          tfx_tensor_set_i64(&out[0], yo + i * mm.N + j, (int64_t)s);
        }
      }
  }
  free(a), free(b);
  return TFX_OK;
}

/* Column block of the accumulator row: bounded so it lives on the stack. */
#define NN_JB 256

/* Prints, inside the current block, the i-k-j product of the row-major
 * matrices at pointers pa (M x K, or K x M when ta) and pb (K x N, or N x K
 * when tb), handing each finished element to the caller through
 * "acc[j]" for column "j0 + j" of row "m". */
typedef void (*NnStoreFn)(TfxCEmit *e, void *ctx);

static void emit_gemm_core(TfxCEmit *e, TfxDtype dt, const char *pa, const char *pb, int64_t M,
                           int64_t K, int64_t N, bool ta, bool tb, NnStoreFn store, void *ctx) {
  const char *acct = tfx_nn_acctype(dt);
  char l1[256], l2[256], ea[128], eb[128];
  int64_t jb = N <= 2 * NN_JB ? (N > 0 ? N : 1) : NN_JB;
  tfx_nn_for(e, "m", M);
  if (jb == N) {
    tfx_c_line(e, "{");
    tfx_c_indent(e, 1);
    tfx_c_line(e, "const int64_t j0 = 0, jn = %lld;", (long long)N);
  } else {
    tfx_c_line(e, "for (int64_t j0 = 0; j0 < %lld; j0 += %lld) {", (long long)N, (long long)jb);
    tfx_c_indent(e, 1);
    tfx_c_line(e, "const int64_t jn = %lld - j0 < %lld ? %lld - j0 : %lld;", (long long)N,
               (long long)jb, (long long)N, (long long)jb);
  }
  tfx_c_line(e, "%s acc[%lld];", acct, (long long)jb);
  tfx_c_line(e, "for (int64_t j = 0; j < jn; ++j) acc[j] = 0;");
  snprintf(ea, sizeof ea, ta ? "%s[k * %lld + m]" : "%s[m * %lld + k]", pa,
           (long long)(ta ? M : K));
  if (!tb) {
    /* i-k-j: one A element times a contiguous row of B */
    snprintf(eb, sizeof eb, "brow[j]");
    tfx_nn_for(e, "k", K);
    tfx_c_line(e, "const %s av = %s;", acct, tfx_c_load(e, dt, ea, l1));
    tfx_c_line(e, "const %s *const brow = %s + k * %lld + j0;", tfx_dtype_ctype(dt), pb,
               (long long)N);
    tfx_c_line(e, "for (int64_t j = 0; j < jn; ++j) acc[j] += av * %s;", tfx_c_load(e, dt, eb, l2));
    tfx_nn_end(e, 1);
  } else {
    /* B stored as N x K: each output is a dot product of contiguous rows */
    snprintf(eb, sizeof eb, "bcol[k]");
    tfx_c_line(e, "for (int64_t j = 0; j < jn; ++j) {");
    tfx_c_indent(e, 1);
    tfx_c_line(e, "const %s *const bcol = %s + (j0 + j) * %lld;", tfx_dtype_ctype(dt), pb,
               (long long)K);
    tfx_c_line(e, "%s s = 0;", acct);
    tfx_c_line(e, "for (int64_t k = 0; k < %lld; ++k) s += %s * %s;", (long long)K,
               tfx_c_load(e, dt, ea, l1), tfx_c_load(e, dt, eb, l2));
    tfx_c_line(e, "acc[j] = s;");
    tfx_nn_end(e, 1);
  }
  tfx_c_line(e, "for (int64_t j = 0; j < jn; ++j) {");
  tfx_c_indent(e, 1);
  store(e, ctx);
  tfx_nn_end(e, 3);
}

typedef struct {
  TfxDtype dt;
  const char *py;
  int64_t N;
} MmStore;

static void matmul_store(TfxCEmit *e, void *ctx) {
  MmStore *s = ctx;
  char lv[128];
  snprintf(lv, sizeof lv, "%s[m * %lld + j0 + j]", s->py, (long long)s->N);
  tfx_c_store(e, s->dt, lv, "acc[j]");
}

static TfxStatus matmul_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *a = tfx_node_in(g, n, 0), *b = tfx_node_in(g, n, 1);
  NnMatMul mm;
  if (mm_shape(g, n, a->rank, a->dims, b->rank, b->dims, &mm)) return TFX_ERR;
  char ia[512], ib[512], iy[512];
  int64_t ys[TFX_MAX_RANK];
  tfx_strides(mm.br, mm.bd, ys);
  for (int i = 0; i < mm.br; i++) ys[i] *= mm.M * mm.N;
  tfx_c_line(e, "{ /* MatMul: (%lld x %lld) x (%lld x %lld), %lld batches */", (long long)mm.M,
             (long long)mm.K, (long long)mm.K, (long long)mm.N, (long long)tfx_numel(mm.br, mm.bd));
  tfx_c_indent(e, 1);
  const char *va = tfx_nn_alias_in(e, g, n, 0), *vb = tfx_nn_alias_in(e, g, n, 1);
  const char *vy = tfx_nn_alias_out(e, g, n, 0);
  for (int i = 0; i < mm.br; i++) {
    char v[16];
    snprintf(v, sizeof v, "b%d", i);
    tfx_nn_for(e, v, mm.bd[i]);
  }
  const char *ct = tfx_dtype_ctype(a->dtype);
  tfx_c_line(e, "const %s *const pa = %s + %s;", ct, va, tfx_nn_idx(ia, "b", mm.br, mm.sa, 0));
  tfx_c_line(e, "const %s *const pb = %s + %s;", ct, vb, tfx_nn_idx(ib, "b", mm.br, mm.sb, 0));
  tfx_c_line(e, "%s *const py = %s + %s;", ct, vy, tfx_nn_idx(iy, "b", mm.br, ys, 0));
  if (a->dtype == TFX_F32) {
    /* the kernel takes the shape at run time: the printed code has one shape */
    tfx_c_need(e, TFX_HELP_SGEMM);
    tfx_c_line(e, "tfx_sgemm(tfx_pp, %lld, %lld, %lld, pa, %lld, pb, %lld, 0, py, %lld);", (long long)mm.M,
               (long long)mm.N, (long long)mm.K, (long long)mm.K, (long long)mm.N, (long long)mm.N);
  } else {
    MmStore st = {a->dtype, "py", mm.N};
    emit_gemm_core(e, a->dtype, "pa", "pb", mm.M, mm.K, mm.N, false, false, matmul_store, &st);
  }
  tfx_nn_end(e, mm.br);
  tfx_nn_end(e, 1);
  return TFX_OK;
}

/* ---- Gemm --------------------------------------------------------------------
 * Y = alpha * A' B' + beta * C, A' = transA ? A^T : A (M x K), B' likewise
 * (K x N), C unidirectionally broadcast to (M, N). */

typedef struct {
  int64_t M, K, N;
  bool ta, tb;
  float alpha, beta;
  bool has_c;
  int64_t sc[2]; /* strides of C broadcast to (M, N) */
} NnGemm;

static TfxStatus gemm_shape(TfxGraph *g, const TfxNode *n, const int64_t *ad, int ra,
                            const int64_t *bd, int rb, const int64_t *cd, int rc, bool has_c,
                            NnGemm *gm) {
  if (ra != 2 || rb != 2) return tfx_node_error(g, n, "Gemm operands A and B must be 2-D");
  gm->ta = tfx_attr_int(n, "transA", 0) != 0;
  gm->tb = tfx_attr_int(n, "transB", 0) != 0;
  gm->alpha = tfx_attr_float(n, "alpha", 1.0f);
  gm->beta = tfx_attr_float(n, "beta", 1.0f);
  gm->M = gm->ta ? ad[1] : ad[0];
  gm->K = gm->ta ? ad[0] : ad[1];
  int64_t kb = gm->tb ? bd[1] : bd[0];
  gm->N = gm->tb ? bd[0] : bd[1];
  if (kb != gm->K)
    return tfx_node_error(g, n, "inner dimensions differ: A' has K=%lld, B' has K=%lld",
                          (long long)gm->K, (long long)kb);
  gm->has_c = has_c;
  gm->sc[0] = gm->sc[1] = 0;
  if (has_c) {
    int64_t od[2] = {gm->M, gm->N};
    if (rc > 2) return tfx_node_error(g, n, "C must have rank <= 2");
    for (int i = 0; i < rc; i++) {
      int64_t want = od[2 - rc + i];
      if (cd[i] != want && cd[i] != 1)
        return tfx_node_error(g, n, "C (dim %d = %lld) does not broadcast to (%lld, %lld)", i,
                              (long long)cd[i], (long long)gm->M, (long long)gm->N);
    }
    tfx_bcast_strides(2, od, rc, cd, gm->sc);
  }
  return TFX_OK;
}

static TfxStatus gemm_infer(TfxGraph *g, TfxNode *n) {
  const TfxValue *a = tfx_node_in(g, n, 0), *b = tfx_node_in(g, n, 1), *c = tfx_node_in(g, n, 2);
  if (!a || !b) return tfx_node_error(g, n, "Gemm needs inputs A and B");
  if (a->dtype != b->dtype || (c && c->dtype != a->dtype))
    return tfx_node_error(g, n, "operand dtypes differ");
  if (!mm_dtype_ok(a->dtype))
    return tfx_node_error(g, n, "unsupported dtype %s", tfx_dtype_name(a->dtype));
  NnGemm gm;
  if (gemm_shape(g, n, a->dims, a->rank, b->dims, b->rank, c ? c->dims : NULL, c ? c->rank : 0,
                 c != NULL, &gm))
    return TFX_ERR;
  int64_t od[2] = {gm.M, gm.N};
  tfx_node_set_out(g, n, 0, a->dtype, 2, od);
  return TFX_OK;
}

static TfxStatus gemm_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                           TfxTensor *out) {
  const TfxTensor *A = in[0], *B = in[1], *C = n->n_inputs > 2 ? in[2] : NULL;
  NnGemm gm;
  if (gemm_shape(g, n, A->dims, A->rank, B->dims, B->rank, C ? C->dims : NULL, C ? C->rank : 0,
                 C != NULL, &gm))
    return TFX_ERR;
  bool fl = tfx_dtype_is_float(A->dtype);
  if (A->dtype == TFX_F32 && B->dtype == TFX_F32) {
    /* as the loops below: the sum in double, k in order, then alpha and beta C */
    double *acc = malloc(sizeof(double) * (size_t)(gm.N ? gm.N : 1));
    if (!acc) return tfx_node_error(g, n, "out of memory");
    for (int64_t i = 0; i < gm.M; i++) {
      gemm_row_f32(gm.N, gm.K, (const float *)A->data + (gm.ta ? i : i * gm.K), gm.ta ? gm.M : 1, B->data, gm.tb,
                   acc);
      for (int64_t j = 0; j < gm.N; j++) {
        double y = acc[j] * (double)gm.alpha;
        if (C && gm.beta != 0.0f) y += (double)gm.beta * tfx_tensor_get_f64(C, i * gm.sc[0] + j * gm.sc[1]);
        tfx_tensor_set_f64(&out[0], i * gm.N + j, y);
      }
    }
    free(acc);
    return TFX_OK;
  }
  for (int64_t i = 0; i < gm.M; i++)
    for (int64_t j = 0; j < gm.N; j++) {
      double s = 0;
      uint64_t si = 0;
      for (int64_t k = 0; k < gm.K; k++) {
        int64_t ia = gm.ta ? k * gm.M + i : i * gm.K + k;
        int64_t ib = gm.tb ? j * gm.K + k : k * gm.N + j;
        if (fl)
          s += tfx_tensor_get_f64(A, ia) * tfx_tensor_get_f64(B, ib);
        else
          si += (uint64_t)tfx_tensor_get_i64(A, ia) * (uint64_t)tfx_tensor_get_i64(B, ib);
      }
      int64_t ic = i * gm.sc[0] + j * gm.sc[1];
      if (fl || gm.alpha != 1.0f || gm.beta != 1.0f) {
        double y = (fl ? s : (double)(int64_t)si) * (double)gm.alpha;
        if (C && gm.beta != 0.0f) y += (double)gm.beta * tfx_tensor_get_f64(C, ic);
        tfx_tensor_set_f64(&out[0], i * gm.N + j, y);
      } else {
        if (C) si += (uint64_t)tfx_tensor_get_i64(C, ic);
        tfx_tensor_set_i64(&out[0], i * gm.N + j, (int64_t)si);
      }
    }
  return TFX_OK;
}

typedef struct {
  TfxDtype dt;
  const NnGemm *gm;
  const char *py, *pc;
} GemmStore;

static void gemm_store(TfxCEmit *e, void *ctx) {
  GemmStore *s = ctx;
  const NnGemm *gm = s->gm;
  char lv[128], val[512], cexpr[128], lc[256] = "0", la[64], lb[64];
  bool fl = tfx_dtype_is_float(s->dt);
  const char *acct = tfx_nn_acctype(s->dt);
  snprintf(lv, sizeof lv, "%s[m * %lld + j0 + j]", s->py, (long long)gm->N);
  bool use_c = s->pc && gm->beta != 0.0f;
  if (use_c) {
    snprintf(cexpr, sizeof cexpr, "%s[m * %lld + (j0 + j) * %lld]", s->pc, (long long)gm->sc[0],
             (long long)gm->sc[1]);
    tfx_c_load(e, s->dt, cexpr, lc);
  }
  if (!fl && gm->alpha == 1.0f && gm->beta == 1.0f) {
    if (use_c)
      snprintf(val, sizeof val, "acc[j] + (%s)%s", acct, lc);
    else
      snprintf(val, sizeof val, "acc[j]");
  } else if (!fl) {
    /* integer Gemm with scaling: scale in double like the evaluator */
    if (use_c)
      snprintf(val, sizeof val, "(double)acc[j] * %s + %s * (double)%s",
               tfx_c_double(la, gm->alpha), tfx_c_double(lb, gm->beta), lc);
    else
      snprintf(val, sizeof val, "(double)acc[j] * %s", tfx_c_double(la, gm->alpha));
  } else {
    size_t len = 0;
    if (gm->alpha == 1.0f)
      len = (size_t)snprintf(val, sizeof val, "acc[j]");
    else
      len = (size_t)snprintf(val, sizeof val, "%s * acc[j]", tfx_nn_lit(la, s->dt, gm->alpha));
    if (use_c) {
      if (gm->beta == 1.0f)
        snprintf(val + len, sizeof val - len, " + %s", lc);
      else
        snprintf(val + len, sizeof val - len, " + %s * %s", tfx_nn_lit(lb, s->dt, gm->beta), lc);
    }
  }
  tfx_c_store(e, s->dt, lv, val);
}

/* Y = alpha * Y + beta * C in place, after tfx_sgemm wrote Y = A' B'. */
static void gemm_epilogue_f32(TfxCEmit *e, const NnGemm *gm, const char *py, const char *pc) {
  char la[64], lb[64], val[512];
  bool use_c = pc && gm->beta != 0.0f;
  if (gm->alpha == 1.0f && !use_c) return;
  size_t len;
  if (gm->alpha == 1.0f)
    len = (size_t)snprintf(val, sizeof val, "%s[m * %lld + j]", py, (long long)gm->N);
  else
    len = (size_t)snprintf(val, sizeof val, "%s * %s[m * %lld + j]", tfx_c_float(la, gm->alpha), py,
                           (long long)gm->N);
  if (use_c) {
    len += (size_t)snprintf(val + len, sizeof val - len, " + ");
    if (gm->beta != 1.0f)
      len += (size_t)snprintf(val + len, sizeof val - len, "%s * ", tfx_c_float(lb, gm->beta));
    snprintf(val + len, sizeof val - len, "%s[m * %lld + j * %lld]", pc, (long long)gm->sc[0],
             (long long)gm->sc[1]);
  }
  tfx_nn_for(e, "m", gm->M);
  tfx_nn_for(e, "j", gm->N);
  tfx_c_line(e, "%s[m * %lld + j] = %s;", py, (long long)gm->N, val);
  tfx_nn_end(e, 2);
}

static TfxStatus gemm_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *a = tfx_node_in(g, n, 0), *b = tfx_node_in(g, n, 1), *c = tfx_node_in(g, n, 2);
  NnGemm gm;
  if (gemm_shape(g, n, a->dims, a->rank, b->dims, b->rank, c ? c->dims : NULL, c ? c->rank : 0,
                 c != NULL, &gm))
    return TFX_ERR;
  tfx_c_line(e, "{ /* Gemm: (%lld x %lld) x (%lld x %lld)%s%s */", (long long)gm.M,
             (long long)gm.K, (long long)gm.K, (long long)gm.N, gm.ta ? ", A transposed" : "",
             gm.tb ? ", B transposed" : "");
  tfx_c_indent(e, 1);
  const char *va = tfx_nn_alias_in(e, g, n, 0), *vb = tfx_nn_alias_in(e, g, n, 1);
  const char *vc = c && gm.beta != 0.0f ? tfx_nn_alias_in(e, g, n, 2) : NULL;
  if (c && !vc)
    tfx_c_line(e, "(void)%s; /* beta = 0: C is not read */", tfx_c_var(e, n->inputs[2]));
  const char *vy = tfx_nn_alias_out(e, g, n, 0);
  if (a->dtype == TFX_F32 && !gm.ta) {
    tfx_c_need(e, TFX_HELP_SGEMM);
    tfx_c_line(e, "tfx_sgemm(tfx_pp, %lld, %lld, %lld, %s, %lld, %s, %lld, %d, %s, %lld);", (long long)gm.M,
               (long long)gm.N, (long long)gm.K, va, (long long)gm.K, vb,
               (long long)(gm.tb ? gm.K : gm.N), gm.tb ? 1 : 0, vy, (long long)gm.N);
    gemm_epilogue_f32(e, &gm, vy, vc);
  } else {
    GemmStore st = {a->dtype, &gm, vy, vc};
    emit_gemm_core(e, a->dtype, va, vb, gm.M, gm.K, gm.N, gm.ta, gm.tb, gemm_store, &st);
  }
  tfx_nn_end(e, 1);
  return TFX_OK;
}

/* ---- dispatch ------------------------------------------------------------------ */

static bool is_pool(TfxOp op) {
  return op == TFX_OP_AveragePool || op == TFX_OP_MaxPool || op == TFX_OP_LpPool ||
         op == TFX_OP_GlobalAveragePool || op == TFX_OP_GlobalMaxPool;
}

TfxStatus tfx_nn_infer(TfxGraph *g, TfxNode *n) {
  switch (n->op) {
  case TFX_OP_MatMul: return matmul_infer(g, n);
  case TFX_OP_Gemm: return gemm_infer(g, n);
  case TFX_OP_Conv: return tfx_nn_conv_infer(g, n);
  case TFX_OP_ConvTranspose: return tfx_nn_convt_infer(g, n);
  default: return is_pool(n->op) ? tfx_nn_pool_infer(g, n) : tfx_nn_norm_infer(g, n);
  }
}

TfxStatus tfx_nn_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  switch (n->op) {
  case TFX_OP_MatMul: return matmul_eval(g, n, in, out);
  case TFX_OP_Gemm: return gemm_eval(g, n, in, out);
  case TFX_OP_Conv: return tfx_nn_conv_eval(g, n, in, out);
  case TFX_OP_ConvTranspose: return tfx_nn_convt_eval(g, n, in, out);
  default:
    return is_pool(n->op) ? tfx_nn_pool_eval(g, n, in, out) : tfx_nn_norm_eval(g, n, in, out);
  }
}

TfxStatus tfx_nn_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  switch (n->op) {
  case TFX_OP_MatMul: return matmul_emit(e, g, n);
  case TFX_OP_Gemm: return gemm_emit(e, g, n);
  case TFX_OP_Conv: return tfx_nn_conv_emit(e, g, n);
  case TFX_OP_ConvTranspose: return tfx_nn_convt_emit(e, g, n);
  default: return is_pool(n->op) ? tfx_nn_pool_emit(e, g, n) : tfx_nn_norm_emit(e, g, n);
  }
}
