/* eval.c — the reference evaluator: runs nodes through each op's plain-loop
 * eval.  It is the oracle backends are tested against and the engine of
 * constant folding; it favours obviousness over speed. */
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

/* The largest tensor the reference evaluator allocates: a bound on absurd
 * shapes (ConstantOfShape([2^40, 2^40])), far above any real intermediate. */
#define TFX_EVAL_MAX_BYTES ((size_t)1 << 34)

TfxStatus tfx_eval_node(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  for (int k = 0; k < n->n_outputs; k++) {
    memset(&out[k], 0, sizeof out[k]);
    const TfxValue *v = tfx_node_out(g, n, k);
    if (!v) continue;
    if (v->rank < 0) return tfx_node_error(g, n, "output %d has no inferred shape", k);
    out[k].dtype = v->dtype;
    out[k].rank = v->rank;
    memcpy(out[k].dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    size_t bytes = tfx_tensor_bytes(&out[k]);
    TfxStatus st = TFX_OK;
    if (bytes > TFX_EVAL_MAX_BYTES)
      st = tfx_node_error(g, n, "output %d would hold %lld elements of %s: too large to evaluate", k,
                          (long long)tfx_tensor_numel(&out[k]), tfx_dtype_name(out[k].dtype));
    else if (!(out[k].data = calloc(1, bytes ? bytes : 1)))
      st = tfx_node_error(g, n, "out of memory for output %d", k);
    if (st) {
      for (int j = 0; j < k; j++) tfx_tensor_free_data(&out[j]);
      return st;
    }
  }
  TfxStatus st = tfx_ops[n->op].eval(g, n, in, out);
  if (st)
    for (int k = 0; k < n->n_outputs; k++) tfx_tensor_free_data(&out[k]);
  return st;
}

TfxStatus tfx_eval_graph(TfxGraph *g, const TfxTensor *inputs, TfxTensor *outputs) {
  TfxTensor **vals = calloc(g->n_values + 1, sizeof *vals);
  TfxTensor *owned = calloc(g->n_values + 1, sizeof *owned);
  if (!vals || !owned) abort();
  TfxStatus st = TFX_OK;
  for (uint32_t v = 0; v < g->n_values; v++)
    if (g->values[v].konst) vals[v] = g->values[v].konst;
  for (uint32_t k = 0; k < g->n_inputs; k++) vals[g->inputs[k]] = (TfxTensor *)&inputs[k];
  for (uint32_t i = 0; i < g->n_nodes && !st; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    const TfxTensor *in[64];
    TfxTensor out[16];
    if (n->n_inputs > 64 || n->n_outputs > 16) {
      st = tfx_node_error(g, n, "too many inputs or outputs for the evaluator");
      break;
    }
    for (int k = 0; k < n->n_inputs; k++) {
      in[k] = n->inputs[k] == TFX_NONE ? NULL : vals[n->inputs[k]];
      if (n->inputs[k] != TFX_NONE && !in[k]) {
        st = tfx_node_error(g, n, "input '%s' has no value", g->values[n->inputs[k]].name);
        break;
      }
    }
    if (st || (st = tfx_eval_node(g, n, in, out))) break;
    for (int k = 0; k < n->n_outputs; k++) {
      uint32_t o = n->outputs[k];
      if (o == TFX_NONE) {
        tfx_tensor_free_data(&out[k]);
        continue;
      }
      owned[o] = out[k];
      vals[o] = &owned[o];
    }
  }
  for (uint32_t k = 0; k < g->n_outputs && !st; k++) {
    const TfxTensor *t = vals[g->outputs[k]];
    if (!t) {
      st = tfx_error(g->diag, "%s: output '%s' was not computed", g->path, g->values[g->outputs[k]].name);
      break;
    }
    outputs[k] = *t;
    size_t bytes = tfx_tensor_bytes(t);
    outputs[k].data = malloc(bytes ? bytes : 1);
    if (!outputs[k].data) abort();
    if (bytes) memcpy(outputs[k].data, t->data, bytes);
  }
  for (uint32_t v = 0; v < g->n_values; v++) free(owned[v].data);
  free(owned);
  free(vals);
  return st;
}
