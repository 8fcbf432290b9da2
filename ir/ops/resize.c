/* resize.c — spatial resampling: Resize (opsets 10-19), Upsample, GridSample
 * and AffineGrid.  Resize is separable: every resized axis maps each output
 * index to a few (input index, weight) taps, computed once at compile time
 * from the constant scales / sizes / roi exactly as the ONNX reference does
 * (in double).  The evaluator and the generated code both sum the products of
 * the per-axis taps; generated code carries the taps as static tables. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

#define NODE(n) ((TfxNode *)(n)) /* tfx_node_error takes a mutable node */

typedef enum { M_NEAREST, M_LINEAR, M_CUBIC } RsMode;
typedef enum {
  CT_HALF_PIXEL,
  CT_HALF_PIXEL_SYM,
  CT_PYTORCH_HALF_PIXEL,
  CT_ALIGN_CORNERS,
  CT_ASYMMETRIC,
  CT_TF_CROP_AND_RESIZE,
  CT_TF_HALF_PIXEL_FOR_NN,
} RsCoord;
/* NM_SIMPLE is what Resize-10 and Upsample do: floor when upsampling, ceil
 * when downsampling (as onnxruntime implements them). */
typedef enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE } RsNearest;

typedef struct {
  RsMode mode;
  RsCoord coord;
  RsNearest nearest;
  double cubic_a, extrapolation;
  bool exclude_outside, antialias;
  int rank;
  int64_t in[TFX_MAX_RANK], out[TFX_MAX_RANK];
  double scale[TFX_MAX_RANK];
  double roi_lo[TFX_MAX_RANK], roi_hi[TFX_MAX_RANK];
  bool resized[TFX_MAX_RANK]; /* false: the axis is copied unchanged */
} RsPlan;

/* Taps of one resized axis: output index o reads input indices idx[o*m + t]
 * with weights w[o*m + t], t < m; extra[o] marks tf_crop_and_resize outputs
 * that take the extrapolation value. */
typedef struct {
  int64_t n_out, m;
  int64_t *idx;
  double *w;
  bool *extra;
  bool any_extra;
  bool gather; /* m == 1 and every weight is 1: a plain index map */
} RsTaps;

static void taps_free(RsTaps *t) {
  free(t->idx);
  free(t->w);
  free(t->extra);
  memset(t, 0, sizeof *t);
}

/* ---- attributes and shape operands ---------------------------------------- */

static TfxStatus parse_mode(TfxGraph *g, const TfxNode *n, RsPlan *p) {
  const char *m = tfx_attr_string(n, "mode", "nearest");
  if (!strcmp(m, "nearest")) p->mode = M_NEAREST;
  else if (!strcmp(m, "linear") || !strcmp(m, "bilinear") || !strcmp(m, "trilinear"))
    p->mode = M_LINEAR;
  else if (!strcmp(m, "cubic") || !strcmp(m, "bicubic")) p->mode = M_CUBIC;
  else return tfx_node_error(g, NODE(n), "unsupported mode '%s' (nearest, linear or cubic)", m);
  bool legacy = n->op == TFX_OP_Upsample || g->opset < 11;
  if (legacy) {
    if (p->mode == M_CUBIC) return tfx_node_error(g, NODE(n), "mode 'cubic' needs Resize-11 or later");
    p->coord = CT_ASYMMETRIC;
    p->nearest = NM_SIMPLE;
    p->cubic_a = -0.75;
    return TFX_OK;
  }
  const char *c = tfx_attr_string(n, "coordinate_transformation_mode", "half_pixel");
  if (!strcmp(c, "half_pixel")) p->coord = CT_HALF_PIXEL;
  else if (!strcmp(c, "half_pixel_symmetric")) p->coord = CT_HALF_PIXEL_SYM;
  else if (!strcmp(c, "pytorch_half_pixel")) p->coord = CT_PYTORCH_HALF_PIXEL;
  else if (!strcmp(c, "align_corners")) p->coord = CT_ALIGN_CORNERS;
  else if (!strcmp(c, "asymmetric")) p->coord = CT_ASYMMETRIC;
  else if (!strcmp(c, "tf_crop_and_resize")) p->coord = CT_TF_CROP_AND_RESIZE;
  else if (!strcmp(c, "tf_half_pixel_for_nn")) p->coord = CT_TF_HALF_PIXEL_FOR_NN;
  else return tfx_node_error(g, NODE(n), "unsupported coordinate_transformation_mode '%s'", c);
  const char *nm = tfx_attr_string(n, "nearest_mode", "round_prefer_floor");
  if (!strcmp(nm, "round_prefer_floor")) p->nearest = NM_ROUND_PREFER_FLOOR;
  else if (!strcmp(nm, "round_prefer_ceil")) p->nearest = NM_ROUND_PREFER_CEIL;
  else if (!strcmp(nm, "floor")) p->nearest = NM_FLOOR;
  else if (!strcmp(nm, "ceil")) p->nearest = NM_CEIL;
  else return tfx_node_error(g, NODE(n), "unsupported nearest_mode '%s'", nm);
  p->cubic_a = tfx_attr_float(n, "cubic_coeff_a", -0.75f);
  p->exclude_outside = tfx_attr_int(n, "exclude_outside", 0) != 0;
  p->extrapolation = tfx_attr_float(n, "extrapolation_value", 0.0f);
  p->antialias = tfx_attr_int(n, "antialias", 0) != 0;
  if (p->antialias && p->mode == M_NEAREST)
    return tfx_node_error(g, NODE(n), "antialias is not defined for mode 'nearest'");
  return TFX_OK;
}

static bool nonempty(const TfxTensor *t) { return t && tfx_tensor_numel(t) > 0; }

static bool near_one(double v) { return fabs(v - 1.0) <= 1e-9 * fmax(fabs(v), 1.0); }
static bool near_zero(double v) { return fabs(v) <= 0.0; }

/* Fill p from the attributes, the shape of X and the shape operands (NULL
 * when omitted).  For Upsample-7 the scales come from the attribute. */
static TfxStatus resize_plan(TfxGraph *g, const TfxNode *n, int rank, const int64_t *dims,
                             const TfxTensor *roi, const TfxTensor *scales, const TfxTensor *sizes,
                             RsPlan *p) {
  memset(p, 0, sizeof *p);
  if (parse_mode(g, n, p)) return TFX_ERR;
  if (rank < 1) return tfx_node_error(g, NODE(n), "X must have rank >= 1");
  p->rank = rank;
  memcpy(p->in, dims, sizeof(int64_t) * (size_t)rank);
  /* axes (Resize-18+) */
  int axes[TFX_MAX_RANK], na = rank;
  const int64_t *av;
  int nav = tfx_attr_ints(n, "axes", &av);
  bool seen[TFX_MAX_RANK] = {false};
  if (nav >= 0) {
    if (nav < 1 || nav > rank) return tfx_node_error(g, NODE(n), "axes has %d entries for rank %d", nav, rank);
    na = nav;
    for (int i = 0; i < na; i++) {
      if (av[i] < -rank || av[i] >= rank)
        return tfx_node_error(g, NODE(n), "axis %lld is out of range for rank %d", (long long)av[i], rank);
      axes[i] = tfx_axis(av[i], rank);
      if (seen[axes[i]]) return tfx_node_error(g, NODE(n), "axis %d is repeated", axes[i]);
      seen[axes[i]] = true;
    }
  } else {
    for (int i = 0; i < rank; i++) axes[i] = i, seen[i] = true;
  }
  for (int i = 0; i < rank; i++) p->scale[i] = 1.0, p->out[i] = dims[i], p->roi_lo[i] = 0, p->roi_hi[i] = 1;
  if (nonempty(roi)) {
    if (tfx_tensor_numel(roi) != 2 * na)
      return tfx_node_error(g, NODE(n), "roi must have %d entries, not %lld", 2 * na,
                            (long long)tfx_tensor_numel(roi));
    for (int i = 0; i < na; i++) {
      p->roi_lo[axes[i]] = tfx_tensor_get_f64(roi, i);
      p->roi_hi[axes[i]] = tfx_tensor_get_f64(roi, na + i);
    }
  } else if (p->coord == CT_TF_CROP_AND_RESIZE) {
    return tfx_node_error(g, NODE(n), "tf_crop_and_resize needs the roi input");
  }
  bool have_scales = nonempty(scales), have_sizes = nonempty(sizes);
  const float *attr_scales = NULL;
  int n_attr_scales = -1;
  if (n->op == TFX_OP_Upsample && g->opset < 9) {
    n_attr_scales = tfx_attr_floats(n, "scales", &attr_scales);
    if (n_attr_scales < 0) return tfx_node_error(g, NODE(n), "attribute scales is required");
    have_scales = true;
  }
  if (have_scales == have_sizes)
    return tfx_node_error(g, NODE(n), "exactly one of scales and sizes must be given");
  if (have_scales) {
    int64_t ns = attr_scales ? n_attr_scales : tfx_tensor_numel(scales);
    if (ns != na)
      return tfx_node_error(g, NODE(n), "scales must have %d entries, not %lld", na, (long long)ns);
    for (int i = 0; i < na; i++) {
      double s = attr_scales ? (double)attr_scales[i] : tfx_tensor_get_f64(scales, i);
      if (!(s > 0) || !isfinite(s))
        return tfx_node_error(g, NODE(n), "scale %g must be positive", s);
      if (n->op == TFX_OP_Upsample && s < 1)
        return tfx_node_error(g, NODE(n), "Upsample scales must be >= 1, not %g", s);
      p->scale[axes[i]] = s;
      double o = floor(s * (double)dims[axes[i]]);
      if (o > 1e15) return tfx_node_error(g, NODE(n), "output dimension is too large");
      p->out[axes[i]] = (int64_t)o;
    }
  } else {
    if (tfx_tensor_numel(sizes) != na)
      return tfx_node_error(g, NODE(n), "sizes must have %d entries, not %lld", na,
                            (long long)tfx_tensor_numel(sizes));
    for (int i = 0; i < na; i++) {
      int64_t s = tfx_tensor_get_i64(sizes, i);
      if (s < 0) return tfx_node_error(g, NODE(n), "sizes must not be negative");
      p->out[axes[i]] = s;
    }
    for (int i = 0; i < rank; i++)
      p->scale[i] = dims[i] ? (double)p->out[i] / (double)dims[i] : 1.0;
    const char *kar = tfx_attr_string(n, "keep_aspect_ratio_policy", "stretch");
    if (strcmp(kar, "stretch")) {
      bool larger = !strcmp(kar, "not_smaller");
      if (!larger && strcmp(kar, "not_larger"))
        return tfx_node_error(g, NODE(n), "unsupported keep_aspect_ratio_policy '%s'", kar);
      double s = p->scale[axes[0]];
      for (int i = 1; i < na; i++)
        s = larger ? fmax(s, p->scale[axes[i]]) : fmin(s, p->scale[axes[i]]);
      for (int i = 0; i < rank; i++) {
        p->scale[i] = seen[i] ? s : 1.0;
        if (seen[i]) p->out[i] = (int64_t)(s * (double)dims[i] + 0.5);
      }
    }
  }
  for (int i = 0; i < rank; i++) {
    if (p->in[i] == 0 && p->out[i] > 0)
      return tfx_node_error(g, NODE(n), "cannot resize an empty axis %d to %lld", i, (long long)p->out[i]);
    bool identity = near_one(p->scale[i]) && p->out[i] == p->in[i] && near_zero(p->roi_lo[i] - 0.0) &&
                    near_one(p->roi_hi[i] + 0.0);
    /* math.isclose(roi_lo, 0.0) in the reference is an exact comparison */
    p->resized[i] = !identity && p->out[i] > 0;
  }
  return TFX_OK;
}

/* ---- per-axis taps ---------------------------------------------------------- */

static double cubic_kernel(double x, double A) {
  x = fabs(x);
  double x2 = x * x, x3 = x * x2;
  if (x <= 1) return (A + 2) * x3 - (A + 3) * x2 + 1;
  if (x < 2) return A * x3 - 5 * A * x2 + 8 * A * x - 4 * A;
  return 0.0;
}

/* Coefficients for the fractional position ratio in (0, 1]; returns count. */
static int coeffs(const RsPlan *p, double ratio, double scale, double *c, int cap) {
  switch (p->mode) {
  case M_NEAREST: {
    bool right;
    if (ratio == 1.0) right = true; /* an integer position */
    else {
      RsNearest nm = p->nearest;
      if (nm == NM_SIMPLE) nm = scale < 1 ? NM_CEIL : NM_FLOOR;
      switch (nm) {
      case NM_ROUND_PREFER_FLOOR: right = ratio > 0.5; break;
      case NM_ROUND_PREFER_CEIL: right = ratio >= 0.5; break;
      case NM_FLOOR: right = false; break;
      default: right = true; break;
      }
    }
    c[0] = right ? 0 : 1, c[1] = right ? 1 : 0;
    return 2;
  }
  case M_LINEAR:
    if (!p->antialias) {
      c[0] = 1 - ratio, c[1] = ratio;
      return 2;
    } else {
      double s = fmin(scale, 1.0), sum = 0;
      int start = (int)(floor(-1 / s) + 1), k = 2 - 2 * start;
      if (k > cap) return -1;
      for (int i = 0; i < k; i++) {
        double a = ((double)(start + i) - ratio) * s;
        c[i] = fmin(fmax(1 - fabs(a), 0.0), 1.0);
        sum += c[i];
      }
      for (int i = 0; i < k; i++) c[i] /= sum;
      return k;
    }
  case M_CUBIC:
    if (!p->antialias) {
      double A = p->cubic_a, r1 = ratio + 1, q = 1 - ratio, q1 = q + 1;
      c[0] = ((A * r1 - 5 * A) * r1 + 8 * A) * r1 - 4 * A;
      c[1] = ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1;
      c[2] = ((A + 2) * q - (A + 3)) * q * q + 1;
      c[3] = ((A * q1 - 5 * A) * q1 + 8 * A) * q1 - 4 * A;
      return 4;
    } else {
      double s = fmin(scale, 1.0), sum = 0;
      int start = (int)(floor(-2 / s) + 1), end = 2 - start, k = end - start;
      if (k > cap) return -1;
      for (int i = 0; i < k; i++) {
        c[i] = cubic_kernel(s * ((double)(start + i) - ratio), p->cubic_a);
        sum += c[i];
      }
      for (int i = 0; i < k; i++) c[i] /= sum;
      return k;
    }
  }
  return -1;
}

/* Source coordinate of output index y along axis a; *extra set when it falls
 * outside the input for tf_crop_and_resize. */
static double source_coord(const RsPlan *p, int a, double y, bool *extra) {
  double in = (double)p->in[a], s = p->scale[a], ow = s * in, owi = (double)p->out[a];
  *extra = false;
  switch (p->coord) {
  case CT_ALIGN_CORNERS: return ow == 1 ? 0.0 : y * (in - 1) / (ow - 1);
  case CT_ASYMMETRIC: return y / s;
  case CT_TF_HALF_PIXEL_FOR_NN: return (y + 0.5) / s;
  case CT_TF_CROP_AND_RESIZE: {
    double lo = p->roi_lo[a], hi = p->roi_hi[a], x;
    if (ow == 1) x = (hi - lo) * (in - 1) / 2;
    else x = y * (hi - lo) * (in - 1) / (ow - 1);
    x = x + lo * (in - 1);
    *extra = x < 0 || x > in - 1;
    return x;
  }
  case CT_PYTORCH_HALF_PIXEL: return ow == 1 ? -0.5 : (y + 0.5) / s - 0.5;
  case CT_HALF_PIXEL: return (y + 0.5) / s - 0.5;
  case CT_HALF_PIXEL_SYM: {
    double adj = owi / ow, center = in / 2, off = center * (1 - adj);
    return off + (y + 0.5) / s - 0.5;
  }
  }
  return 0;
}

enum { MAX_TAPS = 64 };

static TfxStatus axis_taps(TfxGraph *g, const TfxNode *n, const RsPlan *p, int a, RsTaps *t) {
  memset(t, 0, sizeof *t);
  int64_t no = p->out[a], in = p->in[a];
  double c[MAX_TAPS];
  /* first pass: the widest kernel, to size the tables */
  int width = coeffs(p, 0.5, p->scale[a], c, MAX_TAPS);
  if (width < 1) return tfx_node_error(g, NODE(n), "antialias kernel for scale %g is too wide", p->scale[a]);
  t->n_out = no;
  t->idx = calloc((size_t)(no * width) + 1, sizeof *t->idx);
  t->w = calloc((size_t)(no * width) + 1, sizeof *t->w);
  t->extra = calloc((size_t)no + 1, sizeof *t->extra);
  if (!t->idx || !t->w || !t->extra) {
    taps_free(t);
    return tfx_node_error(g, NODE(n), "out of memory for resize tables");
  }
  int64_t m = 0;
  for (int64_t o = 0; o < no; o++) {
    bool extra;
    double x = source_coord(p, a, (double)o, &extra);
    t->extra[o] = extra;
    if (extra) {
      t->any_extra = true;
      continue;
    }
    double xi = floor(x), ratio = x == xi ? 1.0 : x - xi;
    int k = coeffs(p, ratio, p->scale[a], c, MAX_TAPS);
    if (k < 1 || k > width) {
      taps_free(t);
      return tfx_node_error(g, NODE(n), "internal: inconsistent resize kernel width");
    }
    /* the k input indices nearest x, ties to the smaller one (edge padded) */
    int pad = (k + 1) / 2;
    double xp = x + pad, pp = floor(xp), frac = xp - pp;
    int64_t off;
    if (k % 2 == 0) off = frac == 0 ? -(k / 2) : -(k / 2) + 1;
    else off = frac <= 0.5 ? -((k - 1) / 2) : -((k - 1) / 2) + 1;
    int64_t first = (int64_t)pp + off - pad;
    if (p->exclude_outside) {
      double sum = 0;
      for (int i = 0; i < k; i++) {
        int64_t j = first + i;
        if (j < 0 || j >= in) c[i] = 0;
        sum += c[i];
      }
      if (sum == 0) sum = 1;
      for (int i = 0; i < k; i++) c[i] /= sum;
    }
    /* keep the nonzero taps, indices clamped to the edge */
    int64_t cnt = 0;
    for (int i = 0; i < k; i++) {
      if (c[i] == 0) continue;
      int64_t j = first + i;
      if (j < 0) j = 0;
      if (j > in - 1) j = in - 1;
      t->idx[o * width + cnt] = j;
      t->w[o * width + cnt] = c[i];
      cnt++;
    }
    if (cnt > m) m = cnt;
  }
  if (m == 0) m = 1;
  /* compact rows from stride `width` to stride m */
  for (int64_t o = 0; o < no; o++)
    for (int64_t i = 0; i < m; i++) {
      t->idx[o * m + i] = t->idx[o * width + i];
      t->w[o * m + i] = t->w[o * width + i];
    }
  t->m = m;
  t->gather = m == 1 && !t->any_extra;
  for (int64_t o = 0; o < no && t->gather; o++) t->gather = t->w[o] == 1.0;
  return TFX_OK;
}

static TfxStatus all_taps(TfxGraph *g, const TfxNode *n, const RsPlan *p, RsTaps *t) {
  memset(t, 0, sizeof(RsTaps) * TFX_MAX_RANK);
  for (int a = 0; a < p->rank; a++) {
    if (!p->resized[a]) continue;
    if (axis_taps(g, n, p, a, &t[a])) {
      for (int b = 0; b < a; b++) taps_free(&t[b]);
      return TFX_ERR;
    }
  }
  return TFX_OK;
}

/* Inputs (roi, scales, sizes) by position for this node's op and opset. */
static void operand_slots(const TfxGraph *g, const TfxNode *n, int *roi, int *scales, int *sizes) {
  if (n->op == TFX_OP_Upsample || g->opset < 11) *roi = -1, *scales = 1, *sizes = -1;
  else *roi = 1, *scales = 2, *sizes = 3;
}

static const TfxTensor *slot_tensor(const TfxTensor *const *in, const TfxNode *n, int k) {
  return k >= 0 && k < n->n_inputs ? in[k] : NULL;
}

/* ---- Resize / Upsample -------------------------------------------------------- */

static TfxStatus resize_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *x = tfx_node_in(g, n, 0);
  if (!x) return tfx_node_error(g, n, "input X is required");
  if (!tfx_dtype_is_float(x->dtype) && !tfx_dtype_is_int(x->dtype))
    return tfx_node_error(g, n, "input type %s is not supported", tfx_dtype_name(x->dtype));
  int kr, ks, kz;
  operand_slots(g, n, &kr, &ks, &kz);
  const TfxTensor *ops[3] = {NULL, NULL, NULL};
  const int slots[3] = {kr, ks, kz};
  const char *names[3] = {"roi", "scales", "sizes"};
  for (int i = 0; i < 3; i++) {
    int k = slots[i];
    if (k < 0 || !tfx_node_in(g, n, k)) continue;
    ops[i] = tfx_node_const_in(g, n, k);
    if (!ops[i]) return tfx_node_error(g, n, "input %s must be a compile-time constant", names[i]);
  }
  RsPlan p;
  if (resize_plan(g, n, x->rank, x->dims, ops[0], ops[1], ops[2], &p)) return TFX_ERR;
  tfx_node_set_out(g, n, 0, x->dtype, p.rank, p.out);
  return TFX_OK;
}

/* Saturating conversion of a real result to an integer dtype (round half to
 * even, as numpy's round). */
static void int_bounds(TfxDtype t, double *lo, double *hi) {
  switch (t) {
  case TFX_U8: *lo = 0, *hi = 255; break;
  case TFX_I8: *lo = -128, *hi = 127; break;
  case TFX_U16: *lo = 0, *hi = 65535; break;
  case TFX_I16: *lo = -32768, *hi = 32767; break;
  case TFX_U32: *lo = 0, *hi = 4294967295.0; break;
  case TFX_I32: *lo = -2147483648.0, *hi = 2147483647.0; break;
  case TFX_U64: *lo = 0, *hi = 18446744073709549568.0; break;
  default: *lo = -9223372036854775808.0, *hi = 9223372036854774784.0; break;
  }
}

static void store_real(TfxTensor *y, int64_t i, double v) {
  if (tfx_dtype_is_float(y->dtype)) {
    tfx_tensor_set_f64(y, i, v);
    return;
  }
  double lo, hi;
  int_bounds(y->dtype, &lo, &hi);
  v = nearbyint(v);
  if (isnan(v)) v = 0;
  v = fmin(fmax(v, lo), hi);
  if (y->dtype == TFX_U64) ((uint64_t *)y->data)[i] = (uint64_t)v;
  else tfx_tensor_set_i64(y, i, (int64_t)v);
}

static TfxStatus resize_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                             TfxTensor *out) {
  const TfxTensor *x = in[0];
  TfxTensor *y = &out[0];
  int kr, ks, kz;
  operand_slots(g, n, &kr, &ks, &kz);
  RsPlan p;
  if (resize_plan(g, n, x->rank, x->dims, slot_tensor(in, n, kr), slot_tensor(in, n, ks),
                  slot_tensor(in, n, kz), &p))
    return TFX_ERR;
  RsTaps t[TFX_MAX_RANK];
  if (all_taps(g, n, &p, t)) return TFX_ERR;
  bool gather = true;
  for (int a = 0; a < p.rank; a++)
    if (p.resized[a] && !t[a].gather) gather = false;
  int64_t xs[TFX_MAX_RANK], oi[TFX_MAX_RANK], tap[TFX_MAX_RANK];
  tfx_strides(p.rank, p.in, xs);
  int64_t ny = tfx_tensor_numel(y);
  for (int64_t o = 0; o < ny; o++) {
    tfx_unravel(o, p.rank, p.out, oi);
    bool extra = false;
    for (int a = 0; a < p.rank; a++)
      if (p.resized[a] && t[a].extra[oi[a]]) extra = true;
    if (extra) {
      store_real(y, o, p.extrapolation);
      continue;
    }
    if (gather) {
      int64_t src = 0;
      for (int a = 0; a < p.rank; a++) src += (p.resized[a] ? t[a].idx[oi[a]] : oi[a]) * xs[a];
      if (tfx_dtype_is_float(x->dtype)) tfx_tensor_set_f64(y, o, tfx_tensor_get_f64(x, src));
      else memcpy((char *)y->data + o * (int64_t)tfx_dtype_bytes(y->dtype),
                  (const char *)x->data + src * (int64_t)tfx_dtype_bytes(x->dtype), tfx_dtype_bytes(x->dtype));
      continue;
    }
    /* sum over every combination of taps of the resized axes */
    double acc = 0;
    for (int a = 0; a < p.rank; a++) tap[a] = 0;
    for (;;) {
      double w = 1;
      int64_t src = 0;
      for (int a = 0; a < p.rank; a++) {
        if (p.resized[a]) {
          w *= t[a].w[oi[a] * t[a].m + tap[a]];
          src += t[a].idx[oi[a] * t[a].m + tap[a]] * xs[a];
        } else {
          src += oi[a] * xs[a];
        }
      }
      acc += w * tfx_tensor_get_f64(x, src);
      int a = p.rank - 1;
      for (; a >= 0; a--) {
        if (!p.resized[a]) continue;
        if (++tap[a] < t[a].m) break;
        tap[a] = 0;
      }
      if (a < 0) break;
    }
    store_real(y, o, acc);
  }
  for (int a = 0; a < p.rank; a++) taps_free(&t[a]);
  return TFX_OK;
}

/* Print a static table of n_out rows of m entries. */
static void emit_table(TfxCEmit *e, const char *ctype, const char *name, const RsTaps *t,
                       int64_t stride, bool weights) {
  tfx_c_line(e, "static const %s %s[%lld][%lld] = {", ctype, name, (long long)t->n_out, (long long)t->m);
  tfx_c_indent(e, 1);
  for (int64_t o = 0; o < t->n_out; o++) {
    char row[4096];
    size_t len = 0;
    len += (size_t)snprintf(row + len, sizeof row - len, "{");
    for (int64_t i = 0; i < t->m && len < sizeof row - 80; i++) {
      char lit[64];
      if (weights) tfx_c_double(lit, t->w[o * t->m + i]);
      else snprintf(lit, sizeof lit, "%lld", (long long)(t->idx[o * t->m + i] * stride));
      len += (size_t)snprintf(row + len, sizeof row - len, "%s%s", i ? ", " : "", lit);
    }
    tfx_c_line(e, "%s},", row);
  }
  tfx_c_indent(e, -1);
  tfx_c_line(e, "};");
}

static void emit_extra_table(TfxCEmit *e, const char *name, const RsTaps *t) {
  tfx_c_line(e, "static const uint8_t %s[%lld] = {", name, (long long)t->n_out);
  tfx_c_indent(e, 1);
  char row[256];
  size_t len = 0;
  for (int64_t o = 0; o < t->n_out; o++) {
    len += (size_t)snprintf(row + len, sizeof row - len, "%d,", t->extra[o] ? 1 : 0);
    if (len > 200 || o == t->n_out - 1) {
      tfx_c_line(e, "%s", row);
      len = 0;
    }
  }
  tfx_c_indent(e, -1);
  tfx_c_line(e, "};");
}

/* Store the double expression v into lvalue of dtype t, saturating and
 * rounding for integer types as the evaluator does. */
static void emit_store_real(TfxCEmit *e, TfxDtype t, const char *lvalue, const char *v) {
  if (tfx_dtype_is_float(t)) {
    char val[512];
    snprintf(val, sizeof val, "(%s)(%s)", tfx_c_calctype(t), v);
    tfx_c_store(e, t, lvalue, val);
    return;
  }
  double lo, hi;
  char llo[64], lhi[64];
  int_bounds(t, &lo, &hi);
  tfx_c_line(e, "{");
  tfx_c_indent(e, 1);
  tfx_c_line(e, "double r = nearbyint(%s);", v);
  tfx_c_line(e, "r = r != r ? 0.0 : r < %s ? %s : r > %s ? %s : r;", tfx_c_double(llo, lo), llo,
             tfx_c_double(lhi, hi), lhi);
  tfx_c_line(e, "%s = (%s)r;", lvalue, tfx_dtype_ctype(t));
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
}

static TfxStatus resize_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  TfxValue *xv = tfx_node_in(g, n, 0), *yv = tfx_node_out(g, n, 0);
  int kr, ks, kz;
  operand_slots(g, n, &kr, &ks, &kz);
  const TfxTensor *ops[3] = {NULL, NULL, NULL};
  const int slots[3] = {kr, ks, kz};
  for (int i = 0; i < 3; i++)
    if (slots[i] >= 0) ops[i] = tfx_node_const_in(g, n, slots[i]);
  RsPlan p;
  if (resize_plan(g, n, xv->rank, xv->dims, ops[0], ops[1], ops[2], &p)) return TFX_ERR;
  if (tfx_numel(p.rank, p.out) == 0) return TFX_OK;
  RsTaps t[TFX_MAX_RANK];
  if (all_taps(g, n, &p, t)) return TFX_ERR;
  TfxDtype dt = xv->dtype;
  const char *x = tfx_c_var(e, n->inputs[0]), *y = tfx_c_var(e, n->outputs[0]);
  int64_t xs[TFX_MAX_RANK], ys[TFX_MAX_RANK], bs[TFX_MAX_RANK];
  tfx_strides(p.rank, p.in, xs);
  tfx_strides(p.rank, p.out, ys);
  bool gather = true, any_extra = false;
  for (int a = 0; a < p.rank; a++) {
    bs[a] = p.resized[a] ? 0 : xs[a];
    if (p.resized[a] && !t[a].gather) gather = false;
    if (p.resized[a] && t[a].any_extra) any_extra = true;
  }
  char name[64], ib[512], xb[512], lit[64];
  tfx_c_line(e, "{ /* %s %s */", n->op_type,
             p.mode == M_NEAREST ? "nearest" : p.mode == M_LINEAR ? "linear" : "cubic");
  tfx_c_indent(e, 1);
  for (int a = 0; a < p.rank; a++) {
    if (!p.resized[a]) continue;
    snprintf(name, sizeof name, "off%d", a);
    emit_table(e, "int64_t", name, &t[a], xs[a], false);
    if (!t[a].gather) {
      snprintf(name, sizeof name, "w%d", a);
      emit_table(e, "double", name, &t[a], 1, true);
    }
    if (t[a].any_extra) {
      snprintf(name, sizeof name, "ex%d", a);
      emit_extra_table(e, name, &t[a]);
    }
  }
  tfx_c_loops_begin(e, p.rank, p.out);
  tfx_c_line(e, "const int64_t yi = %s;", tfx_c_index(ib, p.rank, ys, 0));
  tfx_c_line(e, "const int64_t xb = %s;", tfx_c_index(xb, p.rank, bs, 0));
  char yl[600];
  snprintf(yl, sizeof yl, "%s[yi]", y);
  if (any_extra) {
    char cond[512];
    size_t len = 0;
    cond[0] = 0;
    for (int a = 0; a < p.rank; a++)
      if (p.resized[a] && t[a].any_extra)
        len += (size_t)snprintf(cond + len, sizeof cond - len, "%sex%d[i%d]", len ? " || " : "", a, a);
    tfx_c_line(e, "if (%s) {", cond);
    tfx_c_indent(e, 1);
    emit_store_real(e, dt, yl, tfx_c_double(lit, p.extrapolation));
    tfx_c_line(e, "continue;");
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  if (gather) {
    char src[600];
    size_t len = (size_t)snprintf(src, sizeof src, "xb");
    for (int a = 0; a < p.rank; a++)
      if (p.resized[a]) len += (size_t)snprintf(src + len, sizeof src - len, " + off%d[i%d][0]", a, a);
    tfx_c_line(e, "%s = %s[%s];", yl, x, src);
  } else {
    tfx_c_line(e, "double acc = 0;");
    int open = 0;
    char wexpr[600], src[600];
    size_t wl = 0, sl = (size_t)snprintf(src, sizeof src, "xb");
    wexpr[0] = 0;
    for (int a = 0; a < p.rank; a++) {
      if (!p.resized[a]) continue;
      if (t[a].gather) {
        sl += (size_t)snprintf(src + sl, sizeof src - sl, " + off%d[i%d][0]", a, a);
        continue;
      }
      tfx_c_line(e, "for (int64_t t%d = 0; t%d < %lld; t%d++) {", a, a, (long long)t[a].m, a);
      tfx_c_indent(e, 1);
      open++;
      wl += (size_t)snprintf(wexpr + wl, sizeof wexpr - wl, "%sw%d[i%d][t%d]", wl ? " * " : "", a, a, a);
      sl += (size_t)snprintf(src + sl, sizeof src - sl, " + off%d[i%d][t%d]", a, a, a);
    }
    char ex[700], l1[256];
    snprintf(ex, sizeof ex, "%s[%s]", x, src);
    tfx_c_line(e, "acc += %s * (double)%s;", wexpr, tfx_c_load(e, dt, ex, l1));
    for (; open > 0; open--) {
      tfx_c_indent(e, -1);
      tfx_c_line(e, "}");
    }
    emit_store_real(e, dt, yl, "acc");
  }
  tfx_c_loops_end(e, p.rank);
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  for (int a = 0; a < p.rank; a++) taps_free(&t[a]);
  return TFX_OK;
}

/* ---- family entry points ------------------------------------------------------ */

TfxStatus tfx_resize_infer(TfxGraph *g, TfxNode *n) {
  switch (n->op) {
  case TFX_OP_Resize:
  case TFX_OP_Upsample: return resize_infer(g, n);
  default: return tfx_node_error(g, n, "%s is not implemented yet", n->op_type);
  }
}

TfxStatus tfx_resize_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  switch (n->op) {
  case TFX_OP_Resize:
  case TFX_OP_Upsample: return resize_eval(g, n, in, out);
  default: return tfx_node_error(g, NODE(n), "%s is not implemented yet", n->op_type);
  }
}

TfxStatus tfx_resize_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  switch (n->op) {
  case TFX_OP_Resize:
  case TFX_OP_Upsample: return resize_emit(e, g, n);
  default: return tfx_node_error(g, NODE(n), "%s is not implemented yet", n->op_type);
  }
}
