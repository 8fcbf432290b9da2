/* kv_cache.c — turn a causal LM into one decoder step over the compiler-owned
 * KV cache: every fused causal Attention becomes KvAttention(Q, K_new, V_new).
 *   plain export:   input_ids [1,S] -> logits [1,S,V]; K/V [1,Hkv,S,D] from the
 * tokens; mask absent with is_causal=1, or a constant exactly causal at offset
 * 0 past export:    K = Concat(past_key_values.L.key [1,Hkv,P,D], K_new, axis
 * -2) which is the output present.L.key (V likewise); mask causal at offset P
 * Either may carry a sliding window (key j visible from query q iff q - W < j
 * <= q), detected from the mask.  Invariant: the whole graph is analysed before
 * anything is touched, so a graph that is not such a decoder (info->ok false)
 * is left unchanged.
 * The cache is laid out layer after layer.  Float32 (default): each layer's
 * block is K [Hkv][N][Dk] then V [Hkv][N][Dv] floats, kv_offset counts floats,
 * info->kv_floats is the total and info->kv_bytes = 4 * kv_floats.  With
 * o->kv_int8 every KvAttention gets kv_int8 = 1 and kv_offset counts bytes:
 * each block is K int8 [Hkv][N][Dk], K scales float [Hkv][N], V int8, V scales,
 * every array starting on a 16-byte boundary (the layout of ir/ops/kvcache.c);
 * info->kv_bytes is the total and info->kv_floats stays the float-equivalent
 * count (what the same cache would hold in float32), for reports only. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

#define LL(x) ((long long)(x))

/* One Attention node to rewrite. */
typedef struct {
  uint32_t node;    /* the Attention node */
  uint32_t q, k, v; /* KvAttention inputs (K/V: the new tokens' keys/values) */
  uint32_t kcat,
      vcat; /* past exports: the Concat nodes making present.*, else TFX_NONE */
  uint32_t kpast,
      vpast; /* past exports: the past_key_values inputs, else TFX_NONE */
  int64_t hkv, dk, dv, window;
  float scale;
} Layer;

typedef struct {
  TfxGraph *g;
  TfxKvInfo *info;
  uint32_t
      *uses; /* live-node input uses per value, graph outputs counted too */
  Layer *layers;
  int n_layers;
} Ctx;

/* info->why = the reason; returns false so callers can `return refuse(...)`. */
static bool refuse(Ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static bool refuse(Ctx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->info->why, sizeof c->info->why, fmt, ap);
  va_end(ap);
  c->info->ok = false;
  return false;
}

static void count_uses(Ctx *c) {
  TfxGraph *g = c->g;
  c->uses = calloc(g->n_values + 1, sizeof *c->uses);
  if (!c->uses)
    abort();
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead)
      continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] != TFX_NONE)
        c->uses[n->inputs[k]]++;
  }
  for (uint32_t k = 0; k < g->n_outputs; k++)
    c->uses[g->outputs[k]]++;
}

static bool is_graph_input(const TfxGraph *g, uint32_t v) {
  for (uint32_t k = 0; k < g->n_inputs; k++)
    if (g->inputs[k] == v)
      return true;
  return false;
}

static TfxNode *live_producer(const TfxGraph *g, uint32_t v) {
  uint32_t p = g->values[v].producer;
  return p != TFX_NONE && !g->nodes[p].dead ? &g->nodes[p] : NULL;
}

/* K (or V) of Attention node a in a past export: Concat(past input, new, axis
 * 2) used only by a (and as a graph output).  Sets *cat, *past, *new; false
 * when k is not such a Concat (then the caller treats k as the new tokens'
 * keys); refuses (sets info->why) through *bad when it is one but cannot be
 * rewritten. */
static bool past_concat(Ctx *c, const TfxNode *a, uint32_t k, uint32_t *cat,
                        uint32_t *past, uint32_t *nw, bool *bad) {
  TfxGraph *g = c->g;
  *bad = false;
  TfxNode *n = live_producer(g, k);
  if (!n || n->op != TFX_OP_Concat || n->n_inputs != 2 || n->n_outputs != 1)
    return false;
  uint32_t p = n->inputs[0], x = n->inputs[1];
  if (p == TFX_NONE || x == TFX_NONE || !is_graph_input(g, p))
    return false;
  int64_t axis = tfx_attr_int(n, "axis", 0);
  const TfxValue *kv = tfx_val(g, k), *pv = tfx_val(g, p), *xv = tfx_val(g, x);
  if (kv->rank != 4 || pv->rank != 4 || xv->rank != 4 ||
      (axis != 2 && axis != -2)) {
    *bad = true;
    return refuse(c,
                  "attention '%s' concatenates the past input '%s' along an "
                  "axis other than the sequence",
                  a->name, pv->name);
  }
  uint32_t others = c->uses[k] - (kv->is_output ? 1 : 0);
  if (others != 1) {
    *bad = true;
    return refuse(c,
                  "the present value '%s' has users other than attention '%s'",
                  kv->name, a->name);
  }
  if (c->uses[p] != 1) {
    *bad = true;
    return refuse(c, "the past input '%s' has users other than the Concat '%s'",
                  pv->name, n->name);
  }
  *cat = (uint32_t)(n - g->nodes), *past = p, *nw = x;
  return true;
}

/* Whether key j is visible from query row i of head h under an Attention node's
 * own semantics (mask, is_causal, window attributes; the op has no past input
 * here, so its causal offset is 0).  m: the constant mask or NULL; a float mask
 * holds only 0 (visible) and masked values (checked by the caller). */
static bool visible(const TfxTensor *m, int64_t h, int64_t i, int64_t j,
                    bool causal, int64_t left, int64_t right) {
  if (m) {
    int64_t Tm = m->dims[m->rank - 1];
    if (j >= Tm)
      return false;
    /* right-aligned broadcast of the mask's leading dims against (batch 0, h,
     * i) */
    const int64_t idx[3] = {0, h, i};
    int64_t off = j, stride = Tm;
    for (int ax = 2; ax >= 0; ax--) {
      int md = m->rank - 1 - (3 - ax);
      int64_t d = md >= 0 ? m->dims[md] : 1;
      if (d != 1)
        off += idx[ax] * stride;
      stride *= d;
    }
    if (m->dtype == TFX_BOOL ? tfx_tensor_get_i64(m, off) == 0
                             : tfx_tensor_get_f64(m, off) != 0)
      return false;
  }
  if (causal && j > i)
    return false;
  if (left >= 0 && i - j > left)
    return false;
  if (right >= 0 && j - i > right)
    return false;
  return true;
}

/* The mask of Attention node a over T keys must be exactly causal at offset P
 * (= T - S) with an optional window; sets *window (0 = none).  A window is only
 * visible when the last query sees fewer than P + S keys: hint > 0 is the
 * model's window known from a longer sample, taken when this mask cannot tell
 * and required to agree when it can. */
static bool check_mask(Ctx *c, const TfxNode *a, int64_t Hq, int64_t S,
                       int64_t T, int64_t hint, int64_t *window) {
  TfxGraph *g = c->g;
  const TfxTensor *m = NULL;
  if (a->n_inputs > 3 && a->inputs[3] != TFX_NONE) {
    const TfxValue *mv = tfx_val(g, a->inputs[3]);
    m = mv->konst;
    if (!m)
      return refuse(c,
                    "attention '%s' has a mask '%s' that depends on the inputs",
                    a->name, mv->name);
    if (m->dtype != TFX_BOOL && !tfx_dtype_is_float(m->dtype))
      return refuse(c,
                    "attention '%s' has a %s mask (only bool or float masks "
                    "are understood)",
                    a->name, tfx_dtype_name(m->dtype));
    if (m->rank < 1 || m->rank > 4)
      return refuse(c, "attention '%s' has a mask of rank %d", a->name,
                    m->rank);
    const int64_t tgt[3] = {1, Hq, S};
    for (int ax = 0; ax < m->rank - 1; ax++) {
      int64_t d = m->dims[ax], t = tgt[3 - (m->rank - 1) + ax];
      if (d != 1 && d != t)
        return refuse(c,
                      "attention '%s' has a mask that does not broadcast to "
                      "[1, %lld, %lld, %lld]",
                      a->name, LL(Hq), LL(S), LL(T));
    }
    if (m->dtype != TFX_BOOL) {
      int64_t ne = tfx_tensor_numel(m);
      for (int64_t e = 0; e < ne; e++) {
        double b = tfx_tensor_get_f64(m, e);
        if (b != 0 && !(b <= -1e9))
          return refuse(c,
                        "attention '%s' has an additive mask with the value %g "
                        "(neither 0 nor masked)",
                        a->name, b);
      }
    }
  }
  bool causal = tfx_attr_int(a, "is_causal", 0) != 0;
  int64_t left = tfx_attr_int(a, "left_window_size", -1),
          right = tfx_attr_int(a, "right_window_size", -1);
  int64_t P = T - S;
  /* the window from the last query row: it sees min(W, P+S) keys */
  int64_t last = 0;
  for (int64_t j = 0; j < T; j++)
    last += visible(m, 0, S - 1, j, causal, left, right);
  int64_t W = last >= P + S ? 0 : last;
  if (last < 1)
    return refuse(
        c,
        "attention '%s' lets its last query see no key: the mask is not causal",
        a->name);
  if (hint > 0) {
    if (W ? W != hint : hint < P + S)
      return refuse(c,
                    "attention '%s' has a window of %lld keys here but %lld in "
                    "a longer sample",
                    a->name, LL(W), LL(hint));
    W = hint;
  }
  /* heads differ only through a mask with a head dim */
  int64_t Hm = m && m->rank >= 3 && m->dims[m->rank - 3] != 1 ? Hq : 1;
  for (int64_t h = 0; h < Hm; h++)
    for (int64_t i = 0; i < S; i++)
      for (int64_t j = 0; j < T; j++) {
        int64_t q = P + i;
        bool want = j <= q && (W == 0 || j > q - W);
        if (visible(m, h, i, j, causal, left, right) != want)
          return refuse(c,
                        "attention '%s' is not causal: head %lld query %lld %s "
                        "key %lld (expected causal at "
                        "offset %lld%s)",
                        a->name, LL(h), LL(i), want ? "cannot see" : "sees",
                        LL(j), LL(P), W ? " with a window" : "");
      }
  *window = W;
  return true;
}

/* Analyse Attention node index ni as layer l.  False (with why) when it cannot
 * be rewritten. */
static bool analyse_layer(Ctx *c, uint32_t ni, Layer *l, int64_t S,
                          const TfxKvOptions *o) {
  TfxGraph *g = c->g;
  const TfxNode *a = &g->nodes[ni];
  memset(l, 0, sizeof *l);
  l->node = ni;
  l->kcat = l->vcat = l->kpast = l->vpast = TFX_NONE;
  if (a->n_inputs < 3 || a->inputs[0] == TFX_NONE || a->inputs[1] == TFX_NONE ||
      a->inputs[2] == TFX_NONE)
    return refuse(c, "attention '%s' lacks Q, K or V", a->name);
  for (int k = 4; k < a->n_inputs; k++)
    if (a->inputs[k] != TFX_NONE)
      return refuse(c,
                    "attention '%s' has its own past_key/past_value or "
                    "nonpad_kv_seqlen input",
                    a->name);
  for (int k = 1; k < a->n_outputs; k++)
    if (a->outputs[k] != TFX_NONE && c->uses[a->outputs[k]])
      return refuse(c,
                    "attention '%s' has its present or qk_matmul output in use",
                    a->name);
  if (tfx_attr_float(a, "softcap", 0.0f) != 0.0f)
    return refuse(c, "attention '%s' uses softcap", a->name);
  if (tfx_attr(a, "softmax_precision") &&
      tfx_attr_int(a, "softmax_precision", 1) != 1)
    return refuse(
        c, "attention '%s' asks for a softmax precision other than float32",
        a->name);
  const TfxValue *q = tfx_val(g, a->inputs[0]), *k = tfx_val(g, a->inputs[1]),
                 *v = tfx_val(g, a->inputs[2]);
  const TfxValue *y = a->n_outputs >= 1 && a->outputs[0] != TFX_NONE
                          ? tfx_val(g, a->outputs[0])
                          : NULL;
  if (!y)
    return refuse(c, "attention '%s' has no output", a->name);
  if (q->rank != 4 || k->rank != 4 || v->rank != 4 || y->rank != 4)
    return refuse(c,
                  "attention '%s' uses the 3-D layout (the KV cache needs "
                  "[batch, heads, seq, dim])",
                  a->name);
  if (q->dtype != TFX_F32 || k->dtype != TFX_F32 || v->dtype != TFX_F32 ||
      y->dtype != TFX_F32)
    return refuse(c,
                  "attention '%s' computes in %s (the KV cache holds float32)",
                  a->name,
                  tfx_dtype_name(q->dtype != TFX_F32   ? q->dtype
                                 : k->dtype != TFX_F32 ? k->dtype
                                                       : v->dtype));
  if (q->dims[0] != 1 || k->dims[0] != 1 || v->dims[0] != 1)
    return refuse(c,
                  "attention '%s' has batch %lld (the KV cache needs batch 1)",
                  a->name, LL(q->dims[0]));
  int64_t Hq = q->dims[1], T = k->dims[2];
  if (q->dims[2] != S)
    return refuse(c,
                  "attention '%s' has %lld queries, not one per token (%lld)",
                  a->name, LL(q->dims[2]), LL(S));

  /* K and V: the new tokens' own, or Concat(past, new) in a past export */
  uint32_t kk = a->inputs[1], vv = a->inputs[2];
  bool bad;
  bool kp = past_concat(c, a, a->inputs[1], &l->kcat, &l->kpast, &kk, &bad);
  if (bad)
    return false;
  bool vp = past_concat(c, a, a->inputs[2], &l->vcat, &l->vpast, &vv, &bad);
  if (bad)
    return false;
  if (kp != vp)
    return refuse(
        c,
        "attention '%s' takes past keys but not past values (or the reverse)",
        a->name);
  const TfxValue *kn = tfx_val(g, kk), *vn = tfx_val(g, vv);
  if (kn->dims[2] != S || vn->dims[2] != S)
    return refuse(
        c, "attention '%s' attends over %lld keys computed from %lld tokens",
        a->name, LL(T), LL(S));
  if (kp) {
    int64_t P = T - S;
    if (tfx_val(g, l->vpast)->dims[2] != P)
      return refuse(
          c, "attention '%s' has past keys and values of different lengths",
          a->name);
    if (P != o->past)
      return refuse(c,
                    "attention '%s' has %lld past tokens in the graph but the "
                    "cache step was asked for %lld",
                    a->name, LL(P), LL(o->past));
  }
  l->q = a->inputs[0], l->k = kk, l->v = vv;
  l->hkv = kn->dims[1], l->dk = kn->dims[3], l->dv = vn->dims[3];
  if (l->hkv < 1 || Hq % l->hkv || vn->dims[1] != l->hkv || q->dims[3] != l->dk)
    return refuse(
        c, "attention '%s' has heads or head sizes the KV cache cannot map",
        a->name);
  int64_t hint = o->window; /* o->window, once TfxKvOptions carries the window of a
                       longer sample */
  if (!check_mask(c, a, Hq, S, T, hint, &l->window))
    return false;
  l->scale = tfx_attr(a, "scale") ? tfx_attr_float(a, "scale", 1.0f)
                                  : (float)(1.0 / sqrt((double)l->dk));
  return true;
}

/* The whole graph: fills c->layers and info (tokens, logits, vocab,
 * token_limit). */
static bool analyse(Ctx *c, const TfxKvOptions *o) {
  TfxGraph *g = c->g;
  TfxKvInfo *info = c->info;
  int n_attn = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++)
    if (!g->nodes[i].dead && g->nodes[i].op == TFX_OP_Attention)
      n_attn++;
  if (!n_attn)
    return refuse(c, "the graph has no fused attention");
  if (g->n_outputs < 1)
    return refuse(c, "the graph has no output");

  /* logits: the first output, float32 [1, S, V] */
  const TfxValue *lg = tfx_val(g, g->outputs[0]);
  if (lg->dtype != TFX_F32 || lg->rank != 3 || lg->dims[0] != 1)
    return refuse(c,
                  "the first output '%s' is not float32 logits [1, seq, vocab]",
                  lg->name);

  c->layers = calloc((size_t)n_attn, sizeof *c->layers);
  if (!c->layers)
    abort();
  /* the token input: the one graph input no attention consumes as its past */
  int64_t S = lg->dims[1];
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    if (g->nodes[i].dead || g->nodes[i].op != TFX_OP_Attention)
      continue;
    if (!analyse_layer(c, i, &c->layers[c->n_layers], S, o))
      return false;
    c->n_layers++;
  }
  uint32_t tokens = TFX_NONE;
  for (uint32_t k = 0; k < g->n_inputs; k++) {
    uint32_t v = g->inputs[k];
    bool past = false;
    for (int l = 0; l < c->n_layers; l++)
      past |= v == c->layers[l].kpast || v == c->layers[l].vpast;
    if (past)
      continue;
    if (tokens != TFX_NONE)
      return refuse(c,
                    "the graph has inputs '%s' and '%s' besides the past "
                    "keys/values (a decoder has only token ids)",
                    tfx_val(g, tokens)->name, tfx_val(g, v)->name);
    tokens = v;
  }
  if (tokens == TFX_NONE)
    return refuse(c, "the graph has no token-id input");
  const TfxValue *tv = tfx_val(g, tokens);
  if ((tv->dtype != TFX_I64 && tv->dtype != TFX_I32) || tv->rank != 2 ||
      tv->dims[0] != 1 || tv->dims[1] != S)
    return refuse(c, "the input '%s' is not int32/int64 token ids [1, %lld]",
                  tv->name, LL(S));
  /* every other output must be a present.* made by a rewritten Concat */
  for (uint32_t k = 1; k < g->n_outputs; k++) {
    uint32_t v = g->outputs[k];
    bool present = false;
    for (int l = 0; l < c->n_layers; l++) {
      const Layer *ly = &c->layers[l];
      present |= (ly->kcat != TFX_NONE && g->nodes[ly->kcat].outputs[0] == v) ||
                 (ly->vcat != TFX_NONE && g->nodes[ly->vcat].outputs[0] == v);
    }
    if (!present)
      return refuse(
          c, "the output '%s' is neither the logits nor a present key/value",
          tfx_val(g, v)->name);
  }
  if (o->past < 0 || o->max_seq < 1 || o->past + S > o->max_seq)
    return refuse(
        c,
        "the step (past %lld + %lld tokens) does not fit a cache of %lld rows",
        LL(o->past), LL(S), LL(o->max_seq));

  info->tokens = tokens;
  info->logits = g->outputs[0];
  info->vocab = lg->dims[2];
  info->token_limit = info->vocab;
  /* the ids, possibly reshaped first (exports flatten them to [-1, seq]) */
  uint32_t ids[8] = {tokens};
  int n_ids = 1;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    bool keeps_values = n->op == TFX_OP_Reshape || n->op == TFX_OP_Squeeze || n->op == TFX_OP_Unsqueeze ||
                        n->op == TFX_OP_Flatten || n->op == TFX_OP_Identity;
    if (n->dead || !keeps_values || n->n_inputs < 1 || n->n_outputs < 1 || n->outputs[0] == TFX_NONE) continue;
    for (int k = 0; k < n_ids && n_ids < 8; k++)
      if (n->inputs[0] == ids[k]) {
        ids[n_ids++] = n->outputs[0];
        break;
      }
  }
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    bool from_ids = false;
    for (int k = 0; k < n_ids && n->n_inputs >= 2; k++) from_ids |= n->inputs[1] == ids[k];
    if (n->dead || n->op != TFX_OP_Gather || !from_ids || n->inputs[0] == TFX_NONE)
      continue;
    const TfxValue *tab = tfx_val(g, n->inputs[0]);
    if (tab->konst && tab->rank >= 1 && tfx_attr_int(n, "axis", 0) == 0) {
      info->token_limit = tab->dims[0];
      break;
    }
  }
  return true;
}

static int64_t up16(int64_t x) { return (x + 15) / 16 * 16; }

/* Bytes of one layer's int8 block (ir/ops/kvcache.c, kv_int8_layout). */
static int64_t int8_block_bytes(const Layer *l, int64_t N) {
  return up16(l->hkv * N * l->dk) + up16(l->hkv * N * 4) + up16(l->hkv * N * l->dv) + up16(l->hkv * N * 4);
}

static void set_int(TfxAttr *a, const char *name, int64_t v) {
  a->name = name, a->kind = TFX_ATTR_INT, a->i = v;
}

/* Drop the values in drop[0..n) from a graph input/output list. */
static void drop_from(uint32_t *list, uint32_t *count, const uint32_t *drop,
                      int n) {
  uint32_t w = 0;
  for (uint32_t r = 0; r < *count; r++) {
    bool gone = false;
    for (int k = 0; k < n; k++)
      gone |= list[r] == drop[k];
    if (!gone)
      list[w++] = list[r];
  }
  *count = w;
}

static TfxStatus rewrite(Ctx *c, const TfxKvOptions *o) {
  TfxGraph *g = c->g;
  int64_t offset = 0, floats = 0; /* offset: floats, or bytes with kv_int8 */
  uint32_t *gone_in = calloc((size_t)c->n_layers * 2 + 1, sizeof *gone_in);
  uint32_t *gone_out = calloc((size_t)c->n_layers * 2 + 1, sizeof *gone_out);
  if (!gone_in || !gone_out)
    abort();
  int n_in = 0, n_out = 0;
  TfxStatus st = TFX_OK;
  for (int li = 0; li < c->n_layers && !st; li++) {
    Layer *l = &c->layers[li];
    /* adding nodes moves g->nodes: take what is needed from the old node first
     */
    TfxNode *a = &g->nodes[l->node];
    const char *name = a->name;
    uint32_t y = a->outputs[0];
    a->dead = true;
    for (int k = 0; k < a->n_outputs; k++)
      if (a->outputs[k] != TFX_NONE)
        g->values[a->outputs[k]].producer = TFX_NONE;
    const uint32_t cats[2] = {l->kcat, l->vcat};
    for (int s = 0; s < 2; s++) {
      if (cats[s] == TFX_NONE)
        continue;
      TfxNode *cn = &g->nodes[cats[s]];
      uint32_t pres = cn->outputs[0];
      cn->dead = true;
      g->values[pres].producer = TFX_NONE;
      if (g->values[pres].is_output)
        gone_out[n_out++] = pres;
      g->values[pres].is_output = false;
    }
    if (l->kpast != TFX_NONE)
      gone_in[n_in++] = l->kpast, gone_in[n_in++] = l->vpast;

    uint32_t ins[3] = {l->q, l->k, l->v};
    uint32_t id = tfx_graph_add_node(g, TFX_OP_KvAttention, "KvAttention", name,
                                     ins, 3, &y, 1);
    TfxNode *kn = &g->nodes[id];
    TfxAttr *at = tfx_graph_alloc(g, 6 * sizeof *at);
    set_int(&at[0], "past", o->past);
    set_int(&at[1], "max_seq", o->max_seq);
    set_int(&at[2], "kv_offset", offset);
    set_int(&at[3], "window", l->window);
    at[4].name = "scale", at[4].kind = TFX_ATTR_FLOAT, at[4].f = l->scale;
    kn->attrs = at;
    kn->n_attrs = 5;
    if (o->kv_int8) set_int(&at[kn->n_attrs++], "kv_int8", 1);
    st = tfx_ops[TFX_OP_KvAttention].infer(g, kn);
    floats += l->hkv * o->max_seq * (l->dk + l->dv);
    offset = o->kv_int8 ? offset + int8_block_bytes(l, o->max_seq) : floats;
  }
  drop_from(g->inputs, &g->n_inputs, gone_in, n_in);
  drop_from(g->outputs, &g->n_outputs, gone_out, n_out);
  free(gone_in);
  free(gone_out);
  c->info->kv_floats = floats;
  c->info->kv_bytes = o->kv_int8 ? offset : floats * 4;
  c->info->n_layers = c->n_layers;
  if (st)
    return st;
  return tfx_graph_toposort(g);
}

TfxStatus tfx_pass_kv_cache(TfxGraph *g, const TfxKvOptions *o,
                            TfxKvInfo *info) {
  memset(info, 0, sizeof *info);
  info->tokens = info->logits = TFX_NONE;
  Ctx c = {.g = g, .info = info, .uses = NULL, .layers = NULL, .n_layers = 0};
  count_uses(&c);
  TfxStatus st = TFX_OK;
  if (analyse(&c, o)) {
    st = rewrite(&c, o);
    info->ok = st == TFX_OK;
    if (st)
      snprintf(info->why, sizeof info->why,
               "the KvAttention rewrite failed (see the diagnostics)");
  } else {
    info->tokens = info->logits = TFX_NONE;
    info->vocab = info->token_limit = 0;
  }
  free(c.uses);
  free(c.layers);
  return st;
}
