/* loss.c — training losses: NegativeLogLikelihoodLoss and
 * SoftmaxCrossEntropyLoss.  Both view X as (N, C, D) with D the product of the
 * trailing dims and the target as (N, D); an element's loss is
 * -weight[t] * x[n, t, d] (x being log_softmax(X) over C for the
 * cross-entropy), 0 where t == ignore_index.  "mean" divides the summed loss
 * by the summed effective weights.  Sums accumulate in double, both in the
 * evaluator and in generated code. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

typedef enum { RED_NONE, RED_SUM, RED_MEAN } LossReduction;

typedef struct {
  bool sce;          /* SoftmaxCrossEntropyLoss: log_softmax over C first */
  int64_t N, C, D;   /* X viewed as (N, C, D) */
  LossReduction red;
  bool has_ii;
  int64_t ii;        /* ignore_index */
  bool weight;       /* input 2 present */
  bool log_prob;     /* SCE output 1 present */
} LossSpec;

static bool out_present(const TfxNode *n, int k) {
  return k < n->n_outputs && n->outputs[k] != TFX_NONE;
}

/* Build the spec from the node's attributes and the shapes of X (rank, dims). */
static TfxStatus loss_spec(TfxGraph *g, const TfxNode *n, int rank, const int64_t *dims,
                           LossSpec *s) {
  TfxNode *mn = (TfxNode *)n;
  memset(s, 0, sizeof *s);
  s->sce = n->op == TFX_OP_SoftmaxCrossEntropyLoss;
  if (rank < 2) return tfx_node_error(g, mn, "input must have shape (N, C, d1, ...), rank >= 2");
  s->N = dims[0], s->C = dims[1], s->D = tfx_numel(rank - 2, dims + 2);
  if (s->C < 1) return tfx_node_error(g, mn, "the class dimension C must not be empty");
  const char *r = tfx_attr_string(n, "reduction", "mean");
  if (!strcmp(r, "none")) s->red = RED_NONE;
  else if (!strcmp(r, "sum")) s->red = RED_SUM;
  else if (!strcmp(r, "mean")) s->red = RED_MEAN;
  else return tfx_node_error(g, mn, "unsupported reduction '%s' (none, sum or mean)", r);
  const TfxAttr *a = tfx_attr(n, "ignore_index");
  if (a) {
    if (a->kind != TFX_ATTR_INT) return tfx_node_error(g, mn, "ignore_index must be an int");
    s->has_ii = true, s->ii = a->i;
  }
  s->weight = n->n_inputs > 2 && n->inputs[2] != TFX_NONE;
  s->log_prob = s->sce && out_present(n, 1);
  return TFX_OK;
}

TfxStatus tfx_loss_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *x = tfx_node_in(g, n, 0), *t = tfx_node_in(g, n, 1), *w = tfx_node_in(g, n, 2);
  if (!x || !t) return tfx_node_error(g, n, "inputs scores and target are required");
  if (n->n_inputs > 3) return tfx_node_error(g, n, "at most 3 inputs are defined");
  if (n->n_outputs > (n->op == TFX_OP_SoftmaxCrossEntropyLoss ? 2 : 1))
    return tfx_node_error(g, n, "too many outputs");
  if (!tfx_dtype_is_float(x->dtype))
    return tfx_node_error(g, n, "input type %s is not supported (expected a float type)",
                          tfx_dtype_name(x->dtype));
  if (!tfx_dtype_is_int(t->dtype))
    return tfx_node_error(g, n, "target must be an integer tensor, not %s",
                          tfx_dtype_name(t->dtype));
  LossSpec s;
  if (loss_spec(g, n, x->rank, x->dims, &s)) return TFX_ERR;
  bool ok = t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
  for (int i = 1; ok && i < t->rank; i++) ok = t->dims[i] == x->dims[i + 1];
  if (!ok) return tfx_node_error(g, n, "target must have shape (N, d1, ...) matching input");
  if (w) {
    if (w->rank != 1 || w->dims[0] != s.C)
      return tfx_node_error(g, n, "weight must have shape (C=%lld)", (long long)s.C);
    if (!tfx_dtype_is_float(w->dtype))
      return tfx_node_error(g, n, "weight must be a float tensor, not %s",
                            tfx_dtype_name(w->dtype));
  }
  if (s.red == RED_NONE) tfx_node_set_out(g, n, 0, x->dtype, t->rank, t->dims);
  else tfx_node_set_out(g, n, 0, x->dtype, 0, NULL);
  if (s.log_prob) tfx_node_set_out(g, n, 1, x->dtype, x->rank, x->dims);
  return TFX_OK;
}

TfxStatus tfx_loss_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                        TfxTensor *out) {
  const TfxTensor *x = in[0], *t = in[1], *w = n->n_inputs > 2 ? in[2] : NULL;
  LossSpec s;
  if (loss_spec(g, n, x->rank, x->dims, &s)) return TFX_ERR;
  double acc = 0, wsum = 0;
  for (int64_t b = 0; b < s.N; b++) {
    for (int64_t d = 0; d < s.D; d++) {
      /* log-sum-exp over C for the cross-entropy; log-probabilities out */
      double mx = -INFINITY, lse = 0;
      if (s.sce) {
        for (int64_t c = 0; c < s.C; c++) mx = fmax(mx, tfx_tensor_get_f64(x, (b * s.C + c) * s.D + d));
        double sum = 0;
        for (int64_t c = 0; c < s.C; c++) sum += exp(tfx_tensor_get_f64(x, (b * s.C + c) * s.D + d) - mx);
        lse = mx + log(sum);
        if (s.log_prob)
          for (int64_t c = 0; c < s.C; c++) {
            int64_t i = (b * s.C + c) * s.D + d;
            tfx_tensor_set_f64(&out[1], i, tfx_tensor_get_f64(x, i) - lse);
          }
      }
      int64_t tv = tfx_tensor_get_i64(t, b * s.D + d);
      double l = 0, wt = 0;
      if (!(s.has_ii && tv == s.ii)) {
        if (tv < 0 || tv >= s.C)
          return tfx_node_error(g, (TfxNode *)n, "target value %lld is out of range [0, %lld)",
                                (long long)tv, (long long)s.C);
        wt = w ? tfx_tensor_get_f64(w, tv) : 1.0;
        double xv = tfx_tensor_get_f64(x, (b * s.C + tv) * s.D + d);
        l = -wt * (s.sce ? xv - lse : xv);
      }
      if (s.red == RED_NONE) tfx_tensor_set_f64(&out[0], b * s.D + d, l);
      acc += l, wsum += wt;
    }
  }
  if (s.red == RED_SUM) tfx_tensor_set_f64(&out[0], 0, acc);
  if (s.red == RED_MEAN) tfx_tensor_set_f64(&out[0], 0, acc / wsum);
  return TFX_OK;
}

TfxStatus tfx_loss_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  TfxValue *xv = tfx_node_in(g, n, 0), *tv = tfx_node_in(g, n, 1), *wv = tfx_node_in(g, n, 2);
  LossSpec s;
  if (loss_spec(g, n, xv->rank, xv->dims, &s)) return TFX_ERR;
  TfxDtype dt = xv->dtype;
  const char *x = tfx_c_var(e, n->inputs[0]), *t = tfx_c_var(e, n->inputs[1]);
  const char *y = tfx_c_var(e, n->outputs[0]);
  const char *w = wv ? tfx_c_var(e, n->inputs[2]) : NULL;
  const char *lp = s.log_prob ? tfx_c_var(e, n->outputs[1]) : NULL;
  char l1[256], lit[64], ex[512];
  (void)tv;
  tfx_c_line(e, "{ /* %s: N=%lld C=%lld D=%lld */", n->op_type, (long long)s.N, (long long)s.C,
             (long long)s.D);
  tfx_c_indent(e, 1);
  if (s.red == RED_SUM) tfx_c_line(e, "double acc = 0;");
  if (s.red == RED_MEAN) tfx_c_line(e, "double acc = 0, wsum = 0;");
  tfx_c_line(e, "for (int64_t b = 0; b < %lld; b++) {", (long long)s.N);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) {", (long long)s.D);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const int64_t base = b * %lld + d;", (long long)(s.C * s.D));
  if (s.sce) {
    snprintf(ex, sizeof ex, "%s[base + c * %lld]", x, (long long)s.D);
    tfx_c_load(e, dt, ex, l1);
    tfx_c_line(e, "double mx = -INFINITY, sum = 0;");
    tfx_c_line(e, "for (int64_t c = 0; c < %lld; c++) mx = fmax(mx, (double)%s);", (long long)s.C, l1);
    tfx_c_line(e, "for (int64_t c = 0; c < %lld; c++) sum += exp((double)%s - mx);", (long long)s.C, l1);
    tfx_c_line(e, "const double lse = mx + log(sum);");
    if (lp) {
      char val[512], dst[512];
      snprintf(val, sizeof val, "(%s)((double)%s - lse)", tfx_c_calctype(dt), l1);
      snprintf(dst, sizeof dst, "%s[base + c * %lld]", lp, (long long)s.D);
      tfx_c_line(e, "for (int64_t c = 0; c < %lld; c++) {", (long long)s.C);
      tfx_c_indent(e, 1);
      tfx_c_store(e, dt, dst, val);
      tfx_c_indent(e, -1);
      tfx_c_line(e, "}");
    }
  }
  char yo[128];
  snprintf(yo, sizeof yo, "%s[b * %lld + d]", y, (long long)s.D);
  tfx_c_line(e, "int64_t t = (int64_t)%s[b * %lld + d];", t, (long long)s.D);
  if (s.has_ii) {
    tfx_c_line(e, "if (t == %s) {", tfx_c_int(lit, s.ii));
    tfx_c_indent(e, 1);
    if (s.red == RED_NONE) tfx_c_store(e, dt, yo, "0");
    tfx_c_line(e, "continue;");
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  /* an out-of-range target is a bad input: clamp so memory stays in bounds */
  tfx_c_line(e, "if (t < 0) t = 0;");
  tfx_c_line(e, "if (t > %lld) t = %lld;", (long long)(s.C - 1), (long long)(s.C - 1));
  if (w) {
    snprintf(ex, sizeof ex, "%s[t]", w);
    tfx_c_line(e, "const double wt = (double)%s;", tfx_c_load(e, wv->dtype, ex, l1));
  } else {
    tfx_c_line(e, "const double wt = 1.0;");
  }
  snprintf(ex, sizeof ex, "%s[base + t * %lld]", x, (long long)s.D);
  tfx_c_line(e, "const double l = -wt * ((double)%s%s);", tfx_c_load(e, dt, ex, l1),
             s.sce ? " - lse" : "");
  if (s.red == RED_NONE) {
    snprintf(ex, sizeof ex, "(%s)l", tfx_c_calctype(dt));
    tfx_c_store(e, dt, yo, ex);
  } else {
    tfx_c_line(e, "acc += l;");
    if (s.red == RED_MEAN) tfx_c_line(e, "wsum += wt;");
  }
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  if (s.red != RED_NONE) {
    snprintf(ex, sizeof ex, "(%s)(%s)", tfx_c_calctype(dt), s.red == RED_MEAN ? "acc / wsum" : "acc");
    snprintf(yo, sizeof yo, "%s[0]", y);
    tfx_c_store(e, dt, yo, ex);
  }
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  return TFX_OK;
}
