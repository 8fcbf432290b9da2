/* binary.c — placeholder: every op of the binary family reports itself unsupported
 * until the family is implemented. */
#include "codegen/codegen.h"
#include "ir/ir.h"

TfxStatus tfx_binary_infer(TfxGraph *g, TfxNode *n) {
  return tfx_node_error(g, n, "operator not supported yet");
}
TfxStatus tfx_binary_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  (void)in, (void)out;
  return tfx_node_error(g, (TfxNode *)n, "operator not supported yet");
}
TfxStatus tfx_binary_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  (void)e;
  return tfx_node_error(g, (TfxNode *)n, "operator not supported yet");
}
