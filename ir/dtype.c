/* dtype.c — the dtype table and the half-precision conversions shared by the
 * evaluator and the importers.  Conversions round to nearest even, like the
 * code the C backend prints. */
#include <math.h>
#include <string.h>

#include "ir/ir.h"

static const struct {
  const char *name;
  int onnx;
  size_t bytes;
  const char *ctype;
} dtypes[TFX_DTYPE_COUNT] = {
#define X(id, name, code, bytes, ctype) {name, code, bytes, ctype},
    TFX_DTYPES(X)
#undef X
};

const char *tfx_dtype_name(TfxDtype t) { return t < TFX_DTYPE_COUNT ? dtypes[t].name : "?"; }
const char *tfx_dtype_ctype(TfxDtype t) { return t < TFX_DTYPE_COUNT ? dtypes[t].ctype : "void"; }
size_t tfx_dtype_bytes(TfxDtype t) { return t < TFX_DTYPE_COUNT ? dtypes[t].bytes : 0; }

TfxDtype tfx_dtype_from_onnx(int code) {
  for (int t = 1; t < TFX_DTYPE_COUNT; t++)
    if (dtypes[t].onnx == code && code > 0) return (TfxDtype)t;
  return TFX_UNDEF;
}

int tfx_dtype_to_onnx(TfxDtype t) { return t < TFX_DTYPE_COUNT ? dtypes[t].onnx : 0; }

bool tfx_dtype_is_float(TfxDtype t) {
  return t == TFX_F32 || t == TFX_F64 || t == TFX_F16 || t == TFX_BF16;
}

bool tfx_dtype_is_int(TfxDtype t) {
  switch (t) {
  case TFX_U8: case TFX_I8: case TFX_U16: case TFX_I16: case TFX_I32: case TFX_I64:
  case TFX_U32: case TFX_U64:
    return true;
  default:
    return false;
  }
}

bool tfx_dtype_is_signed(TfxDtype t) {
  return tfx_dtype_is_float(t) || t == TFX_I8 || t == TFX_I16 || t == TFX_I32 || t == TFX_I64;
}

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}

static float bits_f32(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

float tfx_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000 | (man << 13));
  if (exp == 0) {
    float v = ldexpf((float)man, -24);
    return sign ? -v : v;
  }
  return bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t tfx_f32_to_f16(float f) {
  uint32_t u = f32_bits(f), sign = (u >> 16) & 0x8000;
  uint32_t exp = (u >> 23) & 0xff, man = u & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | (man >> 13) : 0));
  int e = (int)exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    man |= 0x800000;
    int shift = 14 - e;
    uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) half++;
    return (uint16_t)(sign | half);
  }
  uint32_t half = ((uint32_t)e << 10) | (man >> 13), rem = man & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* may carry into inf: correct */
  return (uint16_t)(sign | half);
}

float tfx_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

uint16_t tfx_f32_to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 0x40);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}
