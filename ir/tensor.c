/* tensor.c — dense tensors: sizes, generic element access for the evaluator,
 * and the broadcasting arithmetic every elementwise op shares. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

/* Saturates at INT64_MAX instead of overflowing, so that absurd shapes (a dim
 * of 2^62 times 4) fail size checks rather than wrapping around. */
int64_t tfx_numel(int rank, const int64_t *dims) {
  for (int i = 0; i < rank; i++)
    if (dims[i] == 0) return 0;
  int64_t n = 1;
  for (int i = 0; i < rank; i++)
    if (__builtin_mul_overflow(n, dims[i], &n)) return INT64_MAX;
  return n;
}

int64_t tfx_tensor_numel(const TfxTensor *t) { return tfx_numel(t->rank, t->dims); }

/* SIZE_MAX when the size does not fit in a size_t. */
size_t tfx_tensor_bytes(const TfxTensor *t) {
  int64_t n = tfx_tensor_numel(t);
  size_t es = tfx_dtype_bytes(t->dtype);
  if (n < 0) return (size_t)n * es; /* unknown dims: callers never ask */
  if (es && (uint64_t)n > SIZE_MAX / es) return SIZE_MAX;
  return (size_t)n * es;
}

double tfx_tensor_get_f64(const TfxTensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
  case TFX_F32: return ((const float *)p)[i];
  case TFX_F64: return ((const double *)p)[i];
  case TFX_F16: return tfx_f16_to_f32(((const uint16_t *)p)[i]);
  case TFX_BF16: return tfx_bf16_to_f32(((const uint16_t *)p)[i]);
  case TFX_U64: return (double)((const uint64_t *)p)[i];
  default: return (double)tfx_tensor_get_i64(t, i);
  }
}

void tfx_tensor_set_f64(TfxTensor *t, int64_t i, double v) {
  void *p = t->data;
  switch (t->dtype) {
  case TFX_F32: ((float *)p)[i] = (float)v; return;
  case TFX_F64: ((double *)p)[i] = v; return;
  case TFX_F16: ((uint16_t *)p)[i] = tfx_f32_to_f16((float)v); return;
  case TFX_BF16: ((uint16_t *)p)[i] = tfx_f32_to_bf16((float)v); return;
  case TFX_BOOL: ((uint8_t *)p)[i] = v != 0; return;
  case TFX_U64: ((uint64_t *)p)[i] = (uint64_t)v; return;
  default:
    /* float -> int conversion as C does it: truncation; NaN and out-of-range
     * values are clamped rather than left undefined. */
    if (isnan(v)) v = 0;
    if (v >= 9.2233720368547758e18) v = 9.2233720368547748e18;
    if (v <= -9.2233720368547758e18) v = -9.2233720368547758e18;
    tfx_tensor_set_i64(t, i, (int64_t)v);
    return;
  }
}

int64_t tfx_tensor_get_i64(const TfxTensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
  case TFX_U8: case TFX_BOOL: return ((const uint8_t *)p)[i];
  case TFX_I8: return ((const int8_t *)p)[i];
  case TFX_U16: return ((const uint16_t *)p)[i];
  case TFX_I16: return ((const int16_t *)p)[i];
  case TFX_I32: return ((const int32_t *)p)[i];
  case TFX_I64: return ((const int64_t *)p)[i];
  case TFX_U32: return ((const uint32_t *)p)[i];
  case TFX_U64: return (int64_t)((const uint64_t *)p)[i];
  case TFX_F32: case TFX_F64: case TFX_F16: case TFX_BF16: {
    double v = tfx_tensor_get_f64(t, i);
    if (isnan(v)) return 0;
    if (v >= 9.2233720368547758e18) return INT64_MAX;
    if (v <= -9.2233720368547758e18) return INT64_MIN;
    return (int64_t)v;
  }
  default: assert(!"get_i64 on block type"); return 0;
  }
}

void tfx_tensor_set_i64(TfxTensor *t, int64_t i, int64_t v) {
  void *p = t->data;
  switch (t->dtype) {
  case TFX_U8: ((uint8_t *)p)[i] = (uint8_t)v; return;
  case TFX_BOOL: ((uint8_t *)p)[i] = v != 0; return;
  case TFX_I8: ((int8_t *)p)[i] = (int8_t)v; return;
  case TFX_U16: ((uint16_t *)p)[i] = (uint16_t)v; return;
  case TFX_I16: ((int16_t *)p)[i] = (int16_t)v; return;
  case TFX_I32: ((int32_t *)p)[i] = (int32_t)v; return;
  case TFX_I64: ((int64_t *)p)[i] = v; return;
  case TFX_U32: ((uint32_t *)p)[i] = (uint32_t)v; return;
  case TFX_U64: ((uint64_t *)p)[i] = (uint64_t)v; return;
  case TFX_F32: case TFX_F64: case TFX_F16: case TFX_BF16: tfx_tensor_set_f64(t, i, (double)v); return;
  default: assert(!"set_i64 on block type");
  }
}

void tfx_strides(int rank, const int64_t *dims, int64_t *strides) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i];
  }
}

void tfx_bcast_strides(int out_rank, const int64_t *out_dims, int in_rank, const int64_t *in_dims,
                       int64_t *strides) {
  int64_t in_strides[TFX_MAX_RANK];
  tfx_strides(in_rank, in_dims, in_strides);
  for (int i = 0; i < out_rank; i++) {
    int j = i - (out_rank - in_rank);
    strides[i] = (j < 0 || in_dims[j] == 1) ? 0 : in_strides[j];
    (void)out_dims;
  }
}

bool tfx_bcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int *rout, int64_t *out) {
  int r = ra > rb ? ra : rb;
  for (int i = 0; i < r; i++) {
    int64_t da = i - (r - ra) >= 0 ? a[i - (r - ra)] : 1;
    int64_t db = i - (r - rb) >= 0 ? b[i - (r - rb)] : 1;
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else return false;
  }
  *rout = r;
  return true;
}

int64_t tfx_ravel(int rank, const int64_t *idx, const int64_t *dims) {
  int64_t f = 0;
  for (int i = 0; i < rank; i++) f = f * dims[i] + idx[i];
  return f;
}

void tfx_unravel(int64_t flat, int rank, const int64_t *dims, int64_t *idx) {
  for (int i = rank - 1; i >= 0; i--) {
    idx[i] = dims[i] ? flat % dims[i] : 0;
    flat = dims[i] ? flat / dims[i] : 0;
  }
}

void tfx_tensor_free_data(TfxTensor *t) {
  free(t->data);
  t->data = NULL;
}
