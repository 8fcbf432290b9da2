/* fuse_linear.c — two rewrites around float32 matrix products.
 *
 * tfx_pass_fuse_gelu: the exporters' elementwise spelling of GELU becomes one
 * Gelu node (opset 20 semantics):
 *   erf:  x * 0.5 * (1 + erf(x / sqrt 2))            (x * (1/sqrt 2) as well)
 *   tanh: x * 0.5 * (1 + tanh(c * (x + 0.044715 x^3)))  c = sqrt(2/pi)
 * with the factors x and 0.5 multiplied in any order or association, and x^3 as
 * Pow(x, 3) or x * (x * x).
 *
 * tfx_pass_fuse_linear: MatMul (A of rank >= 2, B a float32 2-D constant) or
 * Gemm (no transA, alpha 1, C absent or a bias of N with beta 1), then
 * optionally Add of a constant bias of N, Gelu, and Add of a residual of the
 * output's shape, in that order, become one Linear node (ir/ops/linear.c),
 * whose kernel applies the epilogue while each tile is in cache and whose
 * weight the C backend stores prepacked.  A 2-D product between a Reshape
 * that flattens x [..., K] to [M, K] and one that restores the same leading
 * dims ([..., N]: how torch exports GPT-2's Conv1D) reads x and writes the
 * restored shape itself, so neither Reshape copies, and the epilogue is
 * matched after the second.
 *
 * Invariants (as fuse_attention.c): only values used once, by the chain, and
 * not graph outputs are absorbed; replaced nodes are marked dead and the
 * graph is re-sorted. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

enum { MAX_CHAIN = 12 };

typedef struct {
  TfxGraph *g;
  uint32_t *uses;  /* live-node input uses per value, graph outputs counted too */
  uint32_t *users; /* the one live node reading each value once, else TFX_NONE */
} Ctx;

static void count_uses(Ctx *c) {
  TfxGraph *g = c->g;
  free(c->uses);
  free(c->users);
  c->uses = calloc(g->n_values + 1, sizeof *c->uses);
  c->users = malloc((g->n_values + 1) * sizeof *c->users);
  if (!c->uses || !c->users) abort();
  for (uint32_t v = 0; v <= g->n_values; v++) c->users[v] = TFX_NONE;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] != TFX_NONE) c->uses[n->inputs[k]]++, c->users[n->inputs[k]] = i;
  }
  for (uint32_t k = 0; k < g->n_outputs; k++) c->uses[g->outputs[k]]++;
}

/* The node that alone reads v, if v may be absorbed (one use, not an output). */
static TfxNode *sole_user(const Ctx *c, uint32_t v) {
  const TfxValue *val = tfx_val(c->g, v);
  if (c->uses[v] != 1 || val->is_output || val->konst || c->users[v] == TFX_NONE) return NULL;
  return &c->g->nodes[c->users[v]];
}

static TfxNode *producer(const TfxGraph *g, uint32_t v) {
  uint32_t p = v == TFX_NONE ? TFX_NONE : g->values[v].producer;
  return p != TFX_NONE && !g->nodes[p].dead ? &g->nodes[p] : NULL;
}

static bool binary(const TfxNode *n, TfxOp op) {
  return n && n->op == op && n->n_inputs == 2 && n->n_outputs == 1 && n->inputs[0] != TFX_NONE &&
         n->inputs[1] != TFX_NONE;
}

/* v is a one-element float constant within 1e-6 (relative) of want. */
static bool scalar_is(const TfxGraph *g, uint32_t v, double want) {
  const TfxValue *val = tfx_val(g, v);
  if (!val->konst || !tfx_dtype_is_float(val->dtype) || tfx_tensor_numel(val->konst) != 1) return false;
  return fabs(tfx_tensor_get_f64(val->konst, 0) - want) <= 1e-6 * fabs(want);
}

/* The operand of binary n that is not v (TFX_NONE if v is not one of them). */
static uint32_t other(const TfxNode *n, uint32_t v) {
  return n->inputs[0] == v ? n->inputs[1] : n->inputs[1] == v ? n->inputs[0] : TFX_NONE;
}

/* The operand of binary n next to a scalar constant want, or TFX_NONE. */
static uint32_t with_scalar(const TfxGraph *g, const TfxNode *n, TfxOp op, double want) {
  if (!binary(n, op)) return TFX_NONE;
  if (scalar_is(g, n->inputs[1], want)) return n->inputs[0];
  if (scalar_is(g, n->inputs[0], want)) return n->inputs[1];
  return TFX_NONE;
}

typedef struct {
  uint32_t kill[MAX_CHAIN];
  int n_kill;
} Kill;

static bool kill(Kill *m, const TfxGraph *g, const TfxNode *n) {
  if (!n || m->n_kill >= MAX_CHAIN) return false;
  m->kill[m->n_kill++] = (uint32_t)(n - g->nodes);
  return true;
}

/* Absorbed intermediate v's producer, for the backward walk from Erf/Tanh. */
static TfxNode *inner(const Ctx *c, uint32_t v) { return sole_user(c, v) ? producer(c->g, v) : NULL; }

/* x^3 as Pow(x, 3) or x * (x * x): x, else TFX_NONE. */
static uint32_t cube_of(const Ctx *c, Kill *m, uint32_t v) {
  TfxNode *p = inner(c, v);
  if (!p || !kill(m, c->g, p)) return TFX_NONE;
  if (binary(p, TFX_OP_Pow) && scalar_is(c->g, p->inputs[1], 3.0)) return p->inputs[0];
  if (!binary(p, TFX_OP_Mul)) return TFX_NONE;
  for (int s = 0; s < 2; s++) {
    TfxNode *q = inner(c, p->inputs[s]);
    if (binary(q, TFX_OP_Mul) && q->inputs[0] == q->inputs[1] && q->inputs[0] == p->inputs[1 - s])
      return kill(m, c->g, q) ? q->inputs[0] : TFX_NONE;
  }
  return TFX_NONE;
}

/* The argument of Erf/Tanh node t as a function of x: x / sqrt 2 (erf) or
 * sqrt(2/pi) (x + 0.044715 x^3) (tanh).  Returns x, or TFX_NONE. */
static uint32_t gelu_input(const Ctx *c, Kill *m, const TfxNode *t) {
  const TfxGraph *g = c->g;
  TfxNode *p = inner(c, t->inputs[0]);
  if (!kill(m, g, p)) return TFX_NONE;
  if (t->op == TFX_OP_Erf) {
    uint32_t x = with_scalar(g, p, TFX_OP_Div, sqrt(2.0));
    return x != TFX_NONE ? x : with_scalar(g, p, TFX_OP_Mul, sqrt(0.5));
  }
  uint32_t s = with_scalar(g, p, TFX_OP_Mul, sqrt(2.0 / acos(-1.0)));
  TfxNode *a = s != TFX_NONE ? inner(c, s) : NULL;
  if (!binary(a, TFX_OP_Add) || !kill(m, g, a)) return TFX_NONE;
  for (int k = 0; k < 2; k++) {
    TfxNode *q = inner(c, a->inputs[k]);
    uint32_t p3 = with_scalar(g, q, TFX_OP_Mul, 0.044715);
    if (p3 == TFX_NONE || !kill(m, g, q)) continue;
    return cube_of(c, m, p3) == a->inputs[1 - k] ? a->inputs[1 - k] : TFX_NONE;
  }
  return TFX_NONE;
}

/* From 1 + erf/tanh (value v): the Muls by x and 0.5, in any order; the value
 * holding the whole product, or TFX_NONE. */
static uint32_t gelu_product(const Ctx *c, Kill *m, uint32_t v, uint32_t x) {
  bool have_x = false, have_half = false;
  while (!(have_x && have_half)) {
    TfxNode *n = sole_user(c, v);
    uint32_t o = binary(n, TFX_OP_Mul) ? other(n, v) : TFX_NONE;
    if (o == TFX_NONE || !kill(m, c->g, n)) return TFX_NONE;
    TfxNode *h = inner(c, o);
    if (o == x && !have_x) {
      have_x = true;
    } else if (scalar_is(c->g, o, 0.5) && !have_half) {
      have_half = true;
    } else if (!have_x && !have_half && with_scalar(c->g, h, TFX_OP_Mul, 0.5) == x && kill(m, c->g, h)) {
      have_x = have_half = true;
    } else {
      return TFX_NONE;
    }
    v = n->outputs[0];
  }
  return v;
}

static TfxAttr *one_attr(TfxGraph *g, TfxNode *n) {
  n->attrs = tfx_graph_alloc(g, 4 * sizeof *n->attrs);
  n->n_attrs = 0;
  return n->attrs;
}

/* GELU around Erf/Tanh node ti: 1 when fused, 0 when not, -1 on error. */
static int gelu_at(Ctx *c, uint32_t ti) {
  TfxGraph *g = c->g;
  const TfxNode *t = &g->nodes[ti];
  if (t->dead || (t->op != TFX_OP_Erf && t->op != TFX_OP_Tanh) || t->n_inputs != 1 || t->n_outputs != 1 ||
      tfx_val(g, t->inputs[0])->dtype != TFX_F32)
    return 0;
  Kill m = {.n_kill = 0};
  kill(&m, g, t);
  uint32_t x = gelu_input(c, &m, t);
  TfxNode *a = sole_user(c, t->outputs[0]);
  if (x == TFX_NONE || with_scalar(g, a, TFX_OP_Add, 1.0) != t->outputs[0] || !kill(&m, g, a)) return 0;
  uint32_t y = gelu_product(c, &m, a->outputs[0], x);
  if (y == TFX_NONE) return 0;
  const char *name = t->name, *approx = t->op == TFX_OP_Erf ? "none" : "tanh";
  for (int i = 0; i < m.n_kill; i++) g->nodes[m.kill[i]].dead = true;
  g->values[y].producer = TFX_NONE;
  uint32_t id = tfx_graph_add_node(g, TFX_OP_Gelu, "Gelu", name, &x, 1, &y, 1);
  TfxNode *n = &g->nodes[id];
  TfxAttr *at = one_attr(g, n);
  at->name = "approximate", at->kind = TFX_ATTR_STRING, at->s = approx;
  n->n_attrs = 1;
  return tfx_ops[TFX_OP_Gelu].infer(g, n) ? -1 : 1;
}

/* Runs fn at every node present at the start; re-sorts when something changed. */
static TfxStatus each_node(TfxGraph *g, int *changed, int (*fn)(Ctx *, uint32_t)) {
  Ctx c = {.g = g, .uses = NULL, .users = NULL};
  count_uses(&c);
  uint32_t n0 = g->n_nodes;
  TfxStatus st = TFX_OK;
  for (uint32_t i = 0; i < n0 && !st; i++) {
    int r = fn(&c, i);
    if (r < 0) st = TFX_ERR;
    if (r > 0) {
      (*changed)++;
      count_uses(&c);
    }
  }
  free(c.uses);
  free(c.users);
  if (st) return st;
  return *changed ? tfx_graph_toposort(g) : TFX_OK;
}

TfxStatus tfx_pass_fuse_gelu(TfxGraph *g, int *changed) { return each_node(g, changed, gelu_at); }

/* ---- Linear ------------------------------------------------------------------ */

/* A float32 constant of N values along the last axis (ones elsewhere). */
static bool is_bias(const TfxGraph *g, uint32_t v, int64_t N) {
  const TfxValue *val = tfx_val(g, v);
  if (!val->konst || val->dtype != TFX_F32 || val->rank < 1 || val->dims[val->rank - 1] != N) return false;
  return tfx_numel(val->rank, val->dims) == N;
}

static bool same_shape(const TfxValue *a, const TfxValue *b) {
  if (a->rank != b->rank || a->dtype != b->dtype) return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d]) return false;
  return true;
}

typedef struct {
  uint32_t x, w, bias, res, y;
  bool trans_b;
  const char *act;
} Lin;

/* The product itself: MatMul or Gemm node n with a constant 2-D float32 B. */
static bool product(const TfxGraph *g, const TfxNode *n, Lin *l) {
  if ((n->op != TFX_OP_MatMul && n->op != TFX_OP_Gemm) || n->n_inputs < 2 || n->n_outputs != 1 ||
      n->inputs[0] == TFX_NONE || n->inputs[1] == TFX_NONE)
    return false;
  const TfxValue *a = tfx_val(g, n->inputs[0]), *b = tfx_val(g, n->inputs[1]);
  if (a->dtype != TFX_F32 || b->dtype != TFX_F32 || !b->konst || b->rank != 2 || a->rank < 2 || a->konst)
    return false;
  l->x = n->inputs[0], l->w = n->inputs[1], l->y = n->outputs[0];
  l->bias = l->res = TFX_NONE;
  l->act = "none";
  l->trans_b = false;
  if (n->op == TFX_OP_MatMul) return true;
  if (a->rank != 2 || tfx_attr_int(n, "transA", 0) || tfx_attr_float(n, "alpha", 1.0f) != 1.0f) return false;
  l->trans_b = tfx_attr_int(n, "transB", 0) != 0;
  uint32_t cv = n->n_inputs > 2 ? n->inputs[2] : TFX_NONE;
  if (cv == TFX_NONE || tfx_attr_float(n, "beta", 1.0f) == 0.0f) return true;
  if (tfx_attr_float(n, "beta", 1.0f) != 1.0f || !is_bias(g, cv, b->dims[l->trans_b ? 0 : 1])) return false;
  l->bias = cv;
  return true;
}

/* The epilogue after the product: bias, GELU, residual, each optional, in order. */
static void epilogue(const Ctx *c, Kill *m, Lin *l) {
  const TfxGraph *g = c->g;
  const int64_t N = tfx_val(g, l->w)->dims[l->trans_b ? 0 : 1];
  bool act = false, res = false;
  while (!res) {
    TfxNode *n = sole_user(c, l->y);
    if (!n || n->n_outputs != 1 || !same_shape(tfx_val(g, n->outputs[0]), tfx_val(g, l->y))) return;
    uint32_t o = binary(n, TFX_OP_Add) ? other(n, l->y) : TFX_NONE;
    if (o == l->y) return;
    if (o != TFX_NONE && l->bias == TFX_NONE && !act && is_bias(g, o, N)) {
      l->bias = o;
    } else if (!act && n->op == TFX_OP_Gelu && n->n_inputs == 1) {
      const char *ap = tfx_attr_string(n, "approximate", "none");
      if (strcmp(ap, "none") && strcmp(ap, "tanh")) return;
      l->act = strcmp(ap, "none") ? "gelu_tanh" : "gelu";
      act = true;
    } else if (o != TFX_NONE && !tfx_val(g, o)->konst && same_shape(tfx_val(g, o), tfx_val(g, l->y))) {
      l->res = o;
      res = true;
    } else {
      return;
    }
    if (!kill(m, g, n)) return;
    l->y = n->outputs[0];
  }
}

/* l->x = Reshape(x, [M, K]) and l->y's sole reader a Reshape to x's leading
 * dims and N: the product takes x and gives that Reshape's output. */
static void unflatten(const Ctx *c, Kill *m, Lin *l) {
  const TfxGraph *g = c->g;
  const TfxNode *r0 = producer(g, l->x);
  TfxNode *r1 = sole_user(c, l->y);
  if (!r0 || r0->op != TFX_OP_Reshape || r0->inputs[0] == TFX_NONE || !r1 || r1->op != TFX_OP_Reshape ||
      r1->inputs[0] != l->y || r1->n_outputs != 1)
    return;
  const TfxValue *x = tfx_val(g, r0->inputs[0]), *x2 = tfx_val(g, l->x);
  const TfxValue *y = tfx_val(g, r1->outputs[0]), *y2 = tfx_val(g, l->y);
  if (x2->rank != 2 || y2->rank != 2 || x->rank < 2 || x->konst || y->rank != x->rank ||
      x->dims[x->rank - 1] != x2->dims[1] || y->dims[y->rank - 1] != y2->dims[1])
    return;
  for (int d = 0; d < x->rank - 1; d++)
    if (y->dims[d] != x->dims[d]) return;
  if (!kill(m, g, r1)) return;
  l->x = r0->inputs[0], l->y = r1->outputs[0];
}

static int linear_at(Ctx *c, uint32_t i) {
  TfxGraph *g = c->g;
  const TfxNode *n = &g->nodes[i];
  Lin l;
  if (n->dead || !product(g, n, &l)) return 0;
  Kill m = {.n_kill = 0};
  kill(&m, g, n);
  unflatten(c, &m, &l);
  epilogue(c, &m, &l);
  const char *name = n->name;
  for (int k = 0; k < m.n_kill; k++) g->nodes[m.kill[k]].dead = true;
  g->values[l.y].producer = TFX_NONE;
  uint32_t ins[4] = {l.x, l.w, l.bias, l.res};
  uint32_t id = tfx_graph_add_node(g, TFX_OP_Linear, "Linear", name, ins, 4, &l.y, 1);
  TfxNode *ln = &g->nodes[id];
  TfxAttr *at = one_attr(g, ln);
  at[0].name = "trans_b", at[0].kind = TFX_ATTR_INT, at[0].i = l.trans_b;
  at[1].name = "activation", at[1].kind = TFX_ATTR_STRING, at[1].s = l.act;
  ln->n_attrs = 2;
  return tfx_ops[TFX_OP_Linear].infer(g, ln) ? -1 : 1;
}

TfxStatus tfx_pass_fuse_linear(TfxGraph *g, int *changed) { return each_node(g, changed, linear_at); }
