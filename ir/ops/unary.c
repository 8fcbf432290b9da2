/* unary.c — placeholder: every op of the unary family reports itself unsupported
 * until the family is implemented. */
#include "codegen/codegen.h"
#include "ir/ir.h"

TfxStatus tfx_unary_infer(TfxGraph *g, TfxNode *n) {
  return tfx_node_error(g, n, "operator not supported yet");
}
TfxStatus tfx_unary_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  (void)in, (void)out;
  return tfx_node_error(g, (TfxNode *)n, "operator not supported yet");
}
TfxStatus tfx_unary_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  (void)e;
  return tfx_node_error(g, (TfxNode *)n, "operator not supported yet");
}
