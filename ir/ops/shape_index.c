/* shape_index.c — the shape-family ops driven by runtime index tensors:
 * Gather, GatherElements, GatherND, ScatterElements (and the old Scatter),
 * ScatterND, TensorScatter, OneHot, ReverseSequence.  The evaluator rejects
 * an out-of-range index (the spec makes it an error); generated code cannot
 * report one, so it wraps negative indices once and clamps the rest, and
 * never touches memory outside a tensor. */
#include <math.h>
#include <string.h>

#include "ir/ops/shape_priv.h"

static int64_t prod(const int64_t *d, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; i++) p *= d[i];
  return p;
}

static TfxStatus check_indices(TfxGraph *g, const TfxNode *n, const TfxValue *v, const char *what) {
  if (!tfx_dtype_is_int(v->dtype))
    return tfx_node_error(g, n, "%s must be an integer tensor, not %s", what, tfx_dtype_name(v->dtype));
  return TFX_OK;
}

static TfxStatus oob(TfxGraph *g, const TfxNode *n, int64_t k, int64_t dim) {
  return tfx_node_error(g, n, "index %lld out of range for an axis of %lld", (long long)k, (long long)dim);
}

/* "(int64_t)expr": an index element read in generated code. */
static const char *idx_expr(char *buf, const char *var, const char *at) {
  snprintf(buf, 600, "(int64_t)%s[%s]", var, at);
  return buf;
}

/* ---- scatter reductions ----------------------------------------------------- */

typedef enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } Reduction;

static TfxStatus reduction_attr(TfxGraph *g, const TfxNode *n, Reduction *r) {
  const char *s = tfx_attr_string(n, "reduction", "none");
  if (!strcmp(s, "none"))
    *r = RED_NONE;
  else if (!strcmp(s, "add"))
    *r = RED_ADD;
  else if (!strcmp(s, "mul"))
    *r = RED_MUL;
  else if (!strcmp(s, "max"))
    *r = RED_MAX;
  else if (!strcmp(s, "min"))
    *r = RED_MIN;
  else
    return tfx_node_error(g, n, "unsupported reduction '%s'", s);
  return TFX_OK;
}

/* y[d] = reduce(y[d], u[i]) in the evaluator. */
static void reduce_elem(TfxTensor *y, int64_t d, const TfxTensor *u, int64_t i, Reduction r) {
  size_t es = tfx_dtype_bytes(y->dtype);
  if (r == RED_NONE) {
    copy_elem(y->data, d, u->data, i, es);
  } else if (tfx_dtype_is_float(y->dtype)) {
    double a = tfx_tensor_get_f64(y, d), b = tfx_tensor_get_f64(u, i);
    double v = r == RED_ADD ? a + b : r == RED_MUL ? a * b : r == RED_MAX ? (b > a ? b : a) : (b < a ? b : a);
    tfx_tensor_set_f64(y, d, v);
  } else if (y->dtype == TFX_BOOL) {
    int64_t a = tfx_tensor_get_i64(y, d) != 0, b = tfx_tensor_get_i64(u, i) != 0;
    int64_t v = r == RED_ADD || r == RED_MAX ? (a | b) : (a & b);
    tfx_tensor_set_i64(y, d, v);
  } else if (y->dtype == TFX_U64) {
    uint64_t a = ((const uint64_t *)y->data)[d], b = ((const uint64_t *)u->data)[i];
    uint64_t v = r == RED_ADD   ? a + b
                 : r == RED_MUL ? a * b
                 : r == RED_MAX ? (b > a ? b : a)
                                : (b < a ? b : a);
    ((uint64_t *)y->data)[d] = v;
  } else {
    int64_t a = tfx_tensor_get_i64(y, d), b = tfx_tensor_get_i64(u, i);
    /* wrap like the fixed-width type would (unsigned arithmetic avoids UB) */
    int64_t v = r == RED_ADD   ? (int64_t)((uint64_t)a + (uint64_t)b)
                : r == RED_MUL ? (int64_t)((uint64_t)a * (uint64_t)b)
                : r == RED_MAX ? (b > a ? b : a)
                               : (b < a ? b : a);
    tfx_tensor_set_i64(y, d, v);
  }
}

/* Print `dst = reduce(dst, src)` for elements of dtype dt. */
static void emit_reduce(TfxCEmit *e, TfxDtype dt, const char *dst, const char *src, Reduction r) {
  if (r == RED_NONE) {
    tfx_c_line(e, "%s = %s;", dst, src);
    return;
  }
  char a[256], b[256], v[700];
  tfx_c_load(e, dt, dst, a);
  tfx_c_load(e, dt, src, b);
  const char *ct = tfx_c_calctype(dt);
  if (dt == TFX_BOOL) {
    snprintf(v, sizeof v, "(%s)(%s %s %s)", ct, a, r == RED_ADD || r == RED_MAX ? "|" : "&", b);
  } else if (r == RED_ADD || r == RED_MUL) {
    snprintf(v, sizeof v, "(%s)(%s %s %s)", ct, a, r == RED_ADD ? "+" : "*", b);
  } else {
    tfx_c_line(e, "{");
    tfx_c_indent(e, 1);
    tfx_c_line(e, "const %s ra = %s, rb = %s;", ct, a, b);
    tfx_c_store(e, dt, dst, r == RED_MAX ? "rb > ra ? rb : ra" : "rb < ra ? rb : ra");
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
    return;
  }
  tfx_c_store(e, dt, dst, v);
}

/* ---- Gather ----------------------------------------------------------------------- */

static TfxStatus gather_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *x = tfx_shp_need_in(g, n, 0), *ind = tfx_shp_need_in(g, n, 1);
  if (!x || !ind) return TFX_ERR;
  if (tfx_shp_check_dtype(g, n, x->dtype, "data") || check_indices(g, n, ind, "indices")) return TFX_ERR;
  if (x->rank < 1) return tfx_node_error(g, n, "data must have rank >= 1");
  int a;
  if (tfx_node_axis(g, n, "axis", 0, x->rank, &a)) return TFX_ERR;
  int r = x->rank + ind->rank - 1;
  if (r > TFX_MAX_RANK) return tfx_node_error(g, n, "output rank %d exceeds %d", r, TFX_MAX_RANK);
  if (x->dims[a] == 0 && tfx_numel(ind->rank, ind->dims) > 0)
    return tfx_node_error(g, n, "gathers from an empty axis");
  int64_t dims[TFX_MAX_RANK];
  int k = 0;
  for (int i = 0; i < a; i++) dims[k++] = x->dims[i];
  for (int i = 0; i < ind->rank; i++) dims[k++] = ind->dims[i];
  for (int i = a + 1; i < x->rank; i++) dims[k++] = x->dims[i];
  tfx_node_set_out(g, n, 0, x->dtype, r, dims);
  return TFX_OK;
}

static TfxStatus gather_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *y) {
  const TfxTensor *x = in[0], *ind = in[1];
  int a = tfx_axis(tfx_attr_int(n, "axis", 0), x->rank), q = ind->rank;
  int64_t idx[TFX_MAX_RANK], sidx[TFX_MAX_RANK], ny = tfx_tensor_numel(y);
  size_t es = tfx_dtype_bytes(x->dtype);
  for (int64_t o = 0; o < ny; o++) {
    tfx_unravel(o, y->rank, y->dims, idx);
    int64_t k = tfx_tensor_get_i64(ind, tfx_ravel(q, idx + a, ind->dims));
    const int64_t given = k;
    if (!tfx_shp_fix_index(&k, x->dims[a])) return oob(g, n, given, x->dims[a]);
    for (int i = 0; i < a; i++) sidx[i] = idx[i];
    sidx[a] = k;
    for (int i = a + 1; i < x->rank; i++) sidx[i] = idx[i - 1 + q];
    copy_elem(y->data, o, x->data, tfx_ravel(x->rank, sidx, x->dims), es);
  }
  return TFX_OK;
}

static TfxStatus gather_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  TfxValue *x = tfx_node_in(g, n, 0), *ind = tfx_node_in(g, n, 1), *yv = tfx_node_out(g, n, 0);
  int a = tfx_axis(tfx_attr_int(n, "axis", 0), x->rank);
  int64_t outer = prod(x->dims, 0, a), ax = x->dims[a], inner = prod(x->dims, a + 1, x->rank);
  int64_t ni = tfx_numel(ind->rank, ind->dims);
  if (tfx_numel(yv->rank, yv->dims) == 0) return TFX_OK;
  const char *y = tfx_c_var(e, n->outputs[0]), *xv = tfx_c_var(e, n->inputs[0]);
  char ib[600];
  tfx_c_line(e, "for (int64_t o = 0; o < %lld; o++) {", (long long)outer);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++) {", (long long)ni);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "int64_t k = %s;", idx_expr(ib, tfx_c_var(e, n->inputs[1]), "j"));
  /* an index outside the axis (a token id outside the vocabulary) is the
   * caller's error: the run stops with <NAME>_ERR_INPUT */
  tfx_c_line(e, "if (k < -%lld || k >= %lld) return TFX_ERR_INPUT;", (long long)ax, (long long)ax);
  tfx_c_line(e, "if (k < 0) k += %lld;", (long long)ax);
  if (tfx_c_packed(e, n->inputs[0])) {
    /* the table is stored in panels of 16 rows, K x 16 each (codegen/c/emit.c):
     * row k is column k % 16 of panel k / 16 */
    tfx_c_line(e, "for (int64_t c = 0; c < %lld; c++)", (long long)inner);
    tfx_c_line(e, "  %s[j * %lld + c] = %s[(k / 16) * %lld + c * 16 + k %% 16];", y, (long long)inner, xv,
               (long long)(16 * inner));
  } else if (inner == 1)
    tfx_c_line(e, "%s[o * %lld + j] = %s[o * %lld + k];", y, (long long)ni, xv, (long long)ax);
  else
    tfx_c_line(e, "memcpy(%s + (o * %lld + j) * %lld, %s + (o * %lld + k) * %lld, %lld);", y, (long long)ni,
               (long long)inner, xv, (long long)ax, (long long)inner,
               (long long)(inner * (int64_t)tfx_dtype_bytes(x->dtype)));
  tfx_c_close(e, 2);
  return TFX_OK;
}

/* ---- GatherElements, ScatterElements, Scatter ------------------------------------- */

/* Shared checks: indices (and updates) have the data's rank and fit inside it
 * on every axis but `axis`. */
static TfxStatus elements_check(TfxGraph *g, TfxNode *n, bool scatter, int *axis) {
  TfxValue *x = tfx_shp_need_in(g, n, 0), *ind = tfx_shp_need_in(g, n, 1);
  if (!x || !ind) return TFX_ERR;
  if (tfx_shp_check_dtype(g, n, x->dtype, "data") || check_indices(g, n, ind, "indices")) return TFX_ERR;
  if (x->rank < 1) return tfx_node_error(g, n, "data must have rank >= 1");
  if (ind->rank != x->rank)
    return tfx_node_error(g, n, "indices have rank %d, data rank %d", ind->rank, x->rank);
  if (tfx_node_axis(g, n, "axis", 0, x->rank, axis)) return TFX_ERR;
  for (int i = 0; i < x->rank; i++)
    if (i != *axis && ind->dims[i] > x->dims[i])
      return tfx_node_error(g, n, "indices exceed data in dim %d", i);
  if (x->dims[*axis] == 0 && tfx_numel(ind->rank, ind->dims) > 0)
    return tfx_node_error(g, n, "indexes an empty axis");
  if (scatter) {
    TfxValue *u = tfx_shp_need_in(g, n, 2);
    Reduction r;
    if (!u) return TFX_ERR;
    if (u->dtype != x->dtype)
      return tfx_node_error(g, n, "updates are %s, data is %s", tfx_dtype_name(u->dtype),
                            tfx_dtype_name(x->dtype));
    if (u->rank != ind->rank || memcmp(u->dims, ind->dims, sizeof(int64_t) * (size_t)u->rank))
      return tfx_node_error(g, n, "updates and indices differ in shape");
    if (reduction_attr(g, n, &r)) return TFX_ERR;
  }
  return TFX_OK;
}

static TfxStatus elements_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *y,
                               bool scatter) {
  const TfxTensor *x = in[0], *ind = in[1];
  int a = tfx_axis(tfx_attr_int(n, "axis", 0), x->rank);
  int64_t idx[TFX_MAX_RANK], ni = tfx_tensor_numel(ind);
  size_t es = tfx_dtype_bytes(x->dtype);
  Reduction r = RED_NONE;
  if (scatter) {
    if (reduction_attr(g, n, &r)) return TFX_ERR;
    if (tfx_tensor_bytes(y)) memcpy(y->data, x->data, tfx_tensor_bytes(y));
  }
  for (int64_t o = 0; o < ni; o++) {
    tfx_unravel(o, ind->rank, ind->dims, idx);
    int64_t k = tfx_tensor_get_i64(ind, o);
    const int64_t given = k;
    if (!tfx_shp_fix_index(&k, x->dims[a])) return oob(g, n, given, x->dims[a]);
    idx[a] = k;
    int64_t d = tfx_ravel(x->rank, idx, x->dims);
    if (scatter)
      reduce_elem(y, d, in[2], o, r);
    else
      copy_elem(y->data, o, x->data, d, es);
  }
  return TFX_OK;
}

static TfxStatus elements_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n, bool scatter) {
  TfxValue *x = tfx_node_in(g, n, 0), *ind = tfx_node_in(g, n, 1);
  int a = tfx_axis(tfx_attr_int(n, "axis", 0), x->rank), r = x->rank;
  int64_t xs[TFX_MAX_RANK], is[TFX_MAX_RANK];
  tfx_strides(r, x->dims, xs);
  tfx_strides(r, ind->dims, is);
  TfxValue *yv = tfx_node_out(g, n, 0);
  if (tfx_numel(yv->rank, yv->dims) == 0) return TFX_OK;
  const char *y = tfx_c_var(e, n->outputs[0]), *xv = tfx_c_var(e, n->inputs[0]);
  Reduction red = RED_NONE;
  if (scatter) {
    if (reduction_attr(g, n, &red)) return TFX_ERR;
    int64_t bytes = tfx_numel(r, x->dims) * (int64_t)tfx_dtype_bytes(x->dtype);
    tfx_c_line(e, "memcpy(%s, %s, %lld);", y, xv, (long long)bytes);
  }
  if (tfx_numel(r, ind->dims) == 0) return TFX_OK;
  char ii[512], pi[512], ib[600], dst[1200], src[1200];
  tfx_c_index(ii, r, is, 0);
  int64_t part[TFX_MAX_RANK];
  memcpy(part, xs, sizeof part);
  part[a] = 0;
  tfx_c_index(pi, r, part, 0);
  tfx_c_loops_begin(e, r, ind->dims);
  tfx_c_line(e, "int64_t k = %s;", idx_expr(ib, tfx_c_var(e, n->inputs[1]), ii));
  tfx_shp_emit_fix_index(e, "k", x->dims[a]);
  if (scatter) {
    snprintf(dst, sizeof dst, "%s[%s + k * %lld]", y, pi, (long long)xs[a]);
    snprintf(src, sizeof src, "%s[%s]", tfx_c_var(e, n->inputs[2]), ii);
    emit_reduce(e, x->dtype, dst, src, red);
  } else {
    tfx_c_line(e, "%s[%s] = %s[%s + k * %lld];", y, ii, xv, pi, (long long)xs[a]);
  }
  tfx_c_loops_end(e, r);
  return TFX_OK;
}

/* ---- GatherND, ScatterND -------------------------------------------------------------- */

typedef struct {
  int b, q, m;           /* batch dims, indices rank, index tuple length */
  int64_t batch, tuples; /* tuples per batch */
  int64_t slice;         /* elements per gathered / scattered slice */
} NDPlan;

static TfxStatus nd_plan(TfxGraph *g, const TfxNode *n, const TfxValue *x, const TfxValue *ind, bool scatter,
                         NDPlan *p) {
  p->b = scatter ? 0 : (int)tfx_attr_int(n, "batch_dims", 0);
  p->q = ind->rank;
  if (p->q < 1) return tfx_node_error(g, n, "indices must have rank >= 1");
  if (x->rank < 1) return tfx_node_error(g, n, "data must have rank >= 1");
  if (p->b < 0 || p->b >= p->q || p->b >= x->rank)
    return tfx_node_error(g, n, "batch_dims %d invalid for these ranks", p->b);
  int64_t m = ind->dims[p->q - 1];
  if (m < 1 || m > x->rank - p->b)
    return tfx_node_error(g, n, "index tuples of length %lld do not fit data of rank %d", (long long)m,
                          x->rank);
  p->m = (int)m;
  for (int i = 0; i < p->b; i++)
    if (ind->dims[i] != x->dims[i])
      return tfx_node_error(g, n, "batch dim %d differs between data and indices", i);
  for (int j = 0; j < p->m; j++)
    if (x->dims[p->b + j] == 0 && tfx_numel(ind->rank, ind->dims) > 0)
      return tfx_node_error(g, n, "indexes an empty axis");
  p->batch = prod(ind->dims, 0, p->b);
  p->tuples = prod(ind->dims, p->b, p->q - 1);
  p->slice = prod(x->dims, p->b + p->m, x->rank);
  return TFX_OK;
}

static TfxStatus nd_infer(TfxGraph *g, TfxNode *n, bool scatter) {
  TfxValue *x = tfx_shp_need_in(g, n, 0), *ind = tfx_shp_need_in(g, n, 1);
  if (!x || !ind) return TFX_ERR;
  if (tfx_shp_check_dtype(g, n, x->dtype, "data") || check_indices(g, n, ind, "indices")) return TFX_ERR;
  NDPlan p;
  if (nd_plan(g, n, x, ind, scatter, &p)) return TFX_ERR;
  int64_t dims[2 * TFX_MAX_RANK];
  int r = 0;
  for (int i = 0; i < p.q - 1; i++) dims[r++] = ind->dims[i];
  for (int i = p.b + p.m; i < x->rank; i++) dims[r++] = x->dims[i];
  if (!scatter) {
    if (r > TFX_MAX_RANK) return tfx_node_error(g, n, "output rank %d exceeds %d", r, TFX_MAX_RANK);
    tfx_node_set_out(g, n, 0, x->dtype, r, dims);
    return TFX_OK;
  }
  TfxValue *u = tfx_shp_need_in(g, n, 2);
  Reduction red;
  if (!u) return TFX_ERR;
  if (u->dtype != x->dtype)
    return tfx_node_error(g, n, "updates are %s, data is %s", tfx_dtype_name(u->dtype),
                          tfx_dtype_name(x->dtype));
  if (u->rank != r || memcmp(u->dims, dims, sizeof(int64_t) * (size_t)r))
    return tfx_node_error(g, n, "updates must have shape indices.shape[:-1] + data.shape[k:]");
  if (reduction_attr(g, n, &red)) return TFX_ERR;
  tfx_node_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return TFX_OK;
}

static TfxStatus nd_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *y,
                         bool scatter) {
  const TfxTensor *x = in[0], *ind = in[1];
  TfxValue xv = {.rank = x->rank}, iv = {.rank = ind->rank};
  memcpy(xv.dims, x->dims, sizeof xv.dims);
  memcpy(iv.dims, ind->dims, sizeof iv.dims);
  NDPlan p;
  if (nd_plan(g, n, &xv, &iv, scatter, &p)) return TFX_ERR;
  Reduction r = RED_NONE;
  if (scatter) {
    if (reduction_attr(g, n, &r)) return TFX_ERR;
    if (tfx_tensor_bytes(y)) memcpy(y->data, x->data, tfx_tensor_bytes(y));
  }
  size_t es = tfx_dtype_bytes(x->dtype);
  int64_t sidx[TFX_MAX_RANK];
  for (int64_t bb = 0; bb < p.batch; bb++) {
    tfx_unravel(bb, p.b, x->dims, sidx);
    for (int64_t t = 0; t < p.tuples; t++) {
      int64_t tup = bb * p.tuples + t;
      for (int j = 0; j < p.m; j++) {
        int64_t k = tfx_tensor_get_i64(ind, tup * p.m + j), d = x->dims[p.b + j];
        const int64_t given = k;
        if (!tfx_shp_fix_index(&k, d)) return oob(g, n, given, d);
        sidx[p.b + j] = k;
      }
      for (int i = p.b + p.m; i < x->rank; i++) sidx[i] = 0;
      int64_t base = tfx_ravel(x->rank, sidx, x->dims);
      for (int64_t s = 0; s < p.slice; s++) {
        if (scatter)
          reduce_elem(y, base + s, in[2], tup * p.slice + s, r);
        else
          copy_elem(y->data, tup * p.slice + s, x->data, base + s, es);
      }
    }
  }
  return TFX_OK;
}

static TfxStatus nd_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n, bool scatter) {
  TfxValue *x = tfx_node_in(g, n, 0), *ind = tfx_node_in(g, n, 1);
  NDPlan p;
  if (nd_plan(g, n, x, ind, scatter, &p)) return TFX_ERR;
  Reduction red = RED_NONE;
  TfxValue *yv = tfx_node_out(g, n, 0);
  if (tfx_numel(yv->rank, yv->dims) == 0) return TFX_OK;
  const char *y = tfx_c_var(e, n->outputs[0]), *xv = tfx_c_var(e, n->inputs[0]);
  int64_t xs[TFX_MAX_RANK];
  tfx_strides(x->rank, x->dims, xs);
  size_t es = tfx_dtype_bytes(x->dtype);
  if (scatter) {
    if (reduction_attr(g, n, &red)) return TFX_ERR;
    tfx_c_line(e, "memcpy(%s, %s, %lld);", y, xv, (long long)(tfx_numel(x->rank, x->dims) * (int64_t)es));
  }
  if (p.batch * p.tuples == 0 || p.slice == 0) return TFX_OK;
  const char *iv = tfx_c_var(e, n->inputs[1]);
  int64_t bstride = p.b ? xs[p.b - 1] : 0;
  tfx_c_line(e, "for (int64_t bb = 0; bb < %lld; bb++) {", (long long)p.batch);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "for (int64_t t = 0; t < %lld; t++) {", (long long)p.tuples);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const int64_t tup = bb * %lld + t;", (long long)p.tuples);
  tfx_c_line(e, "int64_t off = bb * %lld;", (long long)bstride);
  char ib[600], at[64], dst[256], src[256];
  for (int j = 0; j < p.m; j++) {
    snprintf(at, sizeof at, "tup * %d + %d", p.m, j);
    tfx_c_line(e, "{");
    tfx_c_indent(e, 1);
    tfx_c_line(e, "int64_t k = %s;", idx_expr(ib, iv, at));
    tfx_shp_emit_fix_index(e, "k", x->dims[p.b + j]);
    tfx_c_line(e, "off += k * %lld;", (long long)xs[p.b + j]);
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  if (!scatter) {
    if (p.slice == 1)
      tfx_c_line(e, "%s[tup] = %s[off];", y, xv);
    else
      tfx_c_line(e, "memcpy(%s + tup * %lld, %s + off, %lld);", y, (long long)p.slice, xv,
                 (long long)(p.slice * (int64_t)es));
  } else {
    const char *u = tfx_c_var(e, n->inputs[2]);
    if (red == RED_NONE && p.slice > 1) {
      tfx_c_line(e, "memcpy(%s + off, %s + tup * %lld, %lld);", y, u, (long long)p.slice,
                 (long long)(p.slice * (int64_t)es));
    } else {
      tfx_c_line(e, "for (int64_t s = 0; s < %lld; s++) {", (long long)p.slice);
      tfx_c_indent(e, 1);
      snprintf(dst, sizeof dst, "%s[off + s]", y);
      snprintf(src, sizeof src, "%s[tup * %lld + s]", u, (long long)p.slice);
      emit_reduce(e, x->dtype, dst, src, red);
      tfx_c_indent(e, -1);
      tfx_c_line(e, "}");
    }
  }
  tfx_c_close(e, 2);
  return TFX_OK;
}

/* ---- TensorScatter: write update into a cache at per-batch positions ---------------- */

typedef struct {
  int axis;
  bool circular;
  int64_t prefix, per_batch, cap, len, suffix;
} TSPlan;

static TfxStatus ts_plan(TfxGraph *g, const TfxNode *n, const TfxValue *c, const TfxValue *u,
                         const TfxValue *w, TSPlan *p) {
  const char *mode = tfx_attr_string(n, "mode", "linear");
  if (strcmp(mode, "linear") && strcmp(mode, "circular"))
    return tfx_node_error(g, n, "unsupported mode '%s'", mode);
  p->circular = !strcmp(mode, "circular");
  if (c->rank < 2) return tfx_node_error(g, n, "past_cache must have rank >= 2");
  if (tfx_node_axis(g, n, "axis", -2, c->rank, &p->axis)) return TFX_ERR;
  if (p->axis == 0) return tfx_node_error(g, n, "axis cannot be the batch dimension");
  if (u->dtype != c->dtype) return tfx_node_error(g, n, "update and past_cache differ in dtype");
  if (u->rank != c->rank) return tfx_node_error(g, n, "update and past_cache differ in rank");
  for (int i = 0; i < c->rank; i++)
    if (i != p->axis ? u->dims[i] != c->dims[i] : u->dims[i] > c->dims[i])
      return tfx_node_error(g, n, "update does not fit past_cache in dim %d", i);
  if (w) {
    if (!tfx_dtype_is_int(w->dtype)) return tfx_node_error(g, n, "write_indices must be integers");
    if (tfx_numel(w->rank, w->dims) != c->dims[0])
      return tfx_node_error(g, n, "write_indices must hold one index per batch entry");
  }
  p->prefix = prod(c->dims, 0, p->axis);
  p->per_batch = prod(c->dims, 1, p->axis);
  p->cap = c->dims[p->axis];
  p->len = u->dims[p->axis];
  p->suffix = prod(c->dims, p->axis + 1, c->rank);
  return TFX_OK;
}

static TfxStatus ts_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *c = tfx_shp_need_in(g, n, 0), *u = tfx_shp_need_in(g, n, 1);
  TfxValue *w = n->n_inputs > 2 ? tfx_node_in(g, n, 2) : NULL;
  TSPlan p;
  if (!c || !u || tfx_shp_check_dtype(g, n, c->dtype, "past_cache")) return TFX_ERR;
  if (ts_plan(g, n, c, u, w, &p)) return TFX_ERR;
  tfx_node_set_out(g, n, 0, c->dtype, c->rank, c->dims);
  return TFX_OK;
}

static TfxStatus ts_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *y) {
  TfxValue c = {.dtype = in[0]->dtype, .rank = in[0]->rank}, u = {.dtype = in[1]->dtype, .rank = in[1]->rank};
  TfxValue w = {0};
  memcpy(c.dims, in[0]->dims, sizeof c.dims);
  memcpy(u.dims, in[1]->dims, sizeof u.dims);
  const TfxTensor *wi = n->n_inputs > 2 ? in[2] : NULL;
  if (wi) w.dtype = wi->dtype, w.rank = wi->rank, memcpy(w.dims, wi->dims, sizeof w.dims);
  TSPlan p;
  if (ts_plan(g, n, &c, &u, wi ? &w : NULL, &p)) return TFX_ERR;
  size_t es = tfx_dtype_bytes(y->dtype);
  if (tfx_tensor_bytes(y)) memcpy(y->data, in[0]->data, tfx_tensor_bytes(y));
  for (int64_t pre = 0; pre < p.prefix; pre++) {
    int64_t start = wi ? tfx_tensor_get_i64(wi, pre / p.per_batch) : 0;
    for (int64_t s = 0; s < p.len; s++) {
      int64_t pos = start + s;
      if (p.circular) pos = ((pos % p.cap) + p.cap) % p.cap;
      if (pos < 0 || pos >= p.cap) return oob(g, n, pos, p.cap);
      for (int64_t k = 0; k < p.suffix; k++)
        copy_elem(y->data, (pre * p.cap + pos) * p.suffix + k, in[1]->data, (pre * p.len + s) * p.suffix + k,
                  es);
    }
  }
  return TFX_OK;
}

static TfxStatus ts_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  TfxValue *c = tfx_node_in(g, n, 0), *u = tfx_node_in(g, n, 1);
  TfxValue *w = n->n_inputs > 2 ? tfx_node_in(g, n, 2) : NULL;
  TSPlan p;
  if (ts_plan(g, n, c, u, w, &p)) return TFX_ERR;
  size_t es = tfx_dtype_bytes(c->dtype);
  int64_t bytes = tfx_numel(c->rank, c->dims) * (int64_t)es;
  if (bytes == 0) return TFX_OK;
  const char *y = tfx_c_var(e, n->outputs[0]);
  tfx_c_line(e, "memcpy(%s, %s, %lld);", y, tfx_c_var(e, n->inputs[0]), (long long)bytes);
  if (p.prefix * p.len * p.suffix == 0) return TFX_OK;
  char ib[600], at[64];
  tfx_c_line(e, "for (int64_t pre = 0; pre < %lld; pre++) {", (long long)p.prefix);
  tfx_c_indent(e, 1);
  if (w) {
    snprintf(at, sizeof at, "pre / %lld", (long long)p.per_batch);
    tfx_c_line(e, "const int64_t start = %s;", idx_expr(ib, tfx_c_var(e, n->inputs[2]), at));
  } else {
    tfx_c_line(e, "const int64_t start = 0;");
  }
  tfx_c_line(e, "for (int64_t s = 0; s < %lld; s++) {", (long long)p.len);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "int64_t pos = start + s;");
  if (p.circular) {
    tfx_c_line(e, "pos %%= %lld;", (long long)p.cap);
    tfx_c_line(e, "if (pos < 0) pos += %lld;", (long long)p.cap);
  } else {
    tfx_c_line(e, "if (pos < 0 || pos >= %lld) continue; /* out of the cache: dropped */", (long long)p.cap);
  }
  tfx_c_line(e, "memcpy(%s + (pre * %lld + pos) * %lld, %s + (pre * %lld + s) * %lld, %lld);", y,
             (long long)p.cap, (long long)p.suffix, tfx_c_var(e, n->inputs[1]), (long long)p.len,
             (long long)p.suffix, (long long)(p.suffix * (int64_t)es));
  tfx_c_close(e, 2);
  return TFX_OK;
}

/* ---- OneHot ------------------------------------------------------------------------------ */

static TfxStatus onehot_depth(TfxGraph *g, const TfxNode *n, const TfxTensor *d, int64_t *depth) {
  if (!d) return tfx_node_error(g, n, "input 'depth' must be a compile-time constant");
  if (tfx_tensor_numel(d) != 1) return tfx_node_error(g, n, "depth must hold one value");
  double v = tfx_tensor_get_f64(d, 0);
  if (!(v >= 1 && v < 1e9)) return tfx_node_error(g, n, "depth %g is invalid", v);
  *depth = tfx_dtype_is_float(d->dtype) ? (int64_t)v : tfx_tensor_get_i64(d, 0);
  return TFX_OK;
}

static TfxStatus onehot_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *ind = tfx_shp_need_in(g, n, 0), *dv = tfx_shp_need_in(g, n, 1), *val = tfx_shp_need_in(g, n, 2);
  if (!ind || !dv || !val) return TFX_ERR;
  if (!tfx_dtype_is_int(ind->dtype) && !tfx_dtype_is_float(ind->dtype))
    return tfx_node_error(g, n, "indices must be numeric, not %s", tfx_dtype_name(ind->dtype));
  if (tfx_shp_check_dtype(g, n, val->dtype, "values")) return TFX_ERR;
  if (tfx_numel(val->rank, val->dims) != 2) return tfx_node_error(g, n, "values must hold [off, on]");
  int64_t depth;
  if (onehot_depth(g, n, tfx_node_const_in(g, n, 1), &depth)) return TFX_ERR;
  int r = ind->rank + 1, a;
  if (r > TFX_MAX_RANK) return tfx_node_error(g, n, "output rank %d exceeds %d", r, TFX_MAX_RANK);
  if (tfx_node_axis(g, n, "axis", -1, r, &a)) return TFX_ERR;
  int64_t dims[TFX_MAX_RANK];
  for (int i = 0, k = 0; i < r; i++) dims[i] = i == a ? depth : ind->dims[k++];
  tfx_node_set_out(g, n, 0, val->dtype, r, dims);
  return TFX_OK;
}

static TfxStatus onehot_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *y) {
  const TfxTensor *ind = in[0];
  int64_t depth, idx[TFX_MAX_RANK], ny = tfx_tensor_numel(y);
  if (onehot_depth(g, n, in[1], &depth)) return TFX_ERR;
  int a = tfx_axis(tfx_attr_int(n, "axis", -1), y->rank);
  size_t es = tfx_dtype_bytes(y->dtype);
  for (int64_t o = 0; o < ny; o++) {
    tfx_unravel(o, y->rank, y->dims, idx);
    int64_t d = idx[a];
    for (int i = a; i + 1 < y->rank; i++) idx[i] = idx[i + 1];
    int64_t pos = tfx_ravel(ind->rank, idx, ind->dims);
    bool on;
    if (tfx_dtype_is_float(ind->dtype)) {
      double v = tfx_tensor_get_f64(ind, pos);
      if (v < 0) v += (double)depth;
      on = v == (double)d;
    } else {
      int64_t v = tfx_tensor_get_i64(ind, pos);
      if (v < 0) v += depth;
      on = v == d;
    }
    copy_elem(y->data, o, in[2]->data, on ? 1 : 0, es);
  }
  return TFX_OK;
}

static TfxStatus onehot_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  TfxValue *ind = tfx_node_in(g, n, 0), *yv = tfx_node_out(g, n, 0);
  int64_t depth;
  if (onehot_depth(g, n, tfx_node_const_in(g, n, 1), &depth)) return TFX_ERR;
  int a = tfx_axis(tfx_attr_int(n, "axis", -1), yv->rank);
  int64_t outer = prod(ind->dims, 0, a), inner = prod(ind->dims, a, ind->rank);
  if (outer * inner == 0) return TFX_OK;
  const char *y = tfx_c_var(e, n->outputs[0]), *iv = tfx_c_var(e, n->inputs[0]);
  const char *vv = tfx_c_var(e, n->inputs[2]), *ct = tfx_dtype_ctype(yv->dtype);
  char at[600], lb[256];
  tfx_c_line(e, "const %s off = %s[0], on = %s[1];", ct, vv, vv);
  tfx_c_line(e, "for (int64_t o = 0; o < %lld; o++) {", (long long)outer);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "for (int64_t i = 0; i < %lld; i++) {", (long long)inner);
  tfx_c_indent(e, 1);
  snprintf(at, sizeof at, "%s[o * %lld + i]", iv, (long long)inner);
  if (tfx_dtype_is_float(ind->dtype)) {
    /* a fractional index matches no position */
    tfx_c_line(e, "double v = (double)%s;", tfx_c_load(e, ind->dtype, at, lb));
    tfx_c_line(e, "if (v < 0) v += %lld;", (long long)depth);
    tfx_c_line(e, "const int64_t k = v >= 0 && v < %lld && v == floor(v) ? (int64_t)v : -1;",
               (long long)depth);
  } else {
    tfx_c_line(e, "int64_t k = (int64_t)%s;", at);
    tfx_c_line(e, "if (k < 0) k += %lld;", (long long)depth);
  }
  tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) %s[(o * %lld + d) * %lld + i] = d == k ? on : off;",
             (long long)depth, y, (long long)depth, (long long)inner);
  tfx_c_close(e, 2);
  return TFX_OK;
}

/* ---- ReverseSequence ------------------------------------------------------------------- */

static TfxStatus revseq_axes(TfxGraph *g, const TfxNode *n, int rank, int *ba, int *ta) {
  int64_t b = tfx_attr_int(n, "batch_axis", 1), t = tfx_attr_int(n, "time_axis", 0);
  if (rank < 2) return tfx_node_error(g, n, "input must have rank >= 2");
  if ((b != 0 && b != 1) || (t != 0 && t != 1) || b == t)
    return tfx_node_error(g, n, "batch_axis and time_axis must be 0 and 1 in some order");
  *ba = (int)b, *ta = (int)t;
  return TFX_OK;
}

static TfxStatus revseq_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *x = tfx_shp_need_in(g, n, 0), *sl = tfx_shp_need_in(g, n, 1);
  int ba, ta;
  if (!x || !sl) return TFX_ERR;
  if (tfx_shp_check_dtype(g, n, x->dtype, "input") || check_indices(g, n, sl, "sequence_lens"))
    return TFX_ERR;
  if (revseq_axes(g, n, x->rank, &ba, &ta)) return TFX_ERR;
  if (sl->rank != 1 || sl->dims[0] != x->dims[ba])
    return tfx_node_error(g, n, "sequence_lens must be 1-D with one length per batch entry");
  tfx_node_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return TFX_OK;
}

static TfxStatus revseq_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *y) {
  const TfxTensor *x = in[0];
  int ba, ta;
  if (revseq_axes(g, n, x->rank, &ba, &ta)) return TFX_ERR;
  int64_t idx[TFX_MAX_RANK], ny = tfx_tensor_numel(y), steps = x->dims[ta];
  size_t es = tfx_dtype_bytes(x->dtype);
  for (int64_t o = 0; o < ny; o++) {
    tfx_unravel(o, y->rank, y->dims, idx);
    int64_t len = tfx_tensor_get_i64(in[1], idx[ba]);
    if (len < 0 || len > steps)
      return tfx_node_error(g, n, "sequence length %lld outside [0, %lld]", (long long)len, (long long)steps);
    if (idx[ta] < len) idx[ta] = len - 1 - idx[ta];
    copy_elem(y->data, o, x->data, tfx_ravel(x->rank, idx, x->dims), es);
  }
  return TFX_OK;
}

static TfxStatus revseq_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  TfxValue *x = tfx_node_in(g, n, 0);
  int ba, ta, r = x->rank;
  if (revseq_axes(g, n, r, &ba, &ta)) return TFX_ERR;
  if (tfx_numel(r, x->dims) == 0) return TFX_OK;
  int64_t xs[TFX_MAX_RANK], part[TFX_MAX_RANK];
  tfx_strides(r, x->dims, xs);
  memcpy(part, xs, sizeof part);
  part[ta] = 0;
  char ii[512], pi[512];
  tfx_c_index(ii, r, xs, 0);
  tfx_c_index(pi, r, part, 0);
  int64_t steps = x->dims[ta];
  tfx_c_loops_begin(e, r, x->dims);
  tfx_c_line(e, "int64_t len = (int64_t)%s[i%d];", tfx_c_var(e, n->inputs[1]), ba);
  tfx_c_line(e, "if (len < 0) len = 0;");
  tfx_c_line(e, "if (len > %lld) len = %lld;", (long long)steps, (long long)steps);
  tfx_c_line(e, "const int64_t t = i%d < len ? len - 1 - i%d : i%d;", ta, ta, ta);
  tfx_c_line(e, "%s[%s] = %s[%s + t * %lld];", tfx_c_var(e, n->outputs[0]), ii, tfx_c_var(e, n->inputs[0]),
             pi, (long long)xs[ta]);
  tfx_c_loops_end(e, r);
  return TFX_OK;
}

/* ---- dispatch --------------------------------------------------------------------------- */

TfxStatus tfx_shape_index_infer(TfxGraph *g, TfxNode *n) {
  int axis;
  switch (n->op) {
  case TFX_OP_Gather: return gather_infer(g, n);
  case TFX_OP_GatherElements:
  case TFX_OP_ScatterElements:
  case TFX_OP_Scatter: {
    bool scatter = n->op != TFX_OP_GatherElements;
    if (elements_check(g, n, scatter, &axis)) return TFX_ERR;
    TfxValue *src = tfx_node_in(g, n, scatter ? 0 : 1);
    tfx_node_set_out(g, n, 0, tfx_node_in(g, n, 0)->dtype, src->rank, src->dims);
    return TFX_OK;
  }
  case TFX_OP_GatherND: return nd_infer(g, n, false);
  case TFX_OP_ScatterND: return nd_infer(g, n, true);
  case TFX_OP_TensorScatter: return ts_infer(g, n);
  case TFX_OP_OneHot: return onehot_infer(g, n);
  case TFX_OP_ReverseSequence: return revseq_infer(g, n);
  default: return tfx_node_error(g, n, "not an index op of the shape family");
  }
}

TfxStatus tfx_shape_index_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  switch (n->op) {
  case TFX_OP_Gather: return gather_eval(g, n, in, out);
  case TFX_OP_GatherElements: return elements_eval(g, n, in, out, false);
  case TFX_OP_ScatterElements:
  case TFX_OP_Scatter: return elements_eval(g, n, in, out, true);
  case TFX_OP_GatherND: return nd_eval(g, n, in, out, false);
  case TFX_OP_ScatterND: return nd_eval(g, n, in, out, true);
  case TFX_OP_TensorScatter: return ts_eval(g, n, in, out);
  case TFX_OP_OneHot: return onehot_eval(g, n, in, out);
  case TFX_OP_ReverseSequence: return revseq_eval(g, n, in, out);
  default: return tfx_node_error(g, n, "not an index op of the shape family");
  }
}

TfxStatus tfx_shape_index_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  switch (n->op) {
  case TFX_OP_Gather: return gather_emit(e, g, n);
  case TFX_OP_GatherElements: return elements_emit(e, g, n, false);
  case TFX_OP_ScatterElements:
  case TFX_OP_Scatter: return elements_emit(e, g, n, true);
  case TFX_OP_GatherND: return nd_emit(e, g, n, false);
  case TFX_OP_ScatterND: return nd_emit(e, g, n, true);
  case TFX_OP_TensorScatter: return ts_emit(e, g, n);
  case TFX_OP_OneHot: return onehot_emit(e, g, n);
  case TFX_OP_ReverseSequence: return revseq_emit(e, g, n);
  default: return tfx_node_error(g, n, "not an index op of the shape family");
  }
}
