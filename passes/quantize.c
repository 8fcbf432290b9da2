/* quantize.c — weight-only quantisation: every live MatMul whose B is a 2-D
 * float32 constant [K, N], and Gemm with constant B (alpha = beta = 1, no
 * transA, bias absent or [N]), becomes WeightQMatMul (ir/ops/quant.c) on the
 * weight transposed to [N, K] and quantised symmetrically:
 *   int8: per output channel, q = round(w / scale) in [-127, 127]
 *   int4: per group of `group` along K, q = round(w / scale) in [-8, 7]
 * where scale is max|w| / 127 (/ 7) or, when that gives a smaller squared
 * error of the group's weights, up to 20 % less (clipping the largest).
 * The node is rewritten in place (same output value, same position in the
 * topological order).  Left float32: weights named in keep[], int4 weights
 * whose K is not a multiple of the group, and the LM head unless q->lm_head.
 * The LM head is a MatMul/Gemm whose output is a graph output, directly or
 * through at most two single-consumer Add/Reshape/Transpose/Squeeze/Unsqueeze/
 * Identity nodes.  changed counts distinct weights quantised.  Gather tables (--quantize-embeddings) are not supported yet. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

/* Scales tried per group: max|w| / lim times 1.00, 0.99, ... */
enum { SCALE_STEPS = 20 };

static bool in_keep(const char *name, const char *const *keep, int n_keep) {
  for (int i = 0; i < n_keep; i++)
    if (strcmp(keep[i], name) == 0) return true;
  return false;
}

/* The only live node reading value v, or NULL (none, several, or an output). */
static const TfxNode *sole_consumer(const TfxGraph *g, uint32_t v) {
  const TfxNode *found = NULL;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] == v) {
        if (found && found != n) return NULL;
        found = n;
      }
  }
  return found;
}

static bool is_lm_head(const TfxGraph *g, uint32_t out) {
  for (int step = 0; step < 3; step++) {
    if (g->values[out].is_output) return true;
    const TfxNode *c = sole_consumer(g, out);
    if (!c || c->n_outputs < 1) return false;
    if (c->op != TFX_OP_Add && c->op != TFX_OP_Reshape && c->op != TFX_OP_Transpose &&
        c->op != TFX_OP_Squeeze && c->op != TFX_OP_Unsqueeze && c->op != TFX_OP_Identity)
      return false;
    out = c->outputs[0];
  }
  return g->values[out].is_output;
}

static const char *derived(TfxGraph *g, const char *base, const char *suffix) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s%s", base, suffix);
  for (int i = 1; tfx_graph_find_value(g, buf) != TFX_NONE; i++)
    snprintf(buf, sizeof buf, "%s%s_%d", base, suffix, i);
  return tfx_graph_strdup(g, buf);
}

/* Quantise weight w (float32 2-D, [K, N] or, when trans, [N, K]); sets the new
 * values' ids. */
static void quantise(TfxGraph *g, uint32_t wv, bool trans, int bits, int64_t group, uint32_t *qv, uint32_t *sv) {
  const TfxTensor *w = g->values[wv].konst;
  int64_t K = trans ? w->dims[1] : w->dims[0], N = trans ? w->dims[0] : w->dims[1];
  const float *src = w->data;
  int64_t G = bits == 8 ? K : group, ng = K / G;
  int64_t qd[2] = {N, bits == 8 ? K : K / 2}, sd[2] = {N, ng};
  TfxTensor *q = tfx_graph_new_tensor(g, bits == 8 ? TFX_I8 : TFX_U8, 2, qd);
  TfxTensor *s = tfx_graph_new_tensor(g, TFX_F32, bits == 8 ? 1 : 2, sd);
  float *sc = s->data;
  int lim = bits == 8 ? 127 : 7;
  for (int64_t n = 0; n < N; n++)
    for (int64_t gi = 0; gi < ng; gi++) {
      double amax = 0;
      for (int64_t k = gi * G; k < (gi + 1) * G; k++) {
        double a = fabs((double)src[trans ? n * K + k : k * N + n]);
        if (a > amax) amax = a;
      }
      /* the scale from max|w|, or a smaller one (clipping the largest values)
       * when that lowers the squared error of the group */
      float scale = (float)(amax / lim);
      double best = INFINITY;
      for (int f = 0; f <= SCALE_STEPS && amax > 0; f++) {
        float cand = (float)(amax * (1.0 - 0.01 * f) / lim);
        double err = 0;
        for (int64_t k = gi * G; k < (gi + 1) * G; k++) {
          double x = src[trans ? n * K + k : k * N + n];
          long r = lround(x / (double)cand);
          if (r > lim) r = lim;
          if (r < -lim - (bits == 4)) r = -lim - (bits == 4);
          err += (x - (double)r * cand) * (x - (double)r * cand);
        }
        if (err < best) best = err, scale = cand;
      }
      sc[n * ng + gi] = scale;
      for (int64_t k = gi * G; k < (gi + 1) * G; k++) {
        double x = src[trans ? n * K + k : k * N + n];
        long r = scale > 0 ? lround(x / (double)scale) : 0;
        if (r > lim) r = lim;
        if (r < -lim - (bits == 4)) r = -lim - (bits == 4);
        if (bits == 8) {
          ((int8_t *)q->data)[n * K + k] = (int8_t)r;
        } else {
          uint8_t *b = (uint8_t *)q->data + n * (K / 2) + k / 2;
          *b = (uint8_t)(*b | ((unsigned)(r + 8) << ((k & 1) * 4)));
        }
      }
    }
  const char *base = g->values[wv].name;
  *qv = tfx_graph_add_value(g, derived(g, base, bits == 8 ? ".q8" : ".q4"));
  tfx_value_set_const(g, *qv, q);
  *sv = tfx_graph_add_value(g, derived(g, base, ".scale"));
  tfx_value_set_const(g, *sv, s);
}

static TfxAttr *q_attrs(TfxGraph *g, int bits, int64_t group) {
  TfxAttr *a = tfx_graph_alloc(g, 2 * sizeof *a);
  a[0].name = "bits", a[0].kind = TFX_ATTR_INT, a[0].i = bits;
  a[1].name = "group", a[1].kind = TFX_ATTR_INT, a[1].i = group;
  return a;
}

TfxStatus tfx_pass_quantize_weights(TfxGraph *g, const TfxQuantOptions *q, const char *const *keep, int n_keep,
                                    int *changed) {
  *changed = 0;
  if (!q->weight_bits) return TFX_OK;
  if (q->weight_bits != 8 && q->weight_bits != 4)
    return tfx_error(g->diag, "%s: --quantize-weights: %d bits is not supported (int8 or int4)", g->path,
                     q->weight_bits);
  int64_t group = q->group ? q->group : 32;
  if (q->weight_bits == 4 && group != 32 && group != 64 && group != 128)
    return tfx_error(g->diag, "%s: --group must be 32, 64 or 128, got %lld", g->path, (long long)group);
  if (q->embeddings)
    for (uint32_t i = 0; i < g->n_nodes; i++)
      if (!g->nodes[i].dead && g->nodes[i].op == TFX_OP_Gather && tfx_node_const_in(g, &g->nodes[i], 0))
        return tfx_error(g->diag, "%s: --quantize-embeddings is not supported yet (the embedding table '%s' "
                         "would need a dequantising Gather); leave it out",
                         g->path, g->values[g->nodes[i].inputs[0]].name);
  /* one quantised copy per weight, shared by the nodes reading it (twice: transposed or not) */
  uint32_t n_vals = g->n_values;
  uint32_t *qcache = malloc(sizeof(uint32_t) * 4 * (n_vals + 1));
  if (!qcache) abort();
  memset(qcache, 0xff, sizeof(uint32_t) * 4 * (n_vals + 1));
  uint32_t n_nodes = g->n_nodes;
  for (uint32_t i = 0; i < n_nodes; i++) {
    TfxNode *n = &g->nodes[i];
    if (n->dead || (n->op != TFX_OP_MatMul && n->op != TFX_OP_Gemm) || n->n_outputs < 1) continue;
    const TfxValue *a = tfx_node_in(g, n, 0), *b = tfx_node_in(g, n, 1);
    if (!a || !b || !b->konst || b->dtype != TFX_F32 || a->dtype != TFX_F32 || b->rank != 2 || a->rank < 1) continue;
    bool trans = false;
    uint32_t bias = TFX_NONE;
    if (n->op == TFX_OP_Gemm) {
      if (tfx_attr_int(n, "transA", 0) || tfx_attr_float(n, "alpha", 1.0f) != 1.0f || a->rank != 2) continue;
      trans = tfx_attr_int(n, "transB", 0) != 0;
      const TfxValue *c = tfx_node_in(g, n, 2);
      if (c) {
        int64_t N = trans ? b->dims[0] : b->dims[1];
        if (tfx_attr_float(n, "beta", 1.0f) != 1.0f || !c->konst || c->dtype != TFX_F32 ||
            c->rank < 1 || c->rank > 2 || c->dims[c->rank - 1] != N || tfx_numel(c->rank, c->dims) != N)
          continue;
        bias = n->inputs[2];
      }
    }
    int64_t K = trans ? b->dims[1] : b->dims[0];
    if (q->weight_bits == 4 && K % group) continue;
    uint32_t wv = n->inputs[1];
    if (in_keep(b->name, keep, n_keep)) continue;
    if (!q->lm_head && is_lm_head(g, n->outputs[0])) continue;
    uint32_t *slot = &qcache[4 * wv + 2 * trans];
    if (slot[0] == TFX_NONE) {
      quantise(g, wv, trans, q->weight_bits, group, &slot[0], &slot[1]);
      (*changed)++;
    }
    uint32_t ins[4] = {n->inputs[0], slot[0], slot[1], bias};
    free(n->inputs);
    n->n_inputs = bias != TFX_NONE ? 4 : 3;
    n->inputs = malloc(sizeof(uint32_t) * 5);
    if (!n->inputs) abort();
    memcpy(n->inputs, ins, sizeof ins);
    n->op = TFX_OP_WeightQMatMul;
    n->op_type = "WeightQMatMul";
    n->attrs = q_attrs(g, q->weight_bits, q->weight_bits == 4 ? group : 0);
    n->n_attrs = q->weight_bits == 4 ? 2 : 1;
    if (tfx_ops[TFX_OP_WeightQMatMul].infer(g, n)) {
      free(qcache);
      return TFX_ERR;
    }
  }
  free(qcache);
  return TFX_OK;
}
