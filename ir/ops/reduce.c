/* reduce.c — the reduce family: Reduce* over a set of axes, ArgMax/ArgMin,
 * Softmax/LogSoftmax/Hardmax, TopK and CumSum/CumProd.  Every op here walks
 * "outer x extent x inner" slices around one axis, or keeps/reduces a set of
 * axes.  Float sums accumulate in double and integer ones in wrapping uint64,
 * both in the reference evaluator and in generated code, so the two agree;
 * float32 Softmax rows are the exception: 8 float partial sums, vectorised. */
#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

#define NODE(n) ((TfxNode *)(n)) /* tfx_node_error takes a mutable node */
#define TRY(x)                   \
  do {                           \
    TfxStatus s_ = (x);          \
    if (s_ != TFX_OK) return s_; \
  } while (0)

/* ---- small shared helpers ------------------------------------------------- */

static bool is_numeric(TfxDtype t) { return tfx_dtype_is_float(t) || tfx_dtype_is_int(t); }

static bool is_unsigned_int(TfxDtype t) { return tfx_dtype_is_int(t) && !tfx_dtype_is_signed(t); }

/* Input 0 with a known shape, or an error. */
static TfxStatus need_input(TfxGraph *g, const TfxNode *n, const char *what, TfxValue **out) {
  TfxValue *x = tfx_node_in(g, n, 0);
  if (!x) return tfx_node_error(g, NODE(n), "missing input '%s'", what);
  if (x->rank < 0) return tfx_node_error(g, NODE(n), "input '%s' has no known shape", what);
  *out = x;
  return TFX_OK;
}

static TfxStatus check_dtype(TfxGraph *g, const TfxNode *n, TfxDtype t, bool floats_only,
                             bool allow_bool) {
  bool ok = floats_only ? tfx_dtype_is_float(t) : is_numeric(t) || (allow_bool && t == TFX_BOOL);
  if (!ok)
    return tfx_node_error(g, NODE(n), "input type %s is not supported (expected %s)",
                          tfx_dtype_name(t),
                          floats_only ? "float16, bfloat16, float32 or float64"
                                      : (allow_bool ? "a numeric type or bool" : "a numeric type"));
  return TFX_OK;
}

static int64_t prod(const int64_t *d, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; i++) p *= d[i];
  return p;
}

/* Range of an integer (or bool) type: the identities of max and min, as
 * numbers and as C literals. */
typedef struct {
  int64_t lo;
  uint64_t hi;
  const char *lo_s, *hi_s;
} IntRange;

static IntRange int_range(TfxDtype t) {
  switch (t) {
  case TFX_I8: return (IntRange){INT8_MIN, INT8_MAX, "INT8_MIN", "INT8_MAX"};
  case TFX_U8: return (IntRange){0, UINT8_MAX, "0", "UINT8_MAX"};
  case TFX_I16: return (IntRange){INT16_MIN, INT16_MAX, "INT16_MIN", "INT16_MAX"};
  case TFX_U16: return (IntRange){0, UINT16_MAX, "0", "UINT16_MAX"};
  case TFX_I32: return (IntRange){INT32_MIN, INT32_MAX, "INT32_MIN", "INT32_MAX"};
  case TFX_U32: return (IntRange){0, UINT32_MAX, "0", "UINT32_MAX"};
  case TFX_I64: return (IntRange){INT64_MIN, INT64_MAX, "INT64_MIN", "INT64_MAX"};
  case TFX_U64: return (IntRange){0, UINT64_MAX, "0", "UINT64_MAX"};
  case TFX_BOOL: return (IntRange){0, 1, "0", "1"};
  default: assert(!"int_range: not an integer type"); return (IntRange){0, 0, "0", "0"};
  }
}

/* Three-way compare of elements a and b of t in value order; NaN sorts above
 * every number and equal to itself.  Integers compare exactly. */
static int elem_cmp(const TfxTensor *t, int64_t a, int64_t b) {
  if (tfx_dtype_is_float(t->dtype)) {
    double x = tfx_tensor_get_f64(t, a), y = tfx_tensor_get_f64(t, b);
    if (isnan(x) || isnan(y)) return (isnan(x) != 0) - (isnan(y) != 0);
    return (x > y) - (x < y);
  }
  if (is_unsigned_int(t->dtype)) {
    uint64_t x = (uint64_t)tfx_tensor_get_i64(t, a), y = (uint64_t)tfx_tensor_get_i64(t, b);
    return (x > y) - (x < y);
  }
  int64_t x = tfx_tensor_get_i64(t, a), y = tfx_tensor_get_i64(t, b);
  return (x > y) - (x < y);
}

/* ---- generated-code helpers ------------------------------------------------ */

typedef char Name[64];

static void fresh(TfxCEmit *e, char *out, const char *prefix) {
  int w = snprintf(out, sizeof(Name), "%s", tfx_c_tmp(e, prefix));
  assert(w > 0 && (size_t)w < sizeof(Name));
  (void)w;
}

static void cvar(TfxCEmit *e, char *out, size_t cap, uint32_t v) {
  int w = snprintf(out, cap, "%s", tfx_c_var(e, v));
  assert(w > 0 && (size_t)w < cap);
  (void)w;
}

/* Mark the node's values as read: shape operands (axes, K) are declared as
 * variables by the C backend even though the code never reads them, and a
 * node with an empty result reads nothing at all. */
static void touch_values(TfxCEmit *e, const TfxNode *n, bool all) {
  for (int k = all ? 0 : 1; k < n->n_inputs; k++)
    if (n->inputs[k] != TFX_NONE) tfx_c_line(e, "(void)%s;", tfx_c_var(e, n->inputs[k]));
  if (all)
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k] != TFX_NONE) tfx_c_line(e, "(void)%s;", tfx_c_var(e, n->outputs[k]));
}

static void empty_block(TfxCEmit *e, const TfxNode *n) {
  tfx_c_line(e, "{ /* %s: empty result */", n->op_type);
  tfx_c_indent(e, 1);
  touch_values(e, n, true);
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
}

static void loop_open(TfxCEmit *e, const char *iv, int64_t from, int64_t to) {
  tfx_c_line(e, "for (int64_t %s = %" PRId64 "; %s < %" PRId64 "; %s++) {", iv, from, iv, to, iv);
  tfx_c_indent(e, 1);
}

static void block_close(TfxCEmit *e) {
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
}

/* "n0*s0 + n1*s1 + ..." (strides of 1 print bare; "0" when empty). */
static const char *index_expr(char *buf, size_t cap, int cnt, const Name *names,
                              const int64_t *strides) {
  size_t len = 0;
  buf[0] = '\0';
  for (int k = 0; k < cnt; k++) {
    int w = strides[k] == 1
                ? snprintf(buf + len, cap - len, "%s%s", len ? " + " : "", names[k])
                : snprintf(buf + len, cap - len, "%s%s * %" PRId64, len ? " + " : "", names[k],
                           strides[k]);
    assert(w > 0 && (size_t)w < cap - len);
    len += (size_t)w;
  }
  if (!len) snprintf(buf, cap, "0");
  return buf;
}

/* "base + (j) * inner" element index along an axis of an outer x N x inner walk. */
static const char *axis_index(char *buf, size_t cap, const char *base, const char *j,
                              int64_t inner) {
  if (inner == 1)
    snprintf(buf, cap, "%s + (%s)", base, j);
  else
    snprintf(buf, cap, "%s + (%s) * %" PRId64, base, j, inner);
  return buf;
}

static const char *math_fn(TfxDtype t, const char *name, char *buf) {
  sprintf(buf, "%s%s", name, t == TFX_F64 ? "" : "f");
  return buf;
}

/* Open the loops of an outer x inner walk and define `base` = first element
 * of the slice (o * N * inner + q).  Close with two block_close. */
static void slice_open(TfxCEmit *e, int64_t outer, int64_t len, int64_t inner, Name o, Name q,
                       Name base, const char *base_prefix) {
  fresh(e, o, "o");
  fresh(e, q, "q");
  fresh(e, base, base_prefix);
  loop_open(e, o, 0, outer);
  loop_open(e, q, 0, inner);
  tfx_c_line(e, "const int64_t %s = %s * %" PRId64 " + %s;", base, o, len * inner, q);
}

/* ---- Reduce* ---------------------------------------------------------------- */

typedef enum {
  RK_SUM,
  RK_MEAN,
  RK_PROD,
  RK_MAX,
  RK_MIN,
  RK_L1,
  RK_L2,
  RK_LOGSUM,
  RK_LOGSUMEXP,
  RK_SUMSQ,
  RK_NONE
} RKind;

static RKind rkind(TfxOp op) {
  switch (op) {
  case TFX_OP_ReduceSum: return RK_SUM;
  case TFX_OP_ReduceMean: return RK_MEAN;
  case TFX_OP_ReduceProd: return RK_PROD;
  case TFX_OP_ReduceMax: return RK_MAX;
  case TFX_OP_ReduceMin: return RK_MIN;
  case TFX_OP_ReduceL1: return RK_L1;
  case TFX_OP_ReduceL2: return RK_L2;
  case TFX_OP_ReduceLogSum: return RK_LOGSUM;
  case TFX_OP_ReduceLogSumExp: return RK_LOGSUMEXP;
  case TFX_OP_ReduceSumSquare: return RK_SUMSQ;
  default: return RK_NONE;
  }
}

/* A reduction: which input dims are reduced, the output shape, how many
 * input elements feed each output element. */
typedef struct {
  int rank;
  int64_t dims[TFX_MAX_RANK];
  bool red[TFX_MAX_RANK];
  int out_rank;
  int64_t out_dims[TFX_MAX_RANK];
  int64_t out_numel, count;
} RPlan;

/* axes come from the attribute (before opset 18; 13 for ReduceSum) or from
 * input 1 (after); no axes means all dims, or none with noop_with_empty_axes.
 * Reducing over no dims maps each element through the op alone (|x| for L1,
 * x*x for SumSquare), as the ONNX reference does. */
static TfxStatus reduce_plan(TfxGraph *g, const TfxNode *n, int rank, const int64_t *dims,
                             bool has_axes_input, const TfxTensor *axes_t, RPlan *p) {
  int64_t ax[TFX_MAX_RANK];
  int na = 0;
  if (has_axes_input) {
    if (!axes_t) return tfx_node_error(g, NODE(n), "input 'axes' must be a compile-time constant");
    if (!tfx_dtype_is_int(axes_t->dtype) || axes_t->rank > 1)
      return tfx_node_error(g, NODE(n), "input 'axes' must be a 1-D integer tensor (got %s, rank %d)",
                            tfx_dtype_name(axes_t->dtype), axes_t->rank);
    int64_t cnt = tfx_tensor_numel(axes_t);
    if (cnt > rank)
      return tfx_node_error(g, NODE(n), "%" PRId64 " axes given for an input of rank %d", cnt, rank);
    for (int64_t i = 0; i < cnt; i++) ax[na++] = tfx_tensor_get_i64(axes_t, i);
  } else {
    const int64_t *vals = NULL;
    int cnt = tfx_attr_ints(n, "axes", &vals);
    if (cnt > rank)
      return tfx_node_error(g, NODE(n), "%d axes given for an input of rank %d", cnt, rank);
    for (int i = 0; i < cnt; i++) ax[na++] = vals[i];
  }
  bool noop = tfx_attr_int(n, "noop_with_empty_axes", 0) != 0;
  bool keep = tfx_attr_int(n, "keepdims", 1) != 0;
  p->rank = rank;
  for (int d = 0; d < rank; d++) {
    p->dims[d] = dims[d];
    p->red[d] = na == 0 && !noop;
  }
  for (int i = 0; i < na; i++) {
    if (ax[i] < -rank || ax[i] >= rank)
      return tfx_node_error(g, NODE(n), "axis %" PRId64 " is out of range for an input of rank %d",
                            ax[i], rank);
    int d = tfx_axis(ax[i], rank);
    if (p->red[d]) return tfx_node_error(g, NODE(n), "axis %" PRId64 " is repeated in 'axes'", ax[i]);
    p->red[d] = true;
  }
  p->out_rank = 0;
  p->count = 1;
  for (int d = 0; d < rank; d++) {
    if (p->red[d]) {
      p->count *= dims[d];
      if (keep) p->out_dims[p->out_rank++] = 1;
    } else {
      p->out_dims[p->out_rank++] = dims[d];
    }
  }
  p->out_numel = tfx_numel(p->out_rank, p->out_dims);
  return TFX_OK;
}

static TfxStatus reduce_infer(TfxGraph *g, TfxNode *n) {
  RKind k = rkind(n->op);
  TfxValue *x = NULL;
  TRY(need_input(g, n, "data", &x));
  TRY(check_dtype(g, n, x->dtype, k == RK_LOGSUM || k == RK_LOGSUMEXP, k == RK_MAX || k == RK_MIN));
  RPlan p;
  TRY(reduce_plan(g, n, x->rank, x->dims, tfx_node_in(g, n, 1) != NULL, tfx_node_const_in(g, n, 1),
                  &p));
  tfx_node_set_out(g, n, 0, x->dtype, p.out_rank, p.out_dims);
  return TFX_OK;
}

/* Result over an empty set of elements (float types). */
static double reduce_empty_f(RKind k) {
  switch (k) {
  case RK_PROD: return 1.0;
  case RK_MEAN: return NAN;
  case RK_MAX: case RK_LOGSUM: case RK_LOGSUMEXP: return -INFINITY;
  case RK_MIN: return INFINITY;
  default: return 0.0;
  }
}

/* Result over an empty set of elements (integer and bool types). */
static int64_t reduce_empty_i(RKind k, TfxDtype t) {
  switch (k) {
  case RK_PROD: return 1;
  case RK_MAX: return int_range(t).lo;
  case RK_MIN: return (int64_t)int_range(t).hi;
  default: return 0;
  }
}

static TfxStatus reduce_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *x,
                             const TfxTensor *axes, TfxTensor *y) {
  RKind k = rkind(n->op);
  RPlan p;
  TRY(reduce_plan(g, n, x->rank, x->dims, axes != NULL, axes, &p));
  /* ostr[d]: stride of input dim d in the output (0 on reduced dims). */
  int64_t kept_dims[TFX_MAX_RANK], kstr[TFX_MAX_RANK], ostr[TFX_MAX_RANK];
  for (int d = 0; d < p.rank; d++) kept_dims[d] = p.red[d] ? 1 : p.dims[d];
  tfx_strides(p.rank, kept_dims, kstr);
  for (int d = 0; d < p.rank; d++) ostr[d] = p.red[d] ? 0 : kstr[d];
  int64_t on = p.out_numel, in_n = tfx_tensor_numel(x);
  if (on == 0) return TFX_OK;
  bool fl = tfx_dtype_is_float(x->dtype);
  double *facc = calloc((size_t)on, sizeof(double)), *fmax = calloc((size_t)on, sizeof(double));
  uint64_t *uacc = calloc((size_t)on, sizeof(uint64_t));
  if (!facc || !fmax || !uacc) {
    free(facc), free(fmax), free(uacc);
    return tfx_node_error(g, NODE(n), "out of memory");
  }
  IntRange ir = fl ? (IntRange){0, 0, "", ""} : int_range(x->dtype);
  bool uns = !fl && (x->dtype == TFX_BOOL || is_unsigned_int(x->dtype));
  for (int64_t o = 0; o < on; o++) {
    facc[o] = k == RK_PROD ? 1.0 : k == RK_MAX ? -INFINITY : k == RK_MIN ? INFINITY : 0.0;
    fmax[o] = -INFINITY;
    uacc[o] = k == RK_PROD ? 1 : k == RK_MAX ? (uint64_t)ir.lo : k == RK_MIN ? ir.hi : 0;
  }
  int64_t idx[TFX_MAX_RANK];
  if (k == RK_LOGSUMEXP) { /* the largest finite element of each set */
    for (int64_t i = 0; i < in_n; i++) {
      tfx_unravel(i, p.rank, p.dims, idx);
      int64_t o = 0;
      for (int d = 0; d < p.rank; d++) o += idx[d] * ostr[d];
      double v = tfx_tensor_get_f64(x, i);
      if (isfinite(v) && v > fmax[o]) fmax[o] = v;
    }
    for (int64_t o = 0; o < on; o++)
      if (isinf(fmax[o])) fmax[o] = 0.0;
  }
  for (int64_t i = 0; i < in_n; i++) {
    tfx_unravel(i, p.rank, p.dims, idx);
    int64_t o = 0;
    for (int d = 0; d < p.rank; d++) o += idx[d] * ostr[d];
    if (fl) {
      double v = tfx_tensor_get_f64(x, i);
      switch (k) {
      case RK_SUM: case RK_MEAN: case RK_LOGSUM: facc[o] += v; break;
      case RK_PROD: facc[o] *= v; break;
      case RK_L1: facc[o] += fabs(v); break;
      case RK_L2: case RK_SUMSQ: facc[o] += v * v; break;
      case RK_LOGSUMEXP: facc[o] += exp(v - fmax[o]); break;
      case RK_MAX: if (v > facc[o] || isnan(v)) facc[o] = v; break;
      case RK_MIN: if (v < facc[o] || isnan(v)) facc[o] = v; break;
      default: assert(0);
      }
    } else {
      int64_t v = tfx_tensor_get_i64(x, i);
      uint64_t u = (uint64_t)v;
      switch (k) {
      case RK_SUM: case RK_MEAN: uacc[o] += u; break;
      case RK_PROD: uacc[o] *= u; break;
      case RK_L1: uacc[o] += (!uns && v < 0) ? (uint64_t)0 - u : u; break;
      case RK_L2: case RK_SUMSQ: uacc[o] += u * u; break;
      case RK_MAX:
        if (uns ? u > uacc[o] : v > (int64_t)uacc[o]) uacc[o] = u;
        break;
      case RK_MIN:
        if (uns ? u < uacc[o] : v < (int64_t)uacc[o]) uacc[o] = u;
        break;
      default: assert(0);
      }
    }
  }
  for (int64_t o = 0; o < on; o++) {
    if (fl) {
      double r = facc[o];
      if (p.count == 0) r = reduce_empty_f(k);
      else if (k == RK_MEAN) r = r / (double)p.count;
      else if (k == RK_L2) r = sqrt(r);
      else if (k == RK_LOGSUM) r = log(r);
      else if (k == RK_LOGSUMEXP) r = log(r) + fmax[o];
      tfx_tensor_set_f64(y, o, r);
    } else {
      uint64_t r = uacc[o];
      if (p.count == 0) r = (uint64_t)reduce_empty_i(k, x->dtype);
      else if (k == RK_MEAN) r = uns ? r / (uint64_t)p.count : (uint64_t)((int64_t)r / p.count);
      else if (k == RK_L2) r = (uint64_t)(int64_t)sqrt((double)r);
      tfx_tensor_set_i64(y, o, (int64_t)r);
    }
  }
  free(facc), free(fmax), free(uacc);
  return TFX_OK;
}

/* The literal a reduction over no elements produces, of calctype. */
static const char *reduce_empty_literal(RKind k, TfxDtype t, char *buf) {
  if (t == TFX_F64) return tfx_c_double(buf, reduce_empty_f(k));
  if (tfx_dtype_is_float(t)) return tfx_c_float(buf, (float)reduce_empty_f(k));
  IntRange ir = int_range(t);
  const char *v = k == RK_PROD ? "1" : k == RK_MAX ? ir.lo_s : k == RK_MIN ? ir.hi_s : "0";
  sprintf(buf, "(%s)%s", tfx_dtype_ctype(t), v);
  return buf;
}

static TfxStatus reduce_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  RKind k = rkind(n->op);
  const TfxValue *xv = tfx_node_in(g, n, 0);
  RPlan p;
  TRY(reduce_plan(g, n, xv->rank, xv->dims, tfx_node_in(g, n, 1) != NULL,
                  tfx_node_const_in(g, n, 1), &p));
  TfxDtype dt = xv->dtype;
  const char *opname = tfx_ops[n->op].name;
  if (p.out_numel == 0) {
    empty_block(e, n);
    return TFX_OK;
  }
  char xs[256], ys[256], lhs[1024], lb[512], val[512], tmp[128];
  cvar(e, xs, sizeof xs, n->inputs[0]);
  cvar(e, ys, sizeof ys, n->outputs[0]);
  bool fl = tfx_dtype_is_float(dt);
  bool uns = !fl && (dt == TFX_BOOL || is_unsigned_int(dt));
  const char *ct = tfx_c_calctype(dt), *st = tfx_dtype_ctype(dt);
  tfx_c_line(e, "{ /* %s: %" PRId64 " outputs, each over %" PRId64 " elements */", opname,
             p.out_numel, p.count);
  tfx_c_indent(e, 1);
  touch_values(e, n, false);
  if (p.count == 0) { /* the input is empty: every output is the op's identity */
    Name i;
    fresh(e, i, "i");
    tfx_c_line(e, "(void)%s;", xs);
    loop_open(e, i, 0, p.out_numel);
    snprintf(lhs, sizeof lhs, "%s[%s]", ys, i);
    tfx_c_store(e, dt, lhs, reduce_empty_literal(k, dt, tmp));
    block_close(e);
    block_close(e);
    return TFX_OK;
  }
  /* Drop unit dims and merge runs of kept / reduced dims: fewer, longer loops. */
  int ng = 0;
  int64_t gext[TFX_MAX_RANK], gstr[TFX_MAX_RANK];
  bool gred[TFX_MAX_RANK];
  for (int d = 0; d < p.rank; d++) {
    if (p.dims[d] == 1) continue;
    if (ng > 0 && gred[ng - 1] == p.red[d]) {
      gext[ng - 1] *= p.dims[d];
    } else {
      gext[ng] = p.dims[d];
      gred[ng++] = p.red[d];
    }
  }
  {
    int64_t s = 1;
    for (int i = ng - 1; i >= 0; i--) {
      gstr[i] = s;
      s *= gext[i];
    }
  }
  int nk = 0, nr = 0;
  Name kn[TFX_MAX_RANK], rn[TFX_MAX_RANK];
  int64_t kext[TFX_MAX_RANK], kistr[TFX_MAX_RANK], kostr[TFX_MAX_RANK], rext[TFX_MAX_RANK],
      ristr[TFX_MAX_RANK];
  for (int i = 0; i < ng; i++) {
    if (gred[i]) {
      rext[nr] = gext[i];
      ristr[nr++] = gstr[i];
    } else {
      kext[nk] = gext[i];
      kistr[nk++] = gstr[i];
    }
  }
  {
    int64_t s = 1;
    for (int i = nk - 1; i >= 0; i--) {
      kostr[i] = s;
      s *= kext[i];
    }
  }
  for (int i = 0; i < nk; i++) {
    fresh(e, kn[i], "o");
    loop_open(e, kn[i], 0, kext[i]);
  }
  Name base, oy, acc, mx;
  fresh(e, base, "b");
  fresh(e, oy, "y");
  fresh(e, acc, "acc");
  fresh(e, mx, "mx");
  char ib[1024];
  tfx_c_line(e, "const int64_t %s = %s;", base, index_expr(ib, sizeof ib, nk, kn, kistr));
  tfx_c_line(e, "const int64_t %s = %s;", oy, index_expr(ib, sizeof ib, nk, kn, kostr));
  /* Accumulator: calctype for max/min, double for float sums, uint64 for int sums. */
  if (k == RK_MAX || k == RK_MIN)
    tfx_c_line(e, "%s %s = %s;", fl ? ct : st, acc, reduce_empty_literal(k, dt, tmp));
  else
    tfx_c_line(e, "%s %s = %s;", fl ? "double" : "uint64_t", acc,
               k == RK_PROD ? (fl ? "1.0" : "1") : (fl ? "0.0" : "0"));
  int passes = k == RK_LOGSUMEXP ? 2 : 1;
  if (k == RK_LOGSUMEXP) tfx_c_line(e, "double %s = -INFINITY;", mx);
  for (int pass = 0; pass < passes; pass++) {
    for (int i = 0; i < nr; i++) {
      fresh(e, rn[i], "r");
      loop_open(e, rn[i], 0, rext[i]);
    }
    Name ix, v;
    fresh(e, ix, "ix");
    fresh(e, v, "v");
    tfx_c_line(e, "const int64_t %s = %s + %s;", ix, base, index_expr(ib, sizeof ib, nr, rn, ristr));
    snprintf(lhs, sizeof lhs, "%s[%s]", xs, ix);
    const char *ld = tfx_c_load(e, dt, lhs, lb);
    bool minmax = k == RK_MAX || k == RK_MIN;
    tfx_c_line(e, "const %s %s = %s;", fl ? (minmax ? ct : "double") : st, v, ld);
    if (fl) {
      switch (k) {
      case RK_SUM: case RK_MEAN: case RK_LOGSUM: tfx_c_line(e, "%s += %s;", acc, v); break;
      case RK_PROD: tfx_c_line(e, "%s *= %s;", acc, v); break;
      case RK_L1: tfx_c_line(e, "%s += fabs(%s);", acc, v); break;
      case RK_L2: case RK_SUMSQ: tfx_c_line(e, "%s += %s * %s;", acc, v, v); break;
      case RK_LOGSUMEXP:
        if (pass == 0)
          tfx_c_line(e, "if (isfinite(%s) && %s > %s) %s = %s;", v, v, mx, mx, v);
        else
          tfx_c_line(e, "%s += exp(%s - %s);", acc, v, mx);
        break;
      case RK_MAX: tfx_c_line(e, "if (%s > %s || isnan(%s)) %s = %s;", v, acc, v, acc, v); break;
      case RK_MIN: tfx_c_line(e, "if (%s < %s || isnan(%s)) %s = %s;", v, acc, v, acc, v); break;
      default: assert(0);
      }
    } else {
      switch (k) {
      case RK_SUM: case RK_MEAN: tfx_c_line(e, "%s += (uint64_t)%s;", acc, v); break;
      case RK_PROD: tfx_c_line(e, "%s *= (uint64_t)%s;", acc, v); break;
      case RK_L1:
        if (uns)
          tfx_c_line(e, "%s += (uint64_t)%s;", acc, v);
        else
          tfx_c_line(e, "%s += %s < 0 ? (uint64_t)0 - (uint64_t)%s : (uint64_t)%s;", acc, v, v, v);
        break;
      case RK_L2: case RK_SUMSQ:
        tfx_c_line(e, "%s += (uint64_t)%s * (uint64_t)%s;", acc, v, v);
        break;
      case RK_MAX: tfx_c_line(e, "if (%s > %s) %s = %s;", v, acc, acc, v); break;
      case RK_MIN: tfx_c_line(e, "if (%s < %s) %s = %s;", v, acc, acc, v); break;
      default: assert(0);
      }
    }
    for (int i = 0; i < nr; i++) block_close(e);
    if (k == RK_LOGSUMEXP && pass == 0) /* no finite element: any shift works */
      tfx_c_line(e, "if (isinf(%s)) %s = 0.0;", mx, mx);
  }
  /* Finalise into calctype. */
  if (fl) {
    switch (k) {
    case RK_MAX: case RK_MIN: snprintf(val, sizeof val, "%s", acc); break;
    case RK_MEAN: snprintf(val, sizeof val, "(%s)(%s / %" PRId64 ".0)", ct, acc, p.count); break;
    case RK_L2: snprintf(val, sizeof val, "(%s)sqrt(%s)", ct, acc); break;
    case RK_LOGSUM: snprintf(val, sizeof val, "(%s)log(%s)", ct, acc); break;
    case RK_LOGSUMEXP: snprintf(val, sizeof val, "(%s)(log(%s) + %s)", ct, acc, mx); break;
    default: snprintf(val, sizeof val, "(%s)%s", ct, acc); break;
    }
  } else {
    switch (k) {
    case RK_MAX: case RK_MIN: snprintf(val, sizeof val, "%s", acc); break;
    case RK_MEAN:
      if (uns)
        snprintf(val, sizeof val, "(%s)(%s / UINT64_C(%" PRId64 "))", st, acc, p.count);
      else
        snprintf(val, sizeof val, "(%s)((int64_t)%s / INT64_C(%" PRId64 "))", st, acc, p.count);
      break;
    case RK_L2: snprintf(val, sizeof val, "(%s)sqrt((double)%s)", st, acc); break;
    default: snprintf(val, sizeof val, "(%s)%s", st, acc); break;
    }
  }
  snprintf(lhs, sizeof lhs, "%s[%s]", ys, oy);
  tfx_c_store(e, dt, lhs, val);
  for (int i = 0; i < nk; i++) block_close(e);
  block_close(e);
  return TFX_OK;
}

/* ---- ArgMax / ArgMin ------------------------------------------------------------
 * The first extreme wins (the last with select_last_index); a NaN beats every
 * number, so the first NaN is the answer when there is one, as in numpy. */

typedef struct {
  int axis;
  int64_t outer, len, inner;
} Split;

static void split_at(int rank, const int64_t *dims, int axis, Split *s) {
  s->axis = axis;
  s->outer = prod(dims, 0, axis);
  s->len = dims[axis];
  s->inner = prod(dims, axis + 1, rank);
}

static TfxStatus arg_axis(TfxGraph *g, const TfxNode *n, const TfxValue *x, Split *s) {
  int64_t axis = tfx_attr_int(n, "axis", 0);
  if (axis < -x->rank || axis >= x->rank)
    return tfx_node_error(g, NODE(n), "axis %" PRId64 " is out of range for an input of rank %d",
                          axis, x->rank);
  split_at(x->rank, x->dims, tfx_axis(axis, x->rank), s);
  return TFX_OK;
}

static TfxStatus arg_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *x;
  TRY(need_input(g, n, "data", &x));
  TRY(check_dtype(g, n, x->dtype, false, false));
  Split s = {0};
  TRY(arg_axis(g, n, x, &s));
  bool keep = tfx_attr_int(n, "keepdims", 1) != 0;
  int64_t od[TFX_MAX_RANK];
  int orank = 0;
  for (int d = 0; d < x->rank; d++) {
    if (d != s.axis)
      od[orank++] = x->dims[d];
    else if (keep)
      od[orank++] = 1;
  }
  if (s.len == 0 && tfx_numel(orank, od) > 0)
    return tfx_node_error(g, n, "cannot take %s over an empty axis %d", n->op_type, s.axis);
  tfx_node_set_out(g, n, 0, TFX_I64, orank, od);
  return TFX_OK;
}

static TfxStatus arg_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *x, TfxTensor *y) {
  Split s = {0};
  int64_t axis = tfx_attr_int(n, "axis", 0);
  if (axis < -x->rank || axis >= x->rank)
    return tfx_node_error(g, NODE(n), "axis %" PRId64 " is out of range", axis);
  split_at(x->rank, x->dims, tfx_axis(axis, x->rank), &s);
  bool last = tfx_attr_int(n, "select_last_index", 0) != 0;
  int want = n->op == TFX_OP_ArgMax ? 1 : -1;
  bool fl = tfx_dtype_is_float(x->dtype);
  for (int64_t o = 0; o < s.outer; o++) {
    for (int64_t q = 0; q < s.inner; q++) {
      int64_t b = o * s.len * s.inner + q, best = 0;
      for (int64_t j = 1; j < s.len; j++) {
        int64_t cur = b + best * s.inner, cand = b + j * s.inner;
        if (fl && isnan(tfx_tensor_get_f64(x, cur))) break;
        bool take;
        if (fl && isnan(tfx_tensor_get_f64(x, cand))) {
          take = true;
        } else {
          int c = elem_cmp(x, cand, cur) * want;
          take = c > 0 || (last && c == 0);
        }
        if (take) best = j;
      }
      tfx_tensor_set_i64(y, o * s.inner + q, best);
    }
  }
  return TFX_OK;
}

static TfxStatus arg_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *xv = tfx_node_in(g, n, 0);
  Split s = {0};
  TRY(arg_axis(g, n, xv, &s));
  if (s.outer * s.inner == 0) {
    empty_block(e, n);
    return TFX_OK;
  }
  TfxDtype dt = xv->dtype;
  bool fl = tfx_dtype_is_float(dt), last = tfx_attr_int(n, "select_last_index", 0) != 0;
  bool mx = n->op == TFX_OP_ArgMax;
  char xs[256], ys[256], ex[1024], lb[512];
  cvar(e, xs, sizeof xs, n->inputs[0]);
  cvar(e, ys, sizeof ys, n->outputs[0]);
  const char *ct = tfx_c_calctype(dt);
  tfx_c_line(e, "{ /* %s over axis %d (%" PRId64 " elements) */", n->op_type, s.axis, s.len);
  tfx_c_indent(e, 1);
  touch_values(e, n, false);
  Name o, q, b, m, best, j, v;
  slice_open(e, s.outer, s.len, s.inner, o, q, b, "b");
  fresh(e, m, "m");
  fresh(e, best, "k");
  fresh(e, j, "j");
  fresh(e, v, "v");
  snprintf(ex, sizeof ex, "%s[%s]", xs, b);
  tfx_c_line(e, "%s %s = %s;", ct, m, tfx_c_load(e, dt, ex, lb));
  tfx_c_line(e, "int64_t %s = 0;", best);
  loop_open(e, j, 1, s.len);
  char ix[256];
  snprintf(ex, sizeof ex, "%s[%s]", xs, axis_index(ix, sizeof ix, b, j, s.inner));
  tfx_c_line(e, "const %s %s = %s;", ct, v, tfx_c_load(e, dt, ex, lb));
  /* ArgMax takes v when it is not below m (strictly above for the first index). */
  const char *op = mx ? (last ? "<" : "<=") : (last ? ">" : ">=");
  if (fl)
    tfx_c_line(e, "if (!(%s %s %s) && !isnan(%s)) {", v, op, m, m);
  else
    tfx_c_line(e, "if (!(%s %s %s)) {", v, op, m);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "%s = %s;", m, v);
  tfx_c_line(e, "%s = %s;", best, j);
  block_close(e);
  block_close(e);
  tfx_c_line(e, "%s[%s * %" PRId64 " + %s] = %s;", ys, o, s.inner, q, best);
  block_close(e);
  block_close(e);
  block_close(e);
  return TFX_OK;
}

/* ---- Softmax / LogSoftmax / Hardmax ---------------------------------------------
 * From opset 13 the op works along one axis; before, the input is viewed as
 * 2-D [prod(dims[:axis]), prod(dims[axis:])] and it works along the rows. */

static TfxStatus softmax_split(TfxGraph *g, const TfxNode *n, int rank, const int64_t *dims,
                               Split *s) {
  bool old = g->opset < 13;
  int64_t axis = tfx_attr_int(n, "axis", old ? 1 : -1);
  if (axis < -rank || axis > (old ? rank : rank - 1))
    return tfx_node_error(g, NODE(n), "axis %" PRId64 " is out of range for an input of rank %d",
                          axis, rank);
  int a = tfx_axis(axis, rank);
  s->axis = a;
  s->outer = prod(dims, 0, a);
  if (old) {
    s->len = prod(dims, a, rank);
    s->inner = 1;
  } else {
    s->len = dims[a];
    s->inner = prod(dims, a + 1, rank);
  }
  return TFX_OK;
}

static TfxStatus softmax_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *x;
  TRY(need_input(g, n, "input", &x));
  TRY(check_dtype(g, n, x->dtype, true, false));
  Split s = {0};
  TRY(softmax_split(g, n, x->rank, x->dims, &s));
  tfx_node_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return TFX_OK;
}

static TfxStatus softmax_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *x, TfxTensor *y) {
  Split s = {0};
  TRY(softmax_split(g, n, x->rank, x->dims, &s));
  for (int64_t o = 0; o < s.outer; o++) {
    for (int64_t q = 0; q < s.inner; q++) {
      int64_t b = o * s.len * s.inner + q;
      if (n->op == TFX_OP_Hardmax) {
        int64_t best = 0; /* first maximum; the first NaN if any */
        for (int64_t j = 1; j < s.len; j++) {
          double m = tfx_tensor_get_f64(x, b + best * s.inner);
          double v = tfx_tensor_get_f64(x, b + j * s.inner);
          if (!isnan(m) && (v > m || isnan(v))) best = j;
        }
        for (int64_t j = 0; j < s.len; j++) tfx_tensor_set_f64(y, b + j * s.inner, j == best);
        continue;
      }
      double m = -INFINITY, sum = 0.0;
      for (int64_t j = 0; j < s.len; j++) {
        double v = tfx_tensor_get_f64(x, b + j * s.inner);
        if (v > m) m = v;
      }
      for (int64_t j = 0; j < s.len; j++) sum += exp(tfx_tensor_get_f64(x, b + j * s.inner) - m);
      for (int64_t j = 0; j < s.len; j++) {
        double v = tfx_tensor_get_f64(x, b + j * s.inner) - m;
        tfx_tensor_set_f64(y, b + j * s.inner, n->op == TFX_OP_Softmax ? exp(v) / sum : v - log(sum));
      }
    }
  }
  return TFX_OK;
}

/* j over [0, len): blocks of 8 running `stmt` for k < 8 with J = j + k
 * between `pre` and `post`, then the tail running `tail` with J = j.  Blocks
 * have a constant trip count, which gcc's -O2 cost model wants before it
 * vectorises; the tail is a fresh loop (gcc warns of UB in one that
 * continues the block index). */
static void block_loops(TfxCEmit *e, int64_t len, const char *pre, const char *stmt,
                        const char *post, const char *tail) {
  tfx_c_line(e, "for (int64_t j = 0; j + 8 <= %" PRId64 "; j += 8) {", len);
  tfx_c_indent(e, 1);
  if (pre) tfx_c_line(e, "%s", pre);
  tfx_c_line(e, "for (int64_t k = 0; k < 8; k++) { const int64_t J = j + k; %s }", stmt);
  if (post) tfx_c_line(e, "%s", post);
  block_close(e);
  tfx_c_line(e, "for (int64_t j = %" PRId64 " / 8 * 8; j < %" PRId64 "; j++) { const int64_t J = j; %s }",
             len, len, tail);
}

/* Softmax / LogSoftmax of float32 rows (stride 1): max, then e^(x - max)
 * into y with its sum, then the scaling; each pass in blocks of 8 over the
 * vectorisable tfx_expf, and in 8 partial results.  y goes through a
 * buffer t so that gcc need not prove it apart from x. */
static void softmax_emit_rows(TfxCEmit *e, const TfxNode *n, const Split *s, const char *xs,
                              const char *ys) {
  Name o;
  fresh(e, o, "o");
  tfx_c_need(e, TFX_HELP_MATH);
  loop_open(e, o, 0, s->outer);
  tfx_c_line(e, "const float *const xr = %s + %s * %" PRId64 ";", xs, o, s->len);
  tfx_c_line(e, "float *const yr = %s + %s * %" PRId64 ";", ys, o, s->len);
  tfx_c_line(e, "float p[8], mx = -INFINITY;");
  tfx_c_line(e, "double sum = 0;");
  tfx_c_line(e, "for (int64_t k = 0; k < 8; k++) p[k] = -INFINITY;");
  block_loops(e, s->len, NULL, "p[k] = tfx_pickf(xr[J] > p[k], xr[J], p[k]);", NULL,
              "mx = xr[J] > mx ? xr[J] : mx;");
  tfx_c_line(e, "for (int64_t k = 0; k < 8; k++) mx = p[k] > mx ? p[k] : mx;");
  tfx_c_line(e, "for (int64_t k = 0; k < 8; k++) p[k] = 0.0f;");
  block_loops(e, s->len, "float t[8];", "t[k] = tfx_expf(xr[J] - mx); p[k] += t[k];",
              "memcpy(yr + j, t, sizeof t);", "yr[J] = tfx_expf(xr[J] - mx); sum += yr[J];");
  tfx_c_line(e, "for (int64_t k = 0; k < 8; k++) sum += p[k];");
  if (n->op == TFX_OP_Softmax) {
    tfx_c_line(e, "const float r = (float)sum;");
    block_loops(e, s->len, NULL, "yr[J] = yr[J] / r;", NULL, "yr[J] = yr[J] / r;");
  } else {
    tfx_c_line(e, "const float r = (float)log(sum);");
    block_loops(e, s->len, "float t[8];", "t[k] = (xr[J] - mx) - r;", "memcpy(yr + j, t, sizeof t);",
                "yr[J] = (xr[J] - mx) - r;");
  }
  block_close(e);
}

static TfxStatus softmax_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *xv = tfx_node_in(g, n, 0);
  Split s = {0};
  TRY(softmax_split(g, n, xv->rank, xv->dims, &s));
  if (s.outer * s.len * s.inner == 0) {
    empty_block(e, n);
    return TFX_OK;
  }
  TfxDtype dt = xv->dtype;
  char xs[256], ys[256], xe[1024], ye[1024], lb[512], ix[256], fb[16], val[512];
  cvar(e, xs, sizeof xs, n->inputs[0]);
  cvar(e, ys, sizeof ys, n->outputs[0]);
  const char *ct = tfx_c_calctype(dt);
  tfx_c_line(e, "{ /* %s: %" PRId64 " rows of %" PRId64 " (stride %" PRId64 ") */", n->op_type,
             s.outer * s.inner, s.len, s.inner);
  tfx_c_indent(e, 1);
  touch_values(e, n, false);
  if (dt == TFX_F32 && s.inner == 1 && n->op != TFX_OP_Hardmax) {
    softmax_emit_rows(e, n, &s, xs, ys);
    block_close(e);
    return TFX_OK;
  }
  Name o, q, b, m, j, v, sum, best;
  slice_open(e, s.outer, s.len, s.inner, o, q, b, "b");
  fresh(e, m, "m");
  fresh(e, j, "j");
  fresh(e, v, "v");
  fresh(e, sum, "sum");
  fresh(e, best, "k");
  snprintf(xe, sizeof xe, "%s[%s]", xs, axis_index(ix, sizeof ix, b, j, s.inner));
  snprintf(ye, sizeof ye, "%s[%s]", ys, ix);
  if (n->op == TFX_OP_Hardmax) {
    char x0[512];
    snprintf(x0, sizeof x0, "%s[%s]", xs, b);
    tfx_c_line(e, "%s %s = %s;", ct, m, tfx_c_load(e, dt, x0, lb));
    tfx_c_line(e, "int64_t %s = 0;", best);
    loop_open(e, j, 1, s.len);
    tfx_c_line(e, "const %s %s = %s;", ct, v, tfx_c_load(e, dt, xe, lb));
    tfx_c_line(e, "if (!(%s <= %s) && !isnan(%s)) {", v, m, m);
    tfx_c_indent(e, 1);
    tfx_c_line(e, "%s = %s;", m, v);
    tfx_c_line(e, "%s = %s;", best, j);
    block_close(e);
    block_close(e);
    loop_open(e, j, 0, s.len);
    bool d = dt == TFX_F64;
    snprintf(val, sizeof val, "(%s == %s ? %s : %s)", j, best, d ? "1.0" : "1.0f", d ? "0.0" : "0.0f");
    tfx_c_store(e, dt, ye, val);
    block_close(e);
  } else {
    tfx_c_line(e, "%s %s = -INFINITY;", ct, m);
    loop_open(e, j, 0, s.len);
    tfx_c_line(e, "const %s %s = %s;", ct, v, tfx_c_load(e, dt, xe, lb));
    tfx_c_line(e, "if (%s > %s) %s = %s;", v, m, m, v);
    block_close(e);
    tfx_c_line(e, "double %s = 0.0;", sum);
    loop_open(e, j, 0, s.len);
    tfx_c_line(e, "%s += %s(%s - %s);", sum, math_fn(dt, "exp", fb), tfx_c_load(e, dt, xe, lb), m);
    block_close(e);
    loop_open(e, j, 0, s.len);
    if (n->op == TFX_OP_Softmax)
      snprintf(val, sizeof val, "(%s)(%s(%s - %s) / %s)", ct, math_fn(dt, "exp", fb),
               tfx_c_load(e, dt, xe, lb), m, sum);
    else
      snprintf(val, sizeof val, "(%s)((double)(%s - %s) - log(%s))", ct, tfx_c_load(e, dt, xe, lb),
               m, sum);
    tfx_c_store(e, dt, ye, val);
    block_close(e);
  }
  block_close(e);
  block_close(e);
  block_close(e);
  return TFX_OK;
}

/* ---- TopK -------------------------------------------------------------------------
 * Values in order (largest first, or smallest first), ties by lower index; NaN
 * counts as larger than every number. */

typedef struct {
  Split s;
  int64_t k;
  bool largest;
} TopKPlan;

static TfxStatus topk_plan(TfxGraph *g, const TfxNode *n, int rank, const int64_t *dims,
                           const TfxTensor *kt, TopKPlan *p) {
  int64_t axis = tfx_attr_int(n, "axis", -1);
  if (axis < -rank || axis >= rank)
    return tfx_node_error(g, NODE(n), "axis %" PRId64 " is out of range for an input of rank %d",
                          axis, rank);
  split_at(rank, dims, tfx_axis(axis, rank), &p->s);
  if (g->opset < 10) {
    const TfxAttr *a = tfx_attr(n, "k");
    if (!a) return tfx_node_error(g, NODE(n), "missing attribute 'k'");
    p->k = a->i;
  } else {
    if (!kt) return tfx_node_error(g, NODE(n), "input 'K' must be a compile-time constant");
    if (!tfx_dtype_is_int(kt->dtype) || tfx_tensor_numel(kt) != 1 || kt->rank > 1)
      return tfx_node_error(g, NODE(n), "input 'K' must be a 1-element integer tensor");
    p->k = tfx_tensor_get_i64(kt, 0);
  }
  if (p->k < 0 || p->k > p->s.len)
    return tfx_node_error(g, NODE(n), "K = %" PRId64 " is out of range for an axis of %" PRId64,
                          p->k, p->s.len);
  p->largest = tfx_attr_int(n, "largest", 1) != 0;
  return TFX_OK;
}

static TfxStatus topk_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *x;
  TRY(need_input(g, n, "X", &x));
  TRY(check_dtype(g, n, x->dtype, false, false));
  if (n->n_outputs != 2 || n->outputs[0] == TFX_NONE || n->outputs[1] == TFX_NONE)
    return tfx_node_error(g, n, "TopK needs both outputs (Values and Indices)");
  if (g->opset >= 10 && !tfx_node_in(g, n, 1)) return tfx_node_error(g, n, "missing input 'K'");
  TopKPlan p;
  TRY(topk_plan(g, n, x->rank, x->dims, tfx_node_const_in(g, n, 1), &p));
  int64_t od[TFX_MAX_RANK];
  memcpy(od, x->dims, sizeof od);
  od[p.s.axis] = p.k;
  tfx_node_set_out(g, n, 0, x->dtype, x->rank, od);
  tfx_node_set_out(g, n, 1, TFX_I64, x->rank, od);
  return TFX_OK;
}

/* Stable merge sort of idx[0..cnt) by `before` (a strict order). */
typedef struct {
  const TfxTensor *x;
  int64_t base, stride;
  int sign; /* +1: larger first, -1: smaller first */
} TopKOrder;

static bool topk_before(const TopKOrder *ord, int64_t a, int64_t b) {
  return elem_cmp(ord->x, ord->base + a * ord->stride, ord->base + b * ord->stride) * ord->sign > 0;
}

static void merge_sort(const TopKOrder *ord, int64_t *idx, int64_t *tmp, int64_t cnt) {
  if (cnt < 2) return;
  int64_t h = cnt / 2, i = 0, j = h, k = 0;
  merge_sort(ord, idx, tmp, h);
  merge_sort(ord, idx + h, tmp, cnt - h);
  while (i < h && j < cnt) tmp[k++] = topk_before(ord, idx[j], idx[i]) ? idx[j++] : idx[i++];
  while (i < h) tmp[k++] = idx[i++];
  while (j < cnt) tmp[k++] = idx[j++];
  memcpy(idx, tmp, (size_t)cnt * sizeof *idx);
}

static TfxStatus topk_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *x, const TfxTensor *kt,
                           TfxTensor *out) {
  TopKPlan p;
  TRY(topk_plan(g, n, x->rank, x->dims, kt, &p));
  const Split *s = &p.s;
  int64_t *idx = malloc((size_t)(s->len + 1) * sizeof *idx);
  int64_t *tmp = malloc((size_t)(s->len + 1) * sizeof *tmp);
  if (!idx || !tmp) {
    free(idx), free(tmp);
    return tfx_node_error(g, NODE(n), "out of memory");
  }
  for (int64_t o = 0; o < s->outer; o++) {
    for (int64_t q = 0; q < s->inner; q++) {
      TopKOrder ord = {x, o * s->len * s->inner + q, s->inner, p.largest ? 1 : -1};
      for (int64_t j = 0; j < s->len; j++) idx[j] = j;
      merge_sort(&ord, idx, tmp, s->len);
      for (int64_t j = 0; j < p.k; j++) {
        int64_t src = ord.base + idx[j] * s->inner, dst = o * p.k * s->inner + q + j * s->inner;
        if (tfx_dtype_is_float(x->dtype))
          tfx_tensor_set_f64(&out[0], dst, tfx_tensor_get_f64(x, src));
        else
          tfx_tensor_set_i64(&out[0], dst, tfx_tensor_get_i64(x, src));
        tfx_tensor_set_i64(&out[1], dst, idx[j]);
      }
    }
  }
  free(idx), free(tmp);
  return TFX_OK;
}

/* Insertion into the (sorted) output slice: no scratch memory, O(N) for
 * inputs in no particular order, O(N*K) at worst. */
static TfxStatus topk_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *xv = tfx_node_in(g, n, 0);
  TopKPlan p;
  TRY(topk_plan(g, n, xv->rank, xv->dims, tfx_node_const_in(g, n, 1), &p));
  const Split *s = &p.s;
  if (s->outer * s->inner * p.k == 0) {
    empty_block(e, n);
    return TFX_OK;
  }
  TfxDtype dt = xv->dtype;
  bool fl = tfx_dtype_is_float(dt);
  const char *ct = tfx_c_calctype(dt);
  char xs[256], vs[256], is[256], ex[1024], lb[512], ix[256], ix2[256], cond[512];
  cvar(e, xs, sizeof xs, n->inputs[0]);
  cvar(e, vs, sizeof vs, n->outputs[0]);
  cvar(e, is, sizeof is, n->outputs[1]);
  tfx_c_line(e, "{ /* TopK: %" PRId64 " %s of %" PRId64 " along axis %d */", p.k,
             p.largest ? "largest" : "smallest", s->len, s->axis);
  tfx_c_indent(e, 1);
  touch_values(e, n, false);
  Name o, q, b, c, cnt, j, v, w, pos;
  char pm1[80];
  slice_open(e, s->outer, s->len, s->inner, o, q, b, "b");
  fresh(e, c, "c");
  fresh(e, cnt, "cnt");
  fresh(e, j, "j");
  fresh(e, v, "v");
  fresh(e, w, "w");
  fresh(e, pos, "p");
  snprintf(pm1, sizeof pm1, "%s - 1", pos);
  tfx_c_line(e, "const int64_t %s = %s * %" PRId64 " + %s;", c, o, p.k * s->inner, q);
  tfx_c_line(e, "int64_t %s = 0;", cnt);
  loop_open(e, j, 0, s->len);
  snprintf(ex, sizeof ex, "%s[%s]", xs, axis_index(ix, sizeof ix, b, j, s->inner));
  tfx_c_line(e, "const %s %s = %s;", ct, v, tfx_c_load(e, dt, ex, lb));
  /* cond: v goes before w */
  if (fl && p.largest)
    snprintf(cond, sizeof cond, "%s > %s || (isnan(%s) && !isnan(%s))", v, w, v, w);
  else if (fl)
    snprintf(cond, sizeof cond, "%s < %s || (isnan(%s) && !isnan(%s))", v, w, w, v);
  else
    snprintf(cond, sizeof cond, "%s %s %s", v, p.largest ? ">" : "<", w);
  tfx_c_line(e, "int64_t %s;", pos);
  tfx_c_line(e, "if (%s < %" PRId64 ") {", cnt, p.k);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "%s = %s++;", pos, cnt);
  tfx_c_indent(e, -1);
  tfx_c_line(e, "} else {");
  tfx_c_indent(e, 1);
  char kk[32];
  snprintf(kk, sizeof kk, "%" PRId64, p.k - 1);
  snprintf(ex, sizeof ex, "%s[%s]", vs, axis_index(ix, sizeof ix, c, kk, s->inner));
  tfx_c_line(e, "const %s %s = %s;", ct, w, tfx_c_load(e, dt, ex, lb));
  tfx_c_line(e, "if (!(%s)) continue;", cond);
  tfx_c_line(e, "%s = %s;", pos, kk);
  block_close(e);
  tfx_c_line(e, "while (%s > 0) {", pos);
  tfx_c_indent(e, 1);
  axis_index(ix2, sizeof ix2, c, pm1, s->inner);
  snprintf(ex, sizeof ex, "%s[%s]", vs, ix2);
  tfx_c_line(e, "const %s %s = %s;", ct, w, tfx_c_load(e, dt, ex, lb));
  tfx_c_line(e, "if (!(%s)) break;", cond);
  axis_index(ix, sizeof ix, c, pos, s->inner);
  tfx_c_line(e, "%s[%s] = %s[%s];", vs, ix, vs, ix2);
  tfx_c_line(e, "%s[%s] = %s[%s];", is, ix, is, ix2);
  tfx_c_line(e, "%s--;", pos);
  block_close(e);
  snprintf(ex, sizeof ex, "%s[%s]", vs, ix);
  tfx_c_store(e, dt, ex, v);
  tfx_c_line(e, "%s[%s] = %s;", is, ix, j);
  block_close(e);
  block_close(e);
  block_close(e);
  block_close(e);
  return TFX_OK;
}

/* ---- CumSum / CumProd ---------------------------------------------------------- */

static TfxStatus cum_split(TfxGraph *g, const TfxNode *n, int rank, const int64_t *dims,
                           const TfxTensor *at, Split *s) {
  if (!at) return tfx_node_error(g, NODE(n), "input 'axis' must be a compile-time constant");
  if (!tfx_dtype_is_int(at->dtype) || tfx_tensor_numel(at) != 1 || at->rank > 1)
    return tfx_node_error(g, NODE(n), "input 'axis' must be an integer scalar");
  int64_t axis = tfx_tensor_get_i64(at, 0);
  if (axis < -rank || axis >= rank)
    return tfx_node_error(g, NODE(n), "axis %" PRId64 " is out of range for an input of rank %d",
                          axis, rank);
  split_at(rank, dims, tfx_axis(axis, rank), s);
  return TFX_OK;
}

static TfxStatus cum_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *x;
  TRY(need_input(g, n, "x", &x));
  TRY(check_dtype(g, n, x->dtype, false, false));
  if (!tfx_node_in(g, n, 1)) return tfx_node_error(g, n, "missing input 'axis'");
  Split s = {0};
  TRY(cum_split(g, n, x->rank, x->dims, tfx_node_const_in(g, n, 1), &s));
  tfx_node_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return TFX_OK;
}

static TfxStatus cum_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *x, const TfxTensor *at,
                          TfxTensor *y) {
  Split s = {0};
  TRY(cum_split(g, n, x->rank, x->dims, at, &s));
  bool excl = tfx_attr_int(n, "exclusive", 0) != 0, rev = tfx_attr_int(n, "reverse", 0) != 0;
  bool mul = n->op == TFX_OP_CumProd, fl = tfx_dtype_is_float(x->dtype);
  for (int64_t o = 0; o < s.outer; o++) {
    for (int64_t q = 0; q < s.inner; q++) {
      double fa = mul ? 1.0 : 0.0;
      uint64_t ua = mul ? 1 : 0;
      for (int64_t t = 0; t < s.len; t++) {
        int64_t j = rev ? s.len - 1 - t : t, i = o * s.len * s.inner + q + j * s.inner;
        double fv = fl ? tfx_tensor_get_f64(x, i) : 0.0;
        uint64_t uv = fl ? 0 : (uint64_t)tfx_tensor_get_i64(x, i);
        if (!excl) {
          fa = mul ? fa * fv : fa + fv;
          ua = mul ? ua * uv : ua + uv;
        }
        if (fl)
          tfx_tensor_set_f64(y, i, fa);
        else
          tfx_tensor_set_i64(y, i, (int64_t)ua);
        if (excl) {
          fa = mul ? fa * fv : fa + fv;
          ua = mul ? ua * uv : ua + uv;
        }
      }
    }
  }
  return TFX_OK;
}

static TfxStatus cum_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *xv = tfx_node_in(g, n, 0);
  Split s = {0};
  TRY(cum_split(g, n, xv->rank, xv->dims, tfx_node_const_in(g, n, 1), &s));
  if (s.outer * s.len * s.inner == 0) {
    empty_block(e, n);
    return TFX_OK;
  }
  TfxDtype dt = xv->dtype;
  bool excl = tfx_attr_int(n, "exclusive", 0) != 0, rev = tfx_attr_int(n, "reverse", 0) != 0;
  bool mul = n->op == TFX_OP_CumProd, fl = tfx_dtype_is_float(dt);
  const char *at = fl ? "double" : "uint64_t", *opc = mul ? "*=" : "+=";
  char xs[256], ys[256], ex[1024], lb[512], ix[256], jj[128], val[256];
  cvar(e, xs, sizeof xs, n->inputs[0]);
  cvar(e, ys, sizeof ys, n->outputs[0]);
  tfx_c_line(e, "{ /* %s along axis %d%s%s */", n->op_type, s.axis, excl ? ", exclusive" : "",
             rev ? ", reverse" : "");
  tfx_c_indent(e, 1);
  touch_values(e, n, false);
  Name o, q, b, acc, j, i, v;
  slice_open(e, s.outer, s.len, s.inner, o, q, b, "b");
  fresh(e, acc, "acc");
  fresh(e, j, "j");
  fresh(e, i, "i");
  fresh(e, v, "v");
  tfx_c_line(e, "%s %s = %s;", at, acc, mul ? "1" : "0");
  loop_open(e, j, 0, s.len);
  if (rev)
    snprintf(jj, sizeof jj, "%" PRId64 " - %s", s.len - 1, j);
  else
    snprintf(jj, sizeof jj, "%s", j);
  tfx_c_line(e, "const int64_t %s = %s;", i, axis_index(ix, sizeof ix, b, jj, s.inner));
  snprintf(ex, sizeof ex, "%s[%s]", xs, i);
  tfx_c_line(e, "const %s %s = (%s)%s;", at, v, at, tfx_c_load(e, dt, ex, lb));
  snprintf(ex, sizeof ex, "%s[%s]", ys, i);
  snprintf(val, sizeof val, "(%s)%s", fl ? tfx_c_calctype(dt) : tfx_dtype_ctype(dt), acc);
  if (!excl) tfx_c_line(e, "%s %s %s;", acc, opc, v);
  tfx_c_store(e, dt, ex, val);
  if (excl) tfx_c_line(e, "%s %s %s;", acc, opc, v);
  block_close(e);
  block_close(e);
  block_close(e);
  block_close(e);
  return TFX_OK;
}

/* ---- dispatch -------------------------------------------------------------------- */

TfxStatus tfx_reduce_infer(TfxGraph *g, TfxNode *n) {
  switch (n->op) {
  case TFX_OP_ArgMax: case TFX_OP_ArgMin: return arg_infer(g, n);
  case TFX_OP_Softmax: case TFX_OP_LogSoftmax: case TFX_OP_Hardmax: return softmax_infer(g, n);
  case TFX_OP_TopK: return topk_infer(g, n);
  case TFX_OP_CumSum: case TFX_OP_CumProd: return cum_infer(g, n);
  default:
    if (rkind(n->op) != RK_NONE) return reduce_infer(g, n);
    return tfx_node_error(g, n, "operator not handled by the reduce family");
  }
}

TfxStatus tfx_reduce_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                          TfxTensor *out) {
  const TfxTensor *x = in[0], *in1 = n->n_inputs > 1 ? in[1] : NULL;
  if (!x) return tfx_node_error(g, NODE(n), "missing input 0");
  switch (n->op) {
  case TFX_OP_ArgMax: case TFX_OP_ArgMin: return arg_eval(g, n, x, &out[0]);
  case TFX_OP_Softmax: case TFX_OP_LogSoftmax: case TFX_OP_Hardmax:
    return softmax_eval(g, n, x, &out[0]);
  case TFX_OP_TopK: return topk_eval(g, n, x, in1, out);
  case TFX_OP_CumSum: case TFX_OP_CumProd: return cum_eval(g, n, x, in1, &out[0]);
  default:
    if (rkind(n->op) != RK_NONE) return reduce_eval(g, n, x, in1, &out[0]);
    return tfx_node_error(g, NODE(n), "operator not handled by the reduce family");
  }
}

TfxStatus tfx_reduce_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  switch (n->op) {
  case TFX_OP_ArgMax: case TFX_OP_ArgMin: return arg_emit(e, g, n);
  case TFX_OP_Softmax: case TFX_OP_LogSoftmax: case TFX_OP_Hardmax: return softmax_emit(e, g, n);
  case TFX_OP_TopK: return topk_emit(e, g, n);
  case TFX_OP_CumSum: case TFX_OP_CumProd: return cum_emit(e, g, n);
  default:
    if (rkind(n->op) != RK_NONE) return reduce_emit(e, g, n);
    return tfx_node_error(g, NODE(n), "operator not handled by the reduce family");
  }
}
