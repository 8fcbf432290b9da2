/* fold.c — shape inference and constant folding in one topological sweep.
 * Each node's infer sets its outputs' dtypes and dims; a node whose inputs
 * are all constant (or a Shape/Size of known dims) is evaluated by the
 * reference evaluator and its outputs become constants, so the
 * Shape->Gather->Concat->Reshape chains exporters emit disappear.  Errors are
 * collected for every node that can be reached, not only the first. */
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

enum { FOLD_MAX_BYTES = 64 << 20 }; /* larger results stay computed at run time */

static bool shape_only_op(TfxOp op) { return op == TFX_OP_Shape || op == TFX_OP_Size; }

static TfxStatus fold_node(TfxGraph *g, uint32_t id, int *changed) {
  TfxNode *n = &g->nodes[id];
  const TfxTensor *in[64];
  TfxTensor shape_only[64];
  if (n->n_inputs > 64 || n->n_outputs > 16) return TFX_OK;
  int64_t bytes = 0; /* each output is below TFX_MAX_TENSOR_BYTES: no overflow */
  for (int k = 0; k < n->n_outputs; k++) {
    TfxValue *v = tfx_node_out(g, n, k);
    if (v) bytes += tfx_numel(v->rank, v->dims) * (int64_t)tfx_dtype_bytes(v->dtype);
  }
  if (bytes > FOLD_MAX_BYTES) return TFX_OK;
  for (int k = 0; k < n->n_inputs; k++) {
    TfxValue *v = tfx_node_in(g, n, k);
    in[k] = NULL;
    if (!v) continue;
    if (v->konst) {
      in[k] = v->konst;
    } else if (shape_only_op(n->op)) {
      memset(&shape_only[k], 0, sizeof shape_only[k]);
      shape_only[k].dtype = v->dtype;
      shape_only[k].rank = v->rank;
      memcpy(shape_only[k].dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
      in[k] = &shape_only[k];
    } else {
      return TFX_OK; /* not foldable */
    }
  }
  TfxTensor out[16];
  TfxStatus st = tfx_eval_node(g, n, in, out);
  if (st) return st;
  for (int k = 0; k < n->n_outputs; k++) {
    if (n->outputs[k] == TFX_NONE) continue;
    TfxTensor *t = tfx_graph_new_tensor(g, out[k].dtype, out[k].rank, out[k].dims);
    size_t nb = tfx_tensor_bytes(t);
    if (nb) memcpy(t->data, out[k].data, nb);
    tfx_tensor_free_data(&out[k]);
    tfx_value_set_const(g, n->outputs[k], t);
  }
  n->dead = true;
  (*changed)++;
  return TFX_OK;
}

TfxStatus tfx_pass_fold(TfxGraph *g, int *changed) {
  TfxStatus st = TFX_OK;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    bool ready = true;
    for (int k = 0; k < n->n_inputs; k++) {
      TfxValue *v = tfx_node_in(g, n, k);
      if (v && v->rank < 0) ready = false; /* an earlier error left it unknown */
    }
    if (!ready) {
      st = TFX_ERR;
      continue;
    }
    for (int k = 0; k < n->n_outputs; k++) {
      TfxValue *v = tfx_node_out(g, n, k);
      if (v) v->rank = -1;
    }
    if (tfx_ops[n->op].infer(g, n)) {
      st = TFX_ERR;
      continue;
    }
    bool complete = true;
    for (int k = 0; k < n->n_outputs; k++) {
      TfxValue *v = tfx_node_out(g, n, k);
      if (!v) continue;
      bool ok = v->rank >= 0 && v->dtype != TFX_UNDEF;
      for (int d = 0; ok && d < v->rank; d++) ok = v->dims[d] >= 0;
      if (ok) {
        int64_t numel = tfx_numel(v->rank, v->dims), es = (int64_t)tfx_dtype_bytes(v->dtype);
        if (es && numel > TFX_MAX_TENSOR_BYTES / es) {
          st = tfx_node_error(g, n, "output '%s' would be larger than 1 TiB: refused", v->name);
          v->rank = -1;
          complete = false;
          continue;
        }
      }
      if (!ok) {
        st = tfx_node_error(g, n, "shape inference left output '%s' without a complete shape", v->name);
        v->rank = -1;
        complete = false;
      }
    }
    if (!complete) {
      st = TFX_ERR;
      continue;
    }
    if (fold_node(g, i, changed)) st = TFX_ERR;
  }
  return st;
}

TfxStatus tfx_pass_dce(TfxGraph *g, int *changed) {
  bool *used = calloc(g->n_values + 1, sizeof *used);
  if (!used) return tfx_error(g->diag, "out of memory");
  for (uint32_t k = 0; k < g->n_outputs; k++) used[g->outputs[k]] = true;
  for (uint32_t i = g->n_nodes; i-- > 0;) {
    TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    bool live = false;
    for (int k = 0; k < n->n_outputs; k++) {
      uint32_t o = n->outputs[k];
      if (o != TFX_NONE && used[o] && !g->values[o].konst) live = true;
    }
    if (!live) {
      n->dead = true;
      (*changed)++;
      continue;
    }
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] != TFX_NONE) used[n->inputs[k]] = true;
  }
  free(used);
  return TFX_OK;
}

/* Identity, or a Cast to the dtype it reads. */
static bool identity(const TfxGraph *g, const TfxNode *n) {
  if (n->dead || n->n_inputs != 1 || n->n_outputs != 1 || n->inputs[0] == TFX_NONE) return false;
  if (n->op == TFX_OP_Identity) return true;
  return n->op == TFX_OP_Cast && g->values[n->inputs[0]].dtype == g->values[n->outputs[0]].dtype;
}

static bool is_output(const TfxGraph *g, uint32_t v) {
  for (uint32_t k = 0; k < g->n_outputs; k++)
    if (g->outputs[k] == v) return true;
  return false;
}

static void replace_uses(TfxGraph *g, uint32_t from, uint32_t to) {
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] == from) n->inputs[k] = to;
  }
}

TfxStatus tfx_pass_identity(TfxGraph *g, int *changed) {
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    TfxNode *n = &g->nodes[i];
    if (!identity(g, n)) continue;
    const uint32_t x = n->inputs[0], y = n->outputs[0];
    const uint32_t p = g->values[x].producer;
    if (!is_output(g, y)) {
      n->dead = true; /* readers of y read x */
      replace_uses(g, y, x);
    } else if (p != TFX_NONE && !g->values[x].konst && !is_output(g, x)) {
      /* y is the caller's buffer: x's producer writes it, x's readers read it */
      TfxNode *pn = &g->nodes[p];
      int k = 0;
      while (k < pn->n_outputs && pn->outputs[k] != x) k++;
      if (k == pn->n_outputs) continue;
      n->dead = true;
      pn->outputs[k] = y;
      g->values[y].producer = p;
      g->values[x].producer = TFX_NONE;
      replace_uses(g, x, y);
    } else {
      continue;
    }
    (*changed)++;
  }
  return TFX_OK;
}
