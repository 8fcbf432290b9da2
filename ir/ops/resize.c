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
    /* as the reference: an axis that keeps its size at scale ~1 over the whole
     * roi is copied (its roi start must be exactly 0) */
    bool identity = near_one(p->scale[i]) && p->out[i] == p->in[i] && p->roi_lo[i] == 0.0 &&
                    near_one(p->roi_hi[i]);
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
      double s = fmin(scale, 1.0), sum = 0, sd = floor(-1 / s) + 1;
      if (2 - 2 * sd > cap) return -1;
      int start = (int)sd, k = 2 - 2 * start;
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
      double s = fmin(scale, 1.0), sum = 0, sd = floor(-2 / s) + 1;
      if (2 - 2 * sd > cap) return -1;
      int start = (int)sd, end = 2 - start, k = end - start;
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

enum { MAX_TAPS = 4096 }; /* antialias kernels widen as 1/scale */

static TfxStatus axis_taps(TfxGraph *g, const TfxNode *n, const RsPlan *p, int a, RsTaps *t) {
  memset(t, 0, sizeof *t);
  int64_t no = p->out[a], in = p->in[a];
  double *c = malloc(sizeof(double) * MAX_TAPS);
  if (!c) return tfx_node_error(g, NODE(n), "out of memory for resize tables");
  /* the kernel width depends on the scale only: size the tables by it */
  int width = coeffs(p, 0.5, p->scale[a], c, MAX_TAPS);
  if (width < 1) {
    free(c);
    return tfx_node_error(g, NODE(n), "antialias kernel for scale %g is too wide", p->scale[a]);
  }
  t->n_out = no;
  t->idx = calloc((size_t)(no * width) + 1, sizeof *t->idx);
  t->w = calloc((size_t)(no * width) + 1, sizeof *t->w);
  t->extra = calloc((size_t)no + 1, sizeof *t->extra);
  if (!t->idx || !t->w || !t->extra) {
    taps_free(t);
    free(c);
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
      free(c);
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
  free(c);
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
      size_t es = tfx_dtype_bytes(x->dtype);
      memcpy((char *)y->data + (size_t)o * es, (const char *)x->data + (size_t)src * es, es);
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

/* Print a static table of n_out rows of m entries (long rows wrap). */
static void emit_table(TfxCEmit *e, const char *ctype, const char *name, const RsTaps *t,
                       int64_t stride, bool weights) {
  tfx_c_line(e, "static const %s %s[%lld][%lld] = {", ctype, name, (long long)t->n_out, (long long)t->m);
  tfx_c_indent(e, 1);
  for (int64_t o = 0; o < t->n_out; o++) {
    bool wrap = t->m > 8;
    if (wrap) tfx_c_line(e, "{");
    for (int64_t i0 = 0; i0 < t->m; i0 += 8) {
      char row[1024];
      size_t len = 0;
      row[0] = 0;
      for (int64_t i = i0; i < t->m && i < i0 + 8; i++) {
        char lit[64];
        if (weights) tfx_c_double(lit, t->w[o * t->m + i]);
        else snprintf(lit, sizeof lit, "%lld", (long long)(t->idx[o * t->m + i] * stride));
        len += (size_t)snprintf(row + len, sizeof row - len, "%s%s", i > i0 ? ", " : "", lit);
      }
      if (wrap) tfx_c_line(e, "  %s,", row);
      else tfx_c_line(e, "{%s},", row);
    }
    if (wrap) tfx_c_line(e, "},");
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
  TfxValue *xv = tfx_node_in(g, n, 0);
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

/* ---- GridSample ----------------------------------------------------------------- */
/* Each output point reads the grid's normalised coordinates (x first, i.e. the
 * last spatial axis first), maps them to input positions in the coordinate
 * type (float, double for a double grid, as the reference does), applies the
 * padding mode, and sums K taps per spatial axis (nearest 1, linear 2,
 * cubic 4) with zeros padding expressed as zero weights. */

typedef enum { GP_ZEROS, GP_BORDER, GP_REFLECTION } GsPad;

typedef struct {
  RsMode mode;
  GsPad pad;
  bool align;
  int r;         /* spatial rank */
  int k;         /* taps per axis */
  int64_t N, C, P; /* P: output points per batch item */
  bool dbl;      /* coordinates in double (double grid) */
} GsSpec;

static TfxStatus gs_spec(TfxGraph *g, const TfxNode *n, int xr, const int64_t *xd, int gr,
                         const int64_t *gd, GsSpec *s) {
  memset(s, 0, sizeof *s);
  const char *m = tfx_attr_string(n, "mode", g->opset >= 20 ? "linear" : "bilinear");
  if (!strcmp(m, "nearest")) s->mode = M_NEAREST, s->k = 1;
  else if (!strcmp(m, "linear") || !strcmp(m, "bilinear")) s->mode = M_LINEAR, s->k = 2;
  else if (!strcmp(m, "cubic") || !strcmp(m, "bicubic")) s->mode = M_CUBIC, s->k = 4;
  else return tfx_node_error(g, NODE(n), "unsupported mode '%s' (nearest, linear or cubic)", m);
  const char *p = tfx_attr_string(n, "padding_mode", "zeros");
  if (!strcmp(p, "zeros")) s->pad = GP_ZEROS;
  else if (!strcmp(p, "border")) s->pad = GP_BORDER;
  else if (!strcmp(p, "reflection")) s->pad = GP_REFLECTION;
  else return tfx_node_error(g, NODE(n), "unsupported padding_mode '%s'", p);
  s->align = tfx_attr_int(n, "align_corners", 0) != 0;
  if (xr < 3) return tfx_node_error(g, NODE(n), "X must have shape (N, C, D1, ...)");
  s->r = xr - 2;
  if (gr != xr || gd[0] != xd[0] || gd[gr - 1] != s->r)
    return tfx_node_error(g, NODE(n), "grid must have shape (N, H_out..., %d)", s->r);
  if (s->mode == M_CUBIC && s->r != 2)
    return tfx_node_error(g, NODE(n), "cubic mode needs 2 spatial dimensions");
  for (int i = 0; i < s->r; i++)
    if (xd[2 + i] < 1) return tfx_node_error(g, NODE(n), "X has an empty spatial dimension");
  s->N = xd[0], s->C = xd[1], s->P = tfx_numel(gr - 2, gd + 1);
  return TFX_OK;
}

static TfxStatus gs_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *x = tfx_node_in(g, n, 0), *gv = tfx_node_in(g, n, 1);
  if (!x || !gv) return tfx_node_error(g, n, "inputs X and grid are required");
  GsSpec s;
  if (gs_spec(g, n, x->rank, x->dims, gv->rank, gv->dims, &s)) return TFX_ERR;
  if (!tfx_dtype_is_float(gv->dtype)) return tfx_node_error(g, n, "grid must be a float tensor");
  if (!tfx_dtype_is_float(x->dtype) && !(s.mode == M_NEAREST && tfx_dtype_is_int(x->dtype)))
    return tfx_node_error(g, n, "input type %s is not supported for this mode",
                          tfx_dtype_name(x->dtype));
  int64_t dims[TFX_MAX_RANK];
  dims[0] = x->dims[0], dims[1] = x->dims[1];
  for (int i = 0; i < s.r; i++) dims[2 + i] = gv->dims[1 + i];
  tfx_node_set_out(g, n, 0, x->dtype, x->rank, dims);
  return TFX_OK;
}

/* Reflect x into [lo, hi] by its nearer border, as the reference does. */
static double gs_reflect(double x, double lo, double hi) {
  double rng = hi - lo;
  if (rng <= 0) return lo;
  if (x < lo) {
    double dx = lo - x;
    int64_t k = (int64_t)(dx / rng);
    double r = dx - (double)k * rng;
    return k % 2 == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    double dx = x - hi;
    int64_t k = (int64_t)(dx / rng);
    double r = dx - (double)k * rng;
    return k % 2 == 0 ? hi - r : lo + r;
  }
  return x;
}

static void gs_cubic(double t, double *c) {
  const double A = -0.75;
  double t1 = t + 1, q = 1 - t, q2 = 2 - t;
  c[0] = ((A * t1 - 5 * A) * t1 + 8 * A) * t1 - 4 * A;
  c[1] = ((A + 2) * t - (A + 3)) * t * t + 1;
  c[2] = ((A + 2) * q - (A + 3)) * q * q + 1;
  c[3] = ((A * q2 - 5 * A) * q2 + 8 * A) * q2 - 4 * A;
}

/* Taps of one axis of extent d for the normalised coordinate v.  Float
 * arithmetic stays in float unless dbl, so positions round as the
 * reference's float32 arrays do. */
static void gs_axis(const GsSpec *s, double v, int64_t d, int64_t *idx, double *w) {
  double lo = s->align ? 0.0 : -0.5, hi = s->align ? (double)d - 1 : (double)d - 0.5, x;
  if (s->dbl) x = s->align ? (v + 1) / 2.0 * (double)(d - 1) : ((v + 1) * (double)d - 1) / 2.0;
  else {
    float f = (float)v;
    x = s->align ? (f + 1.0f) / 2.0f * (float)(d - 1) : ((f + 1.0f) * (float)d - 1.0f) / 2.0f;
  }
  if (s->mode == M_NEAREST) x = nearbyint(x);
  if (x < lo || x > hi) {
    if (s->pad == GP_BORDER) x = fmin(fmax(x, 0.0), (double)d - 1);
    else if (s->pad == GP_REFLECTION) x = gs_reflect(x, lo, hi);
    if (!s->dbl) x = (float)x;
  }
  double c[4];
  int64_t first;
  if (s->mode == M_NEAREST) {
    first = (int64_t)x, c[0] = 1;
  } else {
    double x0 = floor(x), t = x - x0;
    if (!s->dbl) t = (float)t;
    first = (int64_t)x0 - (s->mode == M_CUBIC ? 1 : 0);
    if (s->mode == M_LINEAR) c[0] = 1 - t, c[1] = t;
    else gs_cubic(t, c);
  }
  for (int i = 0; i < s->k; i++) {
    int64_t j = first + i;
    w[i] = c[i];
    if (j < 0 || j >= d) {
      if (s->pad == GP_ZEROS) w[i] = 0;
      else if (s->pad == GP_BORDER) j = j < 0 ? 0 : d - 1;
      else j = (int64_t)gs_reflect((double)j, lo, hi);
      if (j < 0) j = 0;
      if (j >= d) j = d - 1;
    }
    idx[i] = j;
  }
}

static TfxStatus gs_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  const TfxTensor *x = in[0], *gr = in[1];
  TfxTensor *y = &out[0];
  GsSpec s;
  if (gs_spec(g, n, x->rank, x->dims, gr->rank, gr->dims, &s)) return TFX_ERR;
  s.dbl = gr->dtype == TFX_F64;
  int r = s.r;
  const int64_t *sd = x->dims + 2;
  int64_t xs[TFX_MAX_RANK], idx[TFX_MAX_RANK][4], tap[TFX_MAX_RANK];
  double w[TFX_MAX_RANK][4];
  tfx_strides(r, sd, xs);
  int64_t S = tfx_numel(r, sd);
  for (int64_t b = 0; b < s.N; b++)
    for (int64_t p = 0; p < s.P; p++) {
      for (int i = 0; i < r; i++)
        gs_axis(&s, tfx_tensor_get_f64(gr, (b * s.P + p) * r + (r - 1 - i)), sd[i], idx[i], w[i]);
      for (int64_t c = 0; c < s.C; c++) {
        int64_t base = (b * s.C + c) * S, o = (b * s.C + c) * s.P + p;
        if (s.mode == M_NEAREST) {
          int64_t src = base;
          for (int i = 0; i < r; i++) src += idx[i][0] * xs[i];
          bool zero = false;
          for (int i = 0; i < r; i++) zero |= w[i][0] == 0;
          if (tfx_dtype_is_float(x->dtype)) tfx_tensor_set_f64(y, o, zero ? 0 : tfx_tensor_get_f64(x, src));
          else tfx_tensor_set_i64(y, o, zero ? 0 : tfx_tensor_get_i64(x, src));
          continue;
        }
        double acc = 0;
        for (int i = 0; i < r; i++) tap[i] = 0;
        for (;;) {
          double wt = 1;
          int64_t src = base;
          for (int i = 0; i < r; i++) wt *= w[i][tap[i]], src += idx[i][tap[i]] * xs[i];
          acc += wt * tfx_tensor_get_f64(x, src);
          int i = r - 1;
          for (; i >= 0; i--) {
            if (++tap[i] < s.k) break;
            tap[i] = 0;
          }
          if (i < 0) break;
        }
        tfx_tensor_set_f64(y, o, acc);
      }
    }
  return TFX_OK;
}

/* Generated-code twin of gs_reflect on the double variable v. */
static void emit_reflect(TfxCEmit *e, const char *v, double lo, double hi) {
  char llo[64], lhi[64], lrng[64];
  tfx_c_double(llo, lo), tfx_c_double(lhi, hi), tfx_c_double(lrng, hi - lo);
  if (hi - lo <= 0) {
    tfx_c_line(e, "%s = %s;", v, llo);
    return;
  }
  tfx_c_line(e, "if (%s < %s) {", v, llo);
  tfx_c_line(e, "  const double dx = %s - %s; const int64_t k = (int64_t)(dx / %s);", llo, v, lrng);
  tfx_c_line(e, "  const double rr = dx - (double)k * %s;", lrng);
  tfx_c_line(e, "  %s = k %% 2 == 0 ? %s + rr : %s - rr;", v, llo, lhi);
  tfx_c_line(e, "} else if (%s > %s) {", v, lhi);
  tfx_c_line(e, "  const double dx = %s - %s; const int64_t k = (int64_t)(dx / %s);", v, lhi, lrng);
  tfx_c_line(e, "  const double rr = dx - (double)k * %s;", lrng);
  tfx_c_line(e, "  %s = k %% 2 == 0 ? %s - rr : %s + rr;", v, lhi, llo);
  tfx_c_line(e, "}");
}

static TfxStatus gs_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  TfxValue *xv = tfx_node_in(g, n, 0), *gv = tfx_node_in(g, n, 1);
  GsSpec s;
  if (gs_spec(g, n, xv->rank, xv->dims, gv->rank, gv->dims, &s)) return TFX_ERR;
  s.dbl = gv->dtype == TFX_F64;
  if (s.N * s.C * s.P == 0) return TFX_OK;
  int r = s.r, k = s.k;
  const int64_t *sd = xv->dims + 2;
  int64_t xs[TFX_MAX_RANK];
  tfx_strides(r, sd, xs);
  int64_t S = tfx_numel(r, sd);
  const char *x = tfx_c_var(e, n->inputs[0]), *gp = tfx_c_var(e, n->inputs[1]);
  const char *y = tfx_c_var(e, n->outputs[0]);
  const char *ct = s.dbl ? "double" : "float", *sfx = s.dbl ? "" : "f";
  char l1[256], ex[512], lit[64], lit2[64];
  tfx_c_line(e, "{ /* GridSample: %d spatial axes, %d taps each */", r, k);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "for (int64_t b = 0; b < %lld; b++) {", (long long)s.N);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "for (int64_t p = 0; p < %lld; p++) {", (long long)s.P);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "int64_t ix[%d][%d];", r, k);
  tfx_c_line(e, "double wt[%d][%d];", r, k);
  for (int i = 0; i < r; i++) {
    int64_t d = sd[i];
    double lo = s.align ? 0.0 : -0.5, hi = s.align ? (double)d - 1 : (double)d - 0.5;
    tfx_c_line(e, "{ /* axis %d: extent %lld */", i, (long long)d);
    tfx_c_indent(e, 1);
    snprintf(ex, sizeof ex, "%s[(b * %lld + p) * %d + %d]", gp, (long long)s.P, r, r - 1 - i);
    tfx_c_line(e, "const %s v = (%s)%s;", ct, ct, tfx_c_load(e, gv->dtype, ex, l1));
    if (s.align)
      tfx_c_line(e, "double x = (double)((v + 1.0%s) / 2.0%s * (%s)%lld);", sfx, sfx, ct, (long long)(d - 1));
    else
      tfx_c_line(e, "double x = (double)(((v + 1.0%s) * (%s)%lld - 1.0%s) / 2.0%s);", sfx, ct, (long long)d, sfx, sfx);
    if (s.mode == M_NEAREST) tfx_c_line(e, "x = nearbyint(x);");
    if (s.pad != GP_ZEROS) {
      tfx_c_line(e, "if (x < %s || x > %s) {", tfx_c_double(lit, lo), tfx_c_double(lit2, hi));
      tfx_c_indent(e, 1);
      if (s.pad == GP_BORDER) tfx_c_line(e, "x = x < 0 ? 0.0 : x > %lld.0 ? %lld.0 : x;", (long long)(d - 1), (long long)(d - 1));
      else emit_reflect(e, "x", lo, hi);
      if (!s.dbl) tfx_c_line(e, "x = (double)(float)x;");
      tfx_c_indent(e, -1);
      tfx_c_line(e, "}");
    }
    if (s.mode == M_NEAREST) {
      tfx_c_line(e, "const int64_t first = (int64_t)x;");
      tfx_c_line(e, "const double c[1] = {1.0};");
    } else {
      tfx_c_line(e, "const double x0 = floor(x), t = (double)(%s)(x - x0);", ct);
      tfx_c_line(e, "const int64_t first = (int64_t)x0%s;", s.mode == M_CUBIC ? " - 1" : "");
      if (s.mode == M_LINEAR) tfx_c_line(e, "const double c[2] = {1.0 - t, t};");
      else {
        tfx_c_line(e, "const double A = -0.75, t1 = t + 1.0, u = 1.0 - t, u2 = 2.0 - t;");
        tfx_c_line(e, "const double c[4] = {((A * t1 - 5.0 * A) * t1 + 8.0 * A) * t1 - 4.0 * A,");
        tfx_c_line(e, "                     ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0,");
        tfx_c_line(e, "                     ((A + 2.0) * u - (A + 3.0)) * u * u + 1.0,");
        tfx_c_line(e, "                     ((A * u2 - 5.0 * A) * u2 + 8.0 * A) * u2 - 4.0 * A};");
      }
    }
    tfx_c_line(e, "for (int q = 0; q < %d; q++) {", k);
    tfx_c_indent(e, 1);
    tfx_c_line(e, "int64_t j = first + q;");
    tfx_c_line(e, "wt[%d][q] = c[q];", i);
    tfx_c_line(e, "if (j < 0 || j >= %lld) {", (long long)d);
    tfx_c_indent(e, 1);
    if (s.pad == GP_ZEROS) tfx_c_line(e, "wt[%d][q] = 0.0;", i);
    else if (s.pad == GP_BORDER) tfx_c_line(e, "j = j < 0 ? 0 : %lld;", (long long)(d - 1));
    else {
      tfx_c_line(e, "double jr = (double)j;");
      emit_reflect(e, "jr", lo, hi);
      tfx_c_line(e, "j = (int64_t)jr;");
    }
    tfx_c_line(e, "j = j < 0 ? 0 : j > %lld ? %lld : j;", (long long)(d - 1), (long long)(d - 1));
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
    tfx_c_line(e, "ix[%d][q] = j * %lld;", i, (long long)xs[i]);
    tfx_c_close(e, 2);
  }
  tfx_c_line(e, "for (int64_t c = 0; c < %lld; c++) {", (long long)s.C);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const int64_t base = (b * %lld + c) * %lld;", (long long)s.C, (long long)S);
  char yl[256], src[512], wexpr[512];
  snprintf(yl, sizeof yl, "%s[(b * %lld + c) * %lld + p]", y, (long long)s.C, (long long)s.P);
  size_t sl = (size_t)snprintf(src, sizeof src, "base"), wl = 0;
  wexpr[0] = 0;
  if (k > 1) tfx_c_line(e, "double acc = 0;");
  for (int i = 0; i < r; i++) {
    char tv[16];
    if (k == 1) snprintf(tv, sizeof tv, "0");
    else {
      snprintf(tv, sizeof tv, "t%d", i);
      tfx_c_line(e, "for (int t%d = 0; t%d < %d; t%d++) {", i, i, k, i);
      tfx_c_indent(e, 1);
    }
    sl += (size_t)snprintf(src + sl, sizeof src - sl, " + ix[%d][%s]", i, tv);
    wl += (size_t)snprintf(wexpr + wl, sizeof wexpr - wl, "%swt[%d][%s]", wl ? " * " : "", i, tv);
  }
  snprintf(ex, sizeof ex, "%s[%s]", x, src);
  if (k == 1) {
    /* nearest: a copy, or zero where zeros padding drops the point */
    if (tfx_dtype_is_float(xv->dtype)) {
      char val[700];
      snprintf(val, sizeof val, "%s == 0.0 ? (%s)0 : %s", wexpr, tfx_c_calctype(xv->dtype),
               tfx_c_load(e, xv->dtype, ex, l1));
      tfx_c_store(e, xv->dtype, yl, val);
    } else {
      tfx_c_line(e, "%s = %s == 0.0 ? (%s)0 : %s;", yl, wexpr, tfx_dtype_ctype(xv->dtype), ex);
    }
  } else {
    tfx_c_line(e, "acc += %s * (double)%s;", wexpr, tfx_c_load(e, xv->dtype, ex, l1));
    for (int i = 0; i < r; i++) {
      tfx_c_indent(e, -1);
      tfx_c_line(e, "}");
    }
    snprintf(ex, sizeof ex, "(%s)acc", tfx_c_calctype(xv->dtype));
    tfx_c_store(e, xv->dtype, yl, ex);
  }
  tfx_c_close(e, 4);
  return TFX_OK;
}

/* ---- AffineGrid ------------------------------------------------------------------ */
/* grid[n, d.., :] = theta[n] @ (x, y[, z], 1) where the base coordinates span
 * [-1, 1] over each spatial axis of size (pixel centres unless align_corners);
 * x belongs to the last axis.  Computed in double. */

typedef struct {
  int r;                       /* 2 or 3 spatial axes */
  int64_t N, sp[3];            /* spatial sizes, outermost first */
  double start[3], step[3];    /* base coordinate k of axis i: start + k * step */
} AgSpec;

static TfxStatus ag_spec(TfxGraph *g, const TfxNode *n, const TfxTensor *size, AgSpec *s) {
  memset(s, 0, sizeof *s);
  int64_t ns = tfx_tensor_numel(size);
  if (size->rank != 1 || (ns != 4 && ns != 5))
    return tfx_node_error(g, NODE(n), "size must be (N, C, H, W) or (N, C, D, H, W)");
  bool align = tfx_attr_int(n, "align_corners", 0) != 0;
  s->r = (int)ns - 2;
  s->N = tfx_tensor_get_i64(size, 0);
  if (s->N < 0) return tfx_node_error(g, NODE(n), "size must not be negative");
  for (int i = 0; i < s->r; i++) {
    int64_t d = tfx_tensor_get_i64(size, 2 + i);
    if (d < 0) return tfx_node_error(g, NODE(n), "size must not be negative");
    s->sp[i] = d;
    if (align) s->start[i] = -1, s->step[i] = d > 1 ? 2.0 / (double)(d - 1) : 0;
    else s->step[i] = d > 0 ? 2.0 / (double)d : 0, s->start[i] = -1 + s->step[i] / 2;
  }
  return TFX_OK;
}

static TfxStatus ag_infer(TfxGraph *g, TfxNode *n) {
  TfxValue *th = tfx_node_in(g, n, 0);
  if (!th || !tfx_node_in(g, n, 1)) return tfx_node_error(g, n, "inputs theta and size are required");
  const TfxTensor *size = tfx_node_const_in(g, n, 1);
  if (!size) return tfx_node_error(g, n, "input size must be a compile-time constant");
  if (!tfx_dtype_is_float(th->dtype)) return tfx_node_error(g, n, "theta must be a float tensor");
  AgSpec s;
  if (ag_spec(g, n, size, &s)) return TFX_ERR;
  if (th->rank != 3 || th->dims[0] != s.N || th->dims[1] != s.r || th->dims[2] != s.r + 1)
    return tfx_node_error(g, n, "theta must have shape (N=%lld, %d, %d)", (long long)s.N, s.r, s.r + 1);
  int64_t dims[5];
  dims[0] = s.N;
  for (int i = 0; i < s.r; i++) dims[1 + i] = s.sp[i];
  dims[1 + s.r] = s.r;
  tfx_node_set_out(g, n, 0, th->dtype, s.r + 2, dims);
  return TFX_OK;
}

static TfxStatus ag_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  AgSpec s;
  if (ag_spec(g, n, in[1], &s)) return TFX_ERR;
  int r = s.r;
  int64_t P = tfx_numel(r, s.sp), pi[3];
  for (int64_t b = 0; b < s.N; b++)
    for (int64_t p = 0; p < P; p++) {
      tfx_unravel(p, r, s.sp, pi);
      double h[4]; /* homogeneous base point: x (last axis) first */
      for (int i = 0; i < r; i++) h[i] = s.start[r - 1 - i] + (double)pi[r - 1 - i] * s.step[r - 1 - i];
      h[r] = 1;
      for (int j = 0; j < r; j++) {
        double acc = 0;
        for (int c = 0; c <= r; c++) acc += tfx_tensor_get_f64(in[0], (b * r + j) * (r + 1) + c) * h[c];
        tfx_tensor_set_f64(&out[0], (b * P + p) * r + j, acc);
      }
    }
  return TFX_OK;
}

static TfxStatus ag_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  TfxValue *tv = tfx_node_in(g, n, 0);
  const TfxTensor *size = tfx_node_const_in(g, n, 1);
  AgSpec s;
  if (!size) return tfx_node_error(g, NODE(n), "input size must be a compile-time constant");
  if (ag_spec(g, n, size, &s)) return TFX_ERR;
  int r = s.r;
  int64_t P = tfx_numel(r, s.sp);
  if (s.N * P == 0) return TFX_OK;
  const char *th = tfx_c_var(e, n->inputs[0]), *y = tfx_c_var(e, n->outputs[0]);
  char l1[256], ex[512], a[64], b[64];
  tfx_c_line(e, "{ /* AffineGrid: %d spatial axes */", r);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "for (int64_t b = 0; b < %lld; b++) {", (long long)s.N);
  tfx_c_indent(e, 1);
  for (int i = 0; i < r; i++) {
    tfx_c_line(e, "for (int64_t k%d = 0; k%d < %lld; k%d++) {", i, i, (long long)s.sp[i], i);
    tfx_c_indent(e, 1);
  }
  char pe[256];
  size_t pl = 0;
  pe[0] = 0;
  for (int i = 0; i < r; i++) {
    int64_t st = tfx_numel(r - 1 - i, s.sp + i + 1);
    pl += (size_t)snprintf(pe + pl, sizeof pe - pl, "%sk%d * %lld", i ? " + " : "", i, (long long)st);
  }
  tfx_c_line(e, "const int64_t p = %s;", pe);
  tfx_c_line(e, "double h[%d];", r + 1);
  for (int i = 0; i < r; i++) {
    int ax = r - 1 - i;
    tfx_c_line(e, "h[%d] = %s + (double)k%d * %s;", i, tfx_c_double(a, s.start[ax]), ax,
               tfx_c_double(b, s.step[ax]));
  }
  tfx_c_line(e, "h[%d] = 1.0;", r);
  tfx_c_line(e, "for (int j = 0; j < %d; j++) {", r);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "double acc = 0;");
  snprintf(ex, sizeof ex, "%s[(b * %d + j) * %d + c]", th, r, r + 1);
  tfx_c_line(e, "for (int c = 0; c < %d; c++) acc += (double)%s * h[c];", r + 1,
             tfx_c_load(e, tv->dtype, ex, l1));
  snprintf(ex, sizeof ex, "%s[(b * %lld + p) * %d + j]", y, (long long)P, r);
  char val[64];
  snprintf(val, sizeof val, "(%s)acc", tfx_c_calctype(tv->dtype));
  tfx_c_store(e, tv->dtype, ex, val);
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  for (int i = 0; i < r; i++) {
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  tfx_c_close(e, 2);
  return TFX_OK;
}

/* ---- family entry points ------------------------------------------------------ */

TfxStatus tfx_resize_infer(TfxGraph *g, TfxNode *n) {
  switch (n->op) {
  case TFX_OP_Resize:
  case TFX_OP_Upsample: return resize_infer(g, n);
  case TFX_OP_GridSample: return gs_infer(g, n);
  case TFX_OP_AffineGrid: return ag_infer(g, n);
  default: return tfx_node_error(g, n, "internal: not a resize-family op");
  }
}

TfxStatus tfx_resize_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  switch (n->op) {
  case TFX_OP_Resize:
  case TFX_OP_Upsample: return resize_eval(g, n, in, out);
  case TFX_OP_GridSample: return gs_eval(g, n, in, out);
  case TFX_OP_AffineGrid: return ag_eval(g, n, in, out);
  default: return tfx_node_error(g, NODE(n), "internal: not a resize-family op");
  }
}

TfxStatus tfx_resize_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  switch (n->op) {
  case TFX_OP_Resize:
  case TFX_OP_Upsample: return resize_emit(e, g, n);
  case TFX_OP_GridSample: return gs_emit(e, g, n);
  case TFX_OP_AffineGrid: return ag_emit(e, g, n);
  default: return tfx_node_error(g, NODE(n), "internal: not a resize-family op");
  }
}
