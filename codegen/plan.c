/* plan.c — the memory plan: liveness over the node order, then first-fit
 * placement of each intermediate into one workspace.  A value is live from
 * the node that writes it to the last node that reads it; a node's outputs
 * never share bytes with its inputs. */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"

typedef struct {
  int64_t off, size;
  uint32_t value;
} Block;

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
  if (!p->offset || !last || !external || !live) abort();
  p->total = 0;
  for (uint32_t v = 0; v < nv; v++) {
    p->offset[v] = -1;
    last[v] = 0;
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
  uint32_t nlive = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_outputs; k++) {
      uint32_t v = n->outputs[k];
      if (v == TFX_NONE || external[v] || g->values[v].konst || p->offset[v] >= 0) continue;
      const TfxValue *val = &g->values[v];
      int64_t size = bytes ? bytes[v] : tfx_numel(val->rank, val->dims) * (int64_t)tfx_dtype_bytes(val->dtype);
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
  return TFX_OK;
}

void tfx_plan_free(TfxMemPlan *p) {
  free(p->offset);
  p->offset = NULL;
}
