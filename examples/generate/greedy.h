/* greedy.h — greedy generation over a decoder that tfxc generated, shared by
 * generate.c and greedy_check.c so that the test checks the loop the example
 * runs.  The model is the one model.h names (MODEL_H, MODEL, MODEL_UC). */
#ifndef GREEDY_H
#define GREEDY_H

#include <stdint.h>
#include <time.h>

#include "model.h"

typedef struct {
  int status;          /* MC(OK), or the status of the call that failed */
  const char *failed;  /* the name of that call ("prefill", "decode", ...), NULL on success */
  int64_t n_new;       /* tokens generated */
  int full;            /* stopped early: prompt + generated reached MC(MAX_SEQ) tokens */
  int64_t n_decode;    /* decode calls made */
  double prefill_s;    /* seconds in prefill */
  double decode_s;     /* seconds in the decode loop */
} Greedy;

static double greedy_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The first index of the largest value (a NaN never wins). */
static int64_t greedy_argmax(const float *row, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; i++)
    if (row[i] > row[best]) best = i;
  return best;
}

/* Empties the cache, prefills prompt[0..n_prompt-1], then appends up to
 * max_new tokens to out, each the argmax of the latest logits row.  Stops
 * early (r.full) when prompt + generated would exceed MC(MAX_SEQ) tokens.
 * logits holds MC(MAX_SEQ) rows of MC(VOCAB) floats: row i receives the
 * logits computed after token i of prompt + out (the last generated token is
 * not fed back, so the rows end at n_prompt + n_new - 2). */
static Greedy greedy_run(M(ctx) *ctx, const int64_t *prompt, int64_t n_prompt, int64_t max_new,
                         int64_t *out, float *logits) {
  Greedy r = {MC(OK), NULL, 0, 0, 0, 0.0, 0.0};
  r.status = M(reset)(ctx);
  if (r.status != MC(OK)) {
    r.failed = "reset";
    return r;
  }
  double t0 = greedy_now();
  r.status = M(prefill)(ctx, prompt, n_prompt, logits);
  r.prefill_s = greedy_now() - t0;
  if (r.status != MC(OK)) {
    r.failed = "prefill";
    return r;
  }
  int64_t row = n_prompt - 1; /* the row holding the latest logits */
  t0 = greedy_now();
  while (r.n_new < max_new) {
    if (n_prompt + r.n_new >= (int64_t)MC(MAX_SEQ)) {
      r.full = 1;
      break;
    }
    int64_t next = greedy_argmax(logits + row * (int64_t)MC(VOCAB), (int64_t)MC(VOCAB));
    out[r.n_new++] = next;
    if (r.n_new == max_new || n_prompt + r.n_new == (int64_t)MC(MAX_SEQ))
      continue; /* no further token will be asked of this one's logits */
    r.status = M(decode)(ctx, next, logits + (row + 1) * (int64_t)MC(VOCAB));
    if (r.status != MC(OK)) {
      r.failed = "decode";
      break;
    }
    row++;
    r.n_decode++;
  }
  r.decode_s = greedy_now() - t0;
  return r;
}

#endif
