/* quant.c — WeightQMatMul (being written). */
#include "codegen/codegen.h"
#include "ir/ir.h"

TfxStatus tfx_quant_infer(TfxGraph *g, TfxNode *n) { return tfx_node_error(g, n, "WeightQMatMul is not implemented yet"); }
TfxStatus tfx_quant_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  (void)in;
  (void)out;
  return tfx_node_error(g, (TfxNode *)n, "WeightQMatMul is not implemented yet");
}
TfxStatus tfx_quant_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  (void)e;
  return tfx_node_error(g, (TfxNode *)n, "WeightQMatMul is not implemented yet");
}
