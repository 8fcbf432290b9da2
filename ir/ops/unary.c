/* unary.c — elementwise ops with one input: math functions, activations,
 * bitwise/logical not, Identity, Dropout (inference) and Cast/CastLike.
 * Each formula is written once, in UNARY_TABLE, as a C expression over x and
 * the attribute constants A, B, G: the evaluator compiles it (in double, or
 * int64/uint64 for integer types) and the C emitter prints its text with the
 * function names mapped to the element type.  Output shape = input shape. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

/* ---- the formula table -------------------------------------------------- */
/* X(kind, float expr, signed-int expr, unsigned-int expr, bool expr); NO marks
 * an element type the op does not accept.  Names in capitals are functions
 * (FABS -> fabs / fabsf) or constants; A, B, G are the op's attributes (see
 * unary_attrs).  Integer expressions must not compare unsigned x with 0 and
 * negate through uint64_t so that INT_MIN wraps instead of overflowing. */
#define UNARY_TABLE(X)                                                                          \
  X(Abs, FABS(x), x < 0 ? 0 - (uint64_t)x : (uint64_t)x, x, NO)                                 \
  X(Neg, -x, 0 - (uint64_t)x, NO, NO)                                                           \
  X(Exp, EXP(x), NO, NO, NO)                                                                    \
  X(Log, LOG(x), NO, NO, NO)                                                                    \
  X(Sqrt, SQRT(x), NO, NO, NO)                                                                  \
  X(Reciprocal, 1 / x, NO, NO, NO)                                                              \
  X(Tanh, TANH(x), NO, NO, NO)                                                                  \
  X(Erf, ERF(x), NO, NO, NO)                                                                    \
  X(Sigmoid, 1 / (1 + EXP(-x)), NO, NO, NO)                                                     \
  X(Relu, x < 0 ? 0 : x, x < 0 ? 0 : x, NO, NO)                                                 \
  X(Sin, SIN(x), NO, NO, NO)                                                                    \
  X(Cos, COS(x), NO, NO, NO)                                                                    \
  X(Tan, TAN(x), NO, NO, NO)                                                                    \
  X(Asin, ASIN(x), NO, NO, NO)                                                                  \
  X(Acos, ACOS(x), NO, NO, NO)                                                                  \
  X(Atan, ATAN(x), NO, NO, NO)                                                                  \
  X(Sinh, SINH(x), NO, NO, NO)                                                                  \
  X(Cosh, COSH(x), NO, NO, NO)                                                                  \
  X(Asinh, ASINH(x), NO, NO, NO)                                                                \
  X(Acosh, ACOSH(x), NO, NO, NO)                                                                \
  X(Atanh, ATANH(x), NO, NO, NO)                                                                \
  X(Ceil, CEIL(x), NO, NO, NO)                                                                  \
  X(Floor, FLOOR(x), NO, NO, NO)                                                                \
  X(Round, RINT(x), NO, NO, NO) /* default rounding mode: half to even */                       \
  X(Sign, x > 0 ? 1 : x < 0 ? -1 : x, (x > 0) - (x < 0), x > 0, NO)                             \
  X(Softplus, x > 0 ? x + LOG1P(EXP(-x)) : LOG1P(EXP(x)), NO, NO, NO)                           \
  X(Softsign, x / (1 + FABS(x)), NO, NO, NO)                                                    \
  X(Not, NO, NO, NO, !x)                                                                        \
  X(IsNaN, ISNAN(x), NO, NO, NO)                                                                \
  X(IsInf, ISINF(x), NO, NO, NO)                                                                \
  X(Elu, x < 0 ? A * EXPM1(x) : x, NO, NO, NO)                                                  \
  X(Selu, x > 0 ? G * x : G * (A * EXP(x) - A), NO, NO, NO)                                     \
  X(LeakyRelu, x < 0 ? A * x : x, NO, NO, NO)                                                   \
  X(HardSigmoid, FMAX(0, FMIN(1, A * x + B)), NO, NO, NO)                                       \
  X(HardSwish, x * FMAX(0, FMIN(1, x / 6 + 0.5)), NO, NO, NO)                                   \
  X(Celu, FMAX(0, x) + FMIN(0, A * EXPM1(x / A)), NO, NO, NO)                                   \
  X(Mish, x * TANH(x > 0 ? x + LOG1P(EXP(-x)) : LOG1P(EXP(x))), NO, NO, NO)                     \
  X(ThresholdedRelu, x > A ? x : 0, NO, NO, NO)                                                 \
  X(Shrink, x < -A ? x + B : x > A ? x - B : 0, x < -A ? x + B : x > A ? x - B : 0,             \
    x < -A ? x + B : x > A ? x - B : 0, NO)                                                     \
  X(Gelu, 0.5 * x * (1 + ERF(x * SQRT1_2)), NO, NO, NO)                                         \
  X(BitwiseNot, NO, ~x, ~x, NO)                                                                 \
  X(Swish, x / (1 + EXP(-A * x)), NO, NO, NO)
/* Attribute-selected variants of the ops above (not ops themselves). */
#define UNARY_VARIANTS(X)                                                                       \
  X(GeluTanh, 0.5 * x * (1 + TANH(SQRT2_PI * (x + 0.044715 * x * x * x))), NO, NO, NO)          \
  X(IsPosInf, ISINF(x) && x > 0, NO, NO, NO)                                                    \
  X(IsNegInf, ISINF(x) && x < 0, NO, NO, NO)                                                    \
  X(Never, 0, NO, NO, NO)

enum {
#define X(k, f, s, u, b) UK_##k,
  UNARY_TABLE(X) UNARY_VARIANTS(X)
#undef X
  UK_COUNT
};

typedef struct {
  const char *name, *expr[4]; /* float, signed, unsigned, bool */
} UnaryDef;

static const UnaryDef unary_defs[UK_COUNT] = {
#define X(k, f, s, u, b) {#k, {#f, #s, #u, #b}},
    UNARY_TABLE(X) UNARY_VARIANTS(X)
#undef X
};

/* Names in the expressions, as the emitter prints them: double and float
 * spellings (float ones starting "tfx_" are the vectorisable functions of
 * TFX_HELP_MATH); constants have a value instead. */
typedef struct {
  const char *name, *dbl, *flt;
  double value;
} UnaryName;

static const UnaryName unary_names[] = {
    {"FABS", "fabs", "fabsf", 0},    {"EXP", "exp", "tfx_expf", 0},   {"LOG", "log", "logf", 0},
    {"SQRT", "sqrt", "sqrtf", 0},    {"TANH", "tanh", "tfx_tanhf", 0}, {"ERF", "erf", "tfx_erff", 0},
    {"SIN", "sin", "sinf", 0},       {"COS", "cos", "cosf", 0},       {"TAN", "tan", "tanf", 0},
    {"ASIN", "asin", "asinf", 0},    {"ACOS", "acos", "acosf", 0},    {"ATAN", "atan", "atanf", 0},
    {"SINH", "sinh", "sinhf", 0},    {"COSH", "cosh", "coshf", 0},    {"ASINH", "asinh", "asinhf", 0},
    {"ACOSH", "acosh", "acoshf", 0}, {"ATANH", "atanh", "atanhf", 0}, {"CEIL", "ceil", "ceilf", 0},
    {"FLOOR", "floor", "floorf", 0}, {"RINT", "rint", "rintf", 0},    {"LOG1P", "log1p", "log1pf", 0},
    {"EXPM1", "expm1", "expm1f", 0}, {"FMAX", "fmax", "fmaxf", 0},    {"FMIN", "fmin", "fminf", 0},
    {"ISNAN", "isnan", "isnan", 0},  {"ISINF", "isinf", "isinf", 0},
    {"SQRT1_2", NULL, NULL, 0.70710678118654752440},  /* 1/sqrt(2) */
    {"SQRT2_PI", NULL, NULL, 0.79788456080286535588}, /* sqrt(2/pi) */
};

/* The same names for the evaluator, which computes in double. */
#define FABS fabs
#define EXP exp
#define LOG log
#define SQRT sqrt
#define TANH tanh
#define ERF erf
#define SIN sin
#define COS cos
#define TAN tan
#define ASIN asin
#define ACOS acos
#define ATAN atan
#define SINH sinh
#define COSH cosh
#define ASINH asinh
#define ACOSH acosh
#define ATANH atanh
#define CEIL ceil
#define FLOOR floor
#define RINT rint
#define LOG1P log1p
#define EXPM1 expm1
#define FMAX fmax
#define FMIN fmin
#define ISNAN isnan
#define ISINF isinf
#define SQRT1_2 0.70710678118654752440
#define SQRT2_PI 0.79788456080286535588
#define NO 0

/* Evaluate kind k on one element; `a` holds the attribute constants A, B, G. */
static double unary_apply_float(int k, double x, const double *a) {
  const double A = a[0], B = a[1], G = a[2];
  (void)A, (void)B, (void)G;
  switch (k) {
#define X(kind, f, s, u, b) \
  case UK_##kind: return (double)(f);
    UNARY_TABLE(X) UNARY_VARIANTS(X)
#undef X
  }
  return 0;
}

static int64_t unary_apply_signed(int k, int64_t x, const double *a) {
  const double A = a[0], B = a[1];
  (void)A, (void)B;
  switch (k) {
#define X(kind, f, s, u, b) \
  case UK_##kind: return (int64_t)(s);
    UNARY_TABLE(X) UNARY_VARIANTS(X)
#undef X
  }
  return 0;
}

static uint64_t unary_apply_unsigned(int k, uint64_t x, const double *a) {
  const double A = a[0], B = a[1];
  (void)A, (void)B;
  switch (k) {
#define X(kind, f, s, u, b) \
  case UK_##kind: return (uint64_t)(u);
    UNARY_TABLE(X) UNARY_VARIANTS(X)
#undef X
  }
  return 0;
}

static int64_t unary_apply_bool(int k, int64_t x) {
  switch (k) {
#define X(kind, f, s, u, b) \
  case UK_##kind: return (int64_t)(b);
    UNARY_TABLE(X) UNARY_VARIANTS(X)
#undef X
  }
  return 0;
}

#undef NO

/* ---- per-node selection ------------------------------------------------- */

/* Which column of the table an element type uses: 0 float, 1 signed int,
 * 2 unsigned int, 3 bool, -1 none (block-quantised types). */
static int unary_column(TfxDtype t) {
  switch (t) {
  case TFX_F32: case TFX_F64: case TFX_F16: case TFX_BF16: return 0;
  case TFX_I8: case TFX_I16: case TFX_I32: case TFX_I64: return 1;
  case TFX_U8: case TFX_U16: case TFX_U32: case TFX_U64: return 2;
  case TFX_BOOL: return 3;
  default: return -1;
  }
}

/* The expression kind k uses on type t, or NULL if t is not accepted. */
static const char *unary_expr(int k, TfxDtype t) {
  int c = unary_column(t);
  if (c < 0 || !strcmp(unary_defs[k].expr[c], "NO")) return NULL;
  return unary_defs[k].expr[c];
}

/* The table kind for node n (UK_COUNT for the ops handled by hand below), or
 * -1 after reporting a bad attribute. */
static int unary_kind(TfxGraph *g, const TfxNode *n) {
  if (n->op == TFX_OP_Gelu) {
    const char *ap = tfx_attr_string(n, "approximate", "none");
    if (!strcmp(ap, "none")) return UK_Gelu;
    if (!strcmp(ap, "tanh")) return UK_GeluTanh;
    tfx_node_error(g, n, "approximate='%s' is not supported (expected 'none' or 'tanh')", ap);
    return -1;
  }
  if (n->op == TFX_OP_IsInf) {
    bool pos = tfx_attr_int(n, "detect_positive", 1) != 0;
    bool neg = tfx_attr_int(n, "detect_negative", 1) != 0;
    return pos && neg ? UK_IsInf : pos ? UK_IsPosInf : neg ? UK_IsNegInf : UK_Never;
  }
  switch (n->op) {
#define X(kind, f, s, u, b) \
  case TFX_OP_##kind: return UK_##kind;
    UNARY_TABLE(X)
#undef X
  default: return UK_COUNT;
  }
}

static bool unary_bool_out(int k) {
  return k == UK_IsNaN || k == UK_IsInf || k == UK_IsPosInf || k == UK_IsNegInf || k == UK_Never;
}

/* The attribute constants A, B, G of node n (ONNX defaults). */
static void unary_attrs(const TfxNode *n, double *a) {
  a[0] = a[1] = a[2] = 0;
  switch (n->op) {
  case TFX_OP_Elu: case TFX_OP_Celu: case TFX_OP_ThresholdedRelu: case TFX_OP_Swish:
    a[0] = tfx_attr_float(n, "alpha", 1.0f);
    break;
  case TFX_OP_Selu:
    a[0] = tfx_attr_float(n, "alpha", 1.67326319217681884765625f);
    a[2] = tfx_attr_float(n, "gamma", 1.05070102214813232421875f);
    break;
  case TFX_OP_LeakyRelu: a[0] = tfx_attr_float(n, "alpha", 0.01f); break;
  case TFX_OP_HardSigmoid:
    a[0] = tfx_attr_float(n, "alpha", 0.2f);
    a[1] = tfx_attr_float(n, "beta", 0.5f);
    break;
  case TFX_OP_Shrink:
    a[0] = tfx_attr_float(n, "lambd", 0.5f);
    a[1] = tfx_attr_float(n, "bias", 0.0f);
    break;
  default: break;
  }
}

/* "float32, float64, ..." — the element types kind k accepts, for messages. */
static const char *unary_accepts(int k, char *buf, size_t size) {
  static const TfxDtype all[] = {TFX_F32, TFX_F64, TFX_F16, TFX_BF16, TFX_I8,  TFX_I16, TFX_I32,
                                 TFX_I64, TFX_U8,  TFX_U16, TFX_U32,  TFX_U64, TFX_BOOL};
  size_t len = 0;
  buf[0] = 0;
  for (size_t i = 0; i < sizeof all / sizeof all[0] && len < size; i++)
    if (unary_expr(k, all[i]))
      len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", tfx_dtype_name(all[i]));
  return buf;
}

/* ---- casts -------------------------------------------------------------- */
/* Every conversion rounds once.  float16/bfloat16 results are rounded from
 * float (tfx_f32_to_f16 / _bf16, nearest-even); sources wider than float
 * (double, 32- and 64-bit integers) are first rounded to float *to odd*,
 * which keeps the second rounding correct (float has >= 2 more bits than
 * either half type). */

static bool unary_cast_wide(TfxDtype t) {
  return t == TFX_F64 || t == TFX_I32 || t == TFX_I64 || t == TFX_U32 || t == TFX_U64;
}

static float unary_f64_to_f32_odd(double d) {
  float f = (float)d;
  if ((double)f != d && d == d) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if (fabs((double)f) > fabs(d)) u--; /* step back to the truncated value */
    u |= 1u;
    memcpy(&f, &u, 4);
  }
  return f;
}

/* |v| rounded to 24 bits with the dropped bits or-ed into the last one. */
static float unary_u64_to_f32_odd(uint64_t m) {
  int s = 0;
  while (m >= (UINT64_C(1) << 24)) {
    m = (m >> 1) | (m & 1u);
    s++;
  }
  return ldexpf((float)m, s);
}

/* Reference conversion of element i of x into element i of y. */
static void unary_cast_elem(const TfxTensor *x, TfxTensor *y, int64_t i) {
  TfxDtype s = x->dtype, d = y->dtype;
  bool sf = tfx_dtype_is_float(s), su = s == TFX_U8 || s == TFX_U16 || s == TFX_U32 || s == TFX_U64;
  if (d == TFX_BOOL) {
    tfx_tensor_set_i64(y, i, sf ? tfx_tensor_get_f64(x, i) != 0 : tfx_tensor_get_i64(x, i) != 0);
    return;
  }
  if (!tfx_dtype_is_float(d)) { /* integer destination: truncation / wrap-around */
    if (sf) tfx_tensor_set_f64(y, i, tfx_tensor_get_f64(x, i));
    else tfx_tensor_set_i64(y, i, tfx_tensor_get_i64(x, i));
    return;
  }
  /* Float destination: get the value as exactly as the source allows. */
  double dv = 0;
  float fv = 0;
  if (sf) {
    dv = tfx_tensor_get_f64(x, i);
    fv = s == TFX_F64 ? unary_f64_to_f32_odd(dv) : (float)dv;
  } else if (su) {
    uint64_t u = (uint64_t)tfx_tensor_get_i64(x, i);
    if (d == TFX_F32) fv = (float)u; /* one correct rounding */
    else if (d == TFX_F64) dv = (double)u;
    else fv = unary_u64_to_f32_odd(u);
  } else {
    int64_t v = tfx_tensor_get_i64(x, i);
    if (d == TFX_F32) fv = (float)v;
    else if (d == TFX_F64) dv = (double)v;
    else {
      fv = unary_u64_to_f32_odd(v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
      if (v < 0) fv = -fv;
    }
  }
  switch (d) {
  case TFX_F64: ((double *)y->data)[i] = dv; break;
  case TFX_F32: ((float *)y->data)[i] = sf ? (float)dv : fv; break;
  case TFX_F16: ((uint16_t *)y->data)[i] = tfx_f32_to_f16(fv); break;
  case TFX_BF16: ((uint16_t *)y->data)[i] = tfx_f32_to_bf16(fv); break;
  default: break;
  }
}

/* Name of an ONNX element type code, for messages about types tfxc lacks. */
static const char *unary_onnx_type_name(int64_t code) {
  static const char *names[] = {"undefined", "float",     "uint8",          "int8",        "uint16",
                                "int16",     "int32",     "int64",          "string",      "bool",
                                "float16",   "double",    "uint32",         "uint64",      "complex64",
                                "complex128", "bfloat16", "float8e4m3fn",   "float8e4m3fnuz",
                                "float8e5m2", "float8e5m2fnuz", "uint4",    "int4",        "float4e2m1",
                                "float8e8m0", "uint2",    "int2"};
  if (code >= 0 && code < (int64_t)(sizeof names / sizeof names[0])) return names[code];
  return "unknown";
}

static bool unary_plain_dtype(TfxDtype t) { return t != TFX_UNDEF && tfx_dtype_bytes(t) > 0; }

/* ---- infer -------------------------------------------------------------- */

static TfxStatus unary_infer_dropout(TfxGraph *g, TfxNode *n, const TfxValue *x) {
  if (!tfx_dtype_is_float(x->dtype))
    return tfx_node_error(g, n, "input type %s is not supported (float types only)",
                          tfx_dtype_name(x->dtype));
  if (n->n_inputs > 2 && n->inputs[2] != TFX_NONE) {
    const TfxTensor *tm = tfx_node_const_in(g, n, 2);
    if (!tm) return tfx_node_error(g, n, "training_mode must be a compile-time constant");
    if (tfx_tensor_numel(tm) != 1)
      return tfx_node_error(g, n, "training_mode must be a scalar");
    if (tfx_tensor_get_i64(tm, 0)) {
      /* Training with ratio 0 keeps every element; anything else is random. */
      const TfxTensor *r = tfx_node_const_in(g, n, 1);
      bool has_ratio = n->n_inputs > 1 && n->inputs[1] != TFX_NONE;
      if (!has_ratio || !r || tfx_tensor_numel(r) != 1 || tfx_tensor_get_f64(r, 0) != 0)
        return tfx_node_error(g, n, "training_mode=true (random dropout) is not supported");
    }
  }
  tfx_node_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  /* The mask is bool from opset 10 on, the data type before. */
  tfx_node_set_out(g, n, 1, g->opset >= 10 ? TFX_BOOL : x->dtype, x->rank, x->dims);
  return TFX_OK;
}

TfxStatus tfx_unary_infer(TfxGraph *g, TfxNode *n) {
  const TfxValue *x = tfx_node_in(g, n, 0);
  if (!x) return tfx_node_error(g, n, "missing input 0");
  if (n->n_outputs < 1) return tfx_node_error(g, n, "missing output");
  if (!unary_plain_dtype(x->dtype))
    return tfx_node_error(g, n, "input type %s is not supported", tfx_dtype_name(x->dtype));
  int k = unary_kind(g, n);
  if (k < 0) return TFX_ERR;
  if (k < UK_COUNT) {
    if (n->n_inputs != 1 || n->n_outputs != 1)
      return tfx_node_error(g, n, "expects 1 input and 1 output, got %d and %d", n->n_inputs,
                            n->n_outputs);
    if (!unary_expr(k, x->dtype)) {
      char acc[256];
      return tfx_node_error(g, n, "input type %s is not supported (accepts %s)",
                            tfx_dtype_name(x->dtype), unary_accepts(k, acc, sizeof acc));
    }
    if (n->op == TFX_OP_Celu && tfx_attr_float(n, "alpha", 1.0f) == 0)
      return tfx_node_error(g, n, "alpha must not be 0");
    tfx_node_set_out(g, n, 0, unary_bool_out(k) ? TFX_BOOL : x->dtype, x->rank, x->dims);
    return TFX_OK;
  }
  switch (n->op) {
  case TFX_OP_Identity:
    tfx_node_set_out(g, n, 0, x->dtype, x->rank, x->dims);
    return TFX_OK;
  case TFX_OP_Dropout: return unary_infer_dropout(g, n, x);
  case TFX_OP_Cast: {
    const TfxAttr *to = tfx_attr(n, "to");
    if (!to || to->kind != TFX_ATTR_INT) return tfx_node_error(g, n, "missing integer attribute 'to'");
    TfxDtype d = to->i >= 0 && to->i <= 1000 ? tfx_dtype_from_onnx((int)to->i) : TFX_UNDEF;
    if (!unary_plain_dtype(d))
      return tfx_node_error(g, n, "cast to %s (ONNX type %lld) is not supported",
                            unary_onnx_type_name(to->i), (long long)to->i);
    tfx_node_set_out(g, n, 0, d, x->rank, x->dims);
    return TFX_OK;
  }
  case TFX_OP_CastLike: {
    const TfxValue *t = tfx_node_in(g, n, 1);
    if (!t) return tfx_node_error(g, n, "missing input 1 (target_type)");
    if (!unary_plain_dtype(t->dtype))
      return tfx_node_error(g, n, "cast to %s is not supported", tfx_dtype_name(t->dtype));
    tfx_node_set_out(g, n, 0, t->dtype, x->rank, x->dims);
    return TFX_OK;
  }
  default: return tfx_node_error(g, n, "not an op of the unary family");
  }
}

/* ---- eval --------------------------------------------------------------- */

TfxStatus tfx_unary_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  const TfxTensor *x = in[0];
  TfxTensor *y = &out[0];
  int64_t numel = tfx_tensor_numel(x);
  int k = unary_kind(g, n);
  if (k < 0) return TFX_ERR;
  if (k < UK_COUNT) {
    double a[3];
    unary_attrs(n, a);
    switch (unary_column(x->dtype)) {
    case 0:
      for (int64_t i = 0; i < numel; i++)
        tfx_tensor_set_f64(y, i, unary_apply_float(k, tfx_tensor_get_f64(x, i), a));
      break;
    case 1:
      for (int64_t i = 0; i < numel; i++)
        tfx_tensor_set_i64(y, i, unary_apply_signed(k, tfx_tensor_get_i64(x, i), a));
      break;
    case 2:
      for (int64_t i = 0; i < numel; i++)
        tfx_tensor_set_i64(y, i, (int64_t)unary_apply_unsigned(k, (uint64_t)tfx_tensor_get_i64(x, i), a));
      break;
    case 3:
      for (int64_t i = 0; i < numel; i++)
        tfx_tensor_set_i64(y, i, unary_apply_bool(k, tfx_tensor_get_i64(x, i)));
      break;
    default: return tfx_node_error(g, n, "input type %s is not supported", tfx_dtype_name(x->dtype));
    }
    return TFX_OK;
  }
  switch (n->op) {
  case TFX_OP_Identity:
  case TFX_OP_Dropout:
    if (numel) memcpy(y->data, x->data, tfx_tensor_bytes(x));
    if (n->op == TFX_OP_Dropout && n->n_outputs > 1 && out[1].data)
      for (int64_t i = 0; i < numel; i++) tfx_tensor_set_i64(&out[1], i, 1);
    return TFX_OK;
  case TFX_OP_Cast:
  case TFX_OP_CastLike:
    for (int64_t i = 0; i < numel; i++) unary_cast_elem(x, y, i);
    return TFX_OK;
  default: return tfx_node_error(g, n, "not an op of the unary family");
  }
}

/* ---- emit_c ------------------------------------------------------------- */

/* Print expr with x replaced by xname, A/B/G by exact literals and the table's
 * names by C spellings for calc type `mode` (0 float, 1 double, 2 integer).
 * Returns whether x occurs; *math tells whether a TFX_HELP_MATH function does. */
static bool unary_subst(char *out, size_t cap, const char *expr, int mode, const char *xname,
                        const double *a, bool *math) {
  size_t len = 0;
  bool used = false;
  out[0] = 0;
  *math = false;
  for (const char *p = expr; *p;) {
    char tok[64], lit[64];
    const char *text = tok;
    size_t t = 0;
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_') {
      while (((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_' ||
              (*p >= '0' && *p <= '9')) && t + 1 < sizeof tok)
        tok[t++] = *p++;
      tok[t] = 0;
      double v = 0;
      bool is_const = false;
      if (!strcmp(tok, "x")) {
        text = xname;
        used = true;
      } else if (!strcmp(tok, "A") || !strcmp(tok, "B") || !strcmp(tok, "G")) {
        v = a[tok[0] == 'A' ? 0 : tok[0] == 'B' ? 1 : 2];
        is_const = true;
      } else {
        for (size_t i = 0; i < sizeof unary_names / sizeof unary_names[0]; i++) {
          if (strcmp(tok, unary_names[i].name)) continue;
          if (unary_names[i].dbl) text = mode == 0 ? unary_names[i].flt : unary_names[i].dbl;
          else v = unary_names[i].value, is_const = true;
          break;
        }
        *math |= !strncmp(text, "tfx_", 4);
      }
      if (is_const) text = mode == 0 ? tfx_c_float(lit, (float)v) : tfx_c_double(lit, v);
    } else if ((*p >= '0' && *p <= '9') || *p == '.') {
      bool frac = false;
      while (((*p >= '0' && *p <= '9') || *p == '.') && t + 1 < sizeof tok) {
        frac |= *p == '.';
        tok[t++] = *p++;
      }
      tok[t] = 0;
      if (frac) { /* exact literal of the calc type; integers stay as written */
        double v = strtod(tok, NULL);
        text = mode == 0 ? tfx_c_float(lit, (float)v) : tfx_c_double(lit, v);
      }
    } else {
      tok[0] = *p++;
      tok[1] = 0;
    }
    int w = snprintf(out + len, cap - len, "%s", text);
    if (w < 0 || (size_t)w >= cap - len) abort(); /* table expressions are short */
    len += (size_t)w;
  }
  return used;
}

/* The body of an element loop: dst = expr over x = src. */
static void unary_emit_elem(TfxCEmit *e, TfxDtype xt, TfxDtype yt, const char *expr, bool used,
                            const char *src, const char *dst) {
  char ld[256];
  if (used) tfx_c_line(e, "const %s x = %s;", tfx_c_calctype(xt), tfx_c_load(e, xt, src, ld));
  tfx_c_store(e, yt, dst, expr);
}

/* One flat loop applying table kind k.  float32 through the vectorisable
 * math functions goes in blocks of 8 through a buffer: gcc's -O2 cost model
 * vectorises only loops of a known multiple of the vector length, and the
 * buffer spares it an alias check of x against y. */
static void unary_emit_table(TfxCEmit *e, const TfxNode *n, int k, TfxDtype xt, TfxDtype yt,
                             int64_t numel, const char *xv, const char *yv) {
  double a[3];
  unary_attrs(n, a);
  int mode = unary_column(xt) != 0 ? 2 : xt == TFX_F64 ? 1 : 0;
  char expr[2048], src[300], dst[300];
  bool math;
  bool used = unary_subst(expr, sizeof expr, unary_expr(k, xt), mode, "x", a, &math);
  if (!used) tfx_c_line(e, "(void)%s;", xv); /* IsInf detecting neither sign */
  if (math) tfx_c_need(e, TFX_HELP_MATH);
  bool blocked = math && xt == TFX_F32 && yt == TFX_F32;
  if (blocked) {
    tfx_c_line(e, "for (int64_t i = 0; i + 8 <= %lld; i += 8) {", (long long)numel);
    tfx_c_indent(e, 1);
    tfx_c_line(e, "float t[8];");
    tfx_c_line(e, "for (int64_t k = 0; k < 8; k++) {");
    tfx_c_indent(e, 1);
    snprintf(src, sizeof src, "%s[i + k]", xv);
    unary_emit_elem(e, xt, yt, expr, used, src, "t[k]");
    tfx_c_close(e, 1);
    tfx_c_line(e, "memcpy(%s + i, t, sizeof t);", yv);
    tfx_c_close(e, 1);
    /* a fresh tail loop: gcc warns of UB in one that continues the i above */
    tfx_c_line(e, "for (int64_t i = %lld / 8 * 8; i < %lld; i++) {", (long long)numel,
               (long long)numel);
  } else {
    tfx_c_line(e, "for (int64_t i = 0; i < %lld; i++) {", (long long)numel);
  }
  tfx_c_indent(e, 1);
  snprintf(src, sizeof src, "%s[i]", xv);
  snprintf(dst, sizeof dst, "%s[i]", yv);
  unary_emit_elem(e, xt, yt, expr, used, src, dst);
  tfx_c_close(e, 1);
}

/* One flat loop converting xt elements to yt (see the rounding note above). */
static void unary_emit_cast(TfxCEmit *e, TfxDtype xt, TfxDtype yt, int64_t numel, const char *xv,
                            const char *yv) {
  char ld[256], src[300], dst[300];
  snprintf(src, sizeof src, "%s[i]", xv);
  snprintf(dst, sizeof dst, "%s[i]", yv);
  tfx_c_line(e, "for (int64_t i = 0; i < %lld; i++) {", (long long)numel);
  tfx_c_indent(e, 1);
  bool half = yt == TFX_F16 || yt == TFX_BF16;
  if (half && xt == TFX_F64) {
    tfx_c_line(e, "const double d = %s;", src);
    tfx_c_line(e, "float f = (float)d;");
    tfx_c_line(e, "if ((double)f != d && d == d) { /* round to odd */");
    tfx_c_line(e, "  uint32_t u;");
    tfx_c_line(e, "  memcpy(&u, &f, 4);");
    tfx_c_line(e, "  if (fabs((double)f) > fabs(d)) u--;");
    tfx_c_line(e, "  u |= 1u;");
    tfx_c_line(e, "  memcpy(&f, &u, 4);");
    tfx_c_line(e, "}");
    tfx_c_store(e, yt, dst, "f");
  } else if (half && unary_cast_wide(xt)) {
    bool sgn = tfx_dtype_is_signed(xt);
    if (sgn) {
      tfx_c_line(e, "const int64_t v = %s;", src);
      tfx_c_line(e, "uint64_t m = v < 0 ? UINT64_C(0) - (uint64_t)v : (uint64_t)v;");
    } else {
      tfx_c_line(e, "uint64_t m = %s;", src);
    }
    tfx_c_line(e, "int s = 0;");
    tfx_c_line(e, "while (m >= (UINT64_C(1) << 24)) { /* round to odd */");
    tfx_c_line(e, "  m = (m >> 1) | (m & 1u);");
    tfx_c_line(e, "  s++;");
    tfx_c_line(e, "}");
    tfx_c_line(e, "const float f = ldexpf((float)m, s);");
    tfx_c_store(e, yt, dst, sgn ? "v < 0 ? -f : f" : "f");
  } else {
    char val[320];
    const char *l = tfx_c_load(e, xt, src, ld);
    if (yt == TFX_BOOL) snprintf(val, sizeof val, "%s", l); /* store tests != 0 */
    else snprintf(val, sizeof val, "(%s)%s", tfx_c_calctype(yt), l);
    tfx_c_store(e, yt, dst, val);
  }
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
}

TfxStatus tfx_unary_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *x = tfx_node_in(g, n, 0), *y = tfx_node_out(g, n, 0);
  int k = unary_kind(g, n);
  if (k < 0) return TFX_ERR;
  if (!x) return tfx_node_error(g, n, "missing input 0");
  int64_t numel = tfx_numel(x->rank, x->dims);
  const TfxValue *mask = n->op == TFX_OP_Dropout ? tfx_node_out(g, n, 1) : NULL;
  if (numel == 0 || (!y && !mask)) return TFX_OK;
  if (k < UK_COUNT && !unary_expr(k, x->dtype))
    return tfx_node_error(g, n, "input type %s is not supported", tfx_dtype_name(x->dtype));
  const char *xv = tfx_c_var(e, n->inputs[0]);
  tfx_c_line(e, "{");
  tfx_c_indent(e, 1);
  /* CastLike's target and Dropout's ratio/training_mode are only looked at
   * for their type or at compile time; keep their variables "used". */
  for (int i = 1; i < n->n_inputs; i++)
    if (n->inputs[i] != TFX_NONE) tfx_c_line(e, "(void)%s;", tfx_c_var(e, n->inputs[i]));
  if (k < UK_COUNT) {
    unary_emit_table(e, n, k, x->dtype, y->dtype, numel, xv, tfx_c_var(e, n->outputs[0]));
  } else if ((n->op == TFX_OP_Cast || n->op == TFX_OP_CastLike) && x->dtype != y->dtype) {
    unary_emit_cast(e, x->dtype, y->dtype, numel, xv, tfx_c_var(e, n->outputs[0]));
  } else { /* Identity, Dropout */
    if (y)
      tfx_c_line(e, "memmove(%s, %s, %zu);", tfx_c_var(e, n->outputs[0]), xv,
                 (size_t)numel * tfx_dtype_bytes(x->dtype));
    if (mask && mask->dtype == TFX_BOOL) {
      tfx_c_line(e, "memset(%s, 1, %lld);", tfx_c_var(e, n->outputs[1]), (long long)numel);
    } else if (mask) { /* opset < 10: the mask has the data type */
      char dst[300];
      snprintf(dst, sizeof dst, "%s[i]", tfx_c_var(e, n->outputs[1]));
      tfx_c_line(e, "for (int64_t i = 0; i < %lld; i++) {", (long long)numel);
      tfx_c_indent(e, 1);
      tfx_c_store(e, mask->dtype, dst, "1");
      tfx_c_indent(e, -1);
      tfx_c_line(e, "}");
    }
  }
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  return TFX_OK;
}
