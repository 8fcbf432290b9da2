/* check_driver.c — the C programs `tfxc check` writes to drive a generated
 * model: --max runs <name>_run at a data set's length, --decode prefills and
 * decodes through the KV cache; both check the refusals of bad arguments. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "codegen/codegen.h"
#include "tools/check_priv.h"

/* The C that drives a generated model for --max and --decode: it includes
 * <name>.h, reads raw inputs, sets up an aligned workspace and the weights,
 * and writes raw outputs.  DRV(x) is <name>_x, DRVU(X) <NAME>_X. */
static const char driver_helpers[] =
    "/* Read a whole file into 64-byte aligned memory; *raw is what to free. */\n"
    "static void *drv_slurp(const char *path, size_t *size, void **raw) {\n"
    "  FILE *f = fopen(path, \"rb\");\n"
    "  long len = -1;\n"
    "  unsigned char *buf;\n"
    "  size_t off;\n"
    "  *raw = NULL;\n"
    "  *size = 0;\n"
    "  if (!f) {\n"
    "    fprintf(stderr, \"error: %s: cannot open\\n\", path);\n"
    "    return NULL;\n"
    "  }\n"
    "  if (fseek(f, 0, SEEK_END) == 0) len = ftell(f);\n"
    "  if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {\n"
    "    fprintf(stderr, \"error: %s: cannot size\\n\", path);\n"
    "    fclose(f);\n"
    "    return NULL;\n"
    "  }\n"
    "  buf = (unsigned char *)malloc((size_t)len + 64);\n"
    "  if (!buf) {\n"
    "    fprintf(stderr, \"error: %s: out of memory\\n\", path);\n"
    "    fclose(f);\n"
    "    return NULL;\n"
    "  }\n"
    "  off = (size_t)(64 - ((uintptr_t)buf & 63));\n"
    "  if (fread(buf + off, 1, (size_t)len, f) != (size_t)len) {\n"
    "    fprintf(stderr, \"error: %s: read error\\n\", path);\n"
    "    free(buf);\n"
    "    fclose(f);\n"
    "    return NULL;\n"
    "  }\n"
    "  fclose(f);\n"
    "  *raw = buf;\n"
    "  *size = (size_t)len;\n"
    "  return buf + off;\n"
    "}\n"
    "\n"
    "static int drv_write(const char *path, const void *data, size_t bytes) {\n"
    "  FILE *f = fopen(path, \"wb\");\n"
    "  int ok;\n"
    "  if (!f) {\n"
    "    fprintf(stderr, \"error: %s: cannot create\\n\", path);\n"
    "    return 1;\n"
    "  }\n"
    "  ok = !bytes || fwrite(data, 1, bytes, f) == bytes;\n"
    "  if (fclose(f) != 0 || !ok) {\n"
    "    fprintf(stderr, \"error: %s: write error\\n\", path);\n"
    "    return 1;\n"
    "  }\n"
    "  return 0;\n"
    "}\n"
    "\n"
    "/* The workspace (64-byte aligned) and the weights (\"-\": compiled in), then init. */\n"
    "static int drv_init(DRV(ctx) *ctx, const char *weights_path, void **ws_raw, void **w_raw) {\n"
    "  const void *w = NULL;\n"
    "  size_t wb = 0;\n"
    "  void *ws;\n"
    "  int st;\n"
    "  *w_raw = NULL;\n"
    "  *ws_raw = malloc((size_t)DRVU(WORKSPACE_BYTES) + 64);\n"
    "  if (!*ws_raw) {\n"
    "    fprintf(stderr, \"error: out of memory for the workspace\\n\");\n"
    "    return 1;\n"
    "  }\n"
    "  ws = (unsigned char *)*ws_raw + (64 - ((uintptr_t)*ws_raw & 63));\n"
    "  if (DRVU(WEIGHTS_BYTES) != 0) {\n"
    "    if (strcmp(weights_path, \"-\") == 0) {\n"
    "      fprintf(stderr, \"error: the model keeps its weights in a file and none was given\\n\");\n"
    "      return 1;\n"
    "    }\n"
    "    if (!(w = drv_slurp(weights_path, &wb, w_raw))) return 1;\n"
    "  }\n"
    "  st = DRV(init)(ctx, ws, (size_t)DRVU(WORKSPACE_BYTES), w, wb);\n"
    "  if (st != DRVU(OK)) {\n"
    "    fprintf(stderr, \"error: init: %s\\n\", DRV(status_str)(st));\n"
    "    return 1;\n"
    "  }\n"
    "#if DRV_THREADS > 1\n"
    "  st = DRV(set_threads)(ctx, DRV_THREADS);\n"
    "  if (st != DRVU(OK)) {\n"
    "    fprintf(stderr, \"error: set_threads(%d): %s\\n\", DRV_THREADS, DRV(status_str)(st));\n"
    "    return 1;\n"
    "  }\n"
    "  drv_pool_up = 1;\n"
    "#endif\n"
    "  return 0;\n"
    "}\n"
    "\n"
    "/* The workers live in the workspace: join them before it is freed. */\n"
    "static void drv_stop(DRV(ctx) *ctx) {\n"
    "#if DRV_THREADS > 1\n"
    "  if (drv_pool_up) DRV(set_threads)(ctx, 1);\n"
    "#endif\n"
    "  (void)ctx;\n"
    "}\n";

/* Start a driver file: includes, the name macros, the helpers. */
static FILE *driver_open(const char *path, const char *name, int threads) {
  FILE *f = fopen(path, "w");
  if (!f) return NULL;
  const char *base = strrchr(path, '/');
  fprintf(f, "/* %s: written by tfxc check to drive the generated %s.c. */\n", base ? base + 1 : path, name);
  fputs("#include <stdint.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n\n", f);
  fprintf(f, "#include \"%s.h\"\n\n#define DRV(x) %s_##x\n#define DRVU(x) ", name, name);
  for (const char *p = name; *p; p++) fputc(toupper((unsigned char)*p), f);
  fputs("_##x\n\n", f);
  fprintf(f, "#define DRV_THREADS %d\n#if DRV_THREADS > 1\nstatic int drv_pool_up;\n#endif\n\n", threads);
  fputs(driver_helpers, f);
  return f;
}

/* --max: ./prog WEIGHTS|- LEN IN.raw.. OUT.raw.. OUT_BYTES..  runs <name>_run at
 * LEN, writes the outputs, then checks that lengths 0 and N+1 are refused
 * with ERR_DIM before any buffer is touched (exit DRIVER_BOUNDS if not). */
bool write_max_driver(const char *path, const char *name, int threads, const TfxGraph *g, const char *sym,
                      int64_t max_n) {
  FILE *f = driver_open(path, name, threads);
  if (!f) return false;
  char sym_text[128]; /* the symbol inside a C string and a format: only [A-Za-z0-9_] */
  snprintf(sym_text, sizeof sym_text, "%s", sym);
  for (char *p = sym_text; *p; p++)
    if (!isalnum((unsigned char)*p)) *p = '_';
  sym = sym_text;
  uint32_t nin = g->n_inputs, nout = g->n_outputs;
  fprintf(f, "\n#define NIN %u\n#define NOUT %u\n\n", nin, nout);
  fputs("static int drv_run(DRV(ctx) *ctx, int64_t len, void **bufs) {\n  return DRV(run)(ctx, len", f);
  for (uint32_t k = 0; k < nin; k++)
    fprintf(f, ",\n      (const %s *)bufs[%u]", tfx_dtype_ctype(g->values[g->inputs[k]].dtype), k);
  for (uint32_t k = 0; k < nout; k++)
    fprintf(f, ",\n      (%s *)bufs[%u]", tfx_dtype_ctype(g->values[g->outputs[k]].dtype), nin + k);
  fputs(");\n}\n\n", f);
  fputs("int main(int argc, char **argv) {\n"
        "  DRV(ctx) ctx;\n"
        "  void *raw[NIN + NOUT + 1], *bufs[NIN + NOUT + 1], *ws_raw = NULL, *w_raw = NULL;\n"
        "  size_t bytes[NIN + NOUT + 1];\n"
        "  int64_t len, bad[2];\n"
        "  int k, st, rc = 1;\n"
        "  memset(raw, 0, sizeof raw);\n"
        "  memset(bufs, 0, sizeof bufs);\n"
        "  if (argc != 3 + NIN + 2 * NOUT) {\n"
        "    fprintf(stderr, \"usage: %s WEIGHTS|- LEN IN.raw.. OUT.raw.. OUT_BYTES..\\n\", argv[0]);\n"
        "    return 2;\n"
        "  }\n"
        "  len = (int64_t)strtoll(argv[2], NULL, 10);\n"
        "  for (k = 0; k < NIN; k++)\n"
        "    if (!(bufs[k] = drv_slurp(argv[3 + k], &bytes[k], &raw[k]))) goto done;\n"
        "  for (k = NIN; k < NIN + NOUT; k++) {\n"
        "    bytes[k] = (size_t)strtoull(argv[3 + NOUT + k], NULL, 10);\n"
        "    if (!(bufs[k] = raw[k] = calloc(bytes[k] + 1, 1))) {\n"
        "      fprintf(stderr, \"error: out of memory\\n\");\n"
        "      goto done;\n"
        "    }\n"
        "  }\n"
        "  if (drv_init(&ctx, argv[1], &ws_raw, &w_raw)) goto done;\n"
        "  st = drv_run(&ctx, len, bufs);\n"
        "  if (st != DRVU(OK)) {\n",
        f);
  fprintf(f, "    fprintf(stderr, \"error: %s_run(%s=%%lld): %%s\\n\", (long long)len, DRV(status_str)(st));\n",
          name, sym);
  fputs("    goto done;\n"
        "  }\n"
        "  for (k = NIN; k < NIN + NOUT; k++)\n"
        "    if (drv_write(argv[3 + k], bufs[k], bytes[k])) goto done;\n"
        "  rc = 0;\n",
        f);
  fprintf(f, "  bad[0] = 0;\n  bad[1] = INT64_C(%lld);\n", (long long)max_n + 1);
  fputs("  for (k = 0; k < 2; k++) {\n"
        "    st = drv_run(&ctx, bad[k], bufs);\n"
        "    if (st != DRVU(ERR_DIM)) {\n",
        f);
  fprintf(f,
          "      fprintf(stderr, \"error: %s_run(%s=%%lld) returned %%d (%%s), expected %%d (ERR_DIM)\\n\",\n"
          "              (long long)bad[k], st, DRV(status_str)(st), (int)DRVU(ERR_DIM));\n",
          name, sym);
  fprintf(f, "      rc = %d;\n    }\n  }\n", DRIVER_BOUNDS);
  fputs("done:\n"
        "  drv_stop(&ctx);\n"
        "  for (k = 0; k < NIN + NOUT; k++) free(raw[k]);\n"
        "  free(ws_raw);\n"
        "  free(w_raw);\n"
        "  return rc;\n"
        "}\n",
        f);
  return fclose(f) == 0;
}

/* --decode: ./prog WEIGHTS|- TOKENS.raw K LOGITS.raw BOUNDS  prefills the
 * first K tokens, decodes the rest one at a time and writes every row of
 * logits; with BOUNDS 1 it then checks the refusals: an out-of-vocabulary
 * token (ERR_INPUT, nothing written), n = 0 and a full cache (ERR_DIM). */
bool write_decode_driver(const char *path, const char *name, int threads, int64_t max_n, int64_t vocab) {
  FILE *f = driver_open(path, name, threads);
  if (!f) return false;
  fprintf(f, "\n#define N_MAX INT64_C(%lld)\n#define V INT64_C(%lld)\n\n", (long long)max_n, (long long)vocab);
  fputs("static int drv_expect(int ok, const char *what, int st, int64_t pos) {\n"
        "  if (!ok)\n"
        "    fprintf(stderr, \"error: %s: returned %d (%s), position %lld\\n\", what, st, DRV(status_str)(st),\n"
        "            (long long)pos);\n"
        "  return ok ? 0 : 1;\n"
        "}\n\n",
        f);
  fputs("int main(int argc, char **argv) {\n"
        "  DRV(ctx) ctx;\n"
        "  void *tok_raw = NULL, *ws_raw = NULL, *w_raw = NULL;\n"
        "  const int64_t *tok;\n"
        "  int64_t *many = NULL;\n"
        "  float *logits = NULL, *scratch = NULL;\n"
        "  unsigned char sentinel[64];\n"
        "  size_t bytes;\n"
        "  int64_t T, K, i, pos;\n"
        "  int st, bad = 0, rc = 1;\n"
        "  if (argc != 6) {\n"
        "    fprintf(stderr, \"usage: %s WEIGHTS|- TOKENS.raw K LOGITS.raw BOUNDS\\n\", argv[0]);\n"
        "    return 2;\n"
        "  }\n"
        "  if (!(tok = (const int64_t *)drv_slurp(argv[2], &bytes, &tok_raw))) goto done;\n"
        "  T = (int64_t)(bytes / sizeof(int64_t));\n"
        "  K = (int64_t)strtoll(argv[3], NULL, 10);\n"
        "  if ((int64_t)DRVU(VOCAB) != V) {\n"
        "    fprintf(stderr, \"error: VOCAB is %lld, the reference logits have %lld columns\\n\",\n"
        "            (long long)DRVU(VOCAB), (long long)V);\n"
        "    goto done;\n"
        "  }\n"
        "  logits = (float *)calloc((size_t)(T * V + 1), sizeof(float));\n"
        "  scratch = (float *)calloc((size_t)((N_MAX + 1) * V), sizeof(float));\n"
        "  many = (int64_t *)malloc((size_t)(N_MAX + 1) * sizeof(int64_t));\n"
        "  if (!logits || !scratch || !many) {\n"
        "    fprintf(stderr, \"error: out of memory\\n\");\n"
        "    goto done;\n"
        "  }\n"
        "  if (drv_init(&ctx, argv[1], &ws_raw, &w_raw)) goto done;\n"
        "  if ((pos = DRV(position)(&ctx)) != 0) {\n"
        "    fprintf(stderr, \"error: after init the position is %lld, not 0\\n\", (long long)pos);\n"
        "    goto done;\n"
        "  }\n"
        "  st = DRV(prefill)(&ctx, tok, K, logits);\n"
        "  if (st != DRVU(OK) || (pos = DRV(position)(&ctx)) != K) {\n"
        "    fprintf(stderr, \"error: prefill of %lld tokens: %s, position %lld\\n\", (long long)K,\n"
        "            DRV(status_str)(st), (long long)DRV(position)(&ctx));\n"
        "    goto done;\n"
        "  }\n"
        "  for (i = K; i < T; i++) {\n"
        "    st = DRV(decode)(&ctx, tok[i], logits + i * V);\n"
        "    if (st != DRVU(OK) || (pos = DRV(position)(&ctx)) != i + 1) {\n"
        "      fprintf(stderr, \"error: decode of token %lld (id %lld): %s, position %lld\\n\", (long long)i,\n"
        "              (long long)tok[i], DRV(status_str)(st), (long long)DRV(position)(&ctx));\n"
        "      goto done;\n"
        "    }\n"
        "  }\n"
        "  if (drv_write(argv[4], logits, (size_t)(T * V) * sizeof(float))) goto done;\n"
        "  rc = 0;\n"
        "  if (strcmp(argv[5], \"1\") != 0) goto done;\n"
        "\n"
        "  /* refusals: nothing may be written, the position must not move */\n"
        "  st = DRV(reset)(&ctx);\n"
        "  bad |= drv_expect(st == DRVU(OK) && DRV(position)(&ctx) == 0, \"reset\", st, DRV(position)(&ctx));\n"
        "  memset(scratch, 0xA5, sizeof sentinel);\n"
        "  memcpy(sentinel, scratch, sizeof sentinel);\n"
        "  st = DRV(decode)(&ctx, (int64_t)DRVU(TOKENS), scratch);\n"
        "  bad |= drv_expect(st == DRVU(ERR_INPUT) && DRV(position)(&ctx) == 0 &&\n"
        "                    memcmp(scratch, sentinel, sizeof sentinel) == 0,\n"
        "                    \"decode of token TOKENS (expected ERR_INPUT, nothing written)\", st,\n"
        "                    DRV(position)(&ctx));\n"
        "  st = DRV(decode)(&ctx, -1, scratch);\n"
        "  bad |= drv_expect(st == DRVU(ERR_INPUT) && DRV(position)(&ctx) == 0,\n"
        "                    \"decode of token -1 (expected ERR_INPUT)\", st, DRV(position)(&ctx));\n"
        "  st = DRV(prefill)(&ctx, tok, 0, scratch);\n"
        "  bad |= drv_expect(st == DRVU(ERR_DIM) && DRV(position)(&ctx) == 0,\n"
        "                    \"prefill of 0 tokens (expected ERR_DIM)\", st, DRV(position)(&ctx));\n"
        "  for (i = 0; i <= N_MAX; i++) many[i] = tok[i % T];\n"
        "  st = DRV(prefill)(&ctx, many, N_MAX, scratch);\n"
        "  bad |= drv_expect(st == DRVU(OK) && DRV(position)(&ctx) == N_MAX,\n"
        "                    \"prefill of MAX_SEQ tokens (expected OK)\", st, DRV(position)(&ctx));\n"
        "  memcpy(sentinel, scratch, sizeof sentinel);\n"
        "  st = DRV(decode)(&ctx, tok[0], scratch);\n"
        "  bad |= drv_expect(st == DRVU(ERR_DIM) && DRV(position)(&ctx) == N_MAX &&\n"
        "                    memcmp(scratch, sentinel, sizeof sentinel) == 0,\n"
        "                    \"decode into a full cache (expected ERR_DIM, nothing written)\", st,\n"
        "                    DRV(position)(&ctx));\n"
        "  st = DRV(reset)(&ctx);\n"
        "  st = st == DRVU(OK) ? DRV(prefill)(&ctx, many, N_MAX + 1, scratch) : st;\n"
        "  bad |= drv_expect(st == DRVU(ERR_DIM) && DRV(position)(&ctx) == 0,\n"
        "                    \"prefill of MAX_SEQ + 1 tokens (expected ERR_DIM)\", st, DRV(position)(&ctx));\n",
        f);
  fprintf(f, "  if (bad) rc = %d;\n", DRIVER_BOUNDS);
  fputs("done:\n"
        "  drv_stop(&ctx);\n"
        "  free(many);\n"
        "  free(scratch);\n"
        "  free(logits);\n"
        "  free(tok_raw);\n"
        "  free(ws_raw);\n"
        "  free(w_raw);\n"
        "  return rc;\n"
        "}\n",
        f);
  return fclose(f) == 0;
}