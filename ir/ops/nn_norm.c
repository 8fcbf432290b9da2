/* nn_norm.c — normalisations: Layer-, RMS-, Instance-, Group-, Lp-, Batch-
 * (inference and training mode), MeanVariance- and LRN.  All but LRN and
 * inference BatchNormalization are one scheme (NnNorm): view X as some shape,
 * reduce a set of its dims to statistics, then rescale every element with an
 * optional broadcast scale and bias.  Statistics accumulate in double in the
 * evaluator and in generic generated code; variances are two-pass.  float32
 * Layer- and RMSNormalization over contiguous rows (the transformer case) sum
 * in 8 float partial sums instead, which compilers vectorise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ops/nn_internal.h"

typedef enum {
  ST_MEANVAR, /* (x - mean) / sqrt(var + eps) */
  ST_MVN,     /* (x - mean) / (sqrt(var) + 1e-9), MeanVarianceNormalization */
  ST_RMS,     /* x / sqrt(mean(x^2) + eps) */
  ST_L1,      /* x / sum|x|, 0 where the norm is 0 */
  ST_L2,      /* x / sqrt(sum x^2), likewise */
} NnStat;

typedef struct {
  int rank; /* rank of the view of X */
  const int64_t *dims;
} NnShape;

typedef struct {
  NnStat stat;
  int rank;
  int64_t dims[TFX_MAX_RANK]; /* view of X (row-major, same data) */
  bool red[TFX_MAX_RANK];     /* reduced dims */
  int64_t xs[TFX_MAX_RANK];   /* strides of X over the view */
  int64_t count;              /* elements per statistic */
  double eps;
  int scale_in, bias_in;                    /* input index, or -1 */
  int64_t ss[TFX_MAX_RANK], bs[TFX_MAX_RANK]; /* their strides over the view */
  int mean_out, inv_out;                    /* LayerNormalization's extra outputs, or -1 */
  int64_t ms[TFX_MAX_RANK];                 /* their strides over the view */
  bool bn_training;  /* BatchNormalization training: running stats to outputs 1, 2 */
  double momentum;
  TfxDtype stash;    /* dtype of LayerNormalization's Mean / InvStdDev */
} NnNorm;

static bool out_present(const TfxNode *n, int k) {
  return k < n->n_outputs && n->outputs[k] != TFX_NONE;
}

static bool in_present(const NnShape *in, int nin, int k) { return k < nin && in[k].dims; }

/* Scale or bias of shape s applied per channel of a view whose dim `cdim`
 * has extent c: it must be 1-D of c elements. */
static TfxStatus per_channel(TfxGraph *g, const TfxNode *n, const char *what, NnShape s,
                             int64_t c, int rank, int cdim, int64_t cstride, int64_t *strides) {
  if (s.rank != 1 || s.dims[0] != c)
    return tfx_node_error(g, n, "%s must have shape (%lld)", what, (long long)c);
  for (int i = 0; i < rank; i++) strides[i] = i == cdim ? cstride : 0;
  return TFX_OK;
}

/* Scale or bias broadcast unidirectionally to the whole view. */
static TfxStatus broadcast_to(TfxGraph *g, const TfxNode *n, const char *what, NnShape s,
                              const NnNorm *ns, int64_t *strides) {
  if (s.rank > ns->rank) return tfx_node_error(g, n, "%s has a higher rank than X", what);
  for (int i = 0; i < s.rank; i++) {
    int64_t want = ns->dims[ns->rank - s.rank + i];
    if (s.dims[i] != want && s.dims[i] != 1)
      return tfx_node_error(g, n, "%s (dim %d = %lld) does not broadcast to X (%lld)", what, i,
                            (long long)s.dims[i], (long long)want);
  }
  tfx_bcast_strides(ns->rank, ns->dims, s.rank, s.dims, strides);
  return TFX_OK;
}

/* Build the scheme for node n from the shapes of its inputs (in[k].dims NULL
 * for an omitted input).  Not used for LRN and inference BatchNormalization. */
static TfxStatus norm_spec(TfxGraph *g, const TfxNode *n, const NnShape *in, int nin,
                           NnNorm *ns) {
  memset(ns, 0, sizeof *ns);
  ns->scale_in = ns->bias_in = ns->mean_out = ns->inv_out = -1;
  ns->eps = tfx_attr_float(n, "epsilon", 1e-5f);
  NnShape x = in[0];
  ns->rank = x.rank;
  memcpy(ns->dims, x.dims, sizeof(int64_t) * (size_t)x.rank);
  switch (n->op) {
  case TFX_OP_LayerNormalization:
  case TFX_OP_RMSNormalization: {
    bool ln = n->op == TFX_OP_LayerNormalization;
    int axis = 0;
    if (x.rank < 1) return tfx_node_error(g, n, "X must have rank >= 1");
    if (tfx_node_axis(g, n, "axis", -1, x.rank, &axis)) return TFX_ERR;
    ns->stat = ln ? ST_MEANVAR : ST_RMS;
    for (int i = axis; i < x.rank; i++) ns->red[i] = true;
    if (!in_present(in, nin, 1)) return tfx_node_error(g, n, "input Scale is required");
    ns->scale_in = 1;
    if (broadcast_to(g, n, "Scale", in[1], ns, ns->ss)) return TFX_ERR;
    if (ln && in_present(in, nin, 2)) {
      ns->bias_in = 2;
      if (broadcast_to(g, n, "B", in[2], ns, ns->bs)) return TFX_ERR;
    }
    int64_t st = tfx_attr_int(n, "stash_type", 1);
    ns->stash = tfx_dtype_from_onnx((int)st);
    if (!tfx_dtype_is_float(ns->stash))
      return tfx_node_error(g, n, "unsupported stash_type %lld", (long long)st);
    if (ln && out_present(n, 1)) ns->mean_out = 1;
    if (ln && out_present(n, 2)) ns->inv_out = 2;
    if (!ln && n->n_outputs > 1) return tfx_node_error(g, n, "only one output is defined");
    break;
  }
  case TFX_OP_InstanceNormalization:
  case TFX_OP_BatchNormalization: {
    if (x.rank < (n->op == TFX_OP_BatchNormalization ? 2 : 3))
      return tfx_node_error(g, n, "X must have shape (N, C, ...)");
    int64_t s = tfx_numel(x.rank - 2, x.dims + 2);
    ns->rank = 3;
    ns->dims[0] = x.dims[0], ns->dims[1] = x.dims[1], ns->dims[2] = s;
    ns->stat = ST_MEANVAR;
    ns->red[2] = true;
    ns->red[0] = n->op == TFX_OP_BatchNormalization; /* training: stats over N too */
    ns->scale_in = 1, ns->bias_in = 2;
    if (!in_present(in, nin, 1) || !in_present(in, nin, 2))
      return tfx_node_error(g, n, "inputs scale and B are required");
    if (per_channel(g, n, "scale", in[1], x.dims[1], 3, 1, 1, ns->ss) ||
        per_channel(g, n, "B", in[2], x.dims[1], 3, 1, 1, ns->bs))
      return TFX_ERR;
    if (n->op == TFX_OP_BatchNormalization) {
      int64_t dummy[3];
      if (!in_present(in, nin, 3) || !in_present(in, nin, 4))
        return tfx_node_error(g, n, "inputs input_mean and input_var are required");
      if (per_channel(g, n, "input_mean", in[3], x.dims[1], 3, 1, 1, dummy) ||
          per_channel(g, n, "input_var", in[4], x.dims[1], 3, 1, 1, dummy))
        return TFX_ERR;
      ns->bn_training = true;
      ns->momentum = tfx_attr_float(n, "momentum", 0.9f);
    }
    break;
  }
  case TFX_OP_GroupNormalization: {
    if (x.rank < 3) return tfx_node_error(g, n, "X must have shape (N, C, D...)");
    int64_t G = tfx_attr_int(n, "num_groups", 0), C = x.dims[1];
    if (G < 1 || C % G)
      return tfx_node_error(g, n, "num_groups %lld must be positive and divide C=%lld",
                            (long long)G, (long long)C);
    ns->rank = 4;
    ns->dims[0] = x.dims[0], ns->dims[1] = G, ns->dims[2] = C / G;
    ns->dims[3] = tfx_numel(x.rank - 2, x.dims + 2);
    ns->stat = ST_MEANVAR;
    ns->red[2] = ns->red[3] = true;
    if (!in_present(in, nin, 1) || !in_present(in, nin, 2))
      return tfx_node_error(g, n, "inputs scale and bias are required");
    /* opset 21 scales per channel; opset 18 per group (identical when C == G) */
    for (int k = 1; k <= 2; k++) {
      NnShape s = in[k];
      int64_t *st = k == 1 ? ns->ss : ns->bs;
      memset(st, 0, sizeof(int64_t) * 4);
      if (s.rank == 1 && s.dims[0] == C) st[1] = C / G, st[2] = 1;
      else if (s.rank == 1 && s.dims[0] == G) st[1] = 1;
      else
        return tfx_node_error(g, n, "%s must have shape (C=%lld) or (num_groups=%lld)",
                              k == 1 ? "scale" : "bias", (long long)C, (long long)G);
    }
    ns->scale_in = 1, ns->bias_in = 2;
    int64_t st = tfx_attr_int(n, "stash_type", 1);
    if (st != 1 && st != 11 && st != 10 && st != 16)
      return tfx_node_error(g, n, "unsupported stash_type %lld", (long long)st);
    break;
  }
  case TFX_OP_LpNormalization: {
    int axis = 0;
    if (x.rank < 1) return tfx_node_error(g, n, "X must have rank >= 1");
    if (tfx_node_axis(g, n, "axis", -1, x.rank, &axis)) return TFX_ERR;
    int64_t p = tfx_attr_int(n, "p", 2);
    if (p != 1 && p != 2) return tfx_node_error(g, n, "p must be 1 or 2, not %lld", (long long)p);
    ns->stat = p == 1 ? ST_L1 : ST_L2;
    ns->red[axis] = true;
    break;
  }
  case TFX_OP_MeanVarianceNormalization: {
    const int64_t *axes, dflt[3] = {0, 2, 3};
    int na = tfx_attr_ints(n, "axes", &axes);
    if (na < 0) axes = dflt, na = 3;
    for (int i = 0; i < na; i++) {
      if (axes[i] < -x.rank || axes[i] >= x.rank)
        return tfx_node_error(g, n, "axis %lld is out of range for rank %d", (long long)axes[i],
                              x.rank);
      ns->red[tfx_axis(axes[i], x.rank)] = true;
    }
    ns->stat = ST_MVN;
    break;
  }
  default:
    return tfx_node_error(g, n, "internal: not a normalisation op");
  }
  tfx_strides(ns->rank, ns->dims, ns->xs);
  ns->count = 1;
  for (int i = 0; i < ns->rank; i++)
    if (ns->red[i]) ns->count *= ns->dims[i];
  /* Mean / InvStdDev: X's shape with the reduced (trailing) dims set to 1 */
  int64_t sd[TFX_MAX_RANK];
  for (int i = 0; i < ns->rank; i++) sd[i] = ns->red[i] ? 1 : ns->dims[i];
  tfx_bcast_strides(ns->rank, ns->dims, ns->rank, sd, ns->ms);
  return TFX_OK;
}

/* ---- BatchNormalization (inference) and LRN -------------------------------------- */

static bool bn_training(TfxGraph *g, const TfxNode *n) {
  return g->opset >= 14 && tfx_attr_int(n, "training_mode", 0) != 0;
}

/* ---- infer --------------------------------------------------------------------- */

static void shapes_of_values(TfxGraph *g, const TfxNode *n, NnShape *sh) {
  for (int k = 0; k < n->n_inputs && k < 8; k++) {
    const TfxValue *v = tfx_node_in(g, n, k);
    sh[k].rank = v ? v->rank : 0;
    sh[k].dims = v ? v->dims : NULL;
  }
}

static void shapes_of_tensors(const TfxNode *n, const TfxTensor *const *in, NnShape *sh) {
  for (int k = 0; k < n->n_inputs && k < 8; k++) {
    sh[k].rank = in[k] ? in[k]->rank : 0;
    sh[k].dims = in[k] ? in[k]->dims : NULL;
  }
}

TfxStatus tfx_nn_norm_infer(TfxGraph *g, TfxNode *n) {
  const TfxValue *x = tfx_node_in(g, n, 0);
  if (!x) return tfx_node_error(g, n, "missing input X");
  if (!tfx_dtype_is_float(x->dtype))
    return tfx_node_error(g, n, "unsupported dtype %s", tfx_dtype_name(x->dtype));
  if (n->n_inputs > 8) return tfx_node_error(g, n, "too many inputs");
  for (int k = 1; k < n->n_inputs; k++) {
    const TfxValue *v = tfx_node_in(g, n, k);
    if (v && !tfx_dtype_is_float(v->dtype))
      return tfx_node_error(g, n, "input %d has unsupported dtype %s", k,
                            tfx_dtype_name(v->dtype));
  }
  NnShape sh[8] = {{0, NULL}};
  shapes_of_values(g, n, sh);
  if (n->op == TFX_OP_LRN) {
    int64_t size = tfx_attr_int(n, "size", 0);
    if (size < 1) return tfx_node_error(g, n, "attribute 'size' must be a positive integer");
    if (x->rank < 3) return tfx_node_error(g, n, "X must have shape (N, C, D...)");
  } else if (n->op == TFX_OP_BatchNormalization && !bn_training(g, n)) {
    if (g->opset < 14)
      for (int k = 1; k < n->n_outputs; k++)
        if (out_present(n, k))
          return tfx_node_error(g, n, "training-mode outputs (opset %d) are not supported",
                                g->opset);
    if (x->rank < 2) return tfx_node_error(g, n, "X must have shape (N, C, ...)");
    for (int k = 1; k <= 4; k++) {
      static const char *names[] = {"", "scale", "B", "input_mean", "input_var"};
      if (k >= n->n_inputs || !sh[k].dims)
        return tfx_node_error(g, n, "input %s is required", names[k]);
      if (sh[k].rank != 1 || sh[k].dims[0] != x->dims[1])
        return tfx_node_error(g, n, "%s must have shape (%lld)", names[k], (long long)x->dims[1]);
    }
    if (tfx_attr_int(n, "spatial", 1) == 0)
      return tfx_node_error(g, n, "spatial = 0 is not supported");
  } else {
    NnNorm ns;
    if (norm_spec(g, n, sh, n->n_inputs, &ns)) return TFX_ERR;
    if (ns.mean_out >= 0 || ns.inv_out >= 0) {
      int64_t sd[TFX_MAX_RANK];
      for (int i = 0; i < x->rank; i++) sd[i] = ns.red[i] ? 1 : x->dims[i];
      tfx_node_set_out(g, n, 1, ns.stash, x->rank, sd);
      tfx_node_set_out(g, n, 2, ns.stash, x->rank, sd);
    }
    if (ns.bn_training) {
      const TfxValue *m = tfx_node_in(g, n, 3), *v = tfx_node_in(g, n, 4);
      tfx_node_set_out(g, n, 1, m->dtype, 1, m->dims);
      tfx_node_set_out(g, n, 2, v->dtype, 1, v->dims);
    }
  }
  tfx_node_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return TFX_OK;
}

/* ---- eval -------------------------------------------------------------------------- */

static int64_t view_index(const int64_t *idx, int rank, const int64_t *strides) {
  int64_t o = 0;
  for (int i = 0; i < rank; i++) o += idx[i] * strides[i];
  return o;
}

static TfxStatus norm_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                           TfxTensor *out) {
  NnShape sh[8] = {{0, NULL}};
  shapes_of_tensors(n, in, sh);
  NnNorm ns;
  if (norm_spec(g, n, sh, n->n_inputs, &ns)) return TFX_ERR;
  int64_t total = tfx_numel(ns.rank, ns.dims), idx[TFX_MAX_RANK];
  /* statistics are indexed by the kept dims: use the Mean strides */
  int64_t nstat = 1;
  for (int i = 0; i < ns.rank; i++)
    if (!ns.red[i]) nstat *= ns.dims[i];
  /* s1: sum then mean (0 for the stats without one); s2: variance or sum of
   * squares / magnitudes; fac: what (x - mean) is multiplied by */
  double *x = tfx_nn_f64(g, n, in[0]);
  double *s1 = calloc((size_t)nstat, sizeof(double)), *s2 = calloc((size_t)nstat, sizeof(double));
  double *fac = calloc((size_t)nstat, sizeof(double));
  if (!x || !s1 || !s2 || !fac) {
    free(x), free(s1), free(s2), free(fac);
    return x ? tfx_node_error(g, n, "out of memory") : TFX_ERR;
  }
  for (int64_t i = 0; i < total; i++) {
    tfx_unravel(i, ns.rank, ns.dims, idx);
    int64_t k = view_index(idx, ns.rank, ns.ms);
    switch (ns.stat) {
    case ST_MEANVAR:
    case ST_MVN: s1[k] += x[i]; break;
    case ST_RMS:
    case ST_L2: s2[k] += x[i] * x[i]; break;
    case ST_L1: s2[k] += fabs(x[i]); break;
    }
  }
  if (ns.stat == ST_MEANVAR || ns.stat == ST_MVN) {
    for (int64_t k = 0; k < nstat; k++) s1[k] /= (double)ns.count;
    for (int64_t i = 0; i < total; i++) {
      tfx_unravel(i, ns.rank, ns.dims, idx);
      int64_t k = view_index(idx, ns.rank, ns.ms);
      s2[k] += (x[i] - s1[k]) * (x[i] - s1[k]);
    }
    for (int64_t k = 0; k < nstat; k++) s2[k] /= (double)ns.count;
  }
  for (int64_t k = 0; k < nstat; k++) {
    switch (ns.stat) {
    case ST_MEANVAR: fac[k] = 1.0 / sqrt(s2[k] + ns.eps); break;
    case ST_MVN: fac[k] = 1.0 / (sqrt(s2[k]) + 1e-9); break;
    case ST_RMS: fac[k] = 1.0 / sqrt(s2[k] / (double)ns.count + ns.eps); break;
    case ST_L1: fac[k] = s2[k] == 0 ? 0.0 : 1.0 / s2[k]; break; /* a zero vector stays zero */
    case ST_L2: fac[k] = s2[k] == 0 ? 0.0 : 1.0 / sqrt(s2[k]); break;
    }
  }
  const TfxTensor *S = ns.scale_in >= 0 ? in[ns.scale_in] : NULL;
  const TfxTensor *B = ns.bias_in >= 0 ? in[ns.bias_in] : NULL;
  for (int64_t i = 0; i < total; i++) {
    tfx_unravel(i, ns.rank, ns.dims, idx);
    int64_t k = view_index(idx, ns.rank, ns.ms);
    double y = (x[i] - s1[k]) * fac[k];
    if (S) y *= tfx_tensor_get_f64(S, view_index(idx, ns.rank, ns.ss));
    if (B) y += tfx_tensor_get_f64(B, view_index(idx, ns.rank, ns.bs));
    tfx_tensor_set_f64(&out[0], i, y);
  }
  for (int64_t k = 0; k < nstat; k++) {
    if (ns.mean_out >= 0) tfx_tensor_set_f64(&out[ns.mean_out], k, s1[k]);
    if (ns.inv_out >= 0) tfx_tensor_set_f64(&out[ns.inv_out], k, fac[k]);
  }
  if (ns.bn_training) {
    for (int64_t c = 0; c < nstat; c++) {
      if (out_present(n, 1))
        tfx_tensor_set_f64(&out[1], c, tfx_tensor_get_f64(in[3], c) * ns.momentum +
                                           s1[c] * (1.0 - ns.momentum));
      if (out_present(n, 2))
        tfx_tensor_set_f64(&out[2], c, tfx_tensor_get_f64(in[4], c) * ns.momentum +
                                           s2[c] * (1.0 - ns.momentum));
    }
  }
  free(x), free(s1), free(s2), free(fac);
  return TFX_OK;
}

static TfxStatus bn_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                         TfxTensor *out) {
  const TfxTensor *X = in[0];
  int64_t N = X->dims[0], C = X->dims[1], S = tfx_numel(X->rank - 2, X->dims + 2);
  double eps = tfx_attr_float(n, "epsilon", 1e-5f);
  (void)g;
  for (int64_t b = 0; b < N; b++)
    for (int64_t c = 0; c < C; c++) {
      double sc = tfx_tensor_get_f64(in[1], c), bi = tfx_tensor_get_f64(in[2], c);
      double mu = tfx_tensor_get_f64(in[3], c), var = tfx_tensor_get_f64(in[4], c);
      for (int64_t s = 0; s < S; s++) {
        int64_t i = (b * C + c) * S + s;
        double y = sc * (tfx_tensor_get_f64(X, i) - mu) / sqrt(var + eps) + bi;
        tfx_tensor_set_f64(&out[0], i, y);
      }
    }
  return TFX_OK;
}

typedef struct {
  int64_t size, lo, hi; /* window over channels: [c - lo, c + hi] */
  double alpha, beta, bias;
} NnLrn;

static void lrn_params(const TfxNode *n, NnLrn *p) {
  p->size = tfx_attr_int(n, "size", 1);
  p->lo = (p->size - 1) / 2;
  p->hi = p->size - 1 - p->lo; /* ceil((size - 1) / 2) */
  p->alpha = tfx_attr_float(n, "alpha", 1e-4f);
  p->beta = tfx_attr_float(n, "beta", 0.75f);
  p->bias = tfx_attr_float(n, "bias", 1.0f);
}

static TfxStatus lrn_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                          TfxTensor *out) {
  const TfxTensor *X = in[0];
  NnLrn p;
  lrn_params(n, &p);
  int64_t N = X->dims[0], C = X->dims[1], S = tfx_numel(X->rank - 2, X->dims + 2);
  double *x = tfx_nn_f64(g, n, X);
  if (!x) return TFX_ERR;
  for (int64_t b = 0; b < N; b++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t s = 0; s < S; s++) {
        double sq = 0;
        for (int64_t cc = c - p.lo; cc <= c + p.hi; cc++)
          if (cc >= 0 && cc < C) sq += x[(b * C + cc) * S + s] * x[(b * C + cc) * S + s];
        int64_t i = (b * C + c) * S + s;
        tfx_tensor_set_f64(&out[0], i, x[i] / pow(p.bias + p.alpha / (double)p.size * sq, p.beta));
      }
  free(x);
  return TFX_OK;
}

TfxStatus tfx_nn_norm_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                           TfxTensor *out) {
  if (n->n_inputs > 8) return tfx_node_error(g, n, "too many inputs");
  if (n->op == TFX_OP_LRN) return lrn_eval(g, n, in, out);
  if (n->op == TFX_OP_BatchNormalization && !bn_training(g, n)) return bn_eval(g, n, in, out);
  return norm_eval(g, n, in, out);
}

/* ---- emit ---------------------------------------------------------------------------- */

/* Loops over the view dims selected by `want_red`, named d<i>. Returns count. */
static int emit_dim_loops(TfxCEmit *e, const NnNorm *ns, bool want_red) {
  int opened = 0;
  for (int i = 0; i < ns->rank; i++) {
    if (ns->red[i] != want_red) continue;
    char v[16];
    snprintf(v, sizeof v, "d%d", i);
    tfx_nn_for(e, v, ns->dims[i]);
    opened++;
  }
  if (!opened) {
    tfx_c_line(e, "{");
    tfx_c_indent(e, 1);
    opened = 1;
  }
  return opened;
}

/* Whether node n's statistics are over contiguous float32 rows with a scale
 * and bias (if any) that follow the row: the blocked path below. */
static bool norm_rows(TfxGraph *g, const TfxNode *n, const NnNorm *ns) {
  if (n->op != TFX_OP_LayerNormalization && n->op != TFX_OP_RMSNormalization) return false;
  if (tfx_node_in(g, n, 0)->dtype != TFX_F32) return false;
  int in[2] = {ns->scale_in, ns->bias_in};
  const int64_t *st[2] = {ns->ss, ns->bs};
  for (int k = 0; k < 2; k++) {
    if (in[k] < 0) continue;
    if (tfx_node_in(g, n, in[k])->dtype != TFX_F32) return false;
    for (int i = 0; i < ns->rank; i++)
      if (st[k][i] != (ns->red[i] ? ns->xs[i] : 0)) return false;
  }
  return true; /* the reduced dims are the trailing ones (axis..rank-1) */
}

/* Blocks of 8 over a row of `len`, then the tail: prints the opening of both
 * loops around body(j) with the block's own index j + k.  Blocks have a
 * constant trip count, which gcc's -O2 cost model wants before vectorising. */
static void row_block_open(TfxCEmit *e, int64_t len) {
  tfx_c_line(e, "for (int64_t j = 0; j + 8 <= %lld; j += 8) {", (long long)len);
  tfx_c_indent(e, 1);
}

static void row_tail_open(TfxCEmit *e, int64_t len) {
  tfx_c_line(e, "for (int64_t j = %lld / 8 * 8; j < %lld; j++) {", (long long)len, (long long)len);
  tfx_c_indent(e, 1);
}

/* sum over the row of term(x) into `acc` (double): 8 partial sums, then the
 * tail.  term uses X for the element. */
static void row_sum(TfxCEmit *e, int64_t len, const char *acc, const char *term) {
  tfx_c_line(e, "for (int64_t k = 0; k < 8; k++) p[k] = 0.0f;");
  row_block_open(e, len);
  tfx_c_line(e, "for (int64_t k = 0; k < 8; k++) { const float X = xr[j + k]; p[k] += %s; }", term);
  tfx_nn_end(e, 1);
  tfx_c_line(e, "double %s = 0;", acc);
  tfx_c_line(e, "for (int64_t k = 0; k < 8; k++) %s += p[k];", acc);
  row_tail_open(e, len);
  tfx_c_line(e, "const float X = xr[j];");
  tfx_c_line(e, "%s += %s;", acc, term);
  tfx_nn_end(e, 1);
}

/* The statistics `mean` and `inv` of the row at xr (see norm_emit). */
static void row_stats(TfxCEmit *e, const NnNorm *ns) {
  char lit[64];
  tfx_c_line(e, "float p[8];");
  if (ns->stat == ST_RMS) {
    row_sum(e, ns->count, "s1", "X * X");
    tfx_c_line(e, "const double mean = 0;");
    tfx_c_line(e, "const double inv = 1.0 / sqrt(s1 / %lld.0 + %s);", (long long)ns->count,
               tfx_c_double(lit, ns->eps));
    return;
  }
  row_sum(e, ns->count, "s1", "X");
  tfx_c_line(e, "const double mean = s1 / %lld.0;", (long long)ns->count);
  tfx_c_line(e, "const float mf = (float)mean;");
  row_sum(e, ns->count, "s2", "(X - mf) * (X - mf)");
  tfx_c_line(e, "const double inv = 1.0 / sqrt(s2 / %lld.0 + %s);", (long long)ns->count,
             tfx_c_double(lit, ns->eps));
}

/* y = (x - mu) * fac [* scale] [+ bias] over the row, through a buffer so
 * gcc need not prove y apart from x. */
static void row_scale(TfxCEmit *e, const NnNorm *ns, const char *vs, const char *vb) {
  char val[400], sb[160];
  snprintf(sb, sizeof sb, "%s%s%s%s%s", vs ? " * " : "", vs ? vs : "", vs ? "[J]" : "",
           vb ? " + " : "", vb ? vb : "");
  if (vb) snprintf(sb + strlen(sb), sizeof sb - strlen(sb), "[J]");
  row_block_open(e, ns->count);
  tfx_c_line(e, "float t[8];");
  snprintf(val, sizeof val, "(xr[J] - mu) * fac%s", sb);
  tfx_c_line(e, "for (int64_t k = 0; k < 8; k++) { const int64_t J = j + k; t[k] = %s; }", val);
  tfx_c_line(e, "memcpy(yr + j, t, sizeof t);");
  tfx_nn_end(e, 1);
  row_tail_open(e, ns->count);
  tfx_c_line(e, "const int64_t J = j;");
  tfx_c_line(e, "yr[J] = %s;", val);
  tfx_nn_end(e, 1);
}

/* The variables norm_emit reads and writes (NULL when absent). */
typedef struct {
  const char *x, *y, *scale, *bias, *mean, *inv; /* inputs 0..2, LayerNorm's outputs 1, 2 */
  const char *run_mean, *run_var, *in_mean, *in_var; /* BatchNormalization training */
} NormVars;

/* Generic statistics: `mean` and `inv` (double) of the slice at the current
 * kept indices, summed in double over the reduced dims; xv reads an element. */
static void norm_emit_stats(TfxCEmit *e, const NnNorm *ns, const char *xv) {
  char lit[64];
  /* pass 1: sum (or sum of squares / magnitudes) */
  tfx_c_line(e, "double s1 = 0;");
  int inner = emit_dim_loops(e, ns, true);
  switch (ns->stat) {
  case ST_MEANVAR:
  case ST_MVN: tfx_c_line(e, "s1 += %s;", xv); break;
  case ST_RMS:
  case ST_L2: tfx_c_line(e, "{ const double v = %s; s1 += v * v; }", xv); break;
  case ST_L1: tfx_c_line(e, "s1 += fabs((double)%s);", xv); break;
  }
  tfx_nn_end(e, inner);
  if (ns->stat == ST_MEANVAR || ns->stat == ST_MVN) {
    /* pass 2: variance around the mean */
    tfx_c_line(e, "const double mean = s1 / %lld.0;", (long long)ns->count);
    tfx_c_line(e, "double s2 = 0;");
    inner = emit_dim_loops(e, ns, true);
    tfx_c_line(e, "{ const double v = %s - mean; s2 += v * v; }", xv);
    tfx_nn_end(e, inner);
    tfx_c_line(e, "const double var = s2 / %lld.0;", (long long)ns->count);
    if (ns->stat == ST_MEANVAR)
      tfx_c_line(e, "const double inv = 1.0 / sqrt(var + %s);", tfx_c_double(lit, ns->eps));
    else
      tfx_c_line(e, "const double inv = 1.0 / (sqrt(var) + 1e-9);");
  } else {
    tfx_c_line(e, "const double mean = 0;");
    if (ns->stat == ST_RMS)
      tfx_c_line(e, "const double inv = 1.0 / sqrt(s1 / %lld.0 + %s);", (long long)ns->count,
                 tfx_c_double(lit, ns->eps));
    else if (ns->stat == ST_L1)
      tfx_c_line(e, "const double inv = s1 == 0 ? 0.0 : 1.0 / s1;");
    else
      tfx_c_line(e, "const double inv = s1 == 0 ? 0.0 : 1.0 / sqrt(s1);");
  }
}

/* Store the statistics the node outputs: LayerNormalization's Mean and
 * InvStdDev, BatchNormalization's running mean and variance. */
static void norm_emit_outputs(TfxCEmit *e, TfxGraph *g, const TfxNode *n, const NnNorm *ns,
                              const NormVars *v) {
  char im[512], ex[600], l2[256];
  tfx_nn_idx(im, "d", ns->rank, ns->ms, 0);
  if (v->mean) {
    snprintf(ex, sizeof ex, "%s[%s]", v->mean, im);
    tfx_c_store(e, ns->stash, ex, "mean");
  }
  if (v->inv) {
    snprintf(ex, sizeof ex, "%s[%s]", v->inv, im);
    tfx_c_store(e, ns->stash, ex, "inv");
  }
  if (!ns->bn_training) return;
  const TfxValue *m = tfx_node_in(g, n, 3), *var = tfx_node_in(g, n, 4);
  char mom[64], rest[64], val[700];
  tfx_c_double(mom, ns->momentum);
  tfx_c_double(rest, 1.0 - ns->momentum);
  if (v->run_mean) {
    snprintf(ex, sizeof ex, "%s[d1]", v->in_mean);
    snprintf(val, sizeof val, "%s * %s + mean * %s", tfx_c_load(e, m->dtype, ex, l2), mom, rest);
    snprintf(ex, sizeof ex, "%s[d1]", v->run_mean);
    tfx_c_store(e, tfx_node_out(g, n, 1)->dtype, ex, val);
  }
  if (v->run_var) {
    snprintf(ex, sizeof ex, "%s[d1]", v->in_var);
    snprintf(val, sizeof val, "%s * %s + var * %s", tfx_c_load(e, var->dtype, ex, l2), mom, rest);
    snprintf(ex, sizeof ex, "%s[d1]", v->run_var);
    tfx_c_store(e, tfx_node_out(g, n, 2)->dtype, ex, val);
  }
}

/* Generic pass 3: y = (x - mu) * fac [* scale] [+ bias], element by element
 * in the element type's calculation precision. */
static void norm_emit_scale(TfxCEmit *e, TfxGraph *g, const TfxNode *n, const NnNorm *ns,
                            const NormVars *v, const char *xv, const char *ix) {
  TfxDtype dt = tfx_node_in(g, n, 0)->dtype;
  const char *calc = tfx_c_calctype(dt);
  char is[512], ib[512], ex[600], l2[256], l3[256], val[1200];
  int inner = emit_dim_loops(e, ns, true);
  size_t len = (size_t)snprintf(val, sizeof val, "(%s - mu) * fac", xv);
  if (v->scale) {
    snprintf(ex, sizeof ex, "%s[%s]", v->scale, tfx_nn_idx(is, "d", ns->rank, ns->ss, 0));
    len += (size_t)snprintf(val + len, sizeof val - len, " * (%s)%s", calc,
                            tfx_c_load(e, tfx_node_in(g, n, ns->scale_in)->dtype, ex, l2));
  }
  if (v->bias) {
    snprintf(ex, sizeof ex, "%s[%s]", v->bias, tfx_nn_idx(ib, "d", ns->rank, ns->bs, 0));
    snprintf(val + len, sizeof val - len, " + (%s)%s", calc,
             tfx_c_load(e, tfx_node_in(g, n, ns->bias_in)->dtype, ex, l3));
  }
  snprintf(ex, sizeof ex, "%s[%s]", v->y, ix);
  tfx_c_store(e, dt, ex, val);
  tfx_nn_end(e, inner);
}

static TfxStatus norm_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  NnShape sh[8] = {{0, NULL}};
  shapes_of_values(g, n, sh);
  NnNorm ns;
  if (norm_spec(g, n, sh, n->n_inputs, &ns)) return TFX_ERR;
  TfxDtype dt = tfx_node_in(g, n, 0)->dtype;
  const char *calc = tfx_c_calctype(dt);
  char ix[512], ex[600], l1[256];
  tfx_c_line(e, "{ /* %s: %lld statistics of %lld elements */", n->op_type,
             (long long)(tfx_numel(ns.rank, ns.dims) / ns.count), (long long)ns.count);
  tfx_c_indent(e, 1);
  NormVars v = {0};
  v.x = tfx_nn_alias_in(e, g, n, 0), v.y = tfx_nn_alias_out(e, g, n, 0);
  if (ns.scale_in >= 0) v.scale = tfx_nn_alias_in(e, g, n, ns.scale_in);
  if (ns.bias_in >= 0) v.bias = tfx_nn_alias_in(e, g, n, ns.bias_in);
  if (ns.mean_out >= 0) v.mean = tfx_nn_alias_out(e, g, n, ns.mean_out);
  if (ns.inv_out >= 0) v.inv = tfx_nn_alias_out(e, g, n, ns.inv_out);
  if (ns.bn_training) {
    v.in_mean = tfx_nn_alias_in(e, g, n, 3);
    v.in_var = tfx_nn_alias_in(e, g, n, 4);
    if (out_present(n, 1)) v.run_mean = tfx_nn_alias_out(e, g, n, 1);
    if (out_present(n, 2)) v.run_var = tfx_nn_alias_out(e, g, n, 2);
  }
  tfx_nn_idx(ix, "d", ns.rank, ns.xs, 0);
  snprintf(ex, sizeof ex, "%s[%s]", v.x, ix);
  const char *xv = tfx_c_load(e, dt, ex, l1);
  int outer = emit_dim_loops(e, &ns, false);
  bool rows = norm_rows(g, n, &ns);
  if (rows) {
    int64_t rs[TFX_MAX_RANK];
    char ir[512];
    for (int i = 0; i < ns.rank; i++) rs[i] = ns.red[i] ? 0 : ns.xs[i];
    tfx_nn_idx(ir, "d", ns.rank, rs, 0);
    tfx_c_line(e, "const float *const xr = %s + %s;", v.x, ir);
    tfx_c_line(e, "float *const yr = %s + %s;", v.y, ir);
    row_stats(e, &ns);
  } else {
    norm_emit_stats(e, &ns, xv);
  }
  norm_emit_outputs(e, g, n, &ns, &v);
  tfx_c_line(e, "const %s mu = (%s)mean, fac = (%s)inv;", calc, calc, calc);
  if (rows) row_scale(e, &ns, v.scale, v.bias);
  else norm_emit_scale(e, g, n, &ns, &v, xv, ix);
  tfx_nn_end(e, outer);
  tfx_nn_end(e, 1);
  return TFX_OK;
}

static TfxStatus bn_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *x = tfx_node_in(g, n, 0);
  TfxDtype dt = x->dtype;
  const char *calc = tfx_c_calctype(dt);
  int64_t N = x->dims[0], C = x->dims[1], S = tfx_numel(x->rank - 2, x->dims + 2);
  double eps = tfx_attr_float(n, "epsilon", 1e-5f);
  char ex[128], l1[256], l2[256], l3[256], l4[256], lit[64];
  tfx_c_line(e, "{ /* BatchNormalization (inference): %lld channels */", (long long)C);
  tfx_c_indent(e, 1);
  const char *vx = tfx_nn_alias_in(e, g, n, 0), *vy = tfx_nn_alias_out(e, g, n, 0);
  const char *vp[5];
  for (int k = 1; k <= 4; k++) vp[k] = tfx_nn_alias_in(e, g, n, k);
  tfx_nn_for(e, "nb", N);
  tfx_nn_for(e, "c", C);
  snprintf(ex, sizeof ex, "%s[c]", vp[1]);
  tfx_c_line(e, "const double sc = %s;", tfx_c_load(e, tfx_node_in(g, n, 1)->dtype, ex, l1));
  snprintf(ex, sizeof ex, "%s[c]", vp[2]);
  tfx_c_line(e, "const double bi = %s;", tfx_c_load(e, tfx_node_in(g, n, 2)->dtype, ex, l2));
  snprintf(ex, sizeof ex, "%s[c]", vp[3]);
  tfx_c_line(e, "const double mu = %s;", tfx_c_load(e, tfx_node_in(g, n, 3)->dtype, ex, l3));
  snprintf(ex, sizeof ex, "%s[c]", vp[4]);
  tfx_c_line(e, "const double var = %s;", tfx_c_load(e, tfx_node_in(g, n, 4)->dtype, ex, l4));
  tfx_c_line(e, "const %s a = (%s)(sc / sqrt(var + %s)), m = (%s)mu, b = (%s)bi;", calc, calc,
             tfx_c_double(lit, eps), calc, calc);
  tfx_c_line(e, "const int64_t base = (nb * %lld + c) * %lld;", (long long)C, (long long)S);
  tfx_nn_for(e, "s", S);
  snprintf(ex, sizeof ex, "%s[base + s]", vx);
  char val[400];
  snprintf(val, sizeof val, "(%s - m) * a + b", tfx_c_load(e, dt, ex, l1));
  snprintf(ex, sizeof ex, "%s[base + s]", vy);
  tfx_c_store(e, dt, ex, val);
  tfx_nn_end(e, 3);
  tfx_nn_end(e, 1);
  return TFX_OK;
}

static TfxStatus lrn_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *x = tfx_node_in(g, n, 0);
  TfxDtype dt = x->dtype;
  NnLrn p;
  lrn_params(n, &p);
  int64_t N = x->dims[0], C = x->dims[1], S = tfx_numel(x->rank - 2, x->dims + 2);
  char ex[128], l1[256], lb[64], la[64], lbe[64];
  tfx_c_line(e, "{ /* LRN: size %lld over %lld channels */", (long long)p.size, (long long)C);
  tfx_c_indent(e, 1);
  const char *vx = tfx_nn_alias_in(e, g, n, 0), *vy = tfx_nn_alias_out(e, g, n, 0);
  tfx_nn_for(e, "nb", N);
  tfx_nn_for(e, "c", C);
  tfx_c_line(e, "const int64_t lo = c < %lld ? 0 : c - %lld;", (long long)p.lo, (long long)p.lo);
  tfx_c_line(e, "const int64_t hi = c + %lld >= %lld ? %lld : c + %lld;", (long long)p.hi,
             (long long)C, (long long)(C - 1), (long long)p.hi);
  tfx_nn_for(e, "s", S);
  tfx_c_line(e, "double sq = 0;");
  tfx_c_line(e, "for (int64_t cc = lo; cc <= hi; ++cc) {");
  tfx_c_indent(e, 1);
  snprintf(ex, sizeof ex, "%s[(nb * %lld + cc) * %lld + s]", vx, (long long)C, (long long)S);
  tfx_c_line(e, "const double v = %s;", tfx_c_load(e, dt, ex, l1));
  tfx_c_line(e, "sq += v * v;");
  tfx_nn_end(e, 1);
  snprintf(ex, sizeof ex, "%s[(nb * %lld + c) * %lld + s]", vx, (long long)C, (long long)S);
  char val[600];
  snprintf(val, sizeof val, "%s / pow(%s + %s * sq, %s)", tfx_c_load(e, dt, ex, l1),
           tfx_c_double(lb, p.bias), tfx_c_double(la, p.alpha / (double)p.size),
           tfx_c_double(lbe, p.beta));
  snprintf(ex, sizeof ex, "%s[(nb * %lld + c) * %lld + s]", vy, (long long)C, (long long)S);
  tfx_c_store(e, dt, ex, val);
  tfx_nn_end(e, 3);
  tfx_nn_end(e, 1);
  return TFX_OK;
}

TfxStatus tfx_nn_norm_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  if (n->op == TFX_OP_LRN) return lrn_emit(e, g, n);
  if (n->op == TFX_OP_BatchNormalization && !bn_training(g, n)) return bn_emit(e, g, n);
  return norm_emit(e, g, n);
}
