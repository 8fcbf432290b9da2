/* generate.c — greedy text generation with a decoder that tfxc compiled
 * (`tfxc MODEL -o NAME.c --dim batch=1 --max seq=N`): sets up the context in
 * a caller-owned workspace (and the weights file, when the model has one),
 * prefills the prompt, then decodes one token at a time, each the argmax of
 * the previous logits, and prints the tokens and the speed of both phases.
 * Token ids in, token ids out: there is no tokenizer here.
 *
 *   usage: generate [--weights FILE.bin] [-n N] TOKEN_ID...
 *
 * Build against any generated decoder (see model.h):
 *   cc -std=c99 -O2 -DMODEL_H='"llama.h"' -DMODEL=llama -DMODEL_UC=LLAMA \
 *      generate.c llama.c -lm -o generate                                   */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200112L /* clock_gettime */
#endif
#if !defined(_GNU_SOURCE) && !defined(_ISOC11_SOURCE)
#define _ISOC11_SOURCE /* aligned_alloc under -std=c99 */
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greedy.h"

static void usage(FILE *f, const char *argv0) {
  fprintf(f,
          "usage: %s [--weights FILE.bin] [-n N] TOKEN_ID...\n"
          "Prefills the prompt's token ids (0..%d) and greedily generates N more\n"
          "(default 16); the sequence stops at %d tokens.\n",
          argv0, (int)MC(VOCAB) - 1, (int)MC(MAX_SEQ));
}

/* A whole decimal integer in [lo, hi], or -1 with a message. */
static int parse_int(const char *s, const char *what, int64_t lo, int64_t hi, int64_t *v) {
  char *end;
  errno = 0;
  long long x = strtoll(s, &end, 10);
  if (end == s || *end || errno || x < lo || x > hi) {
    fprintf(stderr, "generate: %s '%s': expected an integer in %" PRId64 "..%" PRId64 "\n", what, s,
            lo, hi);
    return -1;
  }
  *v = (int64_t)x;
  return 0;
}

/* Reads the weights file into 16-byte-aligned memory; NULL with a message
 * when it is missing or not the size the generated code was built for. */
static void *load_weights(const char *path) {
  size_t want = (size_t)MC(WEIGHTS_BYTES);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "generate: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size < 0 || (unsigned long)size != want || fseek(f, 0, SEEK_SET) != 0) {
    fprintf(stderr, "generate: %s: %ld bytes, but %s needs a weights file of %zu bytes\n", path, size,
            MODEL_NAME, want);
    fclose(f);
    return NULL;
  }
  void *w = aligned_alloc(16, (want + 15) / 16 * 16);
  if (!w) {
    fprintf(stderr, "generate: out of memory (%zu bytes of weights)\n", want);
    fclose(f);
    return NULL;
  }
  if (fread(w, 1, want, f) != want) {
    fprintf(stderr, "generate: %s: read error\n", path);
    free(w);
    w = NULL;
  }
  fclose(f);
  return w;
}

static void print_ids(const char *label, const int64_t *ids, int64_t n) {
  printf("%s (%" PRId64 " token%s):", label, n, n == 1 ? "" : "s");
  for (int64_t i = 0; i < n; i++) printf(" %" PRId64, ids[i]);
  printf("\n");
}

static void print_speed(const char *phase, int64_t n, double s) {
  if (n > 0 && s > 0)
    printf("%s: %" PRId64 " token%s in %.3f ms, %.1f tokens/s\n", phase, n, n == 1 ? "" : "s", 1e3 * s,
           (double)n / s);
  else
    printf("%s: %" PRId64 " token%s\n", phase, n, n == 1 ? "" : "s");
}

int main(int argc, char **argv) {
  const int64_t max_seq = (int64_t)MC(MAX_SEQ), vocab = (int64_t)MC(VOCAB);
#ifdef MODEL_WEIGHTS_PATH
  const char *weights_path = MODEL_WEIGHTS_PATH; /* where the build wrote NAME.bin */
#else
  const char *weights_path = NULL;
#endif
  int64_t n_new = 16;
  int64_t *prompt = malloc((size_t)argc * sizeof *prompt);
  int64_t n_prompt = 0;
  if (!prompt) return 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout, argv[0]);
      free(prompt);
      return 0;
    } else if (!strcmp(argv[i], "--weights") && i + 1 < argc) {
      weights_path = argv[++i];
    } else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
      if (parse_int(argv[++i], "-n", 0, INT64_MAX / 2, &n_new)) {
        free(prompt);
        return 2;
      }
    } else if (argv[i][0] == '-' && (argv[i][1] < '0' || argv[i][1] > '9')) {
      usage(stderr, argv[0]);
      free(prompt);
      return 2;
    } else if (parse_int(argv[i], "token id", INT64_MIN, INT64_MAX, &prompt[n_prompt++])) {
      free(prompt);
      return 2;
    }
  }
  if (n_prompt == 0) {
    usage(stderr, argv[0]);
    free(prompt);
    return 2;
  }
  if (n_prompt > max_seq) {
    fprintf(stderr, "generate: the prompt has %" PRId64 " tokens; %s takes at most %" PRId64 "\n",
            n_prompt, MODEL_NAME, max_seq);
    free(prompt);
    return 2;
  }
  /* Out-of-vocabulary ids are left for the generated code to refuse
   * (MC(ERR_INPUT)): the example shows the status it returns. */

  int rc = 1;
  void *weights = NULL;
  size_t ws_bytes = ((size_t)MC(WORKSPACE_BYTES) + 63) / 64 * 64;
  void *ws = aligned_alloc(64, ws_bytes ? ws_bytes : 64);
  int64_t *out = malloc((size_t)max_seq * sizeof *out);
  float *logits = malloc((size_t)(max_seq * vocab) * sizeof *logits);
  if (!ws || !out || !logits) {
    fprintf(stderr, "generate: out of memory\n");
    goto done;
  }
  if (MC(WEIGHTS_BYTES) > 0) {
    if (!weights_path) {
      fprintf(stderr, "generate: %s keeps its weights in a file of %zu bytes: pass --weights FILE.bin\n",
              MODEL_NAME, (size_t)MC(WEIGHTS_BYTES));
      goto done;
    }
    if (!(weights = load_weights(weights_path))) goto done;
  }

  M(ctx) ctx;
  int st = M(init)(&ctx, ws, (size_t)MC(WORKSPACE_BYTES), weights, (size_t)MC(WEIGHTS_BYTES));
  if (st != MC(OK)) {
    fprintf(stderr, "generate: init failed (status %d): %s\n", st, M(status_str)(st));
    goto done;
  }
  printf("%s: vocabulary %" PRId64 ", at most %" PRId64 " tokens, workspace %zu bytes (KV cache %zu)\n",
         MODEL_NAME, vocab, max_seq, (size_t)MC(WORKSPACE_BYTES), (size_t)MC(KV_BYTES));
  fflush(stdout); /* before any error message, when both go to one pipe */

  Greedy g = greedy_run(&ctx, prompt, n_prompt, n_new, out, logits);
  if (g.status != MC(OK)) {
    fprintf(stderr, "generate: %s failed (status %d): %s\n", g.failed, g.status, M(status_str)(g.status));
    goto done;
  }
  print_ids("prompt", prompt, n_prompt);
  print_ids("generated", out, g.n_new);
  if (g.full)
    printf("stopped after %" PRId64 " of the %" PRId64 " tokens asked for: prompt + generated reached %s's "
           "limit of %" PRId64 " tokens\n",
           g.n_new, n_new, MODEL_NAME, max_seq);
  print_speed("prefill", n_prompt, g.prefill_s);
  print_speed("decode", g.n_decode, g.decode_s);
  rc = 0;
done:
  free(logits);
  free(out);
  free(weights);
  free(ws);
  free(prompt);
  return rc;
}
