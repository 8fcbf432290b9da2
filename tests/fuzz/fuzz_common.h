/* fuzz_common.h — helpers shared by the libFuzzer targets: the importers take
 * paths, so each input is written to a file in a per-process folder under
 * /dev/shm (or $TMPDIR) that lives as long as the process. */
#ifndef TFX_FUZZ_COMMON_H
#define TFX_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tfx_fuzz_dir_buf[256];
static char tfx_fuzz_path_buf[512];

static void tfx_fuzz_cleanup_dir(void) {
  /* Remove the files our targets write, then the folder. */
  static const char *names[] = {"model.onnx", "model.safetensors", "config.json", "tensor.pb",
                                "out.pb"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(tfx_fuzz_path_buf, sizeof tfx_fuzz_path_buf, "%s/%s", tfx_fuzz_dir_buf, names[i]);
    unlink(tfx_fuzz_path_buf);
  }
  rmdir(tfx_fuzz_dir_buf);
}

/* The process's scratch folder (created on first use). */
static const char *tfx_fuzz_dir(void) {
  if (!tfx_fuzz_dir_buf[0]) {
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR");
    snprintf(tfx_fuzz_dir_buf, sizeof tfx_fuzz_dir_buf, "%s/tfxfuzz-XXXXXX", base ? base : "/tmp");
    if (!mkdtemp(tfx_fuzz_dir_buf)) {
      perror("tfx fuzz: mkdtemp");
      abort();
    }
    atexit(tfx_fuzz_cleanup_dir);
  }
  return tfx_fuzz_dir_buf;
}

/* Write bytes to <dir>/name (replacing it); returns the path (static buffer). */
static const char *tfx_fuzz_write(const char *name, const uint8_t *data, size_t size) {
  snprintf(tfx_fuzz_path_buf, sizeof tfx_fuzz_path_buf, "%s/%s", tfx_fuzz_dir(), name);
  unlink(tfx_fuzz_path_buf); /* a fresh inode: never rewrite a file a mapping may still view */
  FILE *f = fopen(tfx_fuzz_path_buf, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
    perror("tfx fuzz: writing the input");
    abort();
  }
  return tfx_fuzz_path_buf;
}

#endif
