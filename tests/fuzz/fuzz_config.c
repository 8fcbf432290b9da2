/* fuzz_config — tfx_hf_import on a folder holding the fuzzed config.json and
 * a small valid checkpoint (tests/models/hf/bert_tiny/model.safetensors). */
#include "frontend/frontend.h"
#include "tests/fuzz/fuzz_common.h"

#ifndef TFX_SOURCE_DIR
#error "TFX_SOURCE_DIR must name the source tree"
#endif

static void copy_weights(void) {
  static int done;
  if (done) return;
  done = 1;
  const char *src = TFX_SOURCE_DIR "/tests/models/hf/bert_tiny/model.safetensors";
  FILE *f = fopen(src, "rb");
  if (!f) {
    perror(src);
    abort();
  }
  size_t cap = 1 << 16, n = 0, r;
  uint8_t *buf = malloc(cap);
  while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) buf = realloc(buf, cap *= 2);
  }
  fclose(f);
  if (!buf) abort();
  tfx_fuzz_write("model.safetensors", buf, n);
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  copy_weights();
  tfx_fuzz_write("config.json", data, size);
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_hf_import(tfx_fuzz_dir(), &d);
#ifdef TFX_FUZZ_REPLAY
  if (getenv("TFX_FUZZ_VERBOSE") && d.text) fprintf(stderr, "%s\n", d.text);
#endif
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
  return 0;
}
