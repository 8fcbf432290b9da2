/* bind.c — give the graph inputs' symbolic dims their values (--dim SYM=V).
 * After binding every input dim is a concrete integer; the symbol id stays on
 * the dim so later passes and comments can still name it. */
#include <string.h>

#include "passes/passes.h"

TfxStatus tfx_bind_dims(TfxGraph *g, const TfxDimBinding *b, int n) {
  TfxStatus st = TFX_OK;
  for (int i = 0; i < n; i++) {
    uint32_t s = 0;
    for (; s < g->n_syms; s++)
      if (strcmp(g->syms[s].name, b[i].name) == 0) break;
    if (s == g->n_syms) {
      st = tfx_error(g->diag, "%s: --dim %s=%lld: the model has no dimension named '%s'", g->path,
                     b[i].name, (long long)b[i].value, b[i].name);
      continue;
    }
    if (b[i].value < 0)
      st = tfx_error(g->diag, "%s: --dim %s=%lld: a dimension must be >= 0", g->path, b[i].name,
                     (long long)b[i].value);
    else if (g->syms[s].max >= 0 && b[i].value > g->syms[s].max)
      st = tfx_error(g->diag, "%s: --dim %s=%lld: the model allows at most %s=%lld", g->path, b[i].name,
                     (long long)b[i].value, b[i].name, (long long)g->syms[s].max);
    g->syms[s].value = b[i].value;
  }
  for (uint32_t k = 0; k < g->n_inputs; k++) {
    TfxValue *v = &g->values[g->inputs[k]];
    if (v->rank < 0) {
      st = tfx_error(g->diag, "%s: input '%s' has no declared shape", g->path, v->name);
      continue;
    }
    for (int d = 0; d < v->rank; d++) {
      if (v->dim_sym[d]) {
        const TfxSymbol *sym = &g->syms[v->dim_sym[d] - 1];
        if (sym->value < 0)
          st = tfx_error(g->diag, "%s: input '%s' dim %d is the symbol '%s': give it a value with --dim %s=N",
                         g->path, v->name, d, sym->name, sym->name);
        else
          v->dims[d] = sym->value;
      } else if (v->dims[d] < 0) {
        st = tfx_error(g->diag, "%s: input '%s' dim %d has no size: give the input a shape in the model",
                       g->path, v->name, d);
      }
    }
    int64_t es = (int64_t)tfx_dtype_bytes(v->dtype), numel = tfx_numel(v->rank, v->dims);
    if (!st && es && numel > TFX_MAX_TENSOR_BYTES / es)
      st = tfx_error(g->diag, "%s: input '%s' would be larger than 1 TiB: refused", g->path, v->name);
  }
  return st;
}
