/* shape.c — the shape family: ops that move bytes or compute shapes (Reshape,
 * Transpose, Concat, Split, Slice, Pad, Tile, ...).  Each op has one `plan`
 * function that validates the node and derives its parameters from the input
 * shapes and compile-time operands; infer, eval and emit_c all start from it,
 * so the three can never disagree on what the node means.  The evaluator walks
 * the output element by element with plain index arithmetic; the emitter
 * prints strided copies.  Ops with runtime indices live in shape_index.c, ops
 * computed from shapes and constants alone (Shape, Range, ...) in shape_const.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ops/shape_priv.h"

/* ---- shared helpers ------------------------------------------------------ */

TfxStatus tfx_shp_ins_from_graph(TfxGraph *g, const TfxNode *n, TfxShpIns *s) {
  memset(s, 0, sizeof *s);
  if (n->n_inputs > TFX_SHP_MAXIN) return tfx_node_error(g, n, "too many inputs (%d)", n->n_inputs);
  s->n = n->n_inputs;
  for (int k = 0; k < n->n_inputs; k++) {
    TfxValue *v = tfx_node_in(g, n, k);
    if (!v) continue;
    if (v->rank < 0) return tfx_node_error(g, n, "input %d ('%s') has an unknown shape", k, v->name);
    TfxTensor *t = &s->buf[k];
    t->dtype = v->dtype;
    t->rank = v->rank;
    memcpy(t->dims, v->dims, sizeof t->dims);
    t->data = v->konst ? v->konst->data : NULL;
    s->known[k] = v->konst != NULL;
    s->in[k] = t;
  }
  return TFX_OK;
}

TfxStatus tfx_shp_ins_from_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxShpIns *s) {
  memset(s, 0, sizeof *s);
  if (n->n_inputs > TFX_SHP_MAXIN) return tfx_node_error(g, n, "too many inputs (%d)", n->n_inputs);
  s->n = n->n_inputs;
  for (int k = 0; k < n->n_inputs; k++) {
    s->in[k] = in[k];
    s->known[k] = in[k] != NULL;
  }
  return TFX_OK;
}

const TfxTensor *tfx_shp_ins_get(const TfxShpIns *s, int k) { return k < s->n ? s->in[k] : NULL; }

/* Integer values of input k, which must be a compile-time constant of rank 0
 * or 1.  Returns the count, or -1 after reporting an error. */
int tfx_shp_ins_ints(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int k, const char *what,
                     int64_t *vals, int max) {
  const TfxTensor *t = tfx_shp_ins_get(s, k);
  if (!t) return tfx_node_error(g, n, "input '%s' is missing", what), -1;
  if (!s->known[k]) return tfx_node_error(g, n, "input '%s' must be a compile-time constant", what), -1;
  if (!tfx_dtype_is_int(t->dtype))
    return tfx_node_error(g, n, "input '%s' must be an integer tensor, not %s", what,
                          tfx_dtype_name(t->dtype)),
           -1;
  if (t->rank > 1) return tfx_node_error(g, n, "input '%s' must be 1-D, not rank %d", what, t->rank), -1;
  int64_t cnt = tfx_tensor_numel(t);
  if (cnt > max)
    return tfx_node_error(g, n, "input '%s' has %lld values, at most %d allowed", what, (long long)cnt, max),
           -1;
  for (int64_t i = 0; i < cnt; i++) vals[i] = tfx_tensor_get_i64(t, i);
  return (int)cnt;
}

/* An INTS attribute copied into vals; -1 if absent, -2 after an error. */
int tfx_shp_attr_ints(TfxGraph *g, const TfxNode *n, const char *name, int64_t *vals, int max) {
  const int64_t *v;
  int cnt = tfx_attr_ints(n, name, &v);
  if (cnt < 0) return -1;
  if (cnt > max)
    return tfx_node_error(g, n, "attribute '%s' has %d values, at most %d allowed", name, cnt, max), -2;
  for (int i = 0; i < cnt; i++) vals[i] = v[i];
  return cnt;
}

TfxStatus tfx_shp_check_dtype(TfxGraph *g, const TfxNode *n, TfxDtype dt, const char *what) {
  if (dt == TFX_UNDEF || tfx_dtype_bytes(dt) == 0)
    return tfx_node_error(g, n, "%s has unsupported dtype %s", what, tfx_dtype_name(dt));
  return TFX_OK;
}

TfxValue *tfx_shp_need_in(TfxGraph *g, const TfxNode *n, int k) {
  TfxValue *v = k < n->n_inputs ? tfx_node_in(g, n, k) : NULL;
  if (!v) {
    tfx_node_error(g, n, "input %d is missing", k);
    return NULL;
  }
  if (v->rank < 0) {
    tfx_node_error(g, n, "input %d ('%s') has an unknown shape", k, v->name);
    return NULL;
  }
  return v;
}

bool tfx_shp_fix_index(int64_t *k, int64_t dim) {
  if (*k < 0) *k += dim;
  return *k >= 0 && *k < dim;
}

void tfx_shp_emit_fix_index(TfxCEmit *e, const char *var, int64_t dim) {
  tfx_c_line(e, "if (%s < 0) %s += %lld;", var, var, (long long)dim);
  tfx_c_line(e, "if (%s < 0) %s = 0;", var, var);
  tfx_c_line(e, "if (%s > %lld) %s = %lld;", var, (long long)(dim - 1), var, (long long)(dim - 1));
}

/* a*b, or -1 when it overflows or either is negative. */
static int64_t mul_dims(int64_t a, int64_t b) {
  if (a < 0 || b < 0) return -1;
  if (a != 0 && b > INT64_MAX / a) return -1;
  return a * b;
}

static int64_t prod(const int64_t *d, int from, int to) {
  int64_t p = 1;
  for (int i = from; i < to; i++) p *= d[i];
  return p;
}




static const char *out_var(TfxCEmit *e, const TfxNode *n, int k) { return tfx_c_var(e, n->outputs[k]); }
static const char *in_var(TfxCEmit *e, const TfxNode *n, int k) { return tfx_c_var(e, n->inputs[k]); }

static void emit_memcpy(TfxCEmit *e, const char *dst, const char *src, int64_t bytes) {
  if (bytes > 0) tfx_c_line(e, "memcpy(%s, %s, %lld);", dst, src, (long long)bytes);
}

const char *tfx_shp_lit_elem(char *buf, const TfxTensor *t, int64_t i) {
  switch (t->dtype) {
  case TFX_F32: return tfx_c_float(buf, (float)tfx_tensor_get_f64(t, i));
  case TFX_F64: return tfx_c_double(buf, tfx_tensor_get_f64(t, i));
  case TFX_F16:
  case TFX_BF16: snprintf(buf, 64, "%u", (unsigned)((const uint16_t *)t->data)[i]); return buf;
  case TFX_U8:
  case TFX_U16:
  case TFX_U32:
  case TFX_BOOL: snprintf(buf, 64, "%lluu", (unsigned long long)tfx_tensor_get_i64(t, i)); return buf;
  case TFX_U64:
    snprintf(buf, 64, "UINT64_C(%llu)", (unsigned long long)((const uint64_t *)t->data)[i]);
    return buf;
  default: return tfx_c_int(buf, tfx_tensor_get_i64(t, i));
  }
}

void tfx_shp_emit_copy(TfxCEmit *e, TfxDtype dt, uint32_t dstv, uint32_t srcv, const TfxShpCopy *c0) {
  TfxShpCopy c = {.rank = 0, .db = c0->db, .sb = c0->sb};
  for (int k = 0; k < c0->rank; k++) {
    if (c0->dims[k] == 0) return;
    if (c0->dims[k] == 1) continue;
    int r = c.rank;
    if (r > 0 && c.ds[r - 1] == c0->ds[k] * c0->dims[k] && c.ss[r - 1] == c0->ss[k] * c0->dims[k]) {
      c.dims[r - 1] *= c0->dims[k];
      c.ds[r - 1] = c0->ds[k];
      c.ss[r - 1] = c0->ss[k];
      continue;
    }
    c.dims[r] = c0->dims[k];
    c.ds[r] = c0->ds[k];
    c.ss[r] = c0->ss[k];
    c.rank++;
  }
  char di[512], si[512];
  int r = c.rank;
  size_t es = tfx_dtype_bytes(dt);
  const char *dst = tfx_c_var(e, dstv), *src = tfx_c_var(e, srcv);
  if (r > 0 && c.ds[r - 1] == 1 && c.ss[r - 1] == 1) {
    tfx_c_loops_begin(e, r - 1, c.dims);
    tfx_c_line(e, "memcpy(%s + %s, %s + %s, %lld);", dst, tfx_c_index(di, r - 1, c.ds, c.db), src,
               tfx_c_index(si, r - 1, c.ss, c.sb), (long long)(c.dims[r - 1] * (int64_t)es));
    tfx_c_loops_end(e, r - 1);
    return;
  }
  tfx_c_loops_begin(e, r, c.dims);
  tfx_c_line(e, "%s[%s] = %s[%s];", dst, tfx_c_index(di, r, c.ds, c.db), src, tfx_c_index(si, r, c.ss, c.sb));
  tfx_c_loops_end(e, r);
}

/* A copy over the output's dims, writing the output in row-major order. */
static void copy_over_out(TfxShpCopy *c, int rank, const int64_t *odims) {
  memset(c, 0, sizeof *c);
  c->rank = rank;
  memcpy(c->dims, odims, sizeof(int64_t) * (size_t)rank);
  tfx_strides(rank, odims, c->ds);
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze: same bytes, new dims ---------- */

/* Reshape(data, shape): 0 copies the input dim (unless allowzero), one -1 is
 * inferred from the element count. */
static TfxStatus reshape_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int *rank, int64_t *dims) {
  const TfxTensor *x = s->in[0];
  int64_t sh[TFX_MAX_RANK];
  int cnt;
  if (tfx_shp_ins_get(s, 1)) {
    cnt = tfx_shp_ins_ints(g, n, s, 1, "shape", sh, TFX_MAX_RANK);
    if (cnt < 0) return TFX_ERR;
  } else {
    cnt = tfx_shp_attr_ints(g, n, "shape", sh, TFX_MAX_RANK);
    if (cnt == -2) return TFX_ERR;
    if (cnt < 0) return tfx_node_error(g, n, "missing the 'shape' input");
  }
  bool allowzero = tfx_attr_int(n, "allowzero", 0) != 0;
  int neg = -1;
  int64_t known = 1;
  for (int i = 0; i < cnt; i++) {
    if (sh[i] == -1) {
      if (neg >= 0) return tfx_node_error(g, n, "shape has more than one -1");
      neg = i;
      continue;
    }
    if (sh[i] == 0 && !allowzero) {
      if (i >= x->rank)
        return tfx_node_error(g, n, "shape[%d] = 0 copies a dim the rank-%d input lacks", i, x->rank);
      dims[i] = x->dims[i];
    } else if (sh[i] < 0) {
      return tfx_node_error(g, n, "shape[%d] = %lld is invalid", i, (long long)sh[i]);
    } else {
      dims[i] = sh[i];
    }
    known = mul_dims(known, dims[i]);
    if (known < 0) return tfx_node_error(g, n, "shape has too many elements");
  }
  int64_t total = tfx_tensor_numel(x);
  if (neg >= 0) {
    if (known == 0) return tfx_node_error(g, n, "cannot infer the -1 dim of a shape containing a 0 dim");
    if (total % known != 0)
      return tfx_node_error(g, n, "cannot reshape %lld elements: not a multiple of %lld", (long long)total,
                            (long long)known);
    dims[neg] = total / known;
  } else if (known != total) {
    return tfx_node_error(g, n, "cannot reshape %lld elements into a shape of %lld elements",
                          (long long)total, (long long)known);
  }
  *rank = cnt;
  return TFX_OK;
}

static TfxStatus flatten_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int *rank, int64_t *dims) {
  const TfxTensor *x = s->in[0];
  int64_t axis = tfx_attr_int(n, "axis", 1);
  if (axis < -x->rank || axis > x->rank)
    return tfx_node_error(g, n, "axis %lld out of range for rank %d", (long long)axis, x->rank);
  int a = axis < 0 ? (int)axis + x->rank : (int)axis;
  *rank = 2;
  dims[0] = prod(x->dims, 0, a);
  dims[1] = prod(x->dims, a, x->rank);
  return TFX_OK;
}

/* Axes of Squeeze / Unsqueeze: the 'axes' attribute before opset 13, the
 * optional second input from 13 on.  Returns the count, -1 when absent. */
static int squeeze_axes(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int64_t *axes, bool *err) {
  *err = false;
  int cnt;
  if (tfx_shp_ins_get(s, 1)) {
    cnt = tfx_shp_ins_ints(g, n, s, 1, "axes", axes, TFX_MAX_RANK);
    if (cnt < 0) *err = true;
    return cnt;
  }
  cnt = tfx_shp_attr_ints(g, n, "axes", axes, TFX_MAX_RANK);
  if (cnt == -2) *err = true;
  return cnt;
}

static TfxStatus squeeze_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int *rank, int64_t *dims) {
  const TfxTensor *x = s->in[0];
  int64_t axes[TFX_MAX_RANK];
  bool err, drop[TFX_MAX_RANK] = {false};
  int cnt = squeeze_axes(g, n, s, axes, &err);
  if (err) return TFX_ERR;
  if (cnt < 0) {
    for (int i = 0; i < x->rank; i++) drop[i] = x->dims[i] == 1;
  }
  for (int i = 0; i < cnt; i++) {
    if (axes[i] < -x->rank || axes[i] >= x->rank)
      return tfx_node_error(g, n, "axis %lld out of range for rank %d", (long long)axes[i], x->rank);
    int a = tfx_axis(axes[i], x->rank);
    if (drop[a]) return tfx_node_error(g, n, "axis %lld repeated", (long long)axes[i]);
    if (x->dims[a] != 1)
      return tfx_node_error(g, n, "cannot squeeze axis %d of extent %lld", a, (long long)x->dims[a]);
    drop[a] = true;
  }
  *rank = 0;
  for (int i = 0; i < x->rank; i++)
    if (!drop[i]) dims[(*rank)++] = x->dims[i];
  return TFX_OK;
}

static TfxStatus unsqueeze_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int *rank, int64_t *dims) {
  const TfxTensor *x = s->in[0];
  int64_t axes[TFX_MAX_RANK];
  bool err, ins[TFX_MAX_RANK] = {false};
  int cnt = squeeze_axes(g, n, s, axes, &err);
  if (err) return TFX_ERR;
  if (cnt < 0) return tfx_node_error(g, n, "missing 'axes'");
  int r = x->rank + cnt;
  if (r > TFX_MAX_RANK) return tfx_node_error(g, n, "output rank %d exceeds %d", r, TFX_MAX_RANK);
  for (int i = 0; i < cnt; i++) {
    if (axes[i] < -r || axes[i] >= r)
      return tfx_node_error(g, n, "axis %lld out of range for output rank %d", (long long)axes[i], r);
    int a = tfx_axis(axes[i], r);
    if (ins[a]) return tfx_node_error(g, n, "axis %lld repeated", (long long)axes[i]);
    ins[a] = true;
  }
  for (int i = 0, j = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[j++];
  *rank = r;
  return TFX_OK;
}

/* ---- Transpose ----------------------------------------------------------- */

static TfxStatus transpose_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int *perm) {
  const TfxTensor *x = s->in[0];
  int64_t p[TFX_MAX_RANK];
  int cnt = tfx_shp_attr_ints(g, n, "perm", p, TFX_MAX_RANK);
  if (cnt == -2) return TFX_ERR;
  if (cnt < 0) {
    for (int i = 0; i < x->rank; i++) perm[i] = x->rank - 1 - i;
    return TFX_OK;
  }
  if (cnt != x->rank) return tfx_node_error(g, n, "perm has %d entries for a rank-%d input", cnt, x->rank);
  bool seen[TFX_MAX_RANK] = {false};
  for (int i = 0; i < cnt; i++) {
    if (p[i] < 0 || p[i] >= cnt || seen[p[i]])
      return tfx_node_error(g, n, "perm is not a permutation of 0..%d", cnt - 1);
    seen[p[i]] = true;
    perm[i] = (int)p[i];
  }
  return TFX_OK;
}

/* ---- Expand, Tile --------------------------------------------------------- */

static TfxStatus expand_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int *rank, int64_t *dims) {
  const TfxTensor *x = s->in[0];
  int64_t sh[TFX_MAX_RANK];
  int cnt = tfx_shp_ins_ints(g, n, s, 1, "shape", sh, TFX_MAX_RANK);
  if (cnt < 0) return TFX_ERR;
  for (int i = 0; i < cnt; i++)
    if (sh[i] < 0) return tfx_node_error(g, n, "shape[%d] = %lld is negative", i, (long long)sh[i]);
  if (!tfx_bcast_shape(x->rank, x->dims, cnt, sh, rank, dims))
    return tfx_node_error(g, n, "input shape does not broadcast to the requested shape");
  return TFX_OK;
}

static TfxStatus tile_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int64_t *reps, int64_t *dims) {
  const TfxTensor *x = s->in[0];
  int cnt = tfx_shp_ins_ints(g, n, s, 1, "repeats", reps, TFX_MAX_RANK);
  if (cnt < 0) return TFX_ERR;
  if (cnt != x->rank) return tfx_node_error(g, n, "repeats has %d values for a rank-%d input", cnt, x->rank);
  for (int i = 0; i < cnt; i++) {
    dims[i] = mul_dims(x->dims[i], reps[i]);
    if (dims[i] < 0) return tfx_node_error(g, n, "repeats[%d] = %lld is invalid", i, (long long)reps[i]);
  }
  return TFX_OK;
}

/* ---- Slice ----------------------------------------------------------------- */

typedef struct {
  int64_t start[TFX_MAX_RANK], step[TFX_MAX_RANK], dims[TFX_MAX_RANK];
} SlicePlan;

static TfxStatus slice_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, SlicePlan *p) {
  const TfxTensor *x = s->in[0];
  int r = x->rank;
  int64_t st[TFX_MAX_RANK], en[TFX_MAX_RANK], ax[TFX_MAX_RANK], sp[TFX_MAX_RANK];
  int ns, ne, na = -1, np = -1;
  if (g->opset < 10 && !tfx_shp_ins_get(s, 1)) {
    ns = tfx_shp_attr_ints(g, n, "starts", st, TFX_MAX_RANK);
    ne = tfx_shp_attr_ints(g, n, "ends", en, TFX_MAX_RANK);
    na = tfx_shp_attr_ints(g, n, "axes", ax, TFX_MAX_RANK);
    if (ns == -2 || ne == -2 || na == -2) return TFX_ERR;
    if (ns < 0 || ne < 0) return tfx_node_error(g, n, "missing 'starts' or 'ends'");
  } else {
    if ((ns = tfx_shp_ins_ints(g, n, s, 1, "starts", st, TFX_MAX_RANK)) < 0) return TFX_ERR;
    if ((ne = tfx_shp_ins_ints(g, n, s, 2, "ends", en, TFX_MAX_RANK)) < 0) return TFX_ERR;
    if (tfx_shp_ins_get(s, 3) && (na = tfx_shp_ins_ints(g, n, s, 3, "axes", ax, TFX_MAX_RANK)) < 0)
      return TFX_ERR;
    if (tfx_shp_ins_get(s, 4) && (np = tfx_shp_ins_ints(g, n, s, 4, "steps", sp, TFX_MAX_RANK)) < 0)
      return TFX_ERR;
  }
  if (ne != ns) return tfx_node_error(g, n, "starts has %d values but ends has %d", ns, ne);
  if (na >= 0 && na != ns) return tfx_node_error(g, n, "axes has %d values, starts %d", na, ns);
  if (np >= 0 && np != ns) return tfx_node_error(g, n, "steps has %d values, starts %d", np, ns);
  if (na < 0 && ns > r) return tfx_node_error(g, n, "%d starts for a rank-%d input", ns, r);
  bool seen[TFX_MAX_RANK] = {false};
  for (int k = 0; k < r; k++) p->start[k] = 0, p->step[k] = 1, p->dims[k] = x->dims[k];
  for (int i = 0; i < ns; i++) {
    int64_t a64 = na >= 0 ? ax[i] : i;
    if (a64 < -r || a64 >= r)
      return tfx_node_error(g, n, "axis %lld out of range for rank %d", (long long)a64, r);
    int a = tfx_axis(a64, r);
    if (seen[a]) return tfx_node_error(g, n, "axis %d repeated", a);
    seen[a] = true;
    int64_t step = np >= 0 ? sp[i] : 1, d = x->dims[a], b = st[i], e = en[i], len;
    if (step == 0) return tfx_node_error(g, n, "step for axis %d is 0", a);
    if (step == INT64_MIN) step = -INT64_MAX;
    if (b < 0) b += d;
    if (e < 0) e += d;
    if (step > 0) {
      b = clamp64(b, 0, d);
      e = clamp64(e, 0, d);
      len = e > b ? (e - b - 1) / step + 1 : 0;
    } else {
      b = clamp64(b, 0, d - 1);
      e = clamp64(e, -1, d - 1);
      len = b > e ? (b - e - 1) / -step + 1 : 0;
    }
    p->start[a] = len > 0 ? b : 0;
    p->step[a] = step;
    p->dims[a] = len;
  }
  return TFX_OK;
}

/* ---- Pad --------------------------------------------------------------------- */

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } PadMode;

typedef struct {
  PadMode mode;
  int64_t begin[TFX_MAX_RANK], end[TFX_MAX_RANK], dims[TFX_MAX_RANK];
  double value; /* constant from the opset < 11 'value' attribute */
} PadPlan;

static TfxStatus pad_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, PadPlan *p) {
  const TfxTensor *x = s->in[0];
  int r = x->rank;
  const char *mode = tfx_attr_string(n, "mode", "constant");
  if (!strcmp(mode, "constant"))
    p->mode = PAD_CONSTANT;
  else if (!strcmp(mode, "reflect"))
    p->mode = PAD_REFLECT;
  else if (!strcmp(mode, "edge"))
    p->mode = PAD_EDGE;
  else if (!strcmp(mode, "wrap"))
    p->mode = PAD_WRAP;
  else
    return tfx_node_error(g, n, "unsupported mode '%s'", mode);
  p->value = tfx_attr_float(n, "value", 0.0f);
  int64_t pads[2 * TFX_MAX_RANK], axes[TFX_MAX_RANK];
  int np, na = -1;
  if (tfx_shp_ins_get(s, 1)) {
    if ((np = tfx_shp_ins_ints(g, n, s, 1, "pads", pads, 2 * TFX_MAX_RANK)) < 0) return TFX_ERR;
    if (tfx_shp_ins_get(s, 3) && (na = tfx_shp_ins_ints(g, n, s, 3, "axes", axes, TFX_MAX_RANK)) < 0)
      return TFX_ERR;
  } else {
    np = tfx_shp_attr_ints(g, n, "pads", pads, 2 * TFX_MAX_RANK);
    if (np == -1) np = tfx_shp_attr_ints(g, n, "paddings", pads, 2 * TFX_MAX_RANK);
    if (np == -2) return TFX_ERR;
    if (np < 0) return tfx_node_error(g, n, "missing 'pads'");
  }
  int nax = na >= 0 ? na : r;
  if (np != 2 * nax)
    return tfx_node_error(g, n, "pads has %d values, expected %d (2 per padded axis)", np, 2 * nax);
  bool seen[TFX_MAX_RANK] = {false};
  for (int k = 0; k < r; k++) p->begin[k] = p->end[k] = 0;
  for (int i = 0; i < nax; i++) {
    int64_t a64 = na >= 0 ? axes[i] : i;
    if (a64 < -r || a64 >= r)
      return tfx_node_error(g, n, "axis %lld out of range for rank %d", (long long)a64, r);
    int a = tfx_axis(a64, r);
    if (seen[a]) return tfx_node_error(g, n, "axis %d repeated", a);
    seen[a] = true;
    p->begin[a] = pads[i];
    p->end[a] = pads[nax + i];
  }
  for (int k = 0; k < r; k++) {
    int64_t b = p->begin[k], e = p->end[k], d = x->dims[k];
    if (b > INT64_MAX / 4 || e > INT64_MAX / 4 || b < -d || e < -d)
      return tfx_node_error(g, n, "pads of axis %d out of range", k);
    p->dims[k] = d + b + e;
    if (p->dims[k] < 0) return tfx_node_error(g, n, "pads of axis %d remove more than the axis holds", k);
    int64_t kept = d - (b < 0 ? -b : 0) - (e < 0 ? -e : 0);
    if (p->mode != PAD_CONSTANT && kept <= 0 && p->dims[k] > 0)
      return tfx_node_error(g, n, "mode '%s' cannot pad axis %d, which has no elements", mode, k);
  }
  if (tfx_shp_ins_get(s, 2) && tfx_tensor_numel(s->in[2]) > 0) {
    if (s->in[2]->dtype != x->dtype)
      return tfx_node_error(g, n, "constant_value is %s, data is %s", tfx_dtype_name(s->in[2]->dtype),
                            tfx_dtype_name(x->dtype));
  }
  return TFX_OK;
}

/* Index into the input for output index o along axis k, or -1 for the
 * constant.  Negative pads crop first; the mode then pads the cropped extent. */
static int64_t pad_src(const PadPlan *p, int64_t d, int k, int64_t o) {
  int64_t b = p->begin[k], e = p->end[k];
  int64_t lo = b < 0 ? -b : 0, kept = d - lo - (e < 0 ? -e : 0);
  int64_t i = o - (b > 0 ? b : 0);
  if (i >= 0 && i < kept) return lo + i;
  switch (p->mode) {
  case PAD_CONSTANT: return -1;
  case PAD_EDGE: i = i < 0 ? 0 : kept - 1; break;
  case PAD_WRAP: i = ((i % kept) + kept) % kept; break;
  case PAD_REFLECT:
    if (kept == 1) {
      i = 0;
    } else {
      int64_t period = 2 * (kept - 1);
      i = ((i % period) + period) % period;
      if (i >= kept) i = period - i;
    }
    break;
  }
  return lo + i;
}

/* ---- DepthToSpace, SpaceToDepth ---------------------------------------------- */

typedef struct {
  int64_t b;
  bool crd;
  int64_t dims[4];
} D2SPlan;

static TfxStatus d2s_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, D2SPlan *p) {
  const TfxTensor *x = s->in[0];
  if (x->rank != 4) return tfx_node_error(g, n, "input must be 4-D (N,C,H,W), not rank %d", x->rank);
  p->b = tfx_attr_int(n, "blocksize", 0);
  if (p->b <= 0 || p->b > (1 << 20)) return tfx_node_error(g, n, "blocksize must be positive");
  const char *mode = tfx_attr_string(n, "mode", "DCR");
  if (strcmp(mode, "DCR") && strcmp(mode, "CRD")) return tfx_node_error(g, n, "unsupported mode '%s'", mode);
  p->crd = !strcmp(mode, "CRD");
  int64_t b = p->b, *d = p->dims;
  memcpy(d, x->dims, sizeof p->dims);
  if (n->op == TFX_OP_DepthToSpace) {
    if (x->dims[1] % (b * b))
      return tfx_node_error(g, n, "channels %lld not divisible by blocksize^2", (long long)x->dims[1]);
    d[1] /= b * b, d[2] *= b, d[3] *= b;
  } else {
    if (x->dims[2] % b || x->dims[3] % b)
      return tfx_node_error(g, n, "height and width must be multiples of blocksize %lld", (long long)b);
    d[1] *= b * b, d[2] /= b, d[3] /= b;
  }
  return TFX_OK;
}

/* The 6-D view of the input and the permutation that turns it into the
 * output's 6-D view (the ONNX definition of both ops). */
static void d2s_view(const TfxNode *n, const D2SPlan *p, const int64_t *in, int64_t *v, int *perm) {
  int64_t b = p->b;
  static const int dcr[6] = {0, 3, 4, 1, 5, 2}, crd[6] = {0, 1, 4, 2, 5, 3};
  static const int s2d_dcr[6] = {0, 3, 5, 1, 2, 4}, s2d_crd[6] = {0, 1, 3, 5, 2, 4};
  if (n->op == TFX_OP_DepthToSpace) {
    int64_t c = in[1] / (b * b);
    int64_t vd[6] = {in[0], b, b, c, in[2], in[3]}, vc[6] = {in[0], c, b, b, in[2], in[3]};
    memcpy(v, p->crd ? vc : vd, sizeof vd);
    memcpy(perm, p->crd ? crd : dcr, sizeof dcr);
  } else {
    int64_t vs[6] = {in[0], in[1], in[2] / b, b, in[3] / b, b};
    memcpy(v, vs, sizeof vs);
    memcpy(perm, p->crd ? s2d_crd : s2d_dcr, sizeof dcr);
  }
}

/* ---- CenterCropPad: crop or zero-pad the listed axes around their centre ---- */

typedef struct {
  int64_t dims[TFX_MAX_RANK]; /* output */
  int64_t src[TFX_MAX_RANK], dst[TFX_MAX_RANK], len[TFX_MAX_RANK];
  bool pads;
} CCPPlan;

static TfxStatus ccp_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, CCPPlan *p) {
  const TfxTensor *x = s->in[0];
  int r = x->rank;
  int64_t sh[TFX_MAX_RANK], axes[TFX_MAX_RANK];
  int ns = tfx_shp_ins_ints(g, n, s, 1, "shape", sh, TFX_MAX_RANK);
  if (ns < 0) return TFX_ERR;
  int na = tfx_shp_attr_ints(g, n, "axes", axes, TFX_MAX_RANK);
  if (na == -2) return TFX_ERR;
  if (na < 0) {
    na = r;
    for (int i = 0; i < r; i++) axes[i] = i;
  }
  if (ns != na) return tfx_node_error(g, n, "shape has %d values for %d axes", ns, na);
  for (int k = 0; k < r; k++) p->dims[k] = p->len[k] = x->dims[k], p->src[k] = p->dst[k] = 0;
  p->pads = false;
  bool seen[TFX_MAX_RANK] = {false};
  for (int i = 0; i < na; i++) {
    if (axes[i] < -r || axes[i] >= r)
      return tfx_node_error(g, n, "axis %lld out of range", (long long)axes[i]);
    int a = tfx_axis(axes[i], r);
    if (seen[a]) return tfx_node_error(g, n, "axis %d repeated", a);
    seen[a] = true;
    int64_t d = x->dims[a], t = sh[i];
    if (t < 0) return tfx_node_error(g, n, "shape[%d] = %lld is negative", i, (long long)t);
    p->dims[a] = t;
    if (t < d) p->src[a] = (d - t) / 2, p->len[a] = t;
    if (t > d) p->dst[a] = (t - d) / 2, p->pads = true;
  }
  return TFX_OK;
}

/* ---- Concat, Split ------------------------------------------------------------- */

static TfxStatus concat_plan(TfxGraph *g, const TfxNode *n, int *axis, int *rank, int64_t *dims,
                             TfxDtype *dt) {
  if (n->n_inputs < 1) return tfx_node_error(g, n, "needs at least one input");
  TfxValue *x0 = tfx_shp_need_in(g, n, 0);
  if (!x0) return TFX_ERR;
  int r = x0->rank;
  if (r == 0) return tfx_node_error(g, n, "cannot concatenate scalars");
  const TfxAttr *a = tfx_attr(n, "axis");
  if (!a && g->opset >= 4) return tfx_node_error(g, n, "missing the 'axis' attribute");
  if (a && a->kind != TFX_ATTR_INT) return tfx_node_error(g, n, "attribute 'axis' must be an int");
  int64_t ax = a ? a->i : 1;
  if (ax < -r || ax >= r) return tfx_node_error(g, n, "axis %lld out of range for rank %d", (long long)ax, r);
  *axis = tfx_axis(ax, r);
  *rank = r;
  *dt = x0->dtype;
  memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)r);
  dims[*axis] = 0;
  for (int k = 0; k < n->n_inputs; k++) {
    TfxValue *x = tfx_shp_need_in(g, n, k);
    if (!x) return TFX_ERR;
    if (x->dtype != x0->dtype)
      return tfx_node_error(g, n, "input %d is %s, input 0 is %s", k, tfx_dtype_name(x->dtype),
                            tfx_dtype_name(x0->dtype));
    if (x->rank != r) return tfx_node_error(g, n, "input %d has rank %d, input 0 rank %d", k, x->rank, r);
    for (int i = 0; i < r; i++)
      if (i != *axis && x->dims[i] != x0->dims[i])
        return tfx_node_error(g, n, "input %d differs from input 0 in dim %d", k, i);
    dims[*axis] += x->dims[*axis];
  }
  return TFX_OK;
}

static TfxStatus split_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int *axis, int64_t *sizes) {
  const TfxTensor *x = s->in[0];
  int r = x->rank, no = n->n_outputs;
  int64_t ax = tfx_attr_int(n, "axis", 0);
  if (ax < -r || ax >= r) return tfx_node_error(g, n, "axis %lld out of range for rank %d", (long long)ax, r);
  *axis = tfx_axis(ax, r);
  int64_t d = x->dims[*axis];
  int cnt = -1;
  if (no < 1) return tfx_node_error(g, n, "needs at least one output");
  if (tfx_shp_ins_get(s, 1)) {
    cnt = tfx_shp_ins_ints(g, n, s, 1, "split", sizes, no);
    if (cnt < 0) return TFX_ERR;
  } else {
    cnt = tfx_shp_attr_ints(g, n, "split", sizes, no);
    if (cnt == -2) return TFX_ERR;
  }
  if (cnt >= 0) {
    if (cnt != no) return tfx_node_error(g, n, "split has %d values for %d outputs", cnt, no);
    int64_t sum = 0;
    for (int i = 0; i < cnt; i++) {
      if (sizes[i] < 0 || sizes[i] > d)
        return tfx_node_error(g, n, "split[%d] = %lld is invalid", i, (long long)sizes[i]);
      sum += sizes[i];
    }
    if (sum != d)
      return tfx_node_error(g, n, "split sums to %lld, axis has %lld", (long long)sum, (long long)d);
    return TFX_OK;
  }
  int64_t parts = tfx_attr_int(n, "num_outputs", no);
  if (parts != no)
    return tfx_node_error(g, n, "num_outputs is %lld but the node has %d outputs", (long long)parts, no);
  int64_t chunk = d % no == 0 ? d / no : d / no + 1;
  for (int i = 0; i < no; i++) sizes[i] = chunk;
  sizes[no - 1] = d - chunk * (no - 1);
  if (sizes[no - 1] < 0)
    return tfx_node_error(g, n, "cannot split an axis of %lld into %d parts", (long long)d, no);
  return TFX_OK;
}

/* ---- Trilu ---------------------------------------------------------------------- */

static TfxStatus trilu_plan(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int64_t *k, bool *upper) {
  const TfxTensor *x = s->in[0];
  if (x->rank < 2) return tfx_node_error(g, n, "input must have rank >= 2, not %d", x->rank);
  *upper = tfx_attr_int(n, "upper", 1) != 0;
  *k = 0;
  if (tfx_shp_ins_get(s, 1)) {
    int64_t v[1];
    if (!s->known[1]) return tfx_node_error(g, n, "input 'k' must be a compile-time constant");
    if (tfx_tensor_numel(s->in[1]) != 1) return tfx_node_error(g, n, "input 'k' must be a scalar");
    if (tfx_shp_ins_ints(g, n, s, 1, "k", v, 1) < 0) return TFX_ERR;
    *k = v[0];
  }
  return TFX_OK;
}

static bool trilu_keep(int64_t i, int64_t j, int64_t k, bool upper) {
  /* j - i compared with k without overflow: |i|,|j| are dims, k is anything */
  if (upper) return k <= 0 ? j - i >= k || k < -(INT64_MAX / 2) : j - i >= k;
  return k >= 0 ? j - i <= k || k > INT64_MAX / 2 : j - i <= k;
}

/* ---- infer ------------------------------------------------------------------- */

/* Output 0 gets the input's dtype and the planned dims. */
static TfxStatus set_like_in(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int rank,
                             const int64_t *dims) {
  tfx_node_set_out(g, n, 0, s->in[0]->dtype, rank, dims);
  return TFX_OK;
}

TfxStatus tfx_shape_infer(TfxGraph *g, TfxNode *n) {
  switch (n->op) {
  case TFX_OP_Gather:
  case TFX_OP_GatherElements:
  case TFX_OP_GatherND:
  case TFX_OP_ScatterElements:
  case TFX_OP_Scatter:
  case TFX_OP_ScatterND:
  case TFX_OP_OneHot:
  case TFX_OP_ReverseSequence:
  case TFX_OP_TensorScatter: return tfx_shape_index_infer(g, n);
  case TFX_OP_Shape:
  case TFX_OP_Size:
  case TFX_OP_Constant:
  case TFX_OP_ConstantOfShape:
  case TFX_OP_Range:
  case TFX_OP_EyeLike: return tfx_shape_const_infer(g, n);
  default: break;
  }
  if (n->op == TFX_OP_Concat) {
    int axis, rank;
    int64_t dims[TFX_MAX_RANK];
    TfxDtype dt;
    if (concat_plan(g, n, &axis, &rank, dims, &dt)) return TFX_ERR;
    if (tfx_shp_check_dtype(g, n, dt, "input")) return TFX_ERR;
    tfx_node_set_out(g, n, 0, dt, rank, dims);
    return TFX_OK;
  }
  TfxShpIns s;
  if (tfx_shp_ins_from_graph(g, n, &s)) return TFX_ERR;
  if (!tfx_shp_need_in(g, n, 0) || tfx_shp_check_dtype(g, n, s.in[0]->dtype, "input")) return TFX_ERR;
  int rank = 0;
  int64_t dims[TFX_MAX_RANK];
  switch (n->op) {
  case TFX_OP_Reshape:
    if (reshape_plan(g, n, &s, &rank, dims)) return TFX_ERR;
    return set_like_in(g, n, &s, rank, dims);
  case TFX_OP_Flatten:
    if (flatten_plan(g, n, &s, &rank, dims)) return TFX_ERR;
    return set_like_in(g, n, &s, rank, dims);
  case TFX_OP_Squeeze:
    if (squeeze_plan(g, n, &s, &rank, dims)) return TFX_ERR;
    return set_like_in(g, n, &s, rank, dims);
  case TFX_OP_Unsqueeze:
    if (unsqueeze_plan(g, n, &s, &rank, dims)) return TFX_ERR;
    return set_like_in(g, n, &s, rank, dims);
  case TFX_OP_Expand:
    if (expand_plan(g, n, &s, &rank, dims)) return TFX_ERR;
    return set_like_in(g, n, &s, rank, dims);
  case TFX_OP_Tile: {
    int64_t reps[TFX_MAX_RANK];
    if (tile_plan(g, n, &s, reps, dims)) return TFX_ERR;
    return set_like_in(g, n, &s, s.in[0]->rank, dims);
  }
  case TFX_OP_Transpose: {
    int perm[TFX_MAX_RANK];
    if (transpose_plan(g, n, &s, perm)) return TFX_ERR;
    for (int i = 0; i < s.in[0]->rank; i++) dims[i] = s.in[0]->dims[perm[i]];
    return set_like_in(g, n, &s, s.in[0]->rank, dims);
  }
  case TFX_OP_Slice: {
    SlicePlan p;
    if (slice_plan(g, n, &s, &p)) return TFX_ERR;
    return set_like_in(g, n, &s, s.in[0]->rank, p.dims);
  }
  case TFX_OP_Pad: {
    PadPlan p;
    if (pad_plan(g, n, &s, &p)) return TFX_ERR;
    return set_like_in(g, n, &s, s.in[0]->rank, p.dims);
  }
  case TFX_OP_DepthToSpace:
  case TFX_OP_SpaceToDepth: {
    D2SPlan p;
    if (d2s_plan(g, n, &s, &p)) return TFX_ERR;
    return set_like_in(g, n, &s, 4, p.dims);
  }
  case TFX_OP_Split: {
    int axis;
    int64_t sizes[256];
    if (n->n_outputs > 256) return tfx_node_error(g, n, "too many outputs (%d)", n->n_outputs);
    if (split_plan(g, n, &s, &axis, sizes)) return TFX_ERR;
    memcpy(dims, s.in[0]->dims, sizeof dims);
    for (int k = 0; k < n->n_outputs; k++) {
      dims[axis] = sizes[k];
      tfx_node_set_out(g, n, k, s.in[0]->dtype, s.in[0]->rank, dims);
    }
    return TFX_OK;
  }
  case TFX_OP_Trilu: {
    int64_t k;
    bool upper;
    if (trilu_plan(g, n, &s, &k, &upper)) return TFX_ERR;
    return set_like_in(g, n, &s, s.in[0]->rank, s.in[0]->dims);
  }
  case TFX_OP_CenterCropPad: {
    CCPPlan p;
    if (ccp_plan(g, n, &s, &p)) return TFX_ERR;
    return set_like_in(g, n, &s, s.in[0]->rank, p.dims);
  }
  default: return tfx_node_error(g, n, "not an op of the shape family");
  }
}

/* ---- eval ---------------------------------------------------------------------- */

/* out = in with new dims: the bytes are unchanged. */
static void eval_same_bytes(const TfxTensor *x, TfxTensor *y) {
  size_t b = tfx_tensor_bytes(y);
  if (b) memcpy(y->data, x->data, b);
}

TfxStatus tfx_shape_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  switch (n->op) {
  case TFX_OP_Gather:
  case TFX_OP_GatherElements:
  case TFX_OP_GatherND:
  case TFX_OP_ScatterElements:
  case TFX_OP_Scatter:
  case TFX_OP_ScatterND:
  case TFX_OP_OneHot:
  case TFX_OP_ReverseSequence:
  case TFX_OP_TensorScatter: return tfx_shape_index_eval(g, n, in, out);
  case TFX_OP_Shape:
  case TFX_OP_Size:
  case TFX_OP_Constant:
  case TFX_OP_ConstantOfShape:
  case TFX_OP_Range:
  case TFX_OP_EyeLike: return tfx_shape_const_eval(g, n, in, out);
  default: break;
  }
  TfxTensor *y = &out[0];
  int64_t ny = tfx_tensor_numel(y), idx[TFX_MAX_RANK], sidx[TFX_MAX_RANK];
  size_t es = tfx_dtype_bytes(y->dtype);
  if (n->op == TFX_OP_Concat) {
    int axis = tfx_axis(tfx_attr_int(n, "axis", 1), y->rank);
    for (int64_t o = 0; o < ny; o++) {
      tfx_unravel(o, y->rank, y->dims, idx);
      int k = 0;
      int64_t pos = idx[axis];
      while (pos >= in[k]->dims[axis]) pos -= in[k++]->dims[axis];
      memcpy(sidx, idx, sizeof idx);
      sidx[axis] = pos;
      copy_elem(y->data, o, in[k]->data, tfx_ravel(y->rank, sidx, in[k]->dims), es);
    }
    return TFX_OK;
  }
  TfxShpIns s;
  if (tfx_shp_ins_from_eval(g, n, in, &s)) return TFX_ERR;
  const TfxTensor *x = s.in[0];
  int rank;
  int64_t dims[TFX_MAX_RANK];
  switch (n->op) {
  case TFX_OP_Reshape:
  case TFX_OP_Flatten:
  case TFX_OP_Squeeze:
  case TFX_OP_Unsqueeze: eval_same_bytes(x, y); return TFX_OK;
  case TFX_OP_Expand: {
    if (expand_plan(g, n, &s, &rank, dims)) return TFX_ERR;
    int off = y->rank - x->rank;
    for (int64_t o = 0; o < ny; o++) {
      tfx_unravel(o, y->rank, y->dims, idx);
      for (int i = 0; i < x->rank; i++) sidx[i] = x->dims[i] == 1 ? 0 : idx[off + i];
      copy_elem(y->data, o, x->data, tfx_ravel(x->rank, sidx, x->dims), es);
    }
    return TFX_OK;
  }
  case TFX_OP_Tile:
    for (int64_t o = 0; o < ny; o++) {
      tfx_unravel(o, y->rank, y->dims, idx);
      for (int i = 0; i < x->rank; i++) sidx[i] = idx[i] % x->dims[i];
      copy_elem(y->data, o, x->data, tfx_ravel(x->rank, sidx, x->dims), es);
    }
    return TFX_OK;
  case TFX_OP_Transpose: {
    int perm[TFX_MAX_RANK];
    if (transpose_plan(g, n, &s, perm)) return TFX_ERR;
    for (int64_t o = 0; o < ny; o++) {
      tfx_unravel(o, y->rank, y->dims, idx);
      for (int i = 0; i < y->rank; i++) sidx[perm[i]] = idx[i];
      copy_elem(y->data, o, x->data, tfx_ravel(x->rank, sidx, x->dims), es);
    }
    return TFX_OK;
  }
  case TFX_OP_Slice: {
    SlicePlan p;
    if (slice_plan(g, n, &s, &p)) return TFX_ERR;
    for (int64_t o = 0; o < ny; o++) {
      tfx_unravel(o, y->rank, y->dims, idx);
      for (int i = 0; i < y->rank; i++) sidx[i] = p.start[i] + idx[i] * p.step[i];
      copy_elem(y->data, o, x->data, tfx_ravel(x->rank, sidx, x->dims), es);
    }
    return TFX_OK;
  }
  case TFX_OP_Pad: {
    PadPlan p;
    if (pad_plan(g, n, &s, &p)) return TFX_ERR;
    const TfxTensor *cv = tfx_shp_ins_get(&s, 2);
    bool have_cv = cv && tfx_tensor_numel(cv) > 0;
    for (int64_t o = 0; o < ny; o++) {
      tfx_unravel(o, y->rank, y->dims, idx);
      bool inside = true;
      for (int i = 0; i < y->rank && inside; i++) {
        sidx[i] = pad_src(&p, x->dims[i], i, idx[i]);
        inside = sidx[i] >= 0;
      }
      if (inside)
        copy_elem(y->data, o, x->data, tfx_ravel(x->rank, sidx, x->dims), es);
      else if (have_cv)
        copy_elem(y->data, o, cv->data, 0, es);
      else
        tfx_tensor_set_f64(y, o, p.value);
    }
    return TFX_OK;
  }
  case TFX_OP_DepthToSpace:
  case TFX_OP_SpaceToDepth: {
    D2SPlan p;
    if (d2s_plan(g, n, &s, &p)) return TFX_ERR;
    int64_t b = p.b;
    bool d2s = n->op == TFX_OP_DepthToSpace;
    for (int64_t o = 0; o < ny; o++) {
      tfx_unravel(o, 4, y->dims, idx);
      int64_t c = idx[1], h = idx[2], w = idx[3];
      sidx[0] = idx[0];
      if (d2s) { /* output (c, h, w) reads channel block (h%b, w%b) of pixel (h/b, w/b) */
        int64_t cb = p.crd ? c * b * b + (h % b) * b + w % b : ((h % b) * b + w % b) * y->dims[1] + c;
        sidx[1] = cb, sidx[2] = h / b, sidx[3] = w / b;
      } else { /* output channel c encodes (block row, block col, input channel) */
        int64_t ci, bh, bw;
        if (p.crd)
          ci = c / (b * b), bh = c / b % b, bw = c % b;
        else
          bh = c / (b * x->dims[1]), bw = c / x->dims[1] % b, ci = c % x->dims[1];
        sidx[1] = ci, sidx[2] = h * b + bh, sidx[3] = w * b + bw;
      }
      copy_elem(y->data, o, x->data, tfx_ravel(4, sidx, x->dims), es);
    }
    return TFX_OK;
  }
  case TFX_OP_Split: {
    int axis;
    int64_t sizes[256], base = 0;
    if (n->n_outputs > 256) return tfx_node_error(g, n, "too many outputs (%d)", n->n_outputs);
    if (split_plan(g, n, &s, &axis, sizes)) return TFX_ERR;
    for (int k = 0; k < n->n_outputs; k++) {
      TfxTensor *yk = &out[k];
      if (n->outputs[k] != TFX_NONE && yk->data) {
        int64_t nk = tfx_tensor_numel(yk);
        for (int64_t o = 0; o < nk; o++) {
          tfx_unravel(o, yk->rank, yk->dims, idx);
          idx[axis] += base;
          copy_elem(yk->data, o, x->data, tfx_ravel(x->rank, idx, x->dims), es);
        }
      }
      base += sizes[k];
    }
    return TFX_OK;
  }
  case TFX_OP_CenterCropPad: {
    CCPPlan p;
    if (ccp_plan(g, n, &s, &p)) return TFX_ERR;
    if (tfx_tensor_bytes(y)) memset(y->data, 0, tfx_tensor_bytes(y));
    for (int64_t o = 0; o < ny; o++) {
      tfx_unravel(o, y->rank, y->dims, idx);
      bool inside = true;
      for (int i = 0; i < y->rank; i++) {
        sidx[i] = idx[i] - p.dst[i] + p.src[i];
        inside = inside && idx[i] >= p.dst[i] && idx[i] < p.dst[i] + p.len[i];
      }
      if (inside) copy_elem(y->data, o, x->data, tfx_ravel(x->rank, sidx, x->dims), es);
    }
    return TFX_OK;
  }
  case TFX_OP_Trilu: {
    int64_t k;
    bool upper;
    if (trilu_plan(g, n, &s, &k, &upper)) return TFX_ERR;
    int r = y->rank;
    memset(y->data, 0, tfx_tensor_bytes(y));
    for (int64_t o = 0; o < ny; o++) {
      tfx_unravel(o, r, y->dims, idx);
      if (trilu_keep(idx[r - 2], idx[r - 1], k, upper)) copy_elem(y->data, o, x->data, o, es);
    }
    return TFX_OK;
  }
  default: return tfx_node_error(g, n, "not an op of the shape family");
  }
}

/* ---- emit_c ----------------------------------------------------------------------- */

static void emit_pad(TfxCEmit *e, const TfxNode *n, const TfxShpIns *s, const PadPlan *p) {
  const TfxTensor *x = s->in[0];
  int r = x->rank;
  int64_t ny = tfx_numel(r, p->dims);
  int64_t xs[TFX_MAX_RANK];
  tfx_strides(r, x->dims, xs);
  if (ny == 0) return;
  const char *y = out_var(e, n, 0);
  if (p->mode == PAD_CONSTANT) {
    const TfxTensor *cv = tfx_shp_ins_get(s, 2);
    bool have_cv = cv && tfx_tensor_numel(cv) > 0;
    bool inside_all = true; /* no element comes from the constant */
    for (int k = 0; k < r; k++) inside_all = inside_all && p->begin[k] <= 0 && p->end[k] <= 0;
    if (!inside_all) {
      char lit[64];
      if (have_cv && !s->known[2]) {
        tfx_c_line(e, "for (int64_t q = 0; q < %lld; ++q) %s[q] = %s[0];", (long long)ny, y, in_var(e, n, 2));
      } else {
        uint64_t store = 0;
        TfxTensor one = {.dtype = x->dtype, .rank = 0, .data = &store};
        if (have_cv)
          memcpy(&store, cv->data, tfx_dtype_bytes(x->dtype));
        else
          tfx_tensor_set_f64(&one, 0, p->value);
        if (store == 0)
          tfx_c_line(e, "memset(%s, 0, %lld);", y, (long long)(ny * (int64_t)tfx_dtype_bytes(x->dtype)));
        else
          tfx_c_line(e, "for (int64_t q = 0; q < %lld; ++q) %s[q] = %s;", (long long)ny, y,
                     tfx_shp_lit_elem(lit, &one, 0));
      }
    }
    TfxShpCopy c;
    copy_over_out(&c, r, p->dims);
    for (int k = 0; k < r; k++) {
      int64_t b = p->begin[k], en = p->end[k];
      int64_t lo = b < 0 ? -b : 0, kept = x->dims[k] - lo - (en < 0 ? -en : 0);
      c.dims[k] = kept;
      c.ss[k] = xs[k];
      c.sb += lo * xs[k];
      c.db += (b > 0 ? b : 0) * c.ds[k];
    }
    tfx_shp_emit_copy(e, x->dtype, n->outputs[0], n->inputs[0], &c);
    return;
  }
  /* edge / reflect / wrap: a table per padded axis maps output index to input offset */
  char tabs[TFX_MAX_RANK][64];
  for (int k = 0; k < r; k++) {
    tabs[k][0] = 0;
    if (p->begin[k] == 0 && p->end[k] == 0) continue;
    snprintf(tabs[k], sizeof tabs[k], "%s", tfx_c_tmp(e, "pad"));
    tfx_c_line(e, "static const int64_t %s[%lld] = {", tabs[k], (long long)p->dims[k]);
    tfx_c_indent(e, 1);
    char line[1024];
    for (int64_t o = 0; o < p->dims[k];) {
      size_t len = 0;
      for (int j = 0; j < 8 && o < p->dims[k]; j++, o++)
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%lld,", j ? " " : "",
                                (long long)(pad_src(p, x->dims[k], k, o) * xs[k]));
      tfx_c_line(e, "%s", line);
    }
    tfx_c_indent(e, -1);
    tfx_c_line(e, "};");
  }
  int64_t ys[TFX_MAX_RANK], direct[TFX_MAX_RANK];
  tfx_strides(r, p->dims, ys);
  for (int k = 0; k < r; k++) direct[k] = tabs[k][0] ? 0 : xs[k];
  char src[2048], di[512], si[512];
  bool any_direct = false;
  for (int k = 0; k < r; k++) any_direct = any_direct || direct[k] != 0;
  size_t len = any_direct ? (size_t)snprintf(src, sizeof src, "%s", tfx_c_index(si, r, direct, 0)) : 0;
  src[len] = 0;
  for (int k = 0; k < r; k++)
    if (tabs[k][0])
      len += (size_t)snprintf(src + len, sizeof src - len, "%s%s[i%d]", len ? " + " : "", tabs[k], k);
  tfx_c_loops_begin(e, r, p->dims);
  tfx_c_line(e, "%s[%s] = %s[%s];", y, tfx_c_index(di, r, ys, 0), in_var(e, n, 0), src);
  tfx_c_loops_end(e, r);
}

static TfxStatus emit_trilu(TfxCEmit *e, TfxGraph *g, const TfxNode *n, const TfxShpIns *s) {
  int64_t k;
  bool upper;
  if (trilu_plan(g, n, s, &k, &upper)) return TFX_ERR;
  const TfxTensor *x = s->in[0];
  int r = x->rank;
  int64_t rows = x->dims[r - 2], cols = x->dims[r - 1], batch = prod(x->dims, 0, r - 2);
  if (batch * rows * cols == 0) return TFX_OK;
  const char *y = out_var(e, n, 0), *xv = in_var(e, n, 0);
  /* keep column j of row i when j >= i + k (upper) or j <= i + k (lower):
   * compute the kept column range per row at run time, clamped. */
  char kl[64];
  int64_t kc = clamp64(k, -(rows + 1), cols + 1);
  tfx_c_line(e, "for (int64_t b = 0; b < %lld; ++b) {", (long long)batch);
  tfx_c_line(e, "  for (int64_t i = 0; i < %lld; ++i) {", (long long)rows);
  tfx_c_line(e, "    const int64_t row = (b * %lld + i) * %lld;", (long long)rows, (long long)cols);
  tfx_c_line(e, "    int64_t lim = i + %s;", tfx_c_int(kl, kc));
  if (upper)
    tfx_c_line(e, "    for (int64_t j = 0; j < %lld; ++j) %s[row + j] = j >= lim ? %s[row + j] : 0;",
               (long long)cols, y, xv);
  else
    tfx_c_line(e, "    for (int64_t j = 0; j < %lld; ++j) %s[row + j] = j <= lim ? %s[row + j] : 0;",
               (long long)cols, y, xv);
  tfx_c_line(e, "  }");
  tfx_c_line(e, "}");
  return TFX_OK;
}

TfxStatus tfx_shape_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  switch (n->op) {
  case TFX_OP_Gather:
  case TFX_OP_GatherElements:
  case TFX_OP_GatherND:
  case TFX_OP_ScatterElements:
  case TFX_OP_Scatter:
  case TFX_OP_ScatterND:
  case TFX_OP_OneHot:
  case TFX_OP_ReverseSequence:
  case TFX_OP_TensorScatter: return tfx_shape_index_emit_c(e, g, n);
  case TFX_OP_Shape:
  case TFX_OP_Size:
  case TFX_OP_Constant:
  case TFX_OP_ConstantOfShape:
  case TFX_OP_Range:
  case TFX_OP_EyeLike: return tfx_shape_const_emit_c(e, g, n);
  default: break;
  }
  TfxValue *yv = tfx_node_out(g, n, 0);
  if (n->op == TFX_OP_Concat) {
    int axis, rank;
    int64_t dims[TFX_MAX_RANK], base = 0;
    TfxDtype dt;
    if (concat_plan(g, n, &axis, &rank, dims, &dt)) return TFX_ERR;
    for (int k = 0; k < n->n_inputs; k++) {
      TfxValue *x = tfx_node_in(g, n, k);
      TfxShpCopy c;
      copy_over_out(&c, rank, x->dims);
      tfx_strides(rank, dims, c.ds);
      tfx_strides(rank, x->dims, c.ss);
      c.db = base * c.ds[axis];
      base += x->dims[axis];
      tfx_shp_emit_copy(e, dt, n->outputs[0], n->inputs[k], &c);
    }
    return TFX_OK;
  }
  TfxShpIns s;
  if (tfx_shp_ins_from_graph(g, n, &s)) return TFX_ERR;
  const TfxTensor *x = s.in[0];
  if (!x) return tfx_node_error(g, n, "input 0 is missing");
  TfxDtype dt = x->dtype;
  uint32_t y = n->outputs[0], xv = n->inputs[0];
  int64_t xs[TFX_MAX_RANK];
  tfx_strides(x->rank, x->dims, xs);
  switch (n->op) {
  case TFX_OP_Reshape:
  case TFX_OP_Flatten:
  case TFX_OP_Squeeze:
  case TFX_OP_Unsqueeze:
    if (tfx_c_same_bytes(e, y, xv)) { /* names neither variable: one read nowhere else would be unused */
      tfx_c_line(e, "/* a view: its input's bytes, nothing to copy */");
      return TFX_OK;
    }
    if (tfx_tensor_bytes(x)) emit_memcpy(e, out_var(e, n, 0), in_var(e, n, 0), (int64_t)tfx_tensor_bytes(x));
    return TFX_OK;
  case TFX_OP_Expand: {
    TfxShpCopy c;
    copy_over_out(&c, yv->rank, yv->dims);
    tfx_bcast_strides(yv->rank, yv->dims, x->rank, x->dims, c.ss);
    tfx_shp_emit_copy(e, dt, y, xv, &c);
    return TFX_OK;
  }
  case TFX_OP_Tile: {
    /* view the output as (rep_0, d_0, rep_1, d_1, ...): the input repeats along rep_k */
    TfxShpCopy c = {.rank = 2 * x->rank};
    int64_t ys[TFX_MAX_RANK];
    tfx_strides(yv->rank, yv->dims, ys);
    for (int k = 0; k < x->rank; k++) {
      c.dims[2 * k] = x->dims[k] ? yv->dims[k] / x->dims[k] : 0;
      c.dims[2 * k + 1] = x->dims[k];
      c.ds[2 * k] = x->dims[k] * ys[k], c.ds[2 * k + 1] = ys[k];
      c.ss[2 * k] = 0, c.ss[2 * k + 1] = xs[k];
    }
    tfx_shp_emit_copy(e, dt, y, xv, &c);
    return TFX_OK;
  }
  case TFX_OP_Transpose: {
    int perm[TFX_MAX_RANK];
    if (transpose_plan(g, n, &s, perm)) return TFX_ERR;
    TfxShpCopy c;
    copy_over_out(&c, yv->rank, yv->dims);
    for (int k = 0; k < yv->rank; k++) c.ss[k] = xs[perm[k]];
    tfx_shp_emit_copy(e, dt, y, xv, &c);
    return TFX_OK;
  }
  case TFX_OP_Slice: {
    SlicePlan p;
    if (slice_plan(g, n, &s, &p)) return TFX_ERR;
    TfxShpCopy c;
    copy_over_out(&c, x->rank, p.dims);
    for (int k = 0; k < x->rank; k++) {
      c.ss[k] = xs[k] * p.step[k];
      c.sb += p.start[k] * xs[k];
    }
    tfx_shp_emit_copy(e, dt, y, xv, &c);
    return TFX_OK;
  }
  case TFX_OP_Pad: {
    PadPlan p;
    if (pad_plan(g, n, &s, &p)) return TFX_ERR;
    emit_pad(e, n, &s, &p);
    return TFX_OK;
  }
  case TFX_OP_DepthToSpace:
  case TFX_OP_SpaceToDepth: {
    D2SPlan p;
    int64_t v[6], vs[6];
    int perm[6];
    if (d2s_plan(g, n, &s, &p)) return TFX_ERR;
    d2s_view(n, &p, x->dims, v, perm);
    tfx_strides(6, v, vs);
    TfxShpCopy c = {.rank = 6};
    for (int k = 0; k < 6; k++) c.dims[k] = v[perm[k]], c.ss[k] = vs[perm[k]];
    tfx_strides(6, c.dims, c.ds);
    tfx_shp_emit_copy(e, dt, y, xv, &c);
    return TFX_OK;
  }
  case TFX_OP_Split: {
    int axis;
    int64_t sizes[256], base = 0;
    if (n->n_outputs > 256) return tfx_node_error(g, n, "too many outputs (%d)", n->n_outputs);
    if (split_plan(g, n, &s, &axis, sizes)) return TFX_ERR;
    for (int k = 0; k < n->n_outputs; k++) {
      TfxValue *yk = tfx_node_out(g, n, k);
      if (yk) {
        TfxShpCopy c;
        copy_over_out(&c, yk->rank, yk->dims);
        memcpy(c.ss, xs, sizeof xs);
        c.sb = base * xs[axis];
        tfx_shp_emit_copy(e, dt, n->outputs[k], xv, &c);
      }
      base += sizes[k];
    }
    return TFX_OK;
  }
  case TFX_OP_Trilu: return emit_trilu(e, g, n, &s);
  case TFX_OP_CenterCropPad: {
    CCPPlan p;
    if (ccp_plan(g, n, &s, &p)) return TFX_ERR;
    int64_t ny = tfx_numel(x->rank, p.dims);
    if (p.pads && ny)
      tfx_c_line(e, "memset(%s, 0, %lld);", out_var(e, n, 0), (long long)(ny * (int64_t)tfx_dtype_bytes(dt)));
    TfxShpCopy c;
    copy_over_out(&c, x->rank, p.dims);
    for (int k = 0; k < x->rank; k++) {
      c.dims[k] = p.len[k];
      c.ss[k] = xs[k];
      c.sb += p.src[k] * xs[k];
      c.db += p.dst[k] * c.ds[k];
    }
    tfx_shp_emit_copy(e, dt, y, xv, &c);
    return TFX_OK;
  }
  default: return tfx_node_error(g, n, "not an op of the shape family");
  }
}
