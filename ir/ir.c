/* ir.c — copies of a graph that share its read-only parts.  Compiling one
 * model at several sizes (--max) runs the passes on copies of one imported
 * graph: names, attributes and constant tensors (the weights) stay with the
 * original, which must outlive every copy; the arrays passes change (values,
 * nodes and their operand lists, inputs, outputs, symbols) are the copy's. */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

/* n elements of p in a zeroed array of cap (>= n + 1) elements. */
static void *dup_array(const void *p, size_t n, size_t cap, size_t elem) {
  void *q = calloc(cap > n ? cap : n + 1, elem);
  if (!q) abort();
  if (n) memcpy(q, p, n * elem);
  return q;
}

TfxGraph *tfx_graph_clone(const TfxGraph *g) {
  TfxGraph *c = tfx_graph_new(g->diag, g->path);
  if (!c) abort();
  c->name = g->name;
  c->opset = g->opset;
  c->keep_masks = g->keep_masks;
  c->values = dup_array(g->values, g->n_values, g->cap_values, sizeof *g->values);
  c->n_values = g->n_values;
  c->cap_values = g->cap_values;
  c->nodes = dup_array(g->nodes, g->n_nodes, g->cap_nodes, sizeof *g->nodes);
  c->n_nodes = g->n_nodes;
  c->cap_nodes = g->cap_nodes;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    c->nodes[i].inputs = dup_array(n->inputs, (size_t)n->n_inputs, 0, sizeof *n->inputs);
    c->nodes[i].outputs = dup_array(n->outputs, (size_t)n->n_outputs, 0, sizeof *n->outputs);
  }
  c->inputs = dup_array(g->inputs, g->n_inputs, 0, sizeof *g->inputs);
  c->n_inputs = g->n_inputs;
  c->outputs = dup_array(g->outputs, g->n_outputs, 0, sizeof *g->outputs);
  c->n_outputs = g->n_outputs;
  c->syms = dup_array(g->syms, g->n_syms, g->cap_syms, sizeof *g->syms);
  c->n_syms = g->n_syms;
  c->cap_syms = g->cap_syms;
  c->name_index = dup_array(g->name_index, g->name_index_cap, g->name_index_cap, sizeof *g->name_index);
  c->name_index_cap = g->name_index_cap;
  return c;
}
