/* quant_report.c — the accuracy report of quantisation (being written). */
#include <stdlib.h>

#include "tools/compile.h"

void tfx_quant_keep_free(char **keep, int n_keep) {
  for (int i = 0; i < n_keep; i++) free(keep[i]);
  free(keep);
}

TfxStatus tfx_quant_report(const TfxCompileRequest *r, TfxDiag *d, char ***keep, int *n_keep) {
  (void)r;
  *keep = NULL;
  *n_keep = 0;
  return tfx_error(d, "the quantisation report is not implemented yet");
}
