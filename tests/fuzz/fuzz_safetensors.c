/* fuzz_safetensors — tfx_checkpoint_open on one .safetensors file, then a
 * walk over every tensor it lists. */
#include "frontend/frontend.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = tfx_fuzz_write("model.safetensors", data, size);
  TfxDiag d;
  tfx_diag_init(&d);
  TfxCheckpoint *c = tfx_checkpoint_open(path, &d);
  if (c) {
    volatile uint64_t sink = 0;
    int n = tfx_checkpoint_count(c);
    for (int i = 0; i < n; i++) {
      const char *name = tfx_checkpoint_name(c, i);
      const TfxTensor *t = tfx_checkpoint_get(c, name);
      if (!t || !tfx_checkpoint_file_of(c, name)) abort(); /* a listed name must be found */
      size_t bytes = tfx_tensor_bytes(t);
      if (bytes) sink += ((const uint8_t *)t->data)[0] + ((const uint8_t *)t->data)[bytes - 1];
    }
    (void)sink;
    tfx_checkpoint_close(c);
  }
#ifdef TFX_FUZZ_REPLAY
  if (getenv("TFX_FUZZ_VERBOSE") && d.text) fprintf(stderr, "%s\n", d.text);
#endif
  tfx_diag_deinit(&d);
  return 0;
}
