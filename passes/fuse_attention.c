/* fuse_attention.c — rewrite the exporter pattern
 *   softmax(Q·Kᵀ·scale [+ mask | Where(cond, ·, -large)], axis=-1) · V
 * (4-D [batch, heads, seq, head_dim], float32/float64) into one ONNX Attention node
 * (opset 23 semantics) with the scale attribute and the mask as attn_mask.  Scalar
 * Mul/Div may sit on the scores or on Q/K, identity Casts anywhere, Kᵀ may be a
 * Transpose of K (composed with the exporter's head split when needed) or a plain
 * value, and a K/V head broadcast Unsqueeze→Expand→Reshape (grouped-query) is undone
 * because Attention maps query head h to KV head h / (Hq/Hkv).  A float32 scale that
 * Attention cannot reproduce exactly is applied to Q by a Mul (see fuse_at).
 * Invariants: only values used once, by the chain, and not graph outputs are
 * absorbed; replaced nodes are marked dead (DCE sweeps) and the graph is re-sorted.
 * A Where fill that is finite but below -1e9 is taken as -inf: the two differ only in
 * a query row whose keys are all masked (Attention gives zeros there). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

enum { MAX_KILL = 64 };

typedef struct {
  TfxGraph *g;
  uint32_t *uses; /* live-node input uses per value, graph outputs counted too */
} Ctx;

/* What one match collects. */
typedef struct {
  uint32_t kill[MAX_KILL];
  int n_kill;
  double scale;    /* product of every scalar factor on the scores, Q and K */
  uint32_t mask;   /* attn_mask value or TFX_NONE */
  bool mask_where; /* mask came from Where (needs a positive scale after it) */
  uint32_t q, kt;  /* MatMul(Q, Kt) operands */
} Match;

static void count_uses(Ctx *c) {
  TfxGraph *g = c->g;
  free(c->uses);
  c->uses = calloc(g->n_values + 1, sizeof *c->uses);
  if (!c->uses) abort();
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] != TFX_NONE) c->uses[n->inputs[k]]++;
  }
  for (uint32_t k = 0; k < g->n_outputs; k++) c->uses[g->outputs[k]]++;
}

/* v is an intermediate the chain may absorb: one user, not an output, computed. */
static bool absorbable(const Ctx *c, uint32_t v) {
  const TfxValue *val = tfx_val(c->g, v);
  return c->uses[v] == 1 && !val->is_output && !val->konst && val->producer != TFX_NONE;
}

static TfxNode *producer(const TfxGraph *g, uint32_t v) {
  uint32_t p = g->values[v].producer;
  return p != TFX_NONE && !g->nodes[p].dead ? &g->nodes[p] : NULL;
}

static bool kill(Match *m, const TfxGraph *g, const TfxNode *n) {
  if (m->n_kill >= MAX_KILL) return false;
  m->kill[m->n_kill++] = (uint32_t)(n - g->nodes);
  return true;
}

static bool same_shape(const TfxValue *a, const TfxValue *b) {
  if (a->rank != b->rank || a->dtype != b->dtype) return false;
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d]) return false;
  return true;
}

/* A one-element float constant, as double. */
static bool scalar_const(const TfxGraph *g, uint32_t v, double *out) {
  const TfxValue *val = tfx_val(g, v);
  if (!val->konst || !tfx_dtype_is_float(val->dtype) || tfx_tensor_numel(val->konst) != 1) return false;
  *out = tfx_tensor_get_f64(val->konst, 0);
  return isfinite(*out) && *out != 0;
}

static bool identity_cast(const TfxGraph *g, const TfxNode *n) {
  return n->op == TFX_OP_Cast && n->n_inputs >= 1 && n->n_outputs >= 1 && n->inputs[0] != TFX_NONE &&
         tfx_node_out(g, n, 0) && same_shape(tfx_node_in(g, n, 0), tfx_node_out(g, n, 0));
}

/* Peel one scalar Mul/Div or identity Cast producing v (v must be absorbable);
 * returns the operand it was applied to, or TFX_NONE. */
static uint32_t peel_scalar(const Ctx *c, Match *m, uint32_t v) {
  TfxGraph *g = c->g;
  if (!absorbable(c, v)) return TFX_NONE;
  TfxNode *p = producer(g, v);
  if (!p || p->n_outputs < 1 || p->outputs[0] != v) return TFX_NONE;
  double s;
  uint32_t next = TFX_NONE;
  if (identity_cast(g, p)) {
    next = p->inputs[0];
  } else if ((p->op == TFX_OP_Mul || p->op == TFX_OP_Div) && p->n_inputs == 2 && p->inputs[0] != TFX_NONE &&
             p->inputs[1] != TFX_NONE) {
    if (scalar_const(g, p->inputs[1], &s) && same_shape(tfx_val(g, p->inputs[0]), tfx_val(g, v))) {
      next = p->inputs[0];
      m->scale = p->op == TFX_OP_Mul ? m->scale * s : m->scale / s;
    } else if (p->op == TFX_OP_Mul && scalar_const(g, p->inputs[0], &s) &&
               same_shape(tfx_val(g, p->inputs[1]), tfx_val(g, v))) {
      next = p->inputs[1];
      m->scale *= s;
    }
  }
  if (next != TFX_NONE && !kill(m, g, p)) return TFX_NONE;
  return next;
}

/* mask (bool cond or additive float) broadcasts to scores [B,H,S,L] the way
 * Attention reads it: rank 1..4, last dim exactly L. */
static bool mask_fits(const TfxValue *mask, const TfxValue *scores) {
  if (mask->rank < 1 || mask->rank > 4 || mask->dims[mask->rank - 1] != scores->dims[3]) return false;
  for (int a = 0; a < mask->rank - 1; a++) {
    int64_t d = mask->dims[a], t = scores->dims[4 - mask->rank + a];
    if (d != 1 && d != t) return false;
  }
  return true;
}

/* Every element of constant v is -inf or below -1e9. */
static bool large_negative(const TfxGraph *g, uint32_t v) {
  const TfxValue *val = tfx_val(g, v);
  if (!val->konst || !tfx_dtype_is_float(val->dtype)) return false;
  int64_t n = tfx_tensor_numel(val->konst);
  for (int64_t i = 0; i < n; i++)
    if (!(tfx_tensor_get_f64(val->konst, i) <= -1e9)) return false;
  return n > 0;
}

/* Walk back from the softmax input x (shape [B,H,S,L]) to MatMul(Q, Kt). */
static bool match_scores(const Ctx *c, Match *m, uint32_t x, const TfxValue *scores, double after) {
  TfxGraph *g = c->g;
  for (;;) {
    if (!absorbable(c, x)) return false;
    TfxNode *p = producer(g, x);
    if (!p || p->n_outputs < 1 || p->outputs[0] != x || !same_shape(tfx_val(g, x), scores)) return false;
    double before = m->scale;
    uint32_t next = peel_scalar(c, m, x);
    if (next != TFX_NONE) {
      after *= m->scale / before; /* scale applied after anything further back */
      x = next;
      continue;
    }
    if (p->op == TFX_OP_MatMul && p->n_inputs == 2) {
      m->q = p->inputs[0], m->kt = p->inputs[1];
      return kill(m, g, p);
    }
    if (p->op == TFX_OP_Add && p->n_inputs == 2 && m->mask == TFX_NONE && after == 1.0) {
      /* an additive mask must come after the scale: softmax(x*s + mask) */
      for (int side = 0; side < 2; side++) {
        uint32_t s = p->inputs[side], mk = p->inputs[1 - side];
        if (s == TFX_NONE || mk == TFX_NONE || !mask_fits(tfx_val(g, mk), scores)) continue;
        if (tfx_val(g, mk)->dtype != scores->dtype) continue;
        Match save = *m;
        m->mask = mk, m->mask_where = false;
        if (kill(m, g, p) && match_scores(c, m, s, scores, after)) return true;
        *m = save;
      }
      return false;
    }
    if (p->op == TFX_OP_Where && p->n_inputs == 3 && m->mask == TFX_NONE && after > 0) {
      uint32_t cond = p->inputs[0], s = p->inputs[1], fill = p->inputs[2];
      if (cond == TFX_NONE || s == TFX_NONE || fill == TFX_NONE) return false;
      if (tfx_val(g, cond)->dtype != TFX_BOOL || !mask_fits(tfx_val(g, cond), scores)) return false;
      if (!large_negative(g, fill) || !kill(m, g, p)) return false;
      m->mask = cond, m->mask_where = true;
      x = s;
      continue;
    }
    return false;
  }
}

/* K broadcast over query heads by Unsqueeze→Expand→Reshape ([B,Hkv,L,D] →
 * [B,Hkv,1,L,D] → [B,Hkv,R,L,D] → [B,Hkv*R,L,D]): the un-broadcast value, its nodes
 * appended to kill; TFX_NONE when v is not such a broadcast. */
static uint32_t unbroadcast_heads(const Ctx *c, uint32_t v, uint32_t *kill3) {
  TfxGraph *g = c->g;
  if (!absorbable(c, v)) return TFX_NONE;
  TfxNode *rs = producer(g, v);
  if (!rs || rs->op != TFX_OP_Reshape || rs->inputs[0] == TFX_NONE || !absorbable(c, rs->inputs[0]))
    return TFX_NONE;
  TfxNode *ex = producer(g, rs->inputs[0]);
  if (!ex || ex->op != TFX_OP_Expand || ex->inputs[0] == TFX_NONE || !absorbable(c, ex->inputs[0]))
    return TFX_NONE;
  TfxNode *un = producer(g, ex->inputs[0]);
  if (!un || (un->op != TFX_OP_Unsqueeze && un->op != TFX_OP_Reshape) || un->inputs[0] == TFX_NONE)
    return TFX_NONE;
  const TfxValue *out = tfx_val(g, v), *e5 = tfx_val(g, rs->inputs[0]), *u5 = tfx_val(g, ex->inputs[0]),
                 *base = tfx_val(g, un->inputs[0]);
  if (out->rank != 4 || e5->rank != 5 || u5->rank != 5 || base->rank != 4 || base->dtype != out->dtype)
    return TFX_NONE;
  int64_t B = base->dims[0], Hkv = base->dims[1], L = base->dims[2], D = base->dims[3], R = e5->dims[2];
  const int64_t want_u[5] = {B, Hkv, 1, L, D}, want_e[5] = {B, Hkv, R, L, D}, want_o[4] = {B, Hkv * R, L, D};
  if (memcmp(u5->dims, want_u, sizeof want_u) || memcmp(e5->dims, want_e, sizeof want_e) ||
      memcmp(out->dims, want_o, sizeof want_o))
    return TFX_NONE;
  kill3[0] = (uint32_t)(rs - g->nodes), kill3[1] = (uint32_t)(ex - g->nodes), kill3[2] = (uint32_t)(un - g->nodes);
  return un->inputs[0];
}

static TfxAttr *ints_attr(TfxGraph *g, const char *name, const int64_t *v, int n) {
  TfxAttr *a = tfx_graph_alloc(g, sizeof *a);
  a->name = name;
  a->kind = TFX_ATTR_INTS;
  a->n = n;
  a->ints = tfx_graph_alloc(g, sizeof(int64_t) * (size_t)n);
  memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
  return a;
}

/* "<prefix>/<leaf>" from a node name "<prefix>/Softmax..."; "<name>_<leaf>" otherwise. */
static const char *derived_name(TfxGraph *g, const char *base, const char *leaf) {
  const char *slash = strrchr(base, '/');
  size_t keep = slash ? (size_t)(slash - base) + 1 : strlen(base);
  size_t len = keep + strlen(leaf) + 2;
  char *s = tfx_graph_alloc(g, len);
  memcpy(s, base, keep);
  strcpy(s + keep, slash ? "" : "_");
  strcat(s, leaf);
  return s;
}

/* ---- heads read in place ------------------------------------------------
 * The exporter splits heads with Reshape [B,S,H*D] -> [B,S,H,D] and Transpose
 * [0,2,1,3], and merges them back the same way; Attention reads the 3-D form
 * itself (q_num_heads / kv_num_heads), so those copies go.  The KV-cache pass
 * wants the 4-D form, so attention that could be a decoder's (causal, or with a
 * constant mask) keeps it. */
enum { MAX_FLAT = 8 };

typedef struct {
  uint32_t q, k, v, y; /* 3-D values replacing Attention's inputs and output */
  uint32_t kill[MAX_FLAT];
  int n_kill;
} Flat;

static bool heads_perm(const TfxNode *t) {
  const int64_t *pm;
  return t->op == TFX_OP_Transpose && t->inputs[0] != TFX_NONE && tfx_attr_ints(t, "perm", &pm) == 4 &&
         pm[0] == 0 && pm[1] == 2 && pm[2] == 1 && pm[3] == 3;
}

/* x = Reshape(x3 [B,S,H*D]) of shape [B,S,H,D], absorbable: x3 (the Reshape joins f's kill). */
static uint32_t unsplit(const Ctx *c, Flat *f, uint32_t x) {
  TfxGraph *g = c->g;
  TfxNode *rs = absorbable(c, x) ? producer(g, x) : NULL;
  if (!rs || rs->op != TFX_OP_Reshape || rs->inputs[0] == TFX_NONE || f->n_kill >= MAX_FLAT) return TFX_NONE;
  const TfxValue *in = tfx_val(g, rs->inputs[0]), *out = tfx_val(g, x);
  if (in->rank != 3 || out->rank != 4 || in->dims[0] != out->dims[0] || in->dims[1] != out->dims[1] ||
      in->dims[2] != out->dims[2] * out->dims[3])
    return TFX_NONE;
  f->kill[f->n_kill++] = (uint32_t)(rs - g->nodes);
  return rs->inputs[0];
}

/* v = Transpose(Reshape(x3), [0,2,1,3]): x3. */
static uint32_t unsplit_t(const Ctx *c, Flat *f, uint32_t v) {
  TfxGraph *g = c->g;
  TfxNode *t = absorbable(c, v) ? producer(g, v) : NULL;
  if (!t || !heads_perm(t) || f->n_kill >= MAX_FLAT) return TFX_NONE;
  f->kill[f->n_kill++] = (uint32_t)(t - g->nodes);
  return unsplit(c, f, t->inputs[0]);
}

/* The live node reading v (v has one use), or NULL. */
static TfxNode *sole_user(const Ctx *c, uint32_t v) {
  TfxGraph *g = c->g;
  if (c->uses[v] != 1 || tfx_val(g, v)->is_output) return NULL;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    TfxNode *n = &g->nodes[i];
    for (int k = 0; !n->dead && k < n->n_inputs; k++)
      if (n->inputs[k] == v) return n;
  }
  return NULL;
}

/* y [B,H,S,Dv] merged by Transpose [0,2,1,3] then Reshape to [B,S,H*Dv]: the merged value. */
static uint32_t merged_output(const Ctx *c, Flat *f, uint32_t y) {
  TfxGraph *g = c->g;
  TfxNode *t = sole_user(c, y);
  if (!t || !heads_perm(t) || t->inputs[0] != y || t->n_outputs < 1 || f->n_kill + 2 > MAX_FLAT) return TFX_NONE;
  TfxNode *rs = sole_user(c, t->outputs[0]);
  if (!rs || rs->op != TFX_OP_Reshape || rs->inputs[0] != t->outputs[0] || rs->n_outputs < 1) return TFX_NONE;
  const TfxValue *yv = tfx_val(g, y), *out = tfx_val(g, rs->outputs[0]);
  if (out->rank != 3 || out->dims[0] != yv->dims[0] || out->dims[1] != yv->dims[2] ||
      out->dims[2] != yv->dims[1] * yv->dims[3])
    return TFX_NONE;
  f->kill[f->n_kill++] = (uint32_t)(t - g->nodes);
  f->kill[f->n_kill++] = (uint32_t)(rs - g->nodes);
  return rs->outputs[0];
}

/* Whether Q, K (kbase under perm, or k itself), V and Y all have the split/merge
 * pattern; fills f. */
static bool find_flat(const Ctx *c, Flat *f, uint32_t q, uint32_t k, uint32_t kbase, const int64_t *perm,
                      uint32_t v, uint32_t y) {
  f->n_kill = 0;
  f->q = unsplit_t(c, f, q);
  if (k != TFX_NONE) f->k = unsplit_t(c, f, k);
  else if (perm[0] == 0 && perm[1] == 2 && perm[2] == 1 && perm[3] == 3) f->k = unsplit(c, f, kbase);
  else f->k = TFX_NONE;
  f->v = unsplit_t(c, f, v);
  f->y = f->q != TFX_NONE && f->k != TFX_NONE && f->v != TFX_NONE ? merged_output(c, f, y) : TFX_NONE;
  return f->y != TFX_NONE;
}

static TfxAttr *attr_at(TfxNode *n, const char *name, TfxAttrKind kind) {
  TfxAttr *a = &n->attrs[n->n_attrs++];
  a->name = name;
  a->kind = kind;
  return a;
}

/* Try to fuse around Softmax node si; 1 when fused, 0 when not, -1 on error. */
/* A constant mask that is exactly causal without a past (key j visible from
 * query i iff j <= i) becomes is_causal, so no S x S table reaches the
 * generated code.  Masked entries are false, or additive values low enough
 * that softmax gives them exactly zero. */
static bool mask_is_causal(TfxGraph *g, uint32_t mask, const TfxValue *out) {
  const TfxTensor *t = tfx_val(g, mask)->konst;
  int64_t S = out->dims[2];
  if (!t || t->rank < 2 || t->dims[t->rank - 1] != S || t->dims[t->rank - 2] != S) return false;
  int64_t n = tfx_tensor_numel(t);
  for (int64_t e = 0; e < n; e++) {
    int64_t j = e % S, i = (e / S) % S;
    bool allowed;
    if (t->dtype == TFX_BOOL) {
      allowed = tfx_tensor_get_i64(t, e) != 0;
    } else {
      double x = tfx_tensor_get_f64(t, e);
      if (x == 0) allowed = true;
      else if (x <= -65504.0) allowed = false;
      else return false;
    }
    if (allowed != (j <= i)) return false;
  }
  return true;
}

static int fuse_at(Ctx *c, uint32_t si) {
  TfxGraph *g = c->g;
  TfxNode *sm = &g->nodes[si];
  if (sm->dead || sm->op != TFX_OP_Softmax || sm->n_inputs != 1 || sm->n_outputs != 1) return 0;
  const TfxValue *scores = tfx_node_in(g, sm, 0);
  if (!scores || scores->rank != 4 || (scores->dtype != TFX_F32 && scores->dtype != TFX_F64)) return 0;
  int64_t axis = tfx_attr_int(sm, "axis", g->opset >= 13 ? -1 : 1);
  if (axis != -1 && axis != 3) return 0;
  Match m = {.scale = 1.0, .mask = TFX_NONE, .q = TFX_NONE, .kt = TFX_NONE};
  if (!kill(&m, g, sm)) return 0;

  /* forward: Softmax → identity Casts → MatMul(P, V) */
  uint32_t p = sm->outputs[0], mm2 = TFX_NONE;
  for (;;) {
    if (c->uses[p] != 1 || tfx_val(g, p)->is_output) return 0;
    uint32_t user = TFX_NONE;
    for (uint32_t i = si + 1; i < g->n_nodes && user == TFX_NONE; i++) {
      const TfxNode *n = &g->nodes[i];
      for (int k = 0; !n->dead && k < n->n_inputs; k++)
        if (n->inputs[k] == p) user = i;
    }
    if (user == TFX_NONE) return 0;
    TfxNode *u = &g->nodes[user];
    if (identity_cast(g, u) && u->inputs[0] == p) {
      if (!kill(&m, g, u)) return 0;
      p = u->outputs[0];
      continue;
    }
    if (u->op == TFX_OP_MatMul && u->n_inputs == 2 && u->inputs[0] == p && u->inputs[1] != p) {
      mm2 = user;
      break;
    }
    return 0;
  }
  if (!kill(&m, g, &g->nodes[mm2])) return 0;
  uint32_t v = g->nodes[mm2].inputs[1], y = g->nodes[mm2].outputs[0];

  if (!match_scores(c, &m, sm->inputs[0], scores, 1.0)) return 0;
  /* Q side: scalar factors and identity Casts */
  for (uint32_t nx; (nx = peel_scalar(c, &m, m.q)) != TFX_NONE;) m.q = nx;
  /* K side: scalar factors, Casts and at most one Transpose */
  int64_t perm[4] = {0, 1, 3, 2}; /* K = Transpose(kbase, perm) */
  uint32_t kbase = m.kt;
  bool transposed = false;
  for (;;) {
    uint32_t nx = peel_scalar(c, &m, kbase);
    if (nx != TFX_NONE) {
      kbase = nx;
      continue;
    }
    TfxNode *t = absorbable(c, kbase) ? producer(g, kbase) : NULL;
    if (transposed || !t || t->op != TFX_OP_Transpose || t->inputs[0] == TFX_NONE) break;
    const TfxValue *tin = tfx_val(g, t->inputs[0]);
    if (tin->rank != 4) break;
    const int64_t *tp;
    int np = tfx_attr_ints(t, "perm", &tp);
    int64_t tperm[4] = {3, 2, 1, 0}; /* default: reverse */
    if (np == 4) memcpy(tperm, tp, sizeof tperm);
    else if (np != -1) break;
    /* Kt = Transpose(X, tperm), K = Kt with its last two axes swapped */
    const int64_t sw[4] = {0, 1, 3, 2};
    for (int i = 0; i < 4; i++) perm[i] = tperm[sw[i]];
    if (!kill(&m, g, t)) return 0;
    transposed = true;
    kbase = t->inputs[0];
  }
  /* Attention takes sqrt(scale); a negative product is left alone */
  if (!(m.scale > 0) || m.scale > 3.0e38) return 0;

  /* shapes: Q [B,H,S,Dk], Kt [B,H,Dk,L], V [B,H,L,Dv], Y [B,H,S,Dv], one dtype */
  const TfxValue *qv = tfx_val(g, m.q), *ktv = tfx_val(g, m.kt), *vv = tfx_val(g, v), *yv = tfx_val(g, y);
  TfxDtype dt = scores->dtype;
  if (qv->rank != 4 || ktv->rank != 4 || vv->rank != 4 || yv->rank != 4) return 0;
  if (qv->dtype != dt || ktv->dtype != dt || vv->dtype != dt || yv->dtype != dt) return 0;
  if (tfx_val(g, kbase)->dtype != dt) return 0;
  int64_t B = scores->dims[0], H = scores->dims[1], S = scores->dims[2], L = scores->dims[3];
  int64_t Dk = qv->dims[3], Dv = vv->dims[3];
  const int64_t wq[4] = {B, H, S, Dk}, wkt[4] = {B, H, Dk, L}, wv[4] = {B, H, L, Dv}, wy[4] = {B, H, S, Dv};
  if (memcmp(qv->dims, wq, sizeof wq) || memcmp(ktv->dims, wkt, sizeof wkt) || memcmp(vv->dims, wv, sizeof wv) ||
      memcmp(yv->dims, wy, sizeof wy))
    return 0;

  bool k_identity = perm[0] == 0 && perm[1] == 1 && perm[2] == 2 && perm[3] == 3;
  uint32_t k = k_identity ? kbase : TFX_NONE;
  /* grouped-query: both K and V broadcast the same way → pass the un-broadcast ones */
  uint32_t kk[3], vk[3];
  uint32_t k0 = k != TFX_NONE ? unbroadcast_heads(c, k, kk) : TFX_NONE;
  uint32_t v0 = k0 != TFX_NONE ? unbroadcast_heads(c, v, vk) : TFX_NONE;
  if (k0 != TFX_NONE && v0 != TFX_NONE && tfx_val(g, k0)->dims[1] == tfx_val(g, v0)->dims[1] &&
      m.n_kill + 6 <= MAX_KILL) {
    for (int i = 0; i < 3; i++) m.kill[m.n_kill++] = kk[i], m.kill[m.n_kill++] = vk[i];
    k = k0, v = v0;
  }
  bool causal = m.mask != TFX_NONE && !g->keep_masks && mask_is_causal(g, m.mask, tfx_val(g, y));
  Flat fl;
  bool flat = k0 == TFX_NONE && !causal && (m.mask == TFX_NONE || !tfx_val(g, m.mask)->konst) &&
              m.n_kill + MAX_FLAT <= MAX_KILL && find_flat(c, &fl, m.q, k, kbase, perm, v, y);
  if (flat) {
    for (int i = 0; i < fl.n_kill; i++) m.kill[m.n_kill++] = fl.kill[i];
    m.q = fl.q, k = fl.k, v = fl.v, y = fl.y;
  }

  /* rewrite (adding nodes moves g->nodes: no node pointer is used after this) */
  const char *base = sm->name; /* arena string: stays put */
  const char *name = derived_name(g, base, "Attention");
  for (int i = 0; i < m.n_kill; i++) g->nodes[m.kill[i]].dead = true;
  g->values[y].producer = TFX_NONE;
  if (k == TFX_NONE) {
    k = tfx_graph_add_value(g, derived_name(g, base, "Attention_K"));
    uint32_t tid = tfx_graph_add_node(g, TFX_OP_Transpose, NULL, derived_name(g, base, "Attention_Transpose"),
                                      &kbase, 1, &k, 1);
    TfxNode *t = &g->nodes[tid];
    t->attrs = ints_attr(g, "perm", perm, 4);
    t->n_attrs = 1;
    if (tfx_ops[TFX_OP_Transpose].infer(g, t)) return -1;
  }
  /* Attention scales Q and K by sqrt(scale) rounded to float32 (the spec's function
   * body), which moves a scale such as 1/sqrt(8) by an ulp or two; scale_exact (an
   * attribute of tfxc's own, see ir/ops/attention.c) makes it apply the scale as
   * given, so the fused graph rounds like the unfused one without a Mul on Q. */
  float sq = (float)sqrt(m.scale);
  bool exact = dt == TFX_F32 && (float)((double)sq * sq) != (float)m.scale;
  if (causal) m.mask = TFX_NONE;
  uint32_t ins[4] = {m.q, k, v, m.mask};
  uint32_t aid = tfx_graph_add_node(g, TFX_OP_Attention, NULL, name, ins, m.mask != TFX_NONE ? 4 : 3, &y, 1);
  TfxNode *an = &g->nodes[aid];
  an->attrs = tfx_graph_alloc(g, 5 * sizeof *an->attrs);
  attr_at(an, "scale", TFX_ATTR_FLOAT)->f = (float)m.scale;
  if (causal) attr_at(an, "is_causal", TFX_ATTR_INT)->i = 1;
  if (exact) attr_at(an, "scale_exact", TFX_ATTR_INT)->i = 1;
  if (flat) {
    attr_at(an, "q_num_heads", TFX_ATTR_INT)->i = H;
    attr_at(an, "kv_num_heads", TFX_ATTR_INT)->i = tfx_val(g, k)->dims[2] / Dk;
  }
  if (tfx_ops[TFX_OP_Attention].infer(g, an)) return -1;
  return 1;
}

TfxStatus tfx_pass_fuse_attention(TfxGraph *g, int *changed) {
  Ctx c = {.g = g, .uses = NULL};
  count_uses(&c);
  uint32_t n0 = g->n_nodes; /* nodes added by fusions are never Softmax */
  TfxStatus st = TFX_OK;
  for (uint32_t i = 0; i < n0; i++) {
    int r = fuse_at(&c, i);
    if (r < 0) {
      st = TFX_ERR;
      break;
    }
    if (r > 0) {
      (*changed)++;
      count_uses(&c);
    }
  }
  free(c.uses);
  if (st) return st;
  return *changed ? tfx_graph_toposort(g) : TFX_OK;
}
