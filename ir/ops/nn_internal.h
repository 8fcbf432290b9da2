/* nn_internal.h — private to the nn family (nn.c, nn_conv.c, nn_norm.c): the
 * per-op entry points the dispatcher in nn.c calls, the window geometry that
 * convolution and pooling share, and small helpers for printing loops. */
#ifndef TFX_NN_INTERNAL_H
#define TFX_NN_INTERNAL_H

#include <stddef.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

#define NN_MAX_SP (TFX_MAX_RANK - 2) /* spatial dims of an N,C,D1..Dn tensor */

/* Sliding-window geometry along each spatial dim of an (N, C, D1..Dn) input:
 * output position o reads input positions o*stride - pad_begin + k*dilation,
 * k in [0, kernel). */
typedef struct {
  int nsp;
  int64_t in[NN_MAX_SP], kernel[NN_MAX_SP], stride[NN_MAX_SP], dil[NN_MAX_SP];
  int64_t pad_begin[NN_MAX_SP], pad_end[NN_MAX_SP], out[NN_MAX_SP];
} NnGeom;

/* Geometry of Conv (is_pool false; kernel from W when kernel_shape is absent)
 * or of a pooling op (is_pool: kernel_shape required, ceil_mode honoured).
 * x_dims is the full (N, C, spatial...) shape. */
TfxStatus tfx_nn_geom(TfxGraph *g, const TfxNode *n, int x_rank, const int64_t *x_dims,
                      const int64_t *w_kernel, bool is_pool, NnGeom *geo);

/* ---- printing helpers (generated code uses int64_t indices) ---------------- */
/* "for (int64_t VAR = 0; VAR < EXTENT; ++VAR) {" and one more indent. */
void tfx_nn_for(TfxCEmit *e, const char *var, int64_t extent);
/* Close n blocks opened by tfx_nn_for (or by a line ending in '{'). */
void tfx_nn_end(TfxCEmit *e, int n);
/* "P0 * s0 + P1 * s1 + ... + base" over variables prefix0..prefix{n-1},
 * zero strides skipped, "0" when empty; buf must hold >= 512 bytes. */
const char *tfx_nn_idx(char *buf, const char *prefix, int n, const int64_t *strides, int64_t base);
/* Declare "const T *const ALIAS = var;" for input k (or a writable one for
 * output k) under a fresh name, so later local names never shadow a value. */
const char *tfx_nn_alias_in(TfxCEmit *e, TfxGraph *g, const TfxNode *n, int k);
const char *tfx_nn_alias_out(TfxCEmit *e, TfxGraph *g, const TfxNode *n, int k);
/* Accumulator type for products of t: float for F32/F16/BF16, double for F64,
 * int64_t / uint64_t for signed / unsigned integers. */
const char *tfx_nn_acctype(TfxDtype t);
/* Exact literal of v in the calculation type of t (float or double). */
const char *tfx_nn_lit(char *buf, TfxDtype t, double v);

/* ---- evaluator helpers ----------------------------------------------------- */
/* malloc'd copy of t's elements as doubles; NULL (after reporting) when out of
 * memory.  A NULL t gives NULL without an error. */
double *tfx_nn_f64(TfxGraph *g, const TfxNode *n, const TfxTensor *t);

/* ---- per-op entry points --------------------------------------------------- */
TfxStatus tfx_nn_conv_infer(TfxGraph *g, TfxNode *n);
TfxStatus tfx_nn_conv_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                           TfxTensor *out);
TfxStatus tfx_nn_conv_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n);
TfxStatus tfx_nn_convt_infer(TfxGraph *g, TfxNode *n);
TfxStatus tfx_nn_convt_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                            TfxTensor *out);
TfxStatus tfx_nn_convt_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n);
/* AveragePool, MaxPool, LpPool, GlobalAveragePool, GlobalMaxPool. */
TfxStatus tfx_nn_pool_infer(TfxGraph *g, TfxNode *n);
TfxStatus tfx_nn_pool_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                           TfxTensor *out);
TfxStatus tfx_nn_pool_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n);
/* Every normalisation op and LRN. */
TfxStatus tfx_nn_norm_infer(TfxGraph *g, TfxNode *n);
TfxStatus tfx_nn_norm_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                           TfxTensor *out);
TfxStatus tfx_nn_norm_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n);

#endif
