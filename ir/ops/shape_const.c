/* shape_const.c — the shape-family ops whose output depends only on input
 * shapes and compile-time constants: Shape, Size, Constant, ConstantOfShape,
 * Range, EyeLike.  The fold pass normally turns them into constants; when
 * one reaches the C backend its value is computed here and printed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ops/shape_priv.h"



static void shape_range(const TfxNode *n, int r, int64_t *start, int64_t *end) {
  int64_t b = tfx_attr_int(n, "start", 0), e = tfx_attr_int(n, "end", r);
  if (b < 0) b += r;
  if (e < 0) e += r;
  *start = clamp64(b, 0, r);
  *end = clamp64(e, 0, r);
  if (*end < *start) *end = *start;
}

/* The value of a Constant node, built in the graph arena. */
static TfxStatus constant_value(TfxGraph *g, const TfxNode *n, const TfxTensor **out) {
  static const char *unsupported[] = {"sparse_value", "value_string", "value_strings"};
  for (size_t i = 0; i < sizeof unsupported / sizeof *unsupported; i++)
    if (tfx_attr(n, unsupported[i]))
      return tfx_node_error(g, n, "attribute '%s' is not supported", unsupported[i]);
  const TfxAttr *a;
  if ((a = tfx_attr(n, "value"))) {
    if (a->kind != TFX_ATTR_TENSOR || !a->t) return tfx_node_error(g, n, "attribute 'value' is not a tensor");
    if (tfx_shp_check_dtype(g, n, a->t->dtype, "attribute 'value'")) return TFX_ERR;
    *out = a->t;
    return TFX_OK;
  }
  static const struct {
    const char *name;
    TfxAttrKind kind;
  } kinds[] = {{"value_float", TFX_ATTR_FLOAT},
               {"value_int", TFX_ATTR_INT},
               {"value_floats", TFX_ATTR_FLOATS},
               {"value_ints", TFX_ATTR_INTS}};
  for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
    if ((a = tfx_attr(n, kinds[i].name)) && a->kind != kinds[i].kind)
      return tfx_node_error(g, n, "attribute '%s' has the wrong type", kinds[i].name);
  TfxTensor *t;
  if ((a = tfx_attr(n, "value_float"))) {
    t = tfx_graph_new_tensor(g, TFX_F32, 0, NULL);
    tfx_tensor_set_f64(t, 0, a->f);
  } else if ((a = tfx_attr(n, "value_int"))) {
    t = tfx_graph_new_tensor(g, TFX_I64, 0, NULL);
    tfx_tensor_set_i64(t, 0, a->i);
  } else if ((a = tfx_attr(n, "value_floats"))) {
    int64_t d = a->n;
    t = tfx_graph_new_tensor(g, TFX_F32, 1, &d);
    for (int i = 0; i < a->n; i++) tfx_tensor_set_f64(t, i, a->floats[i]);
  } else if ((a = tfx_attr(n, "value_ints"))) {
    int64_t d = a->n;
    t = tfx_graph_new_tensor(g, TFX_I64, 1, &d);
    for (int i = 0; i < a->n; i++) tfx_tensor_set_i64(t, i, a->ints[i]);
  } else {
    return tfx_node_error(g, n, "no value attribute");
  }
  *out = t;
  return TFX_OK;
}

typedef struct {
  TfxDtype dt;
  int rank;
  int64_t dims[TFX_MAX_RANK];
  const TfxTensor *value; /* one element; NULL means float32 0 */
} COSPlan;

static TfxStatus cos_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, COSPlan *p) {
  int cnt = tfx_shp_ins_ints(g, n, s, 0, "input", p->dims, TFX_MAX_RANK);
  if (cnt < 0) return TFX_ERR;
  for (int i = 0; i < cnt; i++)
    if (p->dims[i] < 0) return tfx_node_error(g, n, "shape[%d] = %lld is negative", i, (long long)p->dims[i]);
  p->rank = cnt;
  p->value = NULL;
  p->dt = TFX_F32;
  const TfxAttr *a = tfx_attr(n, "value");
  if (a) {
    if (a->kind != TFX_ATTR_TENSOR || !a->t) return tfx_node_error(g, n, "attribute 'value' is not a tensor");
    if (tfx_tensor_numel(a->t) != 1) return tfx_node_error(g, n, "attribute 'value' must hold one element");
    if (tfx_shp_check_dtype(g, n, a->t->dtype, "attribute 'value'")) return TFX_ERR;
    p->value = a->t;
    p->dt = a->t->dtype;
  }
  return TFX_OK;
}

typedef struct {
  TfxDtype dt;
  int64_t count;
  double fstart, fdelta;  /* float dtypes */
  int64_t istart, idelta; /* integer dtypes */
  bool stash_float;       /* f16/bf16 computed in float32 (stash_type = 1) */
} RangePlan;

static TfxStatus range_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, RangePlan *p) {
  static const char *names[3] = {"start", "limit", "delta"};
  for (int k = 0; k < 3; k++) {
    const TfxTensor *t = tfx_shp_ins_get(s, k);
    if (!t) return tfx_node_error(g, n, "input '%s' is missing", names[k]);
    if (!s->known[k]) return tfx_node_error(g, n, "input '%s' must be a compile-time constant", names[k]);
    if (tfx_tensor_numel(t) != 1) return tfx_node_error(g, n, "input '%s' must be a scalar", names[k]);
    if (t->dtype != s->in[0]->dtype) return tfx_node_error(g, n, "inputs must share one dtype");
  }
  p->dt = s->in[0]->dtype;
  if (tfx_dtype_is_float(p->dt)) {
    double b = tfx_tensor_get_f64(s->in[0], 0), l = tfx_tensor_get_f64(s->in[1], 0);
    double d = tfx_tensor_get_f64(s->in[2], 0);
    if (d == 0) return tfx_node_error(g, n, "delta is 0");
    double c = ceil((l - b) / d);
    if (!(c < 1e9) && !(c <= 0)) return tfx_node_error(g, n, "range has too many elements");
    p->count = c > 0 ? (int64_t)c : 0;
    p->fstart = b, p->fdelta = d;
    p->stash_float = (p->dt == TFX_F16 || p->dt == TFX_BF16) && tfx_attr_int(n, "stash_type", 11) == 1;
  } else if (tfx_dtype_is_int(p->dt) && tfx_dtype_is_signed(p->dt)) {
    int64_t b = tfx_tensor_get_i64(s->in[0], 0), l = tfx_tensor_get_i64(s->in[1], 0);
    int64_t d = tfx_tensor_get_i64(s->in[2], 0);
    if (d == 0) return tfx_node_error(g, n, "delta is 0");
    double approx = ((double)l - (double)b) / (double)d;
    if (approx > 1e9) return tfx_node_error(g, n, "range has too many elements");
    /* in uint64: l - b and -d may not fit int64 */
    uint64_t c = 0;
    if (d > 0 && l > b) c = ((uint64_t)l - (uint64_t)b - 1) / (uint64_t)d + 1;
    if (d < 0 && l < b) c = ((uint64_t)b - (uint64_t)l - 1) / (0 - (uint64_t)d) + 1;
    if (c > 1000000000u) return tfx_node_error(g, n, "range has too many elements");
    p->count = (int64_t)c;
    p->istart = b, p->idelta = d;
  } else {
    return tfx_node_error(g, n, "unsupported dtype %s", tfx_dtype_name(p->dt));
  }
  return TFX_OK;
}

static void range_fill(const RangePlan *p, TfxTensor *out) {
  for (int64_t i = 0; i < p->count; i++) {
    if (!tfx_dtype_is_float(p->dt)) {
      /* wraps like the ONNX reference's int64 arithmetic, without signed overflow */
      tfx_tensor_set_i64(out, i, (int64_t)((uint64_t)p->istart + (uint64_t)i * (uint64_t)p->idelta));
    } else if (p->stash_float) {
      float b = (float)p->fstart, d = (float)((float)(b + (float)p->fdelta) - b);
      tfx_tensor_set_f64(out, i, (float)(b + (float)i * d));
    } else {
      tfx_tensor_set_f64(out, i, p->fstart + (double)i * p->fdelta);
    }
  }
}

static TfxStatus eyelike_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, TfxDtype *dt, int64_t *k) {
  const TfxTensor *x = s->in[0];
  if (x->rank != 2) return tfx_node_error(g, n, "input must be 2-D, not rank %d", x->rank);
  *dt = x->dtype;
  const TfxAttr *a = tfx_attr(n, "dtype");
  if (a) {
    *dt = tfx_dtype_from_onnx((int)a->i);
    if (*dt == TFX_UNDEF) return tfx_node_error(g, n, "unsupported dtype code %lld", (long long)a->i);
  }
  if (tfx_shp_check_dtype(g, n, *dt, "output")) return TFX_ERR;
  *k = tfx_attr_int(n, "k", 0);
  return TFX_OK;
}

/* ---- infer, eval -------------------------------------------------------------- */

TfxStatus tfx_shape_const_infer(TfxGraph *g, TfxNode *n) {
  TfxShpIns s;
  int64_t dims[TFX_MAX_RANK];
  if (tfx_shp_ins_from_graph(g, n, &s)) return TFX_ERR;
  if ((n->op == TFX_OP_Shape || n->op == TFX_OP_Size || n->op == TFX_OP_EyeLike) && !tfx_shp_need_in(g, n, 0))
    return TFX_ERR;
  switch (n->op) {
  case TFX_OP_Shape: {
    int64_t b, e;
    shape_range(n, s.in[0]->rank, &b, &e);
    dims[0] = e - b;
    tfx_node_set_out(g, n, 0, TFX_I64, 1, dims);
    return TFX_OK;
  }
  case TFX_OP_Size: tfx_node_set_out(g, n, 0, TFX_I64, 0, dims); return TFX_OK;
  case TFX_OP_Constant: {
    const TfxTensor *t;
    if (constant_value(g, n, &t)) return TFX_ERR;
    tfx_node_set_out(g, n, 0, t->dtype, t->rank, t->dims);
    return TFX_OK;
  }
  case TFX_OP_ConstantOfShape: {
    COSPlan p;
    if (cos_plan(g, n, &s, &p)) return TFX_ERR;
    tfx_node_set_out(g, n, 0, p.dt, p.rank, p.dims);
    return TFX_OK;
  }
  case TFX_OP_Range: {
    RangePlan p;
    if (range_plan(g, n, &s, &p)) return TFX_ERR;
    tfx_node_set_out(g, n, 0, p.dt, 1, &p.count);
    return TFX_OK;
  }
  case TFX_OP_EyeLike: {
    TfxDtype dt;
    int64_t k;
    if (eyelike_plan(g, n, &s, &dt, &k)) return TFX_ERR;
    tfx_node_set_out(g, n, 0, dt, 2, s.in[0]->dims);
    return TFX_OK;
  }
  default: return tfx_node_error(g, n, "not a constant op of the shape family");
  }
}

TfxStatus tfx_shape_const_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  TfxShpIns s;
  if (tfx_shp_ins_from_eval(g, n, in, &s)) return TFX_ERR;
  const TfxTensor *x = s.in[0];
  TfxTensor *y = &out[0];
  int64_t ny = tfx_tensor_numel(y), idx[TFX_MAX_RANK];
  size_t es = tfx_dtype_bytes(y->dtype);
  switch (n->op) {
  case TFX_OP_Shape: {
    int64_t b, e;
    shape_range(n, x->rank, &b, &e);
    for (int64_t i = b; i < e; i++) tfx_tensor_set_i64(y, i - b, x->dims[i]);
    return TFX_OK;
  }
  case TFX_OP_Size: tfx_tensor_set_i64(y, 0, tfx_tensor_numel(x)); return TFX_OK;
  case TFX_OP_Constant: {
    const TfxTensor *t;
    if (constant_value(g, n, &t)) return TFX_ERR;
    if (tfx_tensor_bytes(y)) memcpy(y->data, t->data, tfx_tensor_bytes(y));
    return TFX_OK;
  }
  case TFX_OP_ConstantOfShape: {
    COSPlan p;
    if (cos_plan(g, n, &s, &p)) return TFX_ERR;
    for (int64_t o = 0; o < ny; o++) {
      if (p.value)
        copy_elem(y->data, o, p.value->data, 0, es);
      else
        tfx_tensor_set_f64(y, o, 0.0);
    }
    return TFX_OK;
  }
  case TFX_OP_Range: {
    RangePlan p;
    if (range_plan(g, n, &s, &p)) return TFX_ERR;
    range_fill(&p, y);
    return TFX_OK;
  }
  case TFX_OP_EyeLike: {
    TfxDtype dt;
    int64_t k;
    if (eyelike_plan(g, n, &s, &dt, &k)) return TFX_ERR;
    for (int64_t o = 0; o < ny; o++) {
      tfx_unravel(o, 2, y->dims, idx);
      tfx_tensor_set_f64(y, o, idx[1] - idx[0] == k ? 1.0 : 0.0);
    }
    return TFX_OK;
  }
  default: return tfx_node_error(g, n, "not a constant op of the shape family");
  }
}

/* ---- emit_c ------------------------------------------------------------------------ */

/* Print code writing the whole tensor t into dst: a fill when all elements
 * are equal, a static table otherwise. */
static void emit_const_tensor(TfxCEmit *e, const char *dst, const TfxTensor *t) {
  int64_t cnt = tfx_tensor_numel(t);
  size_t es = tfx_dtype_bytes(t->dtype);
  if (cnt == 0) return;
  bool uniform = true, zero = true;
  const unsigned char *p = t->data;
  for (size_t b = 0; b < es; b++) zero = zero && p[b] == 0;
  for (int64_t i = 1; i < cnt && uniform; i++) uniform = memcmp(p, p + i * (int64_t)es, es) == 0;
  char lit[64];
  if (uniform && zero) {
    tfx_c_line(e, "memset(%s, 0, %lld);", dst, (long long)(cnt * (int64_t)es));
  } else if (uniform) {
    tfx_c_line(e, "for (int64_t q = 0; q < %lld; ++q) %s[q] = %s;", (long long)cnt, dst,
               tfx_shp_lit_elem(lit, t, 0));
  } else {
    const char *tab = tfx_c_tmp(e, "k");
    tfx_c_line(e, "static const %s %s[%lld] = {", tfx_dtype_ctype(t->dtype), tab, (long long)cnt);
    tfx_c_indent(e, 1);
    char line[1024];
    for (int64_t i = 0; i < cnt;) {
      size_t len = 0;
      line[0] = 0;
      for (int j = 0; j < 8 && i < cnt; j++, i++)
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%s,", j ? " " : "",
                                tfx_shp_lit_elem(lit, t, i));
      tfx_c_line(e, "%s", line);
    }
    tfx_c_indent(e, -1);
    tfx_c_line(e, "};");
    tfx_c_line(e, "memcpy(%s, %s, sizeof %s);", dst, tab, tab);
  }
}

/* Ops whose output depends only on shapes and constants: evaluate now and
 * print the values. */
static TfxStatus emit_folded(TfxCEmit *e, TfxGraph *g, const TfxNode *n, const TfxValue *yv) {
  const TfxTensor *ins[TFX_SHP_MAXIN] = {NULL};
  TfxTensor buf[TFX_SHP_MAXIN];
  for (int k = 0; k < n->n_inputs && k < TFX_SHP_MAXIN; k++) {
    TfxValue *v = tfx_node_in(g, n, k);
    if (!v) continue;
    buf[k] = (TfxTensor){.dtype = v->dtype, .rank = v->rank, .data = v->konst ? v->konst->data : NULL};
    memcpy(buf[k].dims, v->dims, sizeof buf[k].dims);
    if (!v->konst && n->op != TFX_OP_Shape && n->op != TFX_OP_Size && n->op != TFX_OP_EyeLike)
      return tfx_node_error(g, n, "input %d must be a compile-time constant", k);
    ins[k] = &buf[k];
  }
  TfxTensor y = {.dtype = yv->dtype, .rank = yv->rank};
  memcpy(y.dims, yv->dims, sizeof y.dims);
  size_t bytes = tfx_tensor_bytes(&y);
  if (bytes == 0) return TFX_OK;
  y.data = calloc(1, bytes ? bytes : 1);
  if (!y.data) return tfx_node_error(g, n, "out of memory");
  TfxStatus st = tfx_shape_const_eval(g, n, ins, &y);
  if (!st) emit_const_tensor(e, tfx_c_var(e, n->outputs[0]), &y);
  free(y.data);
  return st;
}

/* EyeLike's input is usually a runtime value, so it is not folded: zero the
 * output and set the diagonal j = i + k. */
static TfxStatus emit_eyelike(TfxCEmit *e, TfxGraph *g, const TfxNode *n, const TfxValue *yv) {
  TfxShpIns s;
  TfxDtype dt;
  int64_t k;
  if (tfx_shp_ins_from_graph(g, n, &s) || eyelike_plan(g, n, &s, &dt, &k)) return TFX_ERR;
  int64_t rows = yv->dims[0], cols = yv->dims[1];
  if (rows * cols == 0) return TFX_OK;
  const char *y = tfx_c_var(e, n->outputs[0]);
  tfx_c_line(e, "memset(%s, 0, %lld);", y, (long long)(rows * cols * (int64_t)tfx_dtype_bytes(dt)));
  if (k <= -rows || k >= cols) return TFX_OK; /* the diagonal misses the matrix */
  int64_t first = clamp64(-k, 0, rows), last = clamp64(cols - k, 0, rows); /* rows with 0 <= i + k < cols */
  uint64_t store = 0;
  TfxTensor one = {.dtype = dt, .rank = 0, .data = &store};
  char lit[64];
  tfx_tensor_set_f64(&one, 0, 1.0);
  tfx_c_line(e, "for (int64_t i = %lld; i < %lld; i++) %s[i * %lld %c %lld] = %s;", (long long)first,
             (long long)last, y, (long long)(cols + 1), k < 0 ? '-' : '+', (long long)(k < 0 ? -k : k),
             tfx_shp_lit_elem(lit, &one, 0));
  return TFX_OK;
}

TfxStatus tfx_shape_const_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  if (n->op == TFX_OP_EyeLike) return emit_eyelike(e, g, n, tfx_node_out(g, n, 0));
  return emit_folded(e, g, n, tfx_node_out(g, n, 0));
}
