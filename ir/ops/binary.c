/* binary.c — elementwise ops over two or more inputs with numpy-style
 * broadcasting: arithmetic, comparisons, logic, bit ops, Pow, Mod, PRelu, Where,
 * Clip and the variadic Sum/Mean/Min/Max.
 *
 * Every node is planned the same way (plan_build): a list of operands (node
 * inputs, or literals such as Mean's count or Clip-6's bounds) and a short
 * program of steps, each applying one kernel of the table below to operands or
 * to the running result.  The emitter prints each kernel's C template; the
 * reference evaluator runs the same steps through a switch that spells out the
 * same arithmetic.  Integer results wrap like the type's width (computed in
 * unsigned arithmetic, never signed overflow); integer division and modulo by
 * zero give 0 rather than trapping. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

/* ---- the kernel table --------------------------------------------------- */
/* X(K, float, signed int, unsigned int and bool): C templates for one step.
 * $a $b $c are the step's operands, $T the calculation type of $a, $U the
 * unsigned type integer arithmetic wraps in, $W the bit width of $a, $m the
 * libm suffix ("f" when the step computes in float, "" in double).  A template
 * mentioning $r is a statement that assigns the result to $r; otherwise it is
 * an expression.  NULL: not defined for that class. */
#define POWI_BODY                                                                          \
  "{ uint64_t pw_b = (uint64_t)$a, pw_e = (uint64_t)$b, pw_r = 1; while (pw_e) { if (pw_e " \
  "& 1) pw_r *= pw_b; pw_b *= pw_b; pw_e >>= 1; } $r = ($T)pw_r; }"

#define BIN_KERNELS(X)                                                                          \
  X(COPY, "$a", "$a", "$a")                                                                     \
  X(ADD, "$a + $b", "($T)(($U)$a + ($U)$b)", "($T)(($U)$a + ($U)$b)")                           \
  X(SUB, "$a - $b", "($T)(($U)$a - ($U)$b)", "($T)(($U)$a - ($U)$b)")                           \
  X(MUL, "$a * $b", "($T)(($U)$a * ($U)$b)", "($T)(($U)$a * ($U)$b)")                           \
  X(DIV, "$a / $b", "$b == 0 ? ($T)0 : $b == -1 ? ($T)(($U)0 - ($U)$a) : ($T)($a / $b)",        \
    "$b == 0 ? ($T)0 : ($T)($a / $b)")                                                          \
  X(MOD,                                                                                        \
    "$r = fmod$m($a, $b); if ($r != 0) { if (($r < 0) != ($b < 0)) $r += $b; } "                \
    "else { $r = copysign$m(0, $b); }",                                                         \
    "$r = ($b == 0 || $b == -1) ? ($T)0 : ($T)($a % $b); "                                      \
    "if ($r != 0 && (($r < 0) != ($b < 0))) $r = ($T)(($U)$r + ($U)$b);",                       \
    "$b == 0 ? ($T)0 : ($T)($a % $b)")                                                          \
  X(FMOD, "fmod$m($a, $b)", "($b == 0 || $b == -1) ? ($T)0 : ($T)($a % $b)",                    \
    "$b == 0 ? ($T)0 : ($T)($a % $b)")                                                          \
  X(POW, "($T)pow$m($a, $b)", "($T)pow$m($a, $b)", "($T)pow$m($a, $b)")                         \
  X(SQR, "$a * $a", NULL, NULL)                                                                 \
  X(CUBE, "$a * $a * $a", NULL, NULL)                                                           \
  X(POWI, NULL, POWI_BODY, POWI_BODY)                                                           \
  X(POWIN, NULL,                                                                                \
    "if ($b < 0) { $r = ($T)($a == 1 ? 1 : $a == -1 ? (($b & 1) ? -1 : 1) : 0); } else " POWI_BODY, \
    "if ($b < 0) { $r = ($T)($a == 1 ? 1 : 0); } else " POWI_BODY)                              \
  X(MIN, "($a < $b || isnan($a)) ? $a : $b", "$a < $b ? $a : $b", "$a < $b ? $a : $b")          \
  X(MAX, "($a > $b || isnan($a)) ? $a : $b", "$a > $b ? $a : $b", "$a > $b ? $a : $b")          \
  X(EQ, "$a == $b", "$a == $b", "$a == $b")                                                     \
  X(GT, "$a > $b", "$a > $b", "$a > $b")                                                        \
  X(LT, "$a < $b", "$a < $b", "$a < $b")                                                        \
  X(GE, "$a >= $b", "$a >= $b", "$a >= $b")                                                     \
  X(LE, "$a <= $b", "$a <= $b", "$a <= $b")                                                     \
  X(AND, NULL, NULL, "$a && $b")                                                                \
  X(OR, NULL, NULL, "$a || $b")                                                                 \
  X(XOR, NULL, NULL, "($a != 0) != ($b != 0)")                                                  \
  X(SHL, NULL, "($b < 0 || $b >= $W) ? ($T)0 : ($T)(($U)$a << $b)",                             \
    "$b >= $W ? ($T)0 : ($T)(($U)$a << $b)")                                                    \
  X(SHR, NULL,                                                                                  \
    "($b < 0 || $b >= $W) ? ($T)($a < 0 ? -1 : 0) : ($T)($a < 0 ? ~(~$a >> $b) : $a >> $b)",    \
    "$b >= $W ? ($T)0 : ($T)($a >> $b)")                                                        \
  X(BAND, NULL, "($T)($a & $b)", "($T)($a & $b)")                                               \
  X(BOR, NULL, "($T)($a | $b)", "($T)($a | $b)")                                                \
  X(BXOR, NULL, "($T)($a ^ $b)", "($T)($a ^ $b)")                                               \
  X(PRELU, "$a < 0 ? $a * $b : $a", "$a < 0 ? ($T)(($U)$a * ($U)$b) : $a", "$a")                \
  X(WHERE, "$a ? $b : $c", "$a ? $b : $c", "$a ? $b : $c")                                      \
  X(LO, "$a < $b ? $b : $a", "$a < $b ? $b : $a", "$a < $b ? $b : $a")                          \
  X(HI, "$a > $b ? $b : $a", "$a > $b ? $b : $a", "$a > $b ? $b : $a")

typedef enum {
#define X(k, f, s, u) K_##k,
  BIN_KERNELS(X)
#undef X
  K_COUNT
} Kern;

typedef enum { CL_F, CL_S, CL_U } Class; /* float, signed int, unsigned int or bool */

static const char *const kern_tmpl[K_COUNT][3] = {
#define X(k, f, s, u) {f, s, u},
    BIN_KERNELS(X)
#undef X
};

/* ---- the op table ------------------------------------------------------- */
/* Which kernel each op applies, the dtypes it accepts and how its inputs
 * combine. */
enum { TY_F = 1, TY_S = 2, TY_U = 4, TY_B = 8, TY_NUM = TY_F | TY_S | TY_U, TY_INT = TY_S | TY_U };
typedef enum {
  SH_BIN,      /* two inputs of one dtype, multidirectional broadcast */
  SH_CMP,      /* as SH_BIN, bool output */
  SH_FOLD,     /* one or more inputs folded left to right (Sum, Mean, Min, Max) */
  SH_POW,      /* base and exponent of possibly different dtypes */
  SH_PRELU,    /* slope broadcast unidirectionally to X */
  SH_WHERE,    /* bool condition, two values */
  SH_CLIP,     /* X with optional scalar bounds (inputs from opset 11, attributes before) */
} ShapeKind;

typedef struct {
  TfxOp op;
  Kern kern;
  unsigned types;
  ShapeKind shape;
  bool legacy_bcast; /* had the broadcast/axis attributes before opset 7 */
} OpRule;

static const OpRule op_rules[] = {
    {TFX_OP_Add, K_ADD, TY_NUM, SH_BIN, true},
    {TFX_OP_Sub, K_SUB, TY_NUM, SH_BIN, true},
    {TFX_OP_Mul, K_MUL, TY_NUM, SH_BIN, true},
    {TFX_OP_Div, K_DIV, TY_NUM, SH_BIN, true},
    {TFX_OP_Pow, K_POW, TY_NUM, SH_POW, true},
    {TFX_OP_Mod, K_MOD, TY_NUM, SH_BIN, false},
    {TFX_OP_Min, K_MIN, TY_NUM, SH_FOLD, false},
    {TFX_OP_Max, K_MAX, TY_NUM, SH_FOLD, false},
    {TFX_OP_Sum, K_ADD, TY_NUM, SH_FOLD, false},
    {TFX_OP_Mean, K_ADD, TY_F, SH_FOLD, false},
    {TFX_OP_Equal, K_EQ, TY_NUM | TY_B, SH_CMP, true},
    {TFX_OP_Greater, K_GT, TY_NUM, SH_CMP, true},
    {TFX_OP_Less, K_LT, TY_NUM, SH_CMP, true},
    {TFX_OP_GreaterOrEqual, K_GE, TY_NUM, SH_CMP, false},
    {TFX_OP_LessOrEqual, K_LE, TY_NUM, SH_CMP, false},
    {TFX_OP_And, K_AND, TY_B, SH_CMP, true},
    {TFX_OP_Or, K_OR, TY_B, SH_CMP, true},
    {TFX_OP_Xor, K_XOR, TY_B, SH_CMP, true},
    {TFX_OP_BitShift, K_SHL, TY_INT, SH_BIN, false},
    {TFX_OP_BitwiseAnd, K_BAND, TY_INT, SH_BIN, false},
    {TFX_OP_BitwiseOr, K_BOR, TY_INT, SH_BIN, false},
    {TFX_OP_BitwiseXor, K_BXOR, TY_INT, SH_BIN, false},
    {TFX_OP_PRelu, K_PRELU, TY_NUM, SH_PRELU, false},
    {TFX_OP_Where, K_WHERE, TY_NUM | TY_B, SH_WHERE, false},
    {TFX_OP_Clip, K_COPY, TY_NUM, SH_CLIP, false},
};

static const OpRule *rule_of(TfxOp op) {
  for (size_t i = 0; i < sizeof op_rules / sizeof op_rules[0]; i++)
    if (op_rules[i].op == op) return &op_rules[i];
  return NULL;
}

static Class class_of(TfxDtype t) {
  if (tfx_dtype_is_float(t)) return CL_F;
  return tfx_dtype_is_signed(t) ? CL_S : CL_U;
}

static unsigned type_bit(TfxDtype t) {
  if (t == TFX_BOOL) return TY_B;
  if (tfx_dtype_is_float(t)) return TY_F;
  if (tfx_dtype_is_int(t)) return tfx_dtype_is_signed(t) ? TY_S : TY_U;
  return 0;
}

static int width_of(TfxDtype t) { return (int)tfx_dtype_bytes(t) * 8; }

/* ---- planning ----------------------------------------------------------- */

#define MAX_OPND 64
#define ACC (-1) /* step operand: the running result */
#define NOPND (-2)

typedef struct {
  bool present;
  TfxDtype dt;
  int rank;
  const int64_t *dims;
} InDesc;

typedef struct {
  int input;  /* node input index, or -1 for a literal */
  double lit; /* the literal's value */
  TfxDtype dt;
  int rank; /* shape as broadcast sees it (legacy broadcast and Clip bounds adjusted) */
  int64_t dims[TFX_MAX_RANK];
} Operand;

typedef struct {
  Kern kern;
  int x[3]; /* operand index, ACC or NOPND */
} Step;

typedef struct {
  int n_opnd, n_steps;
  Operand opnd[MAX_OPND];
  Step step[MAX_OPND + 2];
  TfxDtype out_dt, acc_dt;
  int out_rank;
  int64_t out_dims[TFX_MAX_RANK];
} Plan;

/* Dtype of a step operand. */
static TfxDtype opnd_dt(const Plan *p, int x) { return x == ACC ? p->acc_dt : p->opnd[x].dt; }

static const char *shape_text(char *buf, size_t size, int rank, const int64_t *dims) {
  size_t n = (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < rank && n < size; i++)
    n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? "," : "", (long long)dims[i]);
  if (n < size) snprintf(buf + n, size - n, "]");
  return buf;
}

static int add_input(Plan *p, const InDesc *in, int k) {
  Operand *o = &p->opnd[p->n_opnd];
  o->input = k;
  o->lit = 0;
  o->dt = in[k].dt;
  o->rank = in[k].rank;
  memcpy(o->dims, in[k].dims, sizeof(int64_t) * (size_t)in[k].rank);
  return p->n_opnd++;
}

static int add_literal(Plan *p, double v, TfxDtype dt) {
  Operand *o = &p->opnd[p->n_opnd];
  memset(o, 0, sizeof *o);
  o->input = -1;
  o->lit = v;
  o->dt = dt;
  return p->n_opnd++;
}

static void add_step(Plan *p, Kern k, int a, int b, int c) {
  Step *s = &p->step[p->n_steps++];
  s->kern = k;
  s->x[0] = a;
  s->x[1] = b;
  s->x[2] = c;
}

static TfxStatus check_type(TfxGraph *g, const TfxNode *n, const OpRule *r, TfxDtype t, int k) {
  if (!(type_bit(t) & r->types))
    return tfx_node_error(g, (TfxNode *)n, "input %d has unsupported dtype %s", k, tfx_dtype_name(t));
  return TFX_OK;
}

static TfxStatus same_type(TfxGraph *g, const TfxNode *n, const InDesc *in, int k, int ref) {
  if (in[k].dt != in[ref].dt)
    return tfx_node_error(g, (TfxNode *)n, "input %d has dtype %s but input %d has %s", k,
                          tfx_dtype_name(in[k].dt), ref, tfx_dtype_name(in[ref].dt));
  return TFX_OK;
}

/* Before opset 7 the second input was broadcast to the first only with
 * broadcast=1, aligned at `axis` (suffix-aligned by default): pad its shape
 * with ones so that numpy broadcasting does the same. */
static TfxStatus legacy_bcast(TfxGraph *g, const TfxNode *n, Plan *p) {
  Operand *a = &p->opnd[0], *b = &p->opnd[1];
  if (!tfx_attr_int(n, "broadcast", 0)) {
    if (a->rank != b->rank || memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank)) {
      char sa[160], sb[160];
      return tfx_node_error(g, (TfxNode *)n,
                            "shapes %s and %s differ and broadcast=0 (opset %d has no implicit broadcasting)",
                            shape_text(sa, sizeof sa, a->rank, a->dims),
                            shape_text(sb, sizeof sb, b->rank, b->dims), g->opset);
    }
    return TFX_OK;
  }
  int64_t axis = tfx_attr_int(n, "axis", a->rank - b->rank);
  if (axis < 0) axis += a->rank;
  if (b->rank > a->rank || axis < 0 || axis + b->rank > a->rank)
    return tfx_node_error(g, (TfxNode *)n, "broadcast axis %lld does not fit ranks %d and %d",
                          (long long)tfx_attr_int(n, "axis", 0), a->rank, b->rank);
  int64_t d[TFX_MAX_RANK];
  for (int i = 0; i < a->rank; i++) d[i] = 1;
  for (int i = 0; i < b->rank; i++) d[axis + i] = b->dims[i];
  b->rank = a->rank;
  memcpy(b->dims, d, sizeof d);
  return TFX_OK;
}

/* Validate the node and build its plan.  in[k] describes node input k. */
/* A float base raised to a constant 2 or 3 (GPT-2's tanh GELU cubes x): products,
 * not a libm pow per element. */
static Kern float_pow_kern(const TfxGraph *g, const TfxNode *n, const InDesc *in) {
  const TfxTensor *e = tfx_node_const_in(g, n, 1);
  if (!tfx_dtype_is_float(in[0].dt) || !e) return K_POW;
  int64_t count = tfx_numel(e->rank, e->dims);
  double v = count > 0 ? tfx_tensor_get_f64(e, 0) : 0;
  for (int64_t i = 1; i < count; i++)
    if (tfx_tensor_get_f64(e, i) != v) return K_POW;
  return v == 2.0 ? K_SQR : v == 3.0 ? K_CUBE : K_POW;
}

static TfxStatus plan_build(TfxGraph *g, const TfxNode *n, const InDesc *in, int n_in, Plan *p) {
  const OpRule *r = rule_of(n->op);
  memset(p, 0, sizeof *p);
  if (!r) return tfx_node_error(g, (TfxNode *)n, "not an op of the binary family");
  if (n->n_outputs < 1) return tfx_node_error(g, (TfxNode *)n, "has no output");
  int want_min = 2, want_max = 2;
  if (r->shape == SH_FOLD) want_min = 1, want_max = MAX_OPND - 1;
  if (r->shape == SH_WHERE) want_min = want_max = 3;
  if (r->shape == SH_CLIP) want_min = 1, want_max = g->opset >= 11 ? 3 : 1;
  if (n_in < want_min || n_in > want_max) {
    if (want_min == want_max)
      return tfx_node_error(g, (TfxNode *)n, "takes %d inputs, got %d", want_min, n_in);
    return tfx_node_error(g, (TfxNode *)n, "takes %d to %d inputs, got %d", want_min, want_max, n_in);
  }
  for (int k = 0; k < n_in; k++) {
    if (in[k].present) continue;
    if (r->shape != SH_CLIP || k == 0)
      return tfx_node_error(g, (TfxNode *)n, "input %d is required", k);
  }

  switch (r->shape) {
  case SH_BIN:
  case SH_CMP:
  case SH_PRELU:
    if (check_type(g, n, r, in[0].dt, 0) || same_type(g, n, in, 1, 0)) return TFX_ERR;
    add_input(p, in, 0);
    add_input(p, in, 1);
    if (r->legacy_bcast && g->opset < 7 && legacy_bcast(g, n, p)) return TFX_ERR;
    if (n->op == TFX_OP_Mod) {
      int64_t fm = tfx_attr_int(n, "fmod", 0);
      if (fm != 0 && fm != 1) return tfx_node_error(g, (TfxNode *)n, "fmod must be 0 or 1, got %lld", (long long)fm);
      add_step(p, fm ? K_FMOD : K_MOD, 0, 1, NOPND);
    } else if (n->op == TFX_OP_BitShift) {
      const char *dir = tfx_attr_string(n, "direction", NULL);
      if (!dir || (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT")))
        return tfx_node_error(g, (TfxNode *)n, "direction must be \"LEFT\" or \"RIGHT\", got %s%s%s",
                              dir ? "\"" : "", dir ? dir : "nothing", dir ? "\"" : "");
      add_step(p, strcmp(dir, "LEFT") ? K_SHR : K_SHL, 0, 1, NOPND);
    } else {
      add_step(p, r->kern, 0, 1, NOPND);
    }
    p->acc_dt = in[0].dt;
    p->out_dt = r->shape == SH_CMP ? TFX_BOOL : in[0].dt;
    break;
  case SH_POW: {
    if (check_type(g, n, r, in[0].dt, 0) || check_type(g, n, r, in[1].dt, 1)) return TFX_ERR;
    add_input(p, in, 0);
    add_input(p, in, 1);
    if (g->opset < 7 && legacy_bcast(g, n, p)) return TFX_ERR;
    Kern k = float_pow_kern(g, n, in);
    if (!tfx_dtype_is_float(in[0].dt) && !tfx_dtype_is_float(in[1].dt))
      k = tfx_dtype_is_signed(in[1].dt) ? K_POWIN : K_POWI;
    add_step(p, k, 0, 1, NOPND);
    p->acc_dt = p->out_dt = in[0].dt;
    break;
  }
  case SH_FOLD:
    if (check_type(g, n, r, in[0].dt, 0)) return TFX_ERR;
    for (int k = 0; k < n_in; k++) {
      if (same_type(g, n, in, k, 0)) return TFX_ERR;
      add_input(p, in, k);
    }
    if (n_in == 1) add_step(p, K_COPY, 0, NOPND, NOPND);
    for (int k = 1; k < n_in; k++) add_step(p, r->kern, k == 1 ? 0 : ACC, k, NOPND);
    p->acc_dt = p->out_dt = in[0].dt;
    if (n->op == TFX_OP_Mean && n_in > 1) add_step(p, K_DIV, ACC, add_literal(p, n_in, in[0].dt), NOPND);
    break;
  case SH_WHERE:
    if (in[0].dt != TFX_BOOL)
      return tfx_node_error(g, (TfxNode *)n, "condition must be bool, got %s", tfx_dtype_name(in[0].dt));
    if (check_type(g, n, r, in[1].dt, 1) || same_type(g, n, in, 2, 1)) return TFX_ERR;
    for (int k = 0; k < 3; k++) add_input(p, in, k);
    add_step(p, K_WHERE, 0, 1, 2);
    p->acc_dt = p->out_dt = in[1].dt;
    break;
  case SH_CLIP: {
    if (check_type(g, n, r, in[0].dt, 0)) return TFX_ERR;
    p->acc_dt = p->out_dt = in[0].dt;
    add_input(p, in, 0);
    if (g->opset < 11) {
      if (!tfx_dtype_is_float(in[0].dt))
        return tfx_node_error(g, (TfxNode *)n, "Clip before opset 11 takes float inputs, got %s",
                              tfx_dtype_name(in[0].dt));
      add_step(p, K_LO, 0, add_literal(p, tfx_attr_float(n, "min", -FLT_MAX), in[0].dt), NOPND);
      add_step(p, K_HI, ACC, add_literal(p, tfx_attr_float(n, "max", FLT_MAX), in[0].dt), NOPND);
      break;
    }
    for (int k = 1; k < n_in; k++) {
      if (!in[k].present) continue;
      if (same_type(g, n, in, k, 0)) return TFX_ERR;
      if (tfx_numel(in[k].rank, in[k].dims) != 1) {
        char s[160];
        return tfx_node_error(g, (TfxNode *)n, "%s must be a scalar, got shape %s", k == 1 ? "min" : "max",
                              shape_text(s, sizeof s, in[k].rank, in[k].dims));
      }
      int o = add_input(p, in, k);
      p->opnd[o].rank = 0; /* a scalar whatever its rank: never shapes the output */
      add_step(p, k == 1 ? K_LO : K_HI, p->n_steps ? ACC : 0, o, NOPND);
    }
    if (!p->n_steps) add_step(p, K_COPY, 0, NOPND, NOPND);
    break;
  }
  }

  for (int s = 0; s < p->n_steps; s++) {
    TfxDtype t = opnd_dt(p, p->step[s].x[0]);
    if (!kern_tmpl[p->step[s].kern][class_of(t)]) /* a hole in the tables, not a user error */
      return tfx_node_error(g, (TfxNode *)n, "internal: no kernel for dtype %s", tfx_dtype_name(t));
  }

  /* Output shape. */
  if (r->shape == SH_CLIP) {
    p->out_rank = in[0].rank;
    memcpy(p->out_dims, in[0].dims, sizeof(int64_t) * (size_t)in[0].rank);
    return TFX_OK;
  }
  p->out_rank = p->opnd[0].rank;
  memcpy(p->out_dims, p->opnd[0].dims, sizeof p->out_dims);
  for (int j = 1; j < p->n_opnd; j++) {
    const Operand *o = &p->opnd[j];
    if (o->input < 0) continue;
    int rr;
    int64_t d[TFX_MAX_RANK];
    if (!tfx_bcast_shape(p->out_rank, p->out_dims, o->rank, o->dims, &rr, d) ||
        (r->shape == SH_PRELU && (rr != p->out_rank || memcmp(d, p->out_dims, sizeof(int64_t) * (size_t)rr)))) {
      char sa[160], sb[160];
      return tfx_node_error(g, (TfxNode *)n, "input %d of shape %s does not broadcast %s %s", o->input,
                            shape_text(sb, sizeof sb, o->rank, o->dims),
                            r->shape == SH_PRELU ? "to" : "with",
                            shape_text(sa, sizeof sa, p->out_rank, p->out_dims));
    }
    p->out_rank = rr;
    memcpy(p->out_dims, d, sizeof d);
  }
  return TFX_OK;
}

/* Whether a step computes in float (rather than double): all its operands are
 * float, float16 or bfloat16. */
static bool step_in_float(const Plan *p, const Step *s) {
  for (int j = 0; j < 3; j++) {
    if (s->x[j] == NOPND) continue;
    TfxDtype t = opnd_dt(p, s->x[j]);
    if (t == TFX_BOOL && s->kern == K_WHERE && j == 0) continue;
    if (t != TFX_F32 && t != TFX_F16 && t != TFX_BF16) return false;
  }
  return true;
}

/* ---- shape inference ---------------------------------------------------- */

TfxStatus tfx_binary_infer(TfxGraph *g, TfxNode *n) {
  InDesc in[MAX_OPND];
  if (n->n_inputs > MAX_OPND - 1)
    return tfx_node_error(g, n, "has %d inputs; at most %d are supported", n->n_inputs, MAX_OPND - 1);
  for (int k = 0; k < n->n_inputs; k++) {
    const TfxValue *v = tfx_node_in(g, n, k);
    in[k].present = v != NULL;
    if (!v) continue;
    if (v->rank < 0) return tfx_node_error(g, n, "input %d ('%s') has no known shape", k, v->name);
    in[k].dt = v->dtype;
    in[k].rank = v->rank;
    in[k].dims = v->dims;
  }
  Plan p;
  if (plan_build(g, n, in, n->n_inputs, &p)) return TFX_ERR;
  tfx_node_set_out(g, n, 0, p.out_dt, p.out_rank, p.out_dims);
  return TFX_OK;
}

/* ---- reference evaluation ----------------------------------------------- */
/* A scalar: f holds the value of a float operand (or an integer's value as a
 * double), i the integer's bits sign- or zero-extended to 64. */
typedef struct {
  double f;
  int64_t i;
} Num;

/* Wrap v to the width and signedness of integer type t. */
static int64_t wrap_int(TfxDtype t, uint64_t v) {
  int w = width_of(t);
  if (w >= 64) return (int64_t)v;
  uint64_t m = (UINT64_C(1) << w) - 1;
  v &= m;
  if (tfx_dtype_is_signed(t) && (v >> (w - 1))) v |= ~m;
  return (int64_t)v;
}

static Num num_int(TfxDtype t, int64_t i) {
  Num r;
  r.i = wrap_int(t, (uint64_t)i);
  r.f = class_of(t) == CL_U ? (double)(uint64_t)r.i : (double)r.i;
  return r;
}

static Num num_f(double f) {
  Num r = {f, 0};
  return r;
}

static Num num_bool(bool b) {
  Num r = {b, b};
  return r;
}

static int64_t ipow(int64_t base, int64_t e, bool e_signed) {
  if (e_signed && e < 0) return base == 1 ? 1 : base == -1 ? ((e & 1) ? -1 : 1) : 0;
  uint64_t b = (uint64_t)base, k = (uint64_t)e, r = 1;
  while (k) {
    if (k & 1) r *= b;
    b *= b;
    k >>= 1;
  }
  return (int64_t)r;
}

/* One step of the kernel table: the same semantics as the templates. */
static Num kern_eval(Kern k, TfxDtype ta, TfxDtype tb, Num a, Num b, Num c) {
  Class cl = class_of(ta);
  if (k == K_COPY) return a;
  if (k == K_WHERE) return a.i ? b : c;
  if (k == K_SQR) return num_f(a.f * a.f);
  if (k == K_CUBE) return num_f(a.f * a.f * a.f);
  if (k == K_POW) {
    double v = pow(a.f, b.f);
    if (cl == CL_F) return num_f(v);
    Num r = {0, 0};
    if (v == v) r.i = v >= 9.2233720368547758e18 ? INT64_MAX : v <= -9.2233720368547758e18 ? INT64_MIN : (int64_t)v;
    return num_int(ta, r.i);
  }
  if (cl == CL_F) {
    double x = a.f, y = b.f, r;
    switch (k) {
    case K_ADD: return num_f(x + y);
    case K_SUB: return num_f(x - y);
    case K_MUL: return num_f(x * y);
    case K_DIV: return num_f(x / y);
    case K_MOD:
      r = fmod(x, y);
      if (r != 0) {
        if ((r < 0) != (y < 0)) r += y;
      } else {
        r = copysign(0, y);
      }
      return num_f(r);
    case K_FMOD: return num_f(fmod(x, y));
    case K_MIN: return num_f(x < y || isnan(x) ? x : y);
    case K_MAX: return num_f(x > y || isnan(x) ? x : y);
    case K_EQ: return num_bool(x == y);
    case K_GT: return num_bool(x > y);
    case K_LT: return num_bool(x < y);
    case K_GE: return num_bool(x >= y);
    case K_LE: return num_bool(x <= y);
    case K_PRELU: return num_f(x < 0 ? x * y : x);
    case K_LO: return num_f(x < y ? y : x);
    case K_HI: return num_f(x > y ? y : x);
    default: break;
    }
  } else {
    bool uns = cl == CL_U;
    int64_t x = a.i, y = b.i;
    uint64_t ux = (uint64_t)x, uy = (uint64_t)y;
    int w = width_of(ta);
    bool lt = uns ? ux < uy : x < y, gt = uns ? ux > uy : x > y;
    bool y_out = uns ? uy >= (uint64_t)w : (y < 0 || y >= w); /* shift count out of range */
    switch (k) {
    case K_ADD: return num_int(ta, (int64_t)(ux + uy));
    case K_SUB: return num_int(ta, (int64_t)(ux - uy));
    case K_MUL: return num_int(ta, (int64_t)(ux * uy));
    case K_DIV:
      if (y == 0) return num_int(ta, 0);
      if (uns) return num_int(ta, (int64_t)(ux / uy));
      if (y == -1) return num_int(ta, (int64_t)(0 - ux));
      return num_int(ta, x / y);
    case K_MOD:
    case K_FMOD: {
      if (y == 0 || (!uns && y == -1)) return num_int(ta, 0);
      if (uns) return num_int(ta, (int64_t)(ux % uy));
      int64_t r = x % y;
      if (k == K_MOD && r != 0 && ((r < 0) != (y < 0))) r += y;
      return num_int(ta, r);
    }
    case K_POWI:
    case K_POWIN: return num_int(ta, ipow(x, y, k == K_POWIN && tfx_dtype_is_signed(tb)));
    case K_MIN: return lt ? a : b;
    case K_MAX: return gt ? a : b;
    case K_EQ: return num_bool(x == y);
    case K_GT: return num_bool(gt);
    case K_LT: return num_bool(lt);
    case K_GE: return num_bool(!lt);
    case K_LE: return num_bool(!gt);
    case K_AND: return num_bool(x && y);
    case K_OR: return num_bool(x || y);
    case K_XOR: return num_bool((x != 0) != (y != 0));
    case K_SHL: return num_int(ta, y_out ? 0 : (int64_t)(ux << y));
    case K_SHR:
      if (uns) return num_int(ta, y_out ? 0 : (int64_t)(ux >> y));
      if (y_out) return num_int(ta, x < 0 ? -1 : 0);
      return num_int(ta, x < 0 ? ~(~x >> y) : x >> y);
    case K_BAND: return num_int(ta, x & y);
    case K_BOR: return num_int(ta, x | y);
    case K_BXOR: return num_int(ta, x ^ y);
    case K_PRELU: return !uns && x < 0 ? num_int(ta, (int64_t)(ux * uy)) : a;
    case K_LO: return lt ? b : a;
    case K_HI: return gt ? b : a;
    default: break;
    }
  }
  return a; /* unreachable: plan_build only pairs kernels with classes they define */
}

static Num load_num(const TfxTensor *t, int64_t i) {
  if (tfx_dtype_is_float(t->dtype)) return num_f(tfx_tensor_get_f64(t, i));
  return num_int(t->dtype, tfx_tensor_get_i64(t, i));
}

TfxStatus tfx_binary_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  InDesc d[MAX_OPND];
  if (n->n_inputs > MAX_OPND - 1)
    return tfx_node_error(g, (TfxNode *)n, "has %d inputs; at most %d are supported", n->n_inputs, MAX_OPND - 1);
  for (int k = 0; k < n->n_inputs; k++) {
    d[k].present = in[k] != NULL;
    if (!in[k]) continue;
    d[k].dt = in[k]->dtype;
    d[k].rank = in[k]->rank;
    d[k].dims = in[k]->dims;
  }
  Plan p;
  if (plan_build(g, n, d, n->n_inputs, &p)) return TFX_ERR;
  int64_t strides[MAX_OPND][TFX_MAX_RANK];
  for (int j = 0; j < p.n_opnd; j++)
    if (p.opnd[j].input >= 0)
      tfx_bcast_strides(p.out_rank, p.out_dims, p.opnd[j].rank, p.opnd[j].dims, strides[j]);
  int64_t total = tfx_numel(p.out_rank, p.out_dims);
  Num vals[MAX_OPND];
  for (int j = 0; j < p.n_opnd; j++)
    if (p.opnd[j].input < 0) vals[j] = tfx_dtype_is_float(p.opnd[j].dt) ? num_f(p.opnd[j].lit)
                                                                        : num_int(p.opnd[j].dt, (int64_t)p.opnd[j].lit);
  for (int64_t o = 0; o < total; o++) {
    int64_t idx[TFX_MAX_RANK];
    tfx_unravel(o, p.out_rank, p.out_dims, idx);
    for (int j = 0; j < p.n_opnd; j++) {
      if (p.opnd[j].input < 0) continue;
      int64_t off = 0;
      for (int a = 0; a < p.out_rank; a++) off += idx[a] * strides[j][a];
      vals[j] = load_num(in[p.opnd[j].input], off);
    }
    Num acc = {0, 0}, none = {0, 0};
    for (int s = 0; s < p.n_steps; s++) {
      const Step *st = &p.step[s];
      Num v[3];
      for (int j = 0; j < 3; j++) v[j] = st->x[j] == ACC ? acc : st->x[j] == NOPND ? none : vals[st->x[j]];
      TfxDtype tb = st->x[1] >= 0 || st->x[1] == ACC ? opnd_dt(&p, st->x[1]) : TFX_UNDEF;
      acc = kern_eval(st->kern, opnd_dt(&p, st->x[0]), tb, v[0], v[1], v[2]);
      /* generated code computes float16/bfloat16/float32 steps in float */
      if (step_in_float(&p, st) && class_of(opnd_dt(&p, st->x[0])) == CL_F && st->kern != K_WHERE)
        acc.f = (float)acc.f;
    }
    if (tfx_dtype_is_float(p.out_dt)) tfx_tensor_set_f64(&out[0], o, acc.f);
    else tfx_tensor_set_i64(&out[0], o, acc.i);
  }
  return TFX_OK;
}

/* ---- C emission --------------------------------------------------------- */

/* Expand template tmpl into buf; opnd[j] is the text of $a/$b/$c.  Marks the
 * operands it refers to in used[]. */
static void render(char *buf, size_t cap, const char *tmpl, const char *const *opnd, bool *used,
                   const char *r, TfxDtype ta, bool in_float) {
  size_t n = 0;
  char w[16];
  snprintf(w, sizeof w, "%d", width_of(ta));
  for (const char *s = tmpl; *s && n + 1 < cap; s++) {
    const char *ins = NULL;
    if (s[0] == '$' && s[1]) {
      switch (s[1]) {
      case 'a': case 'b': case 'c':
        ins = opnd[s[1] - 'a'];
        used[s[1] - 'a'] = true;
        break;
      case 'r': ins = r; break;
      case 'T': ins = tfx_c_calctype(ta); break;
      case 'U': ins = width_of(ta) > 32 ? "uint64_t" : "uint32_t"; break;
      case 'W': ins = w; break;
      case 'm': ins = in_float ? "f" : ""; break;
      default: break;
      }
    }
    if (!ins) {
      buf[n++] = *s;
      continue;
    }
    size_t l = strlen(ins);
    if (n + l + 1 >= cap) break;
    memcpy(buf + n, ins, l);
    n += l;
    s++;
  }
  buf[n] = 0;
}

static const char *literal(char *buf, TfxDtype t, double v) {
  if (t == TFX_F64) return tfx_c_double(buf, v);
  if (tfx_dtype_is_float(t)) return tfx_c_float(buf, (float)v);
  return tfx_c_int(buf, (int64_t)v);
}

/* Merge loop dims that every array walks contiguously together and drop
 * dims of extent 1, so same-shape operands get one flat loop.  st[j] are the
 * strides of array j (operands, then the output). */
static int coalesce(int rank, int64_t *dims, int n_arr, int64_t (*st)[TFX_MAX_RANK]) {
  int r = 0;
  for (int d = 0; d < rank; d++) {
    if (dims[d] == 1) continue;
    bool merge = r > 0;
    for (int j = 0; j < n_arr && merge; j++)
      if (st[j][r - 1] != st[j][d] * dims[d]) merge = false;
    if (merge) {
      dims[r - 1] *= dims[d];
      for (int j = 0; j < n_arr; j++) st[j][r - 1] = st[j][d];
    } else {
      dims[r] = dims[d];
      for (int j = 0; j < n_arr; j++) st[j][r] = st[j][d];
      r++;
    }
  }
  return r;
}

/* Print the code of every step; with print false only mark the operands the
 * templates use.  Returns the single result expression in expr when the plan
 * is one expression step (nothing printed then), else prints statements that
 * leave the result in acc. */
static bool render_steps(TfxCEmit *e, const Plan *p, char (*names)[64], const char *acc, bool *used,
                         bool print, char *expr, size_t cap) {
  bool single = p->n_steps == 1 && !strstr(kern_tmpl[p->step[0].kern][class_of(opnd_dt(p, p->step[0].x[0]))], "$r");
  for (int s = 0; s < p->n_steps; s++) {
    const Step *st = &p->step[s];
    TfxDtype ta = opnd_dt(p, st->x[0]);
    const char *tmpl = kern_tmpl[st->kern][class_of(ta)];
    const char *ops[3];
    bool u3[3] = {false, false, false};
    for (int j = 0; j < 3; j++) ops[j] = st->x[j] == ACC ? acc : st->x[j] == NOPND ? "0" : names[st->x[j]];
    char line[2048];
    render(line, sizeof line, tmpl, ops, u3, acc, ta, step_in_float(p, st));
    for (int j = 0; j < 3; j++)
      if (u3[j] && st->x[j] >= 0) used[st->x[j]] = true;
    if (single) {
      snprintf(expr, cap, "%s", line);
    } else if (print) {
      if (strstr(tmpl, "$r")) tfx_c_line(e, "%s", line);
      else tfx_c_line(e, "%s = %s;", acc, line);
    }
  }
  return single;
}

TfxStatus tfx_binary_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  InDesc in[MAX_OPND];
  if (n->n_inputs > MAX_OPND - 1)
    return tfx_node_error(g, (TfxNode *)n, "has %d inputs; at most %d are supported", n->n_inputs, MAX_OPND - 1);
  for (int k = 0; k < n->n_inputs; k++) {
    const TfxValue *v = tfx_node_in(g, n, k);
    in[k].present = v != NULL;
    if (!v) continue;
    in[k].dt = v->dtype;
    in[k].rank = v->rank;
    in[k].dims = v->dims;
  }
  Plan p;
  if (plan_build(g, n, in, n->n_inputs, &p)) return TFX_ERR;
  const TfxValue *ov = tfx_node_out(g, n, 0);
  if (!ov) return TFX_OK;
  if (tfx_numel(p.out_rank, p.out_dims) == 0) return TFX_OK;

  /* Strides of every operand and of the output over the output's index space,
   * then merged into as few loops as possible. */
  int64_t st[MAX_OPND + 1][TFX_MAX_RANK];
  int64_t dims[TFX_MAX_RANK];
  memcpy(dims, p.out_dims, sizeof dims);
  for (int j = 0; j < p.n_opnd; j++) {
    if (p.opnd[j].input >= 0) tfx_bcast_strides(p.out_rank, p.out_dims, p.opnd[j].rank, p.opnd[j].dims, st[j]);
    else memset(st[j], 0, sizeof st[j]);
  }
  tfx_strides(p.out_rank, p.out_dims, st[p.n_opnd]);
  int rank = coalesce(p.out_rank, dims, p.n_opnd + 1, st);

  char names[MAX_OPND][64];
  bool used[MAX_OPND] = {false};
  char acc[64], expr[2048];
  snprintf(acc, sizeof acc, "%s", tfx_c_tmp(e, "r"));
  for (int j = 0; j < p.n_opnd; j++) {
    if (p.opnd[j].input < 0) literal(names[j], p.opnd[j].dt, p.opnd[j].lit);
    else snprintf(names[j], sizeof names[j], "%s", tfx_c_tmp(e, "a"));
  }
  bool single = render_steps(e, &p, names, acc, used, false, expr, sizeof expr);

  /* Where selects whole elements: it moves storage values (float16 bits
   * included) without converting them. */
  bool raw = p.step[0].kern == K_WHERE;
  /* An operand is loaded inside the loop unless every stride is zero. */
  bool hoist[MAX_OPND];
  for (int j = 0; j < p.n_opnd; j++) {
    hoist[j] = true;
    for (int d = 0; d < rank; d++)
      if (st[j][d]) hoist[j] = false;
  }
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) tfx_c_loops_begin(e, rank, dims);
    for (int j = 0; j < p.n_opnd; j++) {
      if (!used[j] || p.opnd[j].input < 0 || hoist[j] != (pass == 0)) continue;
      char ix[512], ref[640], ld[256];
      uint32_t vid = n->inputs[p.opnd[j].input];
      snprintf(ref, sizeof ref, "%s[%s]", tfx_c_var(e, vid), tfx_c_index(ix, rank, st[j], 0));
      if (raw) tfx_c_line(e, "const %s %s = %s;", tfx_dtype_ctype(p.opnd[j].dt), names[j], ref);
      else tfx_c_line(e, "const %s %s = %s;", tfx_c_calctype(p.opnd[j].dt), names[j], tfx_c_load(e, p.opnd[j].dt, ref, ld));
    }
  }
  char ix[512], ref[640];
  snprintf(ref, sizeof ref, "%s[%s]", tfx_c_var(e, n->outputs[0]), tfx_c_index(ix, rank, st[p.n_opnd], 0));
  if (raw) {
    tfx_c_line(e, "%s = %s;", ref, expr);
  } else if (single) {
    tfx_c_store(e, p.out_dt, ref, expr);
  } else {
    tfx_c_line(e, "%s %s;", tfx_c_calctype(p.acc_dt), acc);
    render_steps(e, &p, names, acc, used, true, expr, sizeof expr);
    tfx_c_store(e, p.out_dt, ref, acc);
  }
  tfx_c_loops_end(e, rank);
  return TFX_OK;
}
