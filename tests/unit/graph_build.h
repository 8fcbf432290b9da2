/* graph_build.h — building small graphs by hand in unit tests: graph inputs,
 * outputs and single-output nodes.  Tests own their graphs and free them. */
#ifndef TFX_TEST_GRAPH_BUILD_H
#define TFX_TEST_GRAPH_BUILD_H

#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

static inline uint32_t input(TfxGraph *g, const char *name, TfxDtype dt, int rank, const int64_t *dims) {
  uint32_t v = tfx_graph_add_value(g, name);
  g->values[v].kind = TFX_VAL_INPUT;
  g->values[v].dtype = dt;
  g->values[v].rank = rank;
  memcpy(g->values[v].dims, dims, sizeof(int64_t) * (size_t)rank);
  g->inputs = realloc(g->inputs, sizeof(uint32_t) * (g->n_inputs + 1));
  g->inputs[g->n_inputs++] = v;
  return v;
}

static inline void output(TfxGraph *g, uint32_t v) {
  g->outputs = realloc(g->outputs, sizeof(uint32_t) * (g->n_outputs + 1));
  g->outputs[g->n_outputs++] = v;
  g->values[v].is_output = true;
}

static inline uint32_t node(TfxGraph *g, TfxOp op, const char *name, int nin, const uint32_t *in,
                            const char *out) {
  uint32_t o = tfx_graph_add_value(g, out);
  tfx_graph_add_node(g, op, NULL, name, in, nin, &o, 1);
  return o;
}

#endif
