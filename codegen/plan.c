/* plan.c — the memory plan: liveness over the node order, then first-fit
 * placement of each intermediate into one workspace.  A value is live from
 * the node that writes it to the last node that reads it; a node's outputs
 * never share bytes with its inputs, except a view's: the output of Reshape,
 * Flatten, Squeeze or Unsqueeze is its input's bytes (row-major data does not
 * move), which then stay live until the view's last reader too, and the C
 * backend copies nothing for it (tfx_c_same_bytes). */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"

typedef struct {
  int64_t off, size;
  uint32_t value;
} Block;

static bool is_view(TfxOp op) {
  return op == TFX_OP_Reshape || op == TFX_OP_Flatten || op == TFX_OP_Squeeze || op == TFX_OP_Unsqueeze;
}

static int64_t planned_bytes(const TfxGraph *g, const int64_t *bytes, uint32_t v) {
  const TfxValue *val = &g->values[v];
  return bytes ? bytes[v] : tfx_numel(val->rank, val->dims) * (int64_t)tfx_dtype_bytes(val->dtype);
}

static int cmp_block(const void *a, const void *b) {
  const Block *x = a, *y = b;
  return x->off < y->off ? -1 : x->off > y->off;
}

TfxStatus tfx_plan_memory(TfxGraph *g, const int64_t *bytes, TfxMemPlan *p) {
  uint32_t nv = g->n_values;
  p->offset = malloc(sizeof(int64_t) * (nv + 1));
  uint32_t *last = malloc(sizeof(uint32_t) * (nv + 1));
  bool *external = calloc(nv + 1, sizeof(bool));
  Block *live = malloc(sizeof(Block) * (nv + 1));
  uint32_t *root = malloc(sizeof(uint32_t) * (nv + 1)); /* the value whose bytes v is */
  if (!p->offset || !last || !external || !live || !root) abort();
  p->total = 0;
  for (uint32_t v = 0; v < nv; v++) {
    p->offset[v] = -1;
    last[v] = 0;
    root[v] = v;
  }
  /* the first occurrence of a graph output is written straight to the caller */
  for (uint32_t k = 0; k < g->n_outputs; k++) external[g->outputs[k]] = true;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] != TFX_NONE) last[n->inputs[k]] = i;
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k] != TFX_NONE && last[n->outputs[k]] < i) last[n->outputs[k]] = i;
  }
  /* views: the output is the bytes of the input's root, when both are
   * intermediates in the workspace (a node wrote the input; neither is a
   * constant or a graph output) of the same size (a view keeps the dtype);
   * the root then lives until the last reader of any of its views */
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead || !is_view(n->op) || n->n_inputs < 1 || n->n_outputs != 1) continue;
    uint32_t x = n->inputs[0], y = n->outputs[0];
    if (x == TFX_NONE || y == TFX_NONE) continue;
    uint32_t r = root[x];
    const TfxValue *rv = &g->values[r], *yv = &g->values[y];
    if (external[r] || external[y] || rv->konst || yv->konst || rv->producer == TFX_NONE ||
        planned_bytes(g, bytes, y) != planned_bytes(g, bytes, r))
      continue;
    root[y] = r;
  }
  for (uint32_t v = 0; v < nv; v++)
    if (root[v] != v && last[v] > last[root[v]]) last[root[v]] = last[v];
  uint32_t nlive = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_outputs; k++) {
      uint32_t v = n->outputs[k];
      if (v == TFX_NONE || external[v] || g->values[v].konst || p->offset[v] >= 0) continue;
      if (root[v] != v && p->offset[root[v]] >= 0) {
        p->offset[v] = p->offset[root[v]];
        continue;
      }
      int64_t size = planned_bytes(g, bytes, v);
      size = (size + TFX_PLAN_ALIGN - 1) / TFX_PLAN_ALIGN * TFX_PLAN_ALIGN;
      if (!size) size = TFX_PLAN_ALIGN;
      qsort(live, nlive, sizeof *live, cmp_block);
      int64_t off = 0;
      for (uint32_t b = 0; b < nlive; b++) {
        if (live[b].off - off >= size) break;
        if (live[b].off + live[b].size > off) off = live[b].off + live[b].size;
      }
      p->offset[v] = off;
      live[nlive++] = (Block){off, size, v};
      if (off + size > p->total) p->total = off + size;
    }
    /* release what this node was the last to touch */
    uint32_t w = 0;
    for (uint32_t b = 0; b < nlive; b++)
      if (last[live[b].value] > i) live[w++] = live[b];
    nlive = w;
  }
  free(last);
  free(external);
  free(live);
  free(root);
  return TFX_OK;
}

void tfx_plan_free(TfxMemPlan *p) {
  free(p->offset);
  p->offset = NULL;
}
