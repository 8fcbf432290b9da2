/* greedy_check.c — the cache gives the answer a full recomputation gives.
 * Runs the example's greedy loop (greedy.h) on the decoder MODEL, then runs
 * the same model compiled without the cache (`--no-kv-cache`, FULL below:
 * FULL(run)(ctx, seq, ids, logits) over the whole sequence) on prompt +
 * generated tokens and checks, row by row, that the logits agree within
 * 1e-4 of the row's largest magnitude and that each row's argmax is the token
 * greedy generation chose next.  Prompts: two short ones, one that runs into
 * the compiled length bound (the largest positions, the early stop) and one
 * that fills it.
 *
 *   -DMODEL_H='"llama.h"' -DMODEL=llama -DMODEL_UC=LLAMA        the decoder
 *   -DFULL_H='"llama_full.h"' -DFULL=llama_full -DFULL_UC=LLAMA_FULL   no cache
 *   -DMODEL_WEIGHTS_PATH='"llama.bin"' -DFULL_WEIGHTS_PATH=...   when they have one */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200112L /* clock_gettime */
#endif
#if !defined(_GNU_SOURCE) && !defined(_ISOC11_SOURCE)
#define _ISOC11_SOURCE /* aligned_alloc under -std=c99 */
#endif
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h" /* tests/unit/check.h: CHECK and failures */
#include "greedy.h"

#if !defined(FULL_H) || !defined(FULL) || !defined(FULL_UC)
#error "compile with -DFULL_H='\"NAME.h\"' -DFULL=NAME -DFULL_UC=UPPER_CASE_NAME (the --no-kv-cache build)"
#endif
#include FULL_H
/* Where the build wrote the weights files of models that have one. */
#ifndef MODEL_WEIGHTS_PATH
#define MODEL_WEIGHTS_PATH NULL
#endif
#ifndef FULL_WEIGHTS_PATH
#define FULL_WEIGHTS_PATH NULL
#endif
#define F(x) GEN_CAT(FULL, GEN_CAT(_, x))
#define FC(x) GEN_CAT(FULL_UC, GEN_CAT(_, x))

enum { MAX_SEQ = MC(MAX_SEQ), VOCAB = MC(VOCAB) };
static const double REL_TOL = 1e-4;

static void *workspace(size_t bytes) {
  void *p = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
  if (!p) {
    fprintf(stderr, "greedy_check: out of memory\n");
    exit(1);
  }
  return p;
}

/* The weights file at path read into 16-byte-aligned memory (NULL when the
 * model has none: bytes == 0); exits on failure. */
static void *weights(size_t bytes, const char *path) {
  if (bytes == 0) return NULL;
  void *w = aligned_alloc(16, (bytes + 15) / 16 * 16);
  FILE *f = path ? fopen(path, "rb") : NULL;
  size_t got = f && w ? fread(w, 1, bytes, f) : 0;
  int extra = f ? fgetc(f) != EOF : 0;
  if (f) fclose(f);
  if (got != bytes || extra) {
    fprintf(stderr, "greedy_check: %s: cannot read a weights file of %zu bytes\n",
            path ? path : "(no path given)", bytes);
    exit(1);
  }
  return w;
}

/* Generates up to n_new tokens after prompt with the cache, then checks them
 * and every logits row the decoder produced against the full model. */
static void check_prompt(M(ctx) *dec, F(ctx) *full, const int64_t *prompt, int64_t n_prompt,
                         int64_t n_new, int64_t expect_new) {
  static int64_t seq[MAX_SEQ];
  static float cached[(size_t)MAX_SEQ * VOCAB], recomputed[(size_t)MAX_SEQ * VOCAB];
  Greedy g = greedy_run(dec, prompt, n_prompt, n_new, seq + n_prompt, cached);
  if (g.status != MC(OK)) {
    fprintf(stderr, "greedy_check: %s failed (status %d): %s\n", g.failed, g.status,
            M(status_str)(g.status));
    failures++;
    return;
  }
  CHECK(g.n_new == expect_new);
  CHECK(g.full == (expect_new < n_new));
  CHECK(M(position)(dec) == n_prompt + (g.n_new > 0 ? g.n_new - 1 : 0));
  for (int64_t i = 0; i < n_prompt; i++) seq[i] = prompt[i];

  /* Rows 0 .. n_rows-1 exist in both: every token but the last generated one. */
  int64_t n_rows = n_prompt + (g.n_new > 0 ? g.n_new - 1 : 0);
  int st = F(run)(full, n_rows, seq, recomputed);
  if (st != FC(OK)) {
    fprintf(stderr, "greedy_check: full run of %" PRId64 " tokens failed (status %d): %s\n", n_rows,
            st, F(status_str)(st));
    failures++;
    return;
  }
  double worst = 0;
  int64_t bad_rows = 0, ties = 0;
  for (int64_t r = 0; r < n_rows; r++) {
    const float *a = cached + r * VOCAB, *b = recomputed + r * VOCAB;
    double scale = 0, err = 0;
    for (int v = 0; v < VOCAB; v++) scale = fmax(scale, fabs(b[v]));
    for (int v = 0; v < VOCAB; v++) err = fmax(err, fabs((double)a[v] - b[v]));
    double rel = err / (scale > 0 ? scale : 1);
    if (rel > worst) worst = rel;
    if (!(rel <= REL_TOL) && bad_rows++ < 5)
      fprintf(stderr, "greedy_check: row %" PRId64 ": logits differ by %.3g (relative %.3g)\n", r, err,
              rel);
    if (r < n_prompt - 1 || r + 1 >= n_prompt + g.n_new) continue;
    /* This row chose generated token r - n_prompt + 1. */
    int64_t chosen = seq[r + 1], best = greedy_argmax(b, VOCAB);
    if (chosen == best) continue;
    if (fabs((double)b[best] - b[chosen]) <= REL_TOL * scale) {
      ties++; /* a near-tie: the two runs may round either way */
      continue;
    }
    fprintf(stderr,
            "greedy_check: position %" PRId64 ": greedy chose %" PRId64 " (%.6g), the full run's argmax "
            "is %" PRId64 " (%.6g)\n",
            r + 1, chosen, b[chosen], best, b[best]);
    failures++;
  }
  CHECK(bad_rows == 0);
  printf("prompt of %" PRId64 ", %" PRId64 " generated%s: %" PRId64
         " rows agree with the full run (worst relative difference %.2g%s)\n",
         n_prompt, g.n_new, g.full ? " (stopped at the bound)" : "", n_rows - bad_rows, worst,
         ties ? ", near-ties accepted" : "");
}

int main(void) {
  M(ctx) dec;
  F(ctx) full;
  void *ws_dec = workspace(MC(WORKSPACE_BYTES)), *ws_full = workspace(FC(WORKSPACE_BYTES));
  CHECK(FC(MAX_SEQ) == MC(MAX_SEQ));
  void *w_dec = weights(MC(WEIGHTS_BYTES), MODEL_WEIGHTS_PATH);
  void *w_full = weights(FC(WEIGHTS_BYTES), FULL_WEIGHTS_PATH);
  int st = M(init)(&dec, ws_dec, MC(WORKSPACE_BYTES), w_dec, MC(WEIGHTS_BYTES));
  if (st != MC(OK)) fprintf(stderr, "greedy_check: init: %s\n", M(status_str)(st));
  int st2 = F(init)(&full, ws_full, FC(WORKSPACE_BYTES), w_full, FC(WEIGHTS_BYTES));
  if (st2 != FC(OK)) fprintf(stderr, "greedy_check: init (full): %s\n", F(status_str)(st2));
  if (st != MC(OK) || st2 != FC(OK)) return 1;

  static const int64_t p4[] = {5, 17, 3, 9}, p1[] = {1};
  check_prompt(&dec, &full, p4, 4, 20, 20);
  check_prompt(&dec, &full, p1, 1, 40, 40);
  /* A prompt 6 tokens short of the bound: 6 of the 20 fit. */
  static int64_t long_prompt[MAX_SEQ];
  uint32_t x = 12345;
  for (int i = 0; i < MAX_SEQ; i++) {
    x = x * 1103515245u + 12345u;
    long_prompt[i] = (int64_t)((x >> 16) % VOCAB);
  }
  int64_t n_long = MAX_SEQ > 6 ? MAX_SEQ - 6 : 1;
  check_prompt(&dec, &full, long_prompt, n_long, 20, MAX_SEQ - n_long);
  /* The whole bound as the prompt: nothing more fits. */
  check_prompt(&dec, &full, long_prompt, MAX_SEQ, 5, 0);

  free(w_dec);
  free(w_full);
  free(ws_dec);
  free(ws_full);
  if (!failures) printf("greedy_check: the cache's greedy tokens and logits match the full runs\n");
  return failures != 0;
}
