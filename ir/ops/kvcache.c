/* kvcache.c — KvAttention: causal attention whose keys and values live in the
 * KV cache of the generated code's context (see passes/kv_cache.c). */
#include "codegen/codegen.h"
#include "ir/ir.h"

TfxStatus tfx_kvcache_infer(TfxGraph *g, TfxNode *n) {
  return tfx_node_error(g, n, "KvAttention is not implemented yet");
}

TfxStatus tfx_kvcache_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  (void)in;
  (void)out;
  return tfx_node_error(g, (TfxNode *)n, "KvAttention is not implemented yet");
}

TfxStatus tfx_kvcache_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  (void)e;
  return tfx_node_error(g, (TfxNode *)n, "KvAttention is not implemented yet");
}
