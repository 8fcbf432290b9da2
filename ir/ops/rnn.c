/* rnn.c — placeholder until the family is written. */
#include "codegen/codegen.h"
#include "ir/ir.h"

TfxStatus tfx_rnn_infer(TfxGraph *g, TfxNode *n) { return tfx_node_error(g, n, "not implemented yet"); }
TfxStatus tfx_rnn_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  (void)in, (void)out;
  return tfx_node_error(g, n, "not implemented yet");
}
TfxStatus tfx_rnn_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  (void)e;
  return tfx_node_error(g, n, "not implemented yet");
}
