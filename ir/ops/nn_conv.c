/* nn_conv.c — sliding-window ops over (N, C, D1..Dn) tensors: Conv,
 * ConvTranspose and the pools (Average, Max, Lp, and their Global forms).
 * All share NnGeom: output o reads input o*stride - pad_begin + k*dilation.
 * Generated code is a direct loop nest with literal shapes; a bounds test is
 * printed only for the dims where a window can leave the input. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ops/nn_internal.h"

/* Windows, strides, dilations and pads beyond this are refused: their sums
 * and products must stay far from int64 overflow. */
#define NN_MAX_WINDOW (INT64_C(1) << 40)

/* ---- geometry --------------------------------------------------------------- */

static TfxStatus ints_attr(TfxGraph *g, const TfxNode *n, const char *name, int want, int64_t dflt,
                           int64_t *vals) {
  const int64_t *v;
  int cnt = tfx_attr_ints(n, name, &v);
  if (cnt < 0) {
    for (int i = 0; i < want; i++) vals[i] = dflt;
    return TFX_OK;
  }
  if (cnt != want)
    return tfx_node_error(g, n, "attribute '%s' has %d values, expected %d", name, cnt, want);
  memcpy(vals, v, sizeof(int64_t) * (size_t)want);
  return TFX_OK;
}

typedef enum { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } NnAutoPad;

static TfxStatus auto_pad(TfxGraph *g, const TfxNode *n, NnAutoPad *ap) {
  const char *s = tfx_attr_string(n, "auto_pad", "NOTSET");
  if (!strcmp(s, "NOTSET") || !*s) *ap = PAD_NOTSET;
  else if (!strcmp(s, "SAME_UPPER")) *ap = PAD_SAME_UPPER;
  else if (!strcmp(s, "SAME_LOWER")) *ap = PAD_SAME_LOWER;
  else if (!strcmp(s, "VALID")) *ap = PAD_VALID;
  else return tfx_node_error(g, n, "unsupported auto_pad '%s'", s);
  return TFX_OK;
}

/* Kernel, strides and dilations shared by the window ops. */
static TfxStatus window_attrs(TfxGraph *g, const TfxNode *n, int nsp, const int64_t *w_kernel,
                              NnGeom *geo) {
  const int64_t *ks;
  int kc = tfx_attr_ints(n, "kernel_shape", &ks);
  if (kc >= 0) {
    if (kc != nsp)
      return tfx_node_error(g, n, "kernel_shape has %d values for %d spatial dims", kc, nsp);
    for (int i = 0; i < nsp; i++) {
      if (w_kernel && w_kernel[i] != ks[i])
        return tfx_node_error(g, n, "kernel_shape[%d] = %lld differs from the weight's %lld", i,
                              (long long)ks[i], (long long)w_kernel[i]);
      geo->kernel[i] = ks[i];
    }
  } else if (w_kernel) {
    memcpy(geo->kernel, w_kernel, sizeof(int64_t) * (size_t)nsp);
  } else {
    return tfx_node_error(g, n, "attribute 'kernel_shape' is required");
  }
  if (ints_attr(g, n, "strides", nsp, 1, geo->stride) ||
      ints_attr(g, n, "dilations", nsp, 1, geo->dil))
    return TFX_ERR;
  for (int i = 0; i < nsp; i++) {
    if (geo->kernel[i] < 1 || geo->stride[i] < 1 || geo->dil[i] < 1)
      return tfx_node_error(g, n, "kernel, strides and dilations must be positive (dim %d)", i);
    if (geo->kernel[i] > NN_MAX_WINDOW || geo->stride[i] > NN_MAX_WINDOW || geo->dil[i] > NN_MAX_WINDOW)
      return tfx_node_error(g, n, "kernel, strides or dilations above 2^40 (dim %d): refused", i);
  }
  return TFX_OK;
}

TfxStatus tfx_nn_geom(TfxGraph *g, const TfxNode *n, int x_rank, const int64_t *x_dims,
                      const int64_t *w_kernel, bool is_pool, NnGeom *geo) {
  int nsp = x_rank - 2;
  if (nsp < 1 || nsp > NN_MAX_SP)
    return tfx_node_error(g, n, "input must have rank 3 to %d (N, C, spatial...), not %d",
                          TFX_MAX_RANK, x_rank);
  geo->nsp = nsp;
  memcpy(geo->in, x_dims + 2, sizeof(int64_t) * (size_t)nsp);
  if (window_attrs(g, n, nsp, w_kernel, geo)) return TFX_ERR;
  NnAutoPad ap;
  if (auto_pad(g, n, &ap)) return TFX_ERR;
  int64_t pads[2 * NN_MAX_SP];
  if (ints_attr(g, n, "pads", 2 * nsp, 0, pads)) return TFX_ERR;
  for (int i = 0; i < 2 * nsp; i++)
    if (pads[i] > NN_MAX_WINDOW) return tfx_node_error(g, n, "pads above 2^40: refused");
  bool ceil_mode = is_pool && tfx_attr_int(n, "ceil_mode", 0) != 0;
  for (int i = 0; i < nsp; i++) {
    int64_t in = geo->in[i], s = geo->stride[i];
    int64_t ek = (geo->kernel[i] - 1) * geo->dil[i] + 1; /* dilated extent */
    if (ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
      int64_t out = (in + s - 1) / s;
      int64_t total = (out - 1) * s + ek - in;
      if (total < 0) total = 0;
      geo->pad_begin[i] = ap == PAD_SAME_UPPER ? total / 2 : total - total / 2;
      geo->pad_end[i] = total - geo->pad_begin[i];
      geo->out[i] = out;
      continue;
    }
    if (ap == PAD_VALID) {
      geo->pad_begin[i] = geo->pad_end[i] = 0;
    } else {
      geo->pad_begin[i] = pads[i];
      geo->pad_end[i] = pads[nsp + i];
      if (pads[i] < 0 || pads[nsp + i] < 0)
        return tfx_node_error(g, n, "negative pads are not supported");
    }
    int64_t span = in + geo->pad_begin[i] + geo->pad_end[i] - ek;
    if (span < 0)
      return tfx_node_error(g, n, "window (%lld) is larger than the padded input (%lld) on dim %d",
                            (long long)ek, (long long)(in + geo->pad_begin[i] + geo->pad_end[i]),
                            i + 2);
    int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    /* ceil_mode: the last window must start inside the input or the left pad */
    if (ceil_mode && (out - 1) * s >= in + geo->pad_begin[i]) out--;
    geo->out[i] = out;
  }
  for (int i = 0; i < nsp; i++)
    if (geo->out[i] < 1)
      return tfx_node_error(g, n, "output would be empty on dim %d", i + 2);
  return TFX_OK;
}

/* Whether a window can leave [0, in) on spatial dim i. */
static bool geo_needs_check(const NnGeom *geo, int i) {
  int64_t last = (geo->out[i] - 1) * geo->stride[i] - geo->pad_begin[i] +
                 (geo->kernel[i] - 1) * geo->dil[i];
  return geo->pad_begin[i] > 0 || last >= geo->in[i];
}

static bool conv_dtype_ok(TfxDtype t) { return tfx_dtype_is_float(t); }

/* Print "for kD { const int64_t pD = oD*S - PB + kD*DIL; [bounds test] " for
 * every spatial dim; closes with tfx_nn_end(e, nsp). */
static void emit_window_loops(TfxCEmit *e, const NnGeom *geo) {
  for (int i = 0; i < geo->nsp; i++) {
    char v[16];
    snprintf(v, sizeof v, "k%d", i);
    tfx_nn_for(e, v, geo->kernel[i]);
    tfx_c_line(e, "const int64_t p%d = o%d * %lld + k%d * %lld - %lld;", i, i,
               (long long)geo->stride[i], i, (long long)geo->dil[i], (long long)geo->pad_begin[i]);
    if (geo_needs_check(geo, i))
      tfx_c_line(e, "if (p%d < 0 || p%d >= %lld) continue;", i, i, (long long)geo->in[i]);
  }
}

static void emit_out_loops(TfxCEmit *e, const NnGeom *geo) {
  for (int i = 0; i < geo->nsp; i++) {
    char v[16];
    snprintf(v, sizeof v, "o%d", i);
    tfx_nn_for(e, v, geo->out[i]);
  }
}

/* Row-major strides of the spatial dims of a (N, C, dims...) tensor. */
static void sp_strides(int nsp, const int64_t *dims, int64_t *st) { tfx_strides(nsp, dims, st); }

/* Column-major strides: MaxPool's Indices with storage_order = 1. */
static void col_strides(int nsp, const int64_t *dims, int64_t *st) {
  int64_t s = 1;
  for (int d = 0; d < nsp; d++) {
    st[d] = s;
    s *= dims[d];
  }
}

/* ---- Conv ----------------------------------------------------------------------
 * X (N, C, D...), W (M, C/group, k...), optional B (M) -> Y (N, M, O...). */

typedef struct {
  NnGeom geo;
  int64_t N, C, M, group, CG, MG;
} NnConv;

static TfxStatus conv_shape(TfxGraph *g, const TfxNode *n, int xr, const int64_t *xd, int wr,
                            const int64_t *wd, const TfxValue *b, NnConv *cv) {
  if (xr != wr) return tfx_node_error(g, n, "X has rank %d but W has rank %d", xr, wr);
  if (tfx_nn_geom(g, n, xr, xd, wd + 2, false, &cv->geo)) return TFX_ERR;
  cv->N = xd[0];
  cv->C = xd[1];
  cv->M = wd[0];
  cv->group = tfx_attr_int(n, "group", 1);
  if (cv->group < 1 || cv->C % cv->group || cv->M % cv->group)
    return tfx_node_error(g, n, "group %lld does not divide channels (C=%lld, M=%lld)",
                          (long long)cv->group, (long long)cv->C, (long long)cv->M);
  cv->CG = cv->C / cv->group;
  cv->MG = cv->M / cv->group;
  if (wd[1] != cv->CG)
    return tfx_node_error(g, n, "W has %lld input channels, expected C/group = %lld",
                          (long long)wd[1], (long long)cv->CG);
  if (b && (b->rank != 1 || b->dims[0] != cv->M))
    return tfx_node_error(g, n, "bias B must have shape (%lld)", (long long)cv->M);
  return TFX_OK;
}

/* Conv and ConvTranspose check their operands alike and differ only in how
 * the output geometry follows from them. */
typedef TfxStatus (*ConvShapeFn)(TfxGraph *g, const TfxNode *n, int xr, const int64_t *xd, int wr,
                                 const int64_t *wd, const TfxValue *b, NnConv *cv);

static TfxStatus conv_like_infer(TfxGraph *g, TfxNode *n, ConvShapeFn shape) {
  const TfxValue *x = tfx_node_in(g, n, 0), *w = tfx_node_in(g, n, 1), *b = tfx_node_in(g, n, 2);
  if (!x || !w) return tfx_node_error(g, n, "%s needs inputs X and W", n->op_type);
  if (!conv_dtype_ok(x->dtype))
    return tfx_node_error(g, n, "unsupported dtype %s", tfx_dtype_name(x->dtype));
  if (w->dtype != x->dtype || (b && b->dtype != x->dtype))
    return tfx_node_error(g, n, "X, W and B must share one dtype");
  NnConv cv;
  if (shape(g, n, x->rank, x->dims, w->rank, w->dims, b, &cv)) return TFX_ERR;
  int64_t od[TFX_MAX_RANK] = {cv.N, cv.M};
  memcpy(od + 2, cv.geo.out, sizeof(int64_t) * (size_t)cv.geo.nsp);
  tfx_node_set_out(g, n, 0, x->dtype, x->rank, od);
  return TFX_OK;
}

TfxStatus tfx_nn_conv_infer(TfxGraph *g, TfxNode *n) { return conv_like_infer(g, n, conv_shape); }

TfxStatus tfx_nn_conv_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                           TfxTensor *out) {
  const TfxTensor *X = in[0], *W = in[1], *B = n->n_inputs > 2 ? in[2] : NULL;
  NnConv cv;
  if (conv_shape(g, n, X->rank, X->dims, W->rank, W->dims, NULL, &cv)) return TFX_ERR;
  const NnGeom *geo = &cv.geo;
  int nsp = geo->nsp;
  int64_t is = tfx_numel(nsp, geo->in), os = tfx_numel(nsp, geo->out);
  int64_t ks = tfx_numel(nsp, geo->kernel), ist[NN_MAX_SP], o[NN_MAX_SP], k[NN_MAX_SP];
  sp_strides(nsp, geo->in, ist);
  double *x = tfx_nn_f64(g, n, X), *w = tfx_nn_f64(g, n, W);
  if (!x || !w) {
    free(x), free(w);
    return TFX_ERR;
  }
  for (int64_t b = 0; b < cv.N; b++)
    for (int64_t m = 0; m < cv.M; m++) {
      int64_t grp = m / cv.MG;
      for (int64_t oi = 0; oi < os; oi++) {
        tfx_unravel(oi, nsp, geo->out, o);
        double acc = B ? tfx_tensor_get_f64(B, m) : 0.0;
        for (int64_t c = 0; c < cv.CG; c++)
          for (int64_t ki = 0; ki < ks; ki++) {
            tfx_unravel(ki, nsp, geo->kernel, k);
            int64_t xi = 0;
            bool inside = true;
            for (int d = 0; d < nsp; d++) {
              int64_t p = o[d] * geo->stride[d] - geo->pad_begin[d] + k[d] * geo->dil[d];
              if (p < 0 || p >= geo->in[d]) inside = false;
              xi += p * ist[d];
            }
            if (!inside) continue;
            acc += x[(b * cv.C + grp * cv.CG + c) * is + xi] * w[(m * cv.CG + c) * ks + ki];
          }
        tfx_tensor_set_f64(&out[0], (b * cv.M + m) * os + oi, acc);
      }
    }
  free(x), free(w);
  return TFX_OK;
}

TfxStatus tfx_nn_conv_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *x = tfx_node_in(g, n, 0), *w = tfx_node_in(g, n, 1), *b = tfx_node_in(g, n, 2);
  NnConv cv;
  if (conv_shape(g, n, x->rank, x->dims, w->rank, w->dims, b, &cv)) return TFX_ERR;
  const NnGeom *geo = &cv.geo;
  int nsp = geo->nsp;
  TfxDtype dt = x->dtype;
  const char *ct = tfx_dtype_ctype(dt), *acct = tfx_nn_acctype(dt);
  int64_t is = tfx_numel(nsp, geo->in), os = tfx_numel(nsp, geo->out);
  int64_t ks = tfx_numel(nsp, geo->kernel), ist[NN_MAX_SP], ost[NN_MAX_SP], kst[NN_MAX_SP];
  sp_strides(nsp, geo->in, ist);
  sp_strides(nsp, geo->out, ost);
  sp_strides(nsp, geo->kernel, kst);
  char b1[512], b2[512], l1[256];
  tfx_c_line(e, "{ /* Conv: %dD, %lld -> %lld channels, group %lld */", nsp, (long long)cv.C,
             (long long)cv.M, (long long)cv.group);
  tfx_c_indent(e, 1);
  const char *vx = tfx_nn_alias_in(e, g, n, 0), *vw = tfx_nn_alias_in(e, g, n, 1);
  const char *vb = b ? tfx_nn_alias_in(e, g, n, 2) : NULL;
  const char *vy = tfx_nn_alias_out(e, g, n, 0);
  tfx_nn_for(e, "nb", cv.N);
  tfx_nn_for(e, "oc", cv.M);
  tfx_c_line(e, "const %s *const xg = %s + (nb * %lld + (oc / %lld) * %lld) * %lld;", ct, vx,
             (long long)cv.C, (long long)cv.MG, (long long)cv.CG, (long long)is);
  tfx_c_line(e, "const %s *const wm = %s + oc * %lld;", ct, vw, (long long)(cv.CG * ks));
  tfx_c_line(e, "%s *const yp = %s + (nb * %lld + oc) * %lld;", ct, vy, (long long)cv.M,
             (long long)os);
  if (vb) {
    snprintf(b1, sizeof b1, "%s[oc]", vb);
    tfx_c_line(e, "const %s bias = %s;", acct, tfx_c_load(e, dt, b1, l1));
  }
  emit_out_loops(e, geo);
  tfx_c_line(e, "%s acc = %s;", acct, vb ? "bias" : "0");
  tfx_nn_for(e, "c", cv.CG);
  tfx_c_line(e, "const %s *const xc = xg + c * %lld;", ct, (long long)is);
  tfx_c_line(e, "const %s *const wc = wm + c * %lld;", ct, (long long)ks);
  emit_window_loops(e, geo);
  char ex[600], ew[600];
  snprintf(ex, sizeof ex, "xc[%s]", tfx_nn_idx(b1, "p", nsp, ist, 0));
  snprintf(ew, sizeof ew, "wc[%s]", tfx_nn_idx(b2, "k", nsp, kst, 0));
  char lx[256], lw[256];
  tfx_c_line(e, "acc += %s * %s;", tfx_c_load(e, dt, ex, lx), tfx_c_load(e, dt, ew, lw));
  tfx_nn_end(e, nsp + 1);
  snprintf(ex, sizeof ex, "yp[%s]", tfx_nn_idx(b1, "o", nsp, ost, 0));
  tfx_c_store(e, dt, ex, "acc");
  tfx_nn_end(e, nsp + 2);
  tfx_nn_end(e, 1);
  return TFX_OK;
}

/* ---- ConvTranspose -------------------------------------------------------------
 * X (N, C, D...), W (C, M/group, k...), optional B (M) -> Y (N, M, O...);
 * output o gathers input i where o = i*stride - pad_begin + k*dilation. */

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static TfxStatus convt_shape(TfxGraph *g, const TfxNode *n, int xr, const int64_t *xd, int wr,
                             const int64_t *wd, const TfxValue *b, NnConv *cv) {
  NnGeom *geo = &cv->geo;
  int nsp = xr - 2;
  if (xr != wr) return tfx_node_error(g, n, "X has rank %d but W has rank %d", xr, wr);
  if (nsp < 1 || nsp > NN_MAX_SP)
    return tfx_node_error(g, n, "input must have rank 3 to %d, not %d", TFX_MAX_RANK, xr);
  geo->nsp = nsp;
  memcpy(geo->in, xd + 2, sizeof(int64_t) * (size_t)nsp);
  if (window_attrs(g, n, nsp, wd + 2, geo)) return TFX_ERR;
  cv->N = xd[0];
  cv->C = xd[1];
  cv->group = tfx_attr_int(n, "group", 1);
  if (cv->group < 1 || cv->C % cv->group)
    return tfx_node_error(g, n, "group %lld does not divide C=%lld", (long long)cv->group,
                          (long long)cv->C);
  if (wd[0] != cv->C)
    return tfx_node_error(g, n, "W has %lld input channels, X has %lld", (long long)wd[0],
                          (long long)cv->C);
  cv->CG = cv->C / cv->group;
  cv->MG = wd[1];
  cv->M = cv->MG * cv->group;
  if (b && (b->rank != 1 || b->dims[0] != cv->M))
    return tfx_node_error(g, n, "bias B must have shape (%lld)", (long long)cv->M);
  NnAutoPad ap;
  int64_t opad[NN_MAX_SP], pads[2 * NN_MAX_SP];
  if (auto_pad(g, n, &ap) || ints_attr(g, n, "output_padding", nsp, 0, opad) ||
      ints_attr(g, n, "pads", 2 * nsp, 0, pads))
    return TFX_ERR;
  const int64_t *oshape;
  int oc = tfx_attr_ints(n, "output_shape", &oshape);
  if (oc == nsp + 2) oshape += 2, oc = nsp; /* a full (N, C, ...) shape */
  if (oc >= 0 && oc != nsp)
    return tfx_node_error(g, n, "output_shape has %d values for %d spatial dims", oc, nsp);
  for (int i = 0; i < nsp; i++) {
    int64_t ek = (geo->kernel[i] - 1) * geo->dil[i] + 1, s = geo->stride[i];
    int64_t full = s * (geo->in[i] - 1) + opad[i] + ek; /* output before padding */
    if (oc >= 0 || ap == PAD_SAME_UPPER || ap == PAD_SAME_LOWER) {
      geo->out[i] = oc >= 0 ? oshape[i] : geo->in[i] * s;
      int64_t total = full - geo->out[i];
      if (ap == PAD_SAME_UPPER) {
        geo->pad_begin[i] = floordiv(total, 2);
        geo->pad_end[i] = total - geo->pad_begin[i];
      } else {
        geo->pad_end[i] = floordiv(total, 2);
        geo->pad_begin[i] = total - geo->pad_end[i];
      }
    } else {
      geo->pad_begin[i] = ap == PAD_VALID ? 0 : pads[i];
      geo->pad_end[i] = ap == PAD_VALID ? 0 : pads[nsp + i];
      geo->out[i] = full - geo->pad_begin[i] - geo->pad_end[i];
    }
    if (geo->out[i] < 1) return tfx_node_error(g, n, "output would be empty on dim %d", i + 2);
  }
  return TFX_OK;
}

TfxStatus tfx_nn_convt_infer(TfxGraph *g, TfxNode *n) { return conv_like_infer(g, n, convt_shape); }

TfxStatus tfx_nn_convt_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                            TfxTensor *out) {
  const TfxTensor *X = in[0], *W = in[1], *B = n->n_inputs > 2 ? in[2] : NULL;
  NnConv cv;
  if (convt_shape(g, n, X->rank, X->dims, W->rank, W->dims, NULL, &cv)) return TFX_ERR;
  const NnGeom *geo = &cv.geo;
  int nsp = geo->nsp;
  int64_t is = tfx_numel(nsp, geo->in), os = tfx_numel(nsp, geo->out);
  int64_t ks = tfx_numel(nsp, geo->kernel), ist[NN_MAX_SP], ost[NN_MAX_SP], k[NN_MAX_SP],
          i[NN_MAX_SP];
  sp_strides(nsp, geo->in, ist);
  sp_strides(nsp, geo->out, ost);
  double *x = tfx_nn_f64(g, n, X), *w = tfx_nn_f64(g, n, W);
  double *y = calloc((size_t)(cv.N * cv.M * os), sizeof(double));
  if (!x || !w || !y) {
    free(x), free(w), free(y);
    return y ? TFX_ERR : tfx_node_error(g, n, "out of memory");
  }
  /* scatter form: the obvious reading of "transpose of Conv" */
  for (int64_t b = 0; b < cv.N; b++)
    for (int64_t c = 0; c < cv.C; c++) {
      int64_t grp = c / cv.CG;
      for (int64_t ii = 0; ii < is; ii++) {
        tfx_unravel(ii, nsp, geo->in, i);
        double xv = x[(b * cv.C + c) * is + ii];
        for (int64_t m = 0; m < cv.MG; m++)
          for (int64_t ki = 0; ki < ks; ki++) {
            tfx_unravel(ki, nsp, geo->kernel, k);
            int64_t yi = 0;
            bool inside = true;
            for (int d = 0; d < nsp; d++) {
              int64_t o = i[d] * geo->stride[d] - geo->pad_begin[d] + k[d] * geo->dil[d];
              if (o < 0 || o >= geo->out[d]) inside = false;
              yi += o * ost[d];
            }
            if (!inside) continue;
            int64_t oc = grp * cv.MG + m;
            y[(b * cv.M + oc) * os + yi] += xv * w[(c * cv.MG + m) * ks + ki];
          }
      }
    }
  for (int64_t b = 0; b < cv.N; b++)
    for (int64_t m = 0; m < cv.M; m++)
      for (int64_t oi = 0; oi < os; oi++) {
        double v = y[(b * cv.M + m) * os + oi] + (B ? tfx_tensor_get_f64(B, m) : 0.0);
        tfx_tensor_set_f64(&out[0], (b * cv.M + m) * os + oi, v);
      }
  free(x), free(w), free(y);
  return TFX_OK;
}

TfxStatus tfx_nn_convt_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *x = tfx_node_in(g, n, 0), *w = tfx_node_in(g, n, 1), *b = tfx_node_in(g, n, 2);
  NnConv cv;
  if (convt_shape(g, n, x->rank, x->dims, w->rank, w->dims, b, &cv)) return TFX_ERR;
  const NnGeom *geo = &cv.geo;
  int nsp = geo->nsp;
  TfxDtype dt = x->dtype;
  const char *ct = tfx_dtype_ctype(dt), *acct = tfx_nn_acctype(dt);
  int64_t is = tfx_numel(nsp, geo->in), os = tfx_numel(nsp, geo->out);
  int64_t ks = tfx_numel(nsp, geo->kernel), ist[NN_MAX_SP], ost[NN_MAX_SP], kst[NN_MAX_SP];
  sp_strides(nsp, geo->in, ist);
  sp_strides(nsp, geo->out, ost);
  sp_strides(nsp, geo->kernel, kst);
  char b1[512], l1[256];
  tfx_c_line(e, "{ /* ConvTranspose: %dD, %lld -> %lld channels, group %lld */", nsp,
             (long long)cv.C, (long long)cv.M, (long long)cv.group);
  tfx_c_indent(e, 1);
  const char *vx = tfx_nn_alias_in(e, g, n, 0), *vw = tfx_nn_alias_in(e, g, n, 1);
  const char *vb = b ? tfx_nn_alias_in(e, g, n, 2) : NULL;
  const char *vy = tfx_nn_alias_out(e, g, n, 0);
  tfx_nn_for(e, "nb", cv.N);
  tfx_nn_for(e, "oc", cv.M);
  /* input channels of oc's group, and W[ic][oc % MG] for the first of them */
  tfx_c_line(e, "const %s *const xg = %s + (nb * %lld + (oc / %lld) * %lld) * %lld;", ct, vx,
             (long long)cv.C, (long long)cv.MG, (long long)cv.CG, (long long)is);
  tfx_c_line(e, "const %s *const wg = %s + ((oc / %lld) * %lld * %lld + oc %% %lld) * %lld;", ct,
             vw, (long long)cv.MG, (long long)cv.CG, (long long)cv.MG, (long long)cv.MG,
             (long long)ks);
  tfx_c_line(e, "%s *const yp = %s + (nb * %lld + oc) * %lld;", ct, vy, (long long)cv.M,
             (long long)os);
  if (vb) {
    snprintf(b1, sizeof b1, "%s[oc]", vb);
    tfx_c_line(e, "const %s bias = %s;", acct, tfx_c_load(e, dt, b1, l1));
  }
  emit_out_loops(e, geo);
  tfx_c_line(e, "%s acc = %s;", acct, vb ? "bias" : "0");
  for (int i = 0; i < nsp; i++) {
    char v[16];
    snprintf(v, sizeof v, "k%d", i);
    tfx_nn_for(e, v, geo->kernel[i]);
    int64_t s = geo->stride[i];
    tfx_c_line(e, "const int64_t t%d = o%d + %lld - k%d * %lld;", i, i,
               (long long)geo->pad_begin[i], i, (long long)geo->dil[i]);
    if (s == 1) {
      tfx_c_line(e, "if (t%d < 0 || t%d >= %lld) continue;", i, i, (long long)geo->in[i]);
      tfx_c_line(e, "const int64_t p%d = t%d;", i, i);
    } else {
      tfx_c_line(e, "if (t%d < 0 || t%d %% %lld != 0 || t%d / %lld >= %lld) continue;", i, i,
                 (long long)s, i, (long long)s, (long long)geo->in[i]);
      tfx_c_line(e, "const int64_t p%d = t%d / %lld;", i, i, (long long)s);
    }
  }
  tfx_nn_for(e, "c", cv.CG);
  char ex[600], ew[600], lx[256], lw[256], b2[512];
  snprintf(ex, sizeof ex, "xg[c * %lld + %s]", (long long)is, tfx_nn_idx(b1, "p", nsp, ist, 0));
  snprintf(ew, sizeof ew, "wg[c * %lld + %s]", (long long)(cv.MG * ks),
           tfx_nn_idx(b2, "k", nsp, kst, 0));
  tfx_c_line(e, "acc += %s * %s;", tfx_c_load(e, dt, ex, lx), tfx_c_load(e, dt, ew, lw));
  tfx_nn_end(e, nsp + 1);
  snprintf(ex, sizeof ex, "yp[%s]", tfx_nn_idx(b1, "o", nsp, ost, 0));
  tfx_c_store(e, dt, ex, "acc");
  tfx_nn_end(e, nsp + 2);
  tfx_nn_end(e, 1);
  return TFX_OK;
}

/* ---- pools -----------------------------------------------------------------------
 * AveragePool (count_include_pad counts taps inside the explicit pads, never
 * those a ceil_mode window adds past them), MaxPool (optional Indices: flat
 * offsets into X, spatial part column-major when storage_order = 1), LpPool
 * (padding contributes nothing), and the Global forms (one window = input). */

typedef enum { POOL_AVG, POOL_MAX, POOL_LP } NnPoolKind;

typedef struct {
  NnGeom geo;
  NnPoolKind kind;
  int64_t NC;
  bool include_pad;
  double p;
  bool col_major;
} NnPool;

static TfxStatus pool_shape(TfxGraph *g, const TfxNode *n, int xr, const int64_t *xd, NnPool *pl) {
  memset(pl, 0, sizeof *pl);
  bool global = n->op == TFX_OP_GlobalAveragePool || n->op == TFX_OP_GlobalMaxPool;
  pl->kind = n->op == TFX_OP_MaxPool || n->op == TFX_OP_GlobalMaxPool ? POOL_MAX
             : n->op == TFX_OP_LpPool                                 ? POOL_LP
                                                                      : POOL_AVG;
  if (global) {
    int nsp = xr - 2;
    if (nsp < 1 || nsp > NN_MAX_SP)
      return tfx_node_error(g, n, "input must have rank 3 to %d, not %d", TFX_MAX_RANK, xr);
    pl->geo.nsp = nsp;
    for (int i = 0; i < nsp; i++) {
      pl->geo.in[i] = pl->geo.kernel[i] = xd[i + 2];
      pl->geo.stride[i] = pl->geo.dil[i] = pl->geo.out[i] = 1;
      pl->geo.pad_begin[i] = pl->geo.pad_end[i] = 0;
    }
  } else if (tfx_nn_geom(g, n, xr, xd, NULL, true, &pl->geo)) {
    return TFX_ERR;
  }
  pl->NC = xd[0] * xd[1];
  pl->include_pad = pl->kind == POOL_AVG && tfx_attr_int(n, "count_include_pad", 0) != 0;
  if (pl->kind == POOL_LP) {
    const TfxAttr *a = tfx_attr(n, "p");
    pl->p = !a ? 2.0 : a->kind == TFX_ATTR_FLOAT ? (double)a->f : (double)a->i;
    if (!(pl->p > 0)) return tfx_node_error(g, n, "p must be positive");
  }
  int64_t so = n->op == TFX_OP_MaxPool ? tfx_attr_int(n, "storage_order", 0) : 0;
  if (so != 0 && so != 1) return tfx_node_error(g, n, "storage_order must be 0 or 1");
  pl->col_major = so == 1;
  return TFX_OK;
}

TfxStatus tfx_nn_pool_infer(TfxGraph *g, TfxNode *n) {
  const TfxValue *x = tfx_node_in(g, n, 0);
  if (!x) return tfx_node_error(g, n, "missing input X");
  bool is_max = n->op == TFX_OP_MaxPool || n->op == TFX_OP_GlobalMaxPool;
  if (!tfx_dtype_is_float(x->dtype) && !(is_max && tfx_dtype_is_int(x->dtype)))
    return tfx_node_error(g, n, "unsupported dtype %s", tfx_dtype_name(x->dtype));
  NnPool pl;
  if (pool_shape(g, n, x->rank, x->dims, &pl)) return TFX_ERR;
  int64_t od[TFX_MAX_RANK] = {x->dims[0], x->dims[1]};
  memcpy(od + 2, pl.geo.out, sizeof(int64_t) * (size_t)pl.geo.nsp);
  tfx_node_set_out(g, n, 0, x->dtype, x->rank, od);
  if (n->n_outputs > 1) {
    if (n->op != TFX_OP_MaxPool) return tfx_node_error(g, n, "only one output is defined");
    tfx_node_set_out(g, n, 1, TFX_I64, x->rank, od);
  }
  return TFX_OK;
}

TfxStatus tfx_nn_pool_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                           TfxTensor *out) {
  const TfxTensor *X = in[0];
  NnPool pl;
  if (pool_shape(g, n, X->rank, X->dims, &pl)) return TFX_ERR;
  const NnGeom *geo = &pl.geo;
  int nsp = geo->nsp;
  bool fl = tfx_dtype_is_float(X->dtype);
  TfxTensor *I = n->n_outputs > 1 && n->outputs[1] != TFX_NONE ? &out[1] : NULL;
  int64_t is = tfx_numel(nsp, geo->in), os = tfx_numel(nsp, geo->out);
  int64_t ks = tfx_numel(nsp, geo->kernel), ist[NN_MAX_SP], cst[NN_MAX_SP], o[NN_MAX_SP],
          k[NN_MAX_SP];
  sp_strides(nsp, geo->in, ist);
  col_strides(nsp, geo->in, cst);
  for (int64_t nc = 0; nc < pl.NC; nc++)
    for (int64_t oi = 0; oi < os; oi++) {
      tfx_unravel(oi, nsp, geo->out, o);
      double sum = 0, best = 0;
      int64_t ibest = 0, cnt = 0, best_at = -1, best_cm = -1;
      for (int64_t ki = 0; ki < ks; ki++) {
        tfx_unravel(ki, nsp, geo->kernel, k);
        bool inside = true, counted = true;
        int64_t xi = 0, xc = 0;
        for (int d = 0; d < nsp; d++) {
          int64_t p = o[d] * geo->stride[d] - geo->pad_begin[d] + k[d] * geo->dil[d];
          if (p < 0 || p >= geo->in[d]) inside = false;
          if (p < -geo->pad_begin[d] || p >= geo->in[d] + geo->pad_end[d]) counted = false;
          xi += p * ist[d];
          xc += p * cst[d];
        }
        if (pl.include_pad ? counted : inside) cnt++;
        if (!inside) continue;
        int64_t at = nc * is + xi;
        if (pl.kind == POOL_MAX) {
          bool better;
          if (fl) {
            double v = tfx_tensor_get_f64(X, at);
            better = best_at < 0 || v > best;
            if (better) best = v;
          } else {
            int64_t v = tfx_tensor_get_i64(X, at);
            better = best_at < 0 || v > ibest;
            if (better) ibest = v;
          }
          if (better) best_at = at, best_cm = nc * is + xc;
        } else if (pl.kind == POOL_LP) {
          sum += pow(fabs(tfx_tensor_get_f64(X, at)), pl.p);
        } else {
          sum += tfx_tensor_get_f64(X, at);
        }
      }
      int64_t yo = nc * os + oi;
      if (pl.kind == POOL_MAX) {
        if (fl) tfx_tensor_set_f64(&out[0], yo, best_at < 0 ? 0.0 : best);
        else tfx_tensor_set_i64(&out[0], yo, best_at < 0 ? 0 : ibest);
        if (I) tfx_tensor_set_i64(I, yo, pl.col_major ? best_cm : best_at);
      } else if (pl.kind == POOL_LP) {
        tfx_tensor_set_f64(&out[0], yo, pow(sum, 1.0 / pl.p));
      } else {
        tfx_tensor_set_f64(&out[0], yo, sum / (double)cnt);
      }
    }
  return TFX_OK;
}

TfxStatus tfx_nn_pool_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *x = tfx_node_in(g, n, 0);
  NnPool pl;
  if (pool_shape(g, n, x->rank, x->dims, &pl)) return TFX_ERR;
  const NnGeom *geo = &pl.geo;
  int nsp = geo->nsp;
  TfxDtype dt = x->dtype;
  const char *ct = tfx_dtype_ctype(dt), *calc = tfx_c_calctype(dt);
  const char *sumt = dt == TFX_F64 ? "double" : "float";
  int64_t is = tfx_numel(nsp, geo->in), os = tfx_numel(nsp, geo->out);
  int64_t ist[NN_MAX_SP], ost[NN_MAX_SP], cst[NN_MAX_SP];
  sp_strides(nsp, geo->in, ist);
  sp_strides(nsp, geo->out, ost);
  col_strides(nsp, geo->in, cst);
  bool with_idx = pl.kind == POOL_MAX && tfx_node_out(g, n, 1) != NULL;
  char b1[512], b2[512], ex[600], lx[256], lit[64];
  tfx_c_line(e, "{ /* %s: %dD window over %lld planes */", n->op_type, nsp, (long long)pl.NC);
  tfx_c_indent(e, 1);
  const char *vx = tfx_nn_alias_in(e, g, n, 0), *vy = tfx_nn_alias_out(e, g, n, 0);
  const char *vi = with_idx ? tfx_nn_alias_out(e, g, n, 1) : NULL;
  tfx_nn_for(e, "nc", pl.NC);
  tfx_c_line(e, "const %s *const xp = %s + nc * %lld;", ct, vx, (long long)is);
  emit_out_loops(e, geo);
  if (pl.kind == POOL_MAX) {
    tfx_c_line(e, "%s best = 0;", calc);
    tfx_c_line(e, "int64_t at = -1;");
  } else {
    tfx_c_line(e, "%s sum = 0;", sumt);
    if (pl.kind == POOL_AVG) tfx_c_line(e, "int64_t cnt = 0;");
  }
  /* For count_include_pad the loops run over the explicitly padded range and
   * the input test moves inside; otherwise the loops skip everything outside. */
  bool any_pad_tap = false;
  for (int i = 0; i < nsp; i++) {
    char v[16];
    snprintf(v, sizeof v, "k%d", i);
    tfx_nn_for(e, v, geo->kernel[i]);
    tfx_c_line(e, "const int64_t p%d = o%d * %lld + k%d * %lld - %lld;", i, i,
               (long long)geo->stride[i], i, (long long)geo->dil[i], (long long)geo->pad_begin[i]);
    if (!geo_needs_check(geo, i)) continue;
    if (pl.include_pad) {
      tfx_c_line(e, "if (p%d >= %lld) continue;", i, (long long)(geo->in[i] + geo->pad_end[i]));
      any_pad_tap = true;
    } else {
      tfx_c_line(e, "if (p%d < 0 || p%d >= %lld) continue;", i, i, (long long)geo->in[i]);
    }
  }
  if (pl.kind == POOL_AVG) tfx_c_line(e, "++cnt;");
  if (any_pad_tap) {
    char cond[1024];
    size_t len = 0;
    for (int i = 0; i < nsp; i++)
      if (geo_needs_check(geo, i))
        len += (size_t)snprintf(cond + len, sizeof cond - len, "%sp%d >= 0 && p%d < %lld",
                                len ? " && " : "", i, i, (long long)geo->in[i]);
    tfx_c_line(e, "if (%s) {", cond);
    tfx_c_indent(e, 1);
  }
  snprintf(ex, sizeof ex, "xp[%s]", tfx_nn_idx(b1, "p", nsp, ist, 0));
  tfx_c_line(e, "const %s v = %s;", calc, tfx_c_load(e, dt, ex, lx));
  if (pl.kind == POOL_MAX) {
    tfx_c_line(e, "if (at < 0 || v > best) {");
    tfx_c_line(e, "  best = v;");
    tfx_c_line(e, "  at = %s;", tfx_nn_idx(b2, "p", nsp, pl.col_major ? cst : ist, 0));
    tfx_c_line(e, "}");
  } else if (pl.kind == POOL_AVG) {
    tfx_c_line(e, "sum += v;");
  } else if (pl.p == 1.0) {
    tfx_c_line(e, "sum += %s(v);", dt == TFX_F64 ? "fabs" : "fabsf");
  } else if (pl.p == 2.0) {
    tfx_c_line(e, "sum += v * v;");
  } else {
    tfx_c_line(e, "sum += %s(%s(v), %s);", dt == TFX_F64 ? "pow" : "powf",
               dt == TFX_F64 ? "fabs" : "fabsf", tfx_nn_lit(lit, dt, pl.p));
  }
  if (any_pad_tap) tfx_nn_end(e, 1);
  tfx_nn_end(e, nsp);
  snprintf(ex, sizeof ex, "%s[nc * %lld + %s]", vy, (long long)os,
           tfx_nn_idx(b1, "o", nsp, ost, 0));
  if (pl.kind == POOL_MAX) {
    tfx_c_store(e, dt, ex, "best");
    if (vi) {
      snprintf(ex, sizeof ex, "%s[nc * %lld + %s]", vi, (long long)os,
               tfx_nn_idx(b1, "o", nsp, ost, 0));
      tfx_c_line(e, "%s = at < 0 ? -1 : nc * %lld + at;", ex, (long long)is);
    }
  } else if (pl.kind == POOL_AVG) {
    tfx_c_store(e, dt, ex, dt == TFX_F64 ? "sum / (double)cnt" : "sum / (float)cnt");
  } else if (pl.p == 1.0) {
    tfx_c_store(e, dt, ex, "sum");
  } else if (pl.p == 2.0) {
    tfx_c_store(e, dt, ex, dt == TFX_F64 ? "sqrt(sum)" : "sqrtf(sum)");
  } else {
    char val[128];
    snprintf(val, sizeof val, "%s(sum, %s)", dt == TFX_F64 ? "pow" : "powf",
             tfx_nn_lit(lit, dt, 1.0 / pl.p));
    tfx_c_store(e, dt, ex, val);
  }
  tfx_nn_end(e, nsp + 1);
  tfx_nn_end(e, 1);
  return TFX_OK;
}
