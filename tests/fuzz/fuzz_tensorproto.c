/* fuzz_tensorproto — tfx_tensorproto_read (the .pb reader of tfxc check). */
#include "frontend/frontend.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = tfx_fuzz_write("tensor.pb", data, size);
  TfxDiag d;
  tfx_diag_init(&d);
  TfxTensor t;
  memset(&t, 0, sizeof t);
  char *name = NULL;
  if (tfx_tensorproto_read(path, &t, &name, &d) == TFX_OK) {
    size_t bytes = tfx_tensor_bytes(&t);
    volatile uint8_t sink = 0;
    if (bytes) sink ^= ((const uint8_t *)t.data)[0] ^ ((const uint8_t *)t.data)[bytes - 1];
    (void)sink;
    if (!name) abort(); /* read promises a name ("" at least) */
  }
#ifdef TFX_FUZZ_REPLAY
  if (getenv("TFX_FUZZ_VERBOSE") && d.text) fprintf(stderr, "%s\n", d.text);
#endif
  tfx_tensor_free_data(&t);
  free(name);
  tfx_diag_deinit(&d);
  return 0;
}
