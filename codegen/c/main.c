/* main.c — the main() that --emit-main appends to a generated model: it
 * reads the graph inputs from TensorProto files, checks them against the
 * compiled dtypes and shapes, runs <name>_init and <name>_run, and writes the
 * outputs as TensorProto files.  The printed program uses libc only (the .pb
 * reader is runtime/tfx_pbio.c, printed in textually) and compiles
 * warning-free as C99; its names are prefixed tfx_main_ so they cannot
 * collide with the model's. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/c/cemit.h"

/* One row of the I/O table: name, ONNX dtype code, rank, numel, bytes, dims. */
static void put_io_row(FILE *f, const TfxValue *v) {
  int64_t numel = tfx_numel(v->rank, v->dims);
  fputs("  {", f);
  tfx_c_put_string(f, v->name);
  fprintf(f, ", %d, %d, %lld, %llu, {", tfx_dtype_to_onnx(v->dtype), v->rank, (long long)numel,
          (unsigned long long)((size_t)numel * tfx_dtype_bytes(v->dtype)));
  if (v->rank == 0) fputs("0", f);
  for (int d = 0; d < v->rank; d++) fprintf(f, "%s%lld", d ? ", " : "", (long long)v->dims[d]);
  fputs("}},\n", f);
}

/* The fixed part of the program: helpers that do not depend on the model. */
static const char main_helpers[] =
    "typedef struct {\n"
    "  const char *name;\n"
    "  int dtype; /* TensorProto.DataType */\n"
    "  int rank;\n"
    "  int64_t numel;\n"
    "  size_t bytes;\n"
    "  int64_t dims[TFX_PB_MAX_RANK];\n"
    "} tfx_main_io;\n"
    "\n"
    "static void tfx_main_shape(char *buf, size_t size, int rank, const int64_t *dims) {\n"
    "  size_t n = 0;\n"
    "  int k;\n"
    "  n += (size_t)snprintf(buf + n, size - n, \"[\");\n"
    "  for (k = 0; k < rank && n < size; k++)\n"
    "    n += (size_t)snprintf(buf + n, size - n, \"%s%lld\", k ? \",\" : \"\", (long long)dims[k]);\n"
    "  if (n < size) snprintf(buf + n, size - n, \"]\");\n"
    "}\n"
    "\n"
    "/* Read input io from path into a new buffer, checking dtype and shape. */\n"
    "static void *tfx_main_read(const char *path, const tfx_main_io *io) {\n"
    "  char err[1024], want[256], got[256];\n"
    "  tfx_pb_tensor t;\n"
    "  void *buf;\n"
    "  int k, same;\n"
    "  if (tfx_pb_open(path, &t, err, sizeof err) != 0) {\n"
    "    fprintf(stderr, \"error: input '%s': %s\\n\", io->name, err);\n"
    "    return NULL;\n"
    "  }\n"
    "  same = t.rank == io->rank;\n"
    "  for (k = 0; same && k < t.rank; k++) same = t.dims[k] == io->dims[k];\n"
    "  if (t.data_type != io->dtype || !same) {\n"
    "    tfx_main_shape(want, sizeof want, io->rank, io->dims);\n"
    "    tfx_main_shape(got, sizeof got, t.rank, t.dims);\n"
    "    fprintf(stderr, \"error: input '%s' (%s): the model was compiled for %s%s, the file holds %s%s\\n\",\n"
    "            io->name, path, tfx_pb_type_name(io->dtype), want, tfx_pb_type_name(t.data_type), got);\n"
    "    tfx_pb_free(&t);\n"
    "    return NULL;\n"
    "  }\n"
    "  buf = malloc(io->bytes ? io->bytes : 1);\n"
    "  if (!buf) {\n"
    "    fprintf(stderr, \"error: input '%s': out of memory\\n\", io->name);\n"
    "  } else if (tfx_pb_read_data(path, &t, buf, io->bytes, err, sizeof err) != 0) {\n"
    "    fprintf(stderr, \"error: input '%s': %s\\n\", io->name, err);\n"
    "    free(buf);\n"
    "    buf = NULL;\n"
    "  }\n"
    "  tfx_pb_free(&t);\n"
    "  return buf;\n"
    "}\n"
    "\n"
    "/* Read a whole file into a 64-byte aligned buffer; *raw gets what to free. */\n"
    "static void *tfx_main_slurp(const char *path, size_t *size, void **raw) {\n"
    "  FILE *f = fopen(path, \"rb\");\n"
    "  size_t cap = 1 << 20, len = 0, got;\n"
    "  unsigned char *buf = NULL, *nb;\n"
    "  *raw = NULL;\n"
    "  if (!f) {\n"
    "    fprintf(stderr, \"error: %s: cannot open\\n\", path);\n"
    "    return NULL;\n"
    "  }\n"
    "  for (;;) {\n"
    "    nb = (unsigned char *)realloc(buf, cap + 64);\n"
    "    if (!nb) {\n"
    "      fprintf(stderr, \"error: %s: out of memory\\n\", path);\n"
    "      free(buf);\n"
    "      fclose(f);\n"
    "      return NULL;\n"
    "    }\n"
    "    buf = nb;\n"
    "    got = fread(buf + 64 + len, 1, cap - len, f);\n"
    "    len += got;\n"
    "    if (len < cap) break;\n"
    "    cap *= 2;\n"
    "  }\n"
    "  if (ferror(f)) {\n"
    "    fprintf(stderr, \"error: %s: read error\\n\", path);\n"
    "    free(buf);\n"
    "    fclose(f);\n"
    "    return NULL;\n"
    "  }\n"
    "  fclose(f);\n"
    "  *raw = buf;\n"
    "  *size = len;\n"
    "  {\n"
    "    /* data was read at offset 64; move it to the first 64-aligned address */\n"
    "    size_t off = (size_t)(64 - ((uintptr_t)buf & 63));\n"
    "    if (off != 64) memmove(buf + off, buf + 64, len);\n"
    "    return buf + off;\n"
    "  }\n"
    "}\n";

/* --threads N (default: all the model was compiled for); a model compiled
 * without --threads runs on one. */
static void print_set_threads(FILE *f, const char *name, const char *upper) {
  fprintf(f,
          "#ifdef %s_MAX_THREADS\n"
          "  if (threads == 0) threads = %s_MAX_THREADS;\n"
          "  st = %s_set_threads(&ctx, threads);\n"
          "  if (st != 0) {\n"
          "    fprintf(stderr, \"error: %s_set_threads(%%d): %%s\\n\", threads, %s_status_str(st));\n"
          "    goto done;\n"
          "  }\n"
          "  pool_up = 1;\n"
          "#else\n"
          "  if (threads > 1) {\n"
          "    fprintf(stderr, \"error: --threads %%d: the model was compiled for one thread\\n\", threads);\n"
          "    goto done;\n"
          "  }\n"
          "#endif\n",
          upper, upper, name, name, name);
}

void tfx_c_emit_main(FILE *f, const TfxGraph *g, const char *name, bool weights_file) {
  size_t len = strlen(name);
  char *upper = malloc(len + 1);
  if (!upper) {
    fputs("\n#error tfxc ran out of memory printing main()\n", f);
    return;
  }
  for (size_t i = 0; i <= len; i++) upper[i] = (char)toupper((unsigned char)name[i]);
  uint32_t nin = g->n_inputs, nout = g->n_outputs;

  const char *pbio = tfx_embedded_source("runtime/tfx_pbio.c");
  fputs("\n/* ==== main() for --emit-main: TensorProto files in, TensorProto files out ==== */\n", f);
  fputs("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n", f);
  fputs("/* ---- runtime/tfx_pbio.c ---- */\n", f);
  fputs(pbio ? pbio : "#error tfxc was built without runtime/tfx_pbio.c\n", f);
  fputs("/* ---- end of runtime/tfx_pbio.c ---- */\n\n", f);
  fputs(main_helpers, f);

  fprintf(f, "\n#define TFX_MAIN_N_IN %u\n#define TFX_MAIN_N_OUT %u\n\n", nin, nout);
  fputs("/* The compiled inputs, then outputs (a last empty row keeps the array non-empty). */\n", f);
  fputs("static const tfx_main_io tfx_main_ios[] = {\n", f);
  for (uint32_t k = 0; k < nin; k++) put_io_row(f, &g->values[g->inputs[k]]);
  for (uint32_t k = 0; k < nout; k++) put_io_row(f, &g->values[g->outputs[k]]);
  fputs("  {0, 0, 0, 0, 0, {0}},\n};\n\n", f);

  fputs("static void tfx_main_usage(const char *prog) {\n"
        "  char shape[256];\n"
        "  int k;\n",
        f);
  fprintf(f,
          "  fprintf(stderr, \"usage: %%s %s[--threads N] IN.pb.. OUT.pb..  (%u inputs, then %u outputs)\\n\", prog);\n",
          weights_file ? "[--weights FILE.bin] " : "", nin, nout);
  fputs("  for (k = 0; k < TFX_MAIN_N_IN + TFX_MAIN_N_OUT; k++) {\n"
        "    tfx_main_shape(shape, sizeof shape, tfx_main_ios[k].rank, tfx_main_ios[k].dims);\n"
        "    fprintf(stderr, \"  %s '%s' %s%s\\n\", k < TFX_MAIN_N_IN ? \"input \" : \"output\",\n"
        "            tfx_main_ios[k].name, tfx_pb_type_name(tfx_main_ios[k].dtype), shape);\n"
        "  }\n"
        "}\n\n",
        f);

  fputs("int main(int argc, char **argv) {\n"
        "  const char *weights_path = NULL;\n"
        "  const char *files[TFX_MAIN_N_IN + TFX_MAIN_N_OUT + 1];\n"
        "  void *bufs[TFX_MAIN_N_IN + TFX_MAIN_N_OUT + 1];\n"
        "  void *ws_raw = NULL, *ws = NULL, *w_raw = NULL;\n"
        "  const void *weights = NULL;\n"
        "  size_t weights_bytes = 0;\n"
        "  char err[1024];\n"
        "  int a, k, nfiles = 0, rc = 1, st, threads = 0, pool_up = 0;\n",
        f);
  fprintf(f, "  %s_ctx ctx;\n", name);
  fputs("  memset(bufs, 0, sizeof bufs);\n"
        "  for (a = 1; a < argc; a++) {\n"
        "    if (strcmp(argv[a], \"--weights\") == 0 && a + 1 < argc) {\n"
        "      weights_path = argv[++a];\n"
        "    } else if (strcmp(argv[a], \"--threads\") == 0 && a + 1 < argc) {\n"
        "      threads = atoi(argv[++a]);\n"
        "    } else if (strcmp(argv[a], \"-h\") == 0 || strcmp(argv[a], \"--help\") == 0) {\n"
        "      tfx_main_usage(argv[0]);\n"
        "      return 0;\n"
        "    } else if (nfiles < TFX_MAIN_N_IN + TFX_MAIN_N_OUT) {\n"
        "      files[nfiles++] = argv[a];\n"
        "    } else {\n"
        "      nfiles++;\n"
        "    }\n"
        "  }\n"
        "  if (nfiles != TFX_MAIN_N_IN + TFX_MAIN_N_OUT) {\n"
        "    fprintf(stderr, \"error: expected %d input and %d output files, got %d arguments\\n\",\n"
        "            TFX_MAIN_N_IN, TFX_MAIN_N_OUT, nfiles);\n"
        "    tfx_main_usage(argv[0]);\n"
        "    return 2;\n"
        "  }\n",
        f);
  if (weights_file)
    fprintf(f,
            "  if (!weights_path) {\n"
            "    fprintf(stderr, \"error: this model keeps its weights in a file: pass --weights %s.bin\\n\");\n"
            "    return 2;\n"
            "  }\n",
            name);
  else
    fputs("  if (weights_path) {\n"
          "    fprintf(stderr, \"error: this model embeds its weights; --weights is not accepted\\n\");\n"
          "    return 2;\n"
          "  }\n",
          f);
  fputs("  for (k = 0; k < TFX_MAIN_N_IN; k++)\n"
        "    if (!(bufs[k] = tfx_main_read(files[k], &tfx_main_ios[k]))) goto done;\n"
        "  for (k = TFX_MAIN_N_IN; k < TFX_MAIN_N_IN + TFX_MAIN_N_OUT; k++)\n"
        "    if (!(bufs[k] = calloc(tfx_main_ios[k].bytes ? tfx_main_ios[k].bytes : 1, 1))) {\n"
        "      fprintf(stderr, \"error: out of memory\\n\");\n"
        "      goto done;\n"
        "    }\n",
        f);
  /* The workspace is aligned to 64 bytes by hand (C99 has no aligned_alloc). */
  fprintf(f,
          "  if (!(ws_raw = malloc((size_t)%s_WORKSPACE_BYTES + 64))) {\n"
          "    fprintf(stderr, \"error: out of memory for the %%lu-byte workspace\\n\",\n"
          "            (unsigned long)%s_WORKSPACE_BYTES);\n"
          "    goto done;\n"
          "  }\n"
          "  ws = (unsigned char *)ws_raw + (64 - ((uintptr_t)ws_raw & 63));\n",
          upper, upper);
  if (weights_file)
    fprintf(f,
            "  if (!(weights = tfx_main_slurp(weights_path, &weights_bytes, &w_raw))) goto done;\n"
            "  if (weights_bytes != (size_t)%s_WEIGHTS_BYTES) {\n"
            "    fprintf(stderr, \"error: %%s: %%lu bytes, the model expects %%lu\\n\", weights_path,\n"
            "            (unsigned long)weights_bytes, (unsigned long)%s_WEIGHTS_BYTES);\n"
            "    goto done;\n"
            "  }\n",
            upper, upper);
  else
    fputs("  (void)tfx_main_slurp; /* only used for weights files */\n", f);
  fprintf(f,
          "  st = %s_init(&ctx, ws, (size_t)%s_WORKSPACE_BYTES, weights, weights_bytes);\n"
          "  if (st != 0) {\n"
          "    fprintf(stderr, \"error: %s_init: %%s\\n\", %s_status_str(st));\n"
          "    goto done;\n"
          "  }\n",
          name, upper, name, name);
  print_set_threads(f, name, upper);
  fprintf(f, "  st = %s_run(&ctx", name);
  for (uint32_t k = 0; k < nin; k++)
    fprintf(f, ",\n      (const %s *)bufs[%u]", tfx_dtype_ctype(g->values[g->inputs[k]].dtype), k);
  for (uint32_t k = 0; k < nout; k++)
    fprintf(f, ",\n      (%s *)bufs[%u]", tfx_dtype_ctype(g->values[g->outputs[k]].dtype), nin + k);
  fprintf(f,
          ");\n"
          "  if (st != 0) {\n"
          "    fprintf(stderr, \"error: %s_run: %%s\\n\", %s_status_str(st));\n"
          "    goto done;\n"
          "  }\n"
          "#ifdef %s_PROFILE_NODES\n"
          "  %s_profile_print(&ctx, stderr);\n"
          "#endif\n",
          name, name, upper, name);
  fputs("  for (k = TFX_MAIN_N_IN; k < TFX_MAIN_N_IN + TFX_MAIN_N_OUT; k++) {\n"
        "    const tfx_main_io *io = &tfx_main_ios[k];\n"
        "    if (tfx_pb_write(files[k], io->name, io->dtype, io->rank, io->dims, bufs[k], err,\n"
        "                     sizeof err) != 0) {\n"
        "      fprintf(stderr, \"error: output '%s': %s\\n\", io->name, err);\n"
        "      goto done;\n"
        "    }\n"
        "  }\n"
        "  rc = 0;\n"
        "done:\n",
        f);
  fprintf(f, "#ifdef %s_MAX_THREADS\n  if (pool_up) %s_set_threads(&ctx, 1);\n#endif\n", upper, name);
  fputs("  (void)pool_up;\n"
        "  for (k = 0; k < TFX_MAIN_N_IN + TFX_MAIN_N_OUT; k++) free(bufs[k]);\n"
        "  free(ws_raw);\n"
        "  free(w_raw);\n"
        "  return rc;\n"
        "}\n",
        f);
  free(upper);
}
