/* kv_cache.c — the KV-cache pass (being written). */
#include "passes/passes.h"

TfxStatus tfx_pass_kv_cache(TfxGraph *g, const TfxKvOptions *o, TfxKvInfo *info) {
  (void)g;
  (void)o;
  info->ok = false;
  snprintf(info->why, sizeof info->why, "the KV-cache pass is not implemented yet");
  return TFX_OK;
}
