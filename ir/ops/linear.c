/* linear.c — Linear(x, w, bias?, residual?) -> y: a float32 matrix product with
 * a constant weight and its epilogue, made by passes/fuse_linear.c from
 * MatMul/Gemm and the elementwise nodes after it.
 *
 *   x        float32 [..., K]
 *   w        float32 [K, N], or [N, K] with trans_b = 1
 *   bias     optional float32 [N] (or [1, ..., 1, N])
 *   residual optional float32, the shape of y
 *   y        float32 [..., N],  y = act(x w' + bias) + residual
 *   attrs    trans_b (0/1), activation: "none", "gelu" (erf) or "gelu_tanh"
 *
 * Each step rounds to float32 as the unfused nodes do.  The C backend may
 * store w prepacked (panels of 16 columns, codegen/c/emit.c); the kernel
 * applies the epilogue to each tile of y while it is still in cache. */
#include <math.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

typedef struct {
  int64_t M, K, N;
  bool trans_b;
  int act; /* 0 none, 1 GELU (erf), 2 GELU (tanh); as the kernel numbers them */
} LinShape;

static TfxStatus lin_shape(TfxGraph *g, const TfxNode *n, LinShape *s) {
  const TfxValue *x = tfx_node_in(g, n, 0), *w = tfx_node_in(g, n, 1), *b = tfx_node_in(g, n, 2);
  if (!x || !w) return tfx_node_error(g, n, "Linear needs inputs x and w");
  if (x->dtype != TFX_F32 || w->dtype != TFX_F32 || (b && b->dtype != TFX_F32))
    return tfx_node_error(g, n, "Linear takes float32 only");
  if (x->rank < 1 || w->rank != 2) return tfx_node_error(g, n, "Linear needs x of rank >= 1 and a 2-D w");
  s->trans_b = tfx_attr_int(n, "trans_b", 0) != 0;
  s->K = x->dims[x->rank - 1];
  s->N = w->dims[s->trans_b ? 0 : 1];
  s->M = tfx_numel(x->rank - 1, x->dims);
  if (w->dims[s->trans_b ? 1 : 0] != s->K)
    return tfx_node_error(g, n, "x has %lld columns but w is [%lld, %lld]%s", (long long)s->K,
                          (long long)w->dims[0], (long long)w->dims[1], s->trans_b ? " (transposed)" : "");
  if (b && (b->rank < 1 || b->dims[b->rank - 1] != s->N || tfx_numel(b->rank, b->dims) != s->N))
    return tfx_node_error(g, n, "bias must hold %lld values along its last axis", (long long)s->N);
  const char *a = tfx_attr_string(n, "activation", "none");
  if (!strcmp(a, "none")) s->act = 0;
  else if (!strcmp(a, "gelu")) s->act = 1;
  else if (!strcmp(a, "gelu_tanh")) s->act = 2;
  else return tfx_node_error(g, n, "activation must be none, gelu or gelu_tanh, got '%s'", a);
  return TFX_OK;
}

TfxStatus tfx_linear_infer(TfxGraph *g, TfxNode *n) {
  LinShape s;
  if (lin_shape(g, n, &s)) return TFX_ERR;
  const TfxValue *x = tfx_node_in(g, n, 0), *r = tfx_node_in(g, n, 3);
  int64_t dims[TFX_MAX_RANK];
  memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
  dims[x->rank - 1] = s.N;
  if (r) {
    bool same = r->dtype == TFX_F32 && r->rank == x->rank;
    for (int d = 0; same && d < r->rank; d++) same = r->dims[d] == dims[d];
    if (!same) return tfx_node_error(g, n, "residual must be float32 of the output's shape");
  }
  tfx_node_set_out(g, n, 0, TFX_F32, x->rank, dims);
  return TFX_OK;
}

static double gelu(double v, int act) {
  if (act == 1) return 0.5 * v * (1.0 + erf(v * 0.70710678118654752));
  return 0.5 * v * (1.0 + tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)));
}

TfxStatus tfx_linear_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  LinShape s;
  if (lin_shape(g, n, &s)) return TFX_ERR;
  const float *x = in[0]->data, *w = in[1]->data, *b = in[2] ? in[2]->data : NULL;
  const float *r = n->n_inputs > 3 && in[3] ? in[3]->data : NULL;
  float *y = out[0].data;
  for (int64_t m = 0; m < s.M; m++)
    for (int64_t j = 0; j < s.N; j++) {
      double acc = 0;
      for (int64_t k = 0; k < s.K; k++)
        acc += (double)x[m * s.K + k] * w[s.trans_b ? j * s.K + k : k * s.N + j];
      float v = (float)acc;
      if (b) v += b[j];
      if (s.act) v = (float)gelu(v, s.act);
      if (r) v += r[m * s.N + j];
      y[m * s.N + j] = v;
    }
  return TFX_OK;
}

TfxStatus tfx_linear_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  LinShape s;
  if (lin_shape(g, n, &s)) return TFX_ERR;
  bool has_b = n->n_inputs > 2 && n->inputs[2] != TFX_NONE, has_r = n->n_inputs > 3 && n->inputs[3] != TFX_NONE;
  int layout = tfx_c_packed(e, n->inputs[1]) ? 2 : s.trans_b ? 1 : 0;
  const char *x = tfx_c_var(e, n->inputs[0]), *w = tfx_c_var(e, n->inputs[1]), *y = tfx_c_var(e, n->outputs[0]);
  const char *b = has_b ? tfx_c_var(e, n->inputs[2]) : "NULL", *r = has_r ? tfx_c_var(e, n->inputs[3]) : "NULL";
  tfx_c_need(e, TFX_HELP_SGEMM);
  const bool last = tfx_c_last_row(e, n);
  if (last) { /* row M - 1 alone, into row 0 of y */
    char rl[160];
    if (has_r) snprintf(rl, sizeof rl, "%s + %lld", r, (long long)((s.M - 1) * s.N));
    else snprintf(rl, sizeof rl, "NULL");
    tfx_c_line(e, "if (tfx_last)");
    tfx_c_line(e, "  tfx_linear(tfx_pp, 1, %lld, %lld, %s + %lld, %s, %d, %s, %d, %s, %s);", (long long)s.N,
               (long long)s.K, x, (long long)((s.M - 1) * s.K), w, layout, b, s.act, rl, y);
    tfx_c_line(e, "else");
    tfx_c_indent(e, 1);
  }
  tfx_c_line(e, "tfx_linear(tfx_pp, %lld, %lld, %lld, %s, %s, %d, %s, %d, %s, %s);", (long long)s.M, (long long)s.N,
             (long long)s.K, x, w, layout, b, s.act, r, y);
  if (last) tfx_c_indent(e, -1);
  return TFX_OK;
}
