/* import.c — one entry for every model format: a .onnx file goes to the ONNX
 * frontend; a checkpoint folder with config.json, a .safetensors file (or a
 * model.safetensors.index.json) with config.json beside it, or that
 * config.json itself, goes to the Hugging Face builders.  Anything else is
 * refused with the reason. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontend/frontend.h"

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Whether the folder of path (or path itself when a folder) has config.json. */
static bool has_config(const char *path, bool is_dir) {
  const char *slash = strrchr(path, '/');
  size_t dl = is_dir ? strlen(path) : slash ? (size_t)(slash - path) : 0;
  char *cfg = malloc(dl + sizeof "./config.json");
  if (!cfg)
    abort();
  if (dl)
    snprintf(cfg, dl + sizeof "./config.json", "%.*s/config.json", (int)dl, path);
  else
    snprintf(cfg, sizeof "./config.json", "%s", slash ? "/config.json" : "config.json");
  struct stat st;
  bool ok = stat(cfg, &st) == 0 && S_ISREG(st.st_mode);
  free(cfg);
  return ok;
}

TfxGraph *tfx_import(const char *path, TfxDiag *d) {
  struct stat st;
  if (stat(path, &st) != 0) {
    tfx_error(d, "%s: no such file or folder", path);
    return NULL;
  }
  bool is_dir = S_ISDIR(st.st_mode);
  if (!is_dir && ends_with(path, ".onnx"))
    return tfx_onnx_import(path, d);
  bool checkpoint_file = ends_with(path, ".safetensors") ||
                         ends_with(path, ".safetensors.index.json") ||
                         ends_with(path, "config.json");
  if (is_dir || checkpoint_file) {
    if (has_config(path, is_dir))
      return tfx_hf_import(path, d);
    tfx_error(d,
              "%s: no config.json %s; a Hugging Face checkpoint needs it to tell the "
              "architecture",
              path, is_dir ? "in this folder" : "beside this file");
    return NULL;
  }
  tfx_error(d,
            "%s: not a model tfxc reads (expected a .onnx file, a checkpoint folder with "
            "config.json, or a .safetensors file with config.json beside it)",
            path);
  return NULL;
}
