/* quantize.c — weight quantisation (being written). */
#include "passes/passes.h"

TfxStatus tfx_pass_quantize_weights(TfxGraph *g, const TfxQuantOptions *q, const char *const *keep, int n_keep,
                                    int *changed) {
  (void)q;
  (void)keep;
  (void)n_keep;
  (void)changed;
  return tfx_error(g->diag, "%s: --quantize-weights is not implemented yet", g->path);
}
