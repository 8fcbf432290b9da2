/* api_test.c — the generated decoder API's contract on bad arguments: NULL
 * pointers give MC(ERR_NULL), lengths outside 1..MC(MAX_SEQ) (or past the
 * cache's end) MC(ERR_DIM), token ids outside the vocabulary MC(ERR_INPUT);
 * a refused call writes no logits and leaves the cache as it was, so the
 * next good call gives the same logits as a run that never saw the error.
 * The model is the one model.h names (MODEL_H, MODEL, MODEL_UC). */
#if !defined(_GNU_SOURCE) && !defined(_ISOC11_SOURCE)
#define _ISOC11_SOURCE /* aligned_alloc under -std=c99 */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h" /* tests/unit/check.h: CHECK and failures */
#include "model.h"

enum { MAX_SEQ = MC(MAX_SEQ), VOCAB = MC(VOCAB) };

/* Logits buffers are filled with this bit pattern before a call that must
 * fail, and must still hold it afterwards. */
static const unsigned char SENTINEL = 0xA5;
static float logits[(size_t)(MAX_SEQ + 1) * VOCAB], want[(size_t)(MAX_SEQ + 1) * VOCAB];
static int64_t tokens[MAX_SEQ + 1];

static void poison(void) { memset(logits, SENTINEL, sizeof logits); }
static int untouched(void) {
  const unsigned char *p = (const unsigned char *)logits;
  for (size_t i = 0; i < sizeof logits; i++)
    if (p[i] != SENTINEL) return 0;
  return 1;
}

int main(void) {
  size_t need = (size_t)MC(WORKSPACE_BYTES);
  unsigned char *ws = aligned_alloc(64, (need + 63) / 64 * 64 + 64);
  if (!ws) return 1;
  for (int i = 0; i <= MAX_SEQ; i++) tokens[i] = (int64_t)((i * 37 + 11) % VOCAB);
  M(ctx) ctx;

  /* Constants the header promises. */
  CHECK(MC(MAX_SEQ) >= 2);
  CHECK(MC(VOCAB) >= 2);
  CHECK(MC(KV_BYTES) > 0);
  CHECK((size_t)MC(KV_BYTES) <= (size_t)MC(WORKSPACE_BYTES));
  CHECK(MC(WEIGHTS_BYTES) == 0); /* the test's build embeds them */
  CHECK(MC(OK) == 0 && MC(ERR_NULL) == 1 && MC(ERR_WORKSPACE) == 2 && MC(ERR_STATE) == 4 &&
        MC(ERR_DIM) == 5 && MC(ERR_INPUT) == 6);
  CHECK(strcmp(M(status_str)(MC(ERR_DIM)), M(status_str)(MC(OK))) != 0);
  CHECK(strcmp(M(status_str)(MC(ERR_INPUT)), M(status_str)(MC(ERR_DIM))) != 0);

  /* init */
  memset(&ctx, 0, sizeof ctx);
  poison();
  CHECK(M(prefill)(&ctx, tokens, 1, logits) == MC(ERR_STATE)); /* never initialised */
  CHECK(M(decode)(&ctx, 1, logits) == MC(ERR_STATE));
  CHECK(untouched());
  CHECK(M(init)(NULL, ws, need, NULL, 0) == MC(ERR_NULL));
  CHECK(M(init)(&ctx, NULL, need, NULL, 0) == MC(ERR_NULL));
  CHECK(M(init)(&ctx, ws, need - 1, NULL, 0) == MC(ERR_WORKSPACE));
  CHECK(M(init)(&ctx, ws + 4, need, NULL, 0) == MC(ERR_WORKSPACE));
  CHECK(M(prefill)(&ctx, tokens, 1, logits) == MC(ERR_STATE)); /* a failed init leaves it unusable */
  CHECK(untouched());
  CHECK(M(init)(&ctx, ws, need, NULL, 0) == MC(OK));
  CHECK(M(position)(&ctx) == 0); /* init leaves the cache empty */

  /* The references: run over 3 tokens; and 2 tokens prefilled, 3 decoded.
   * Later the same calls must give the same bits. */
  static float want_run[3 * VOCAB];
  CHECK(M(run)(&ctx, 3, tokens, want_run) == MC(OK));
  CHECK(M(position)(&ctx) == 3);
  CHECK(M(reset)(&ctx) == MC(OK));
  CHECK(M(position)(&ctx) == 0);
  CHECK(M(prefill)(&ctx, tokens, 2, want) == MC(OK));
  for (int i = 2; i < 5; i++) CHECK(M(decode)(&ctx, tokens[i], want + i * VOCAB) == MC(OK));
  CHECK(M(position)(&ctx) == 5);

  /* NULL pointers */
  poison();
  CHECK(M(reset)(NULL) == MC(ERR_NULL));
  CHECK(M(prefill)(NULL, tokens, 1, logits) == MC(ERR_NULL));
  CHECK(M(prefill)(&ctx, NULL, 1, logits) == MC(ERR_NULL));
  CHECK(M(prefill)(&ctx, tokens, 1, NULL) == MC(ERR_NULL));
  CHECK(M(decode)(NULL, 1, logits) == MC(ERR_NULL));
  CHECK(M(decode)(&ctx, 1, NULL) == MC(ERR_NULL));
  CHECK(untouched());
  CHECK(M(position)(&ctx) == 5);
  CHECK(M(run)(NULL, 1, tokens, logits) == MC(ERR_NULL));
  CHECK(M(run)(&ctx, 1, NULL, logits) == MC(ERR_NULL));
  CHECK(M(run)(&ctx, 1, tokens, NULL) == MC(ERR_NULL));
  CHECK(untouched());

  /* Lengths outside 1..MAX_SEQ, and past the cache's end. */
  CHECK(M(reset)(&ctx) == MC(OK));
  CHECK(M(position)(&ctx) == 0);
  poison();
  CHECK(M(prefill)(&ctx, tokens, 0, logits) == MC(ERR_DIM));
  CHECK(M(prefill)(&ctx, tokens, -1, logits) == MC(ERR_DIM));
  CHECK(M(prefill)(&ctx, tokens, MAX_SEQ + 1, logits) == MC(ERR_DIM));
  CHECK(M(run)(&ctx, 0, tokens, logits) == MC(ERR_DIM));
  CHECK(M(run)(&ctx, -1, tokens, logits) == MC(ERR_DIM));
  CHECK(M(run)(&ctx, MAX_SEQ + 1, tokens, logits) == MC(ERR_DIM));
  CHECK(untouched());
  CHECK(M(position)(&ctx) == 0);
  CHECK(M(prefill)(&ctx, tokens, 2, logits) == MC(OK));
  poison();
  CHECK(M(prefill)(&ctx, tokens, MAX_SEQ - 1, logits) == MC(ERR_DIM)); /* 2 + MAX-1 > MAX */
  CHECK(untouched());
  CHECK(M(position)(&ctx) == 2);
  CHECK(M(prefill)(&ctx, tokens + 2, MAX_SEQ - 2, logits) == MC(OK)); /* exactly full */
  CHECK(M(position)(&ctx) == MAX_SEQ);
  poison();
  CHECK(M(decode)(&ctx, 1, logits) == MC(ERR_DIM));
  CHECK(M(prefill)(&ctx, tokens, 1, logits) == MC(ERR_DIM));
  CHECK(untouched());
  CHECK(M(position)(&ctx) == MAX_SEQ);
  /* run is reset + prefill, so it works on a full cache. */
  CHECK(M(run)(&ctx, 3, tokens, logits) == MC(OK));
  CHECK(M(position)(&ctx) == 3);
  CHECK(memcmp(logits, want_run, sizeof want_run) == 0);

  /* Token ids outside the vocabulary. */
  int64_t bad[3] = {tokens[2], -1, tokens[3]};
  poison();
  CHECK(M(run)(&ctx, 3, bad, logits) == MC(ERR_INPUT));
  CHECK(untouched());
  /* After refused ids, the sequence goes on as if they had never been offered. */
  CHECK(M(reset)(&ctx) == MC(OK));
  CHECK(M(prefill)(&ctx, tokens, 2, logits) == MC(OK));
  poison();
  CHECK(M(decode)(&ctx, -1, logits) == MC(ERR_INPUT));
  CHECK(M(decode)(&ctx, VOCAB, logits) == MC(ERR_INPUT));
  CHECK(M(decode)(&ctx, INT64_MIN, logits) == MC(ERR_INPUT));
  CHECK(M(prefill)(&ctx, bad, 3, logits) == MC(ERR_INPUT));
  bad[1] = VOCAB;
  CHECK(M(prefill)(&ctx, bad, 3, logits) == MC(ERR_INPUT));
  bad[1] = tokens[3];
  bad[2] = VOCAB; /* the last one */
  CHECK(M(prefill)(&ctx, bad, 3, logits) == MC(ERR_INPUT));
  bad[2] = -1;
  CHECK(M(prefill)(&ctx, bad, 3, logits) == MC(ERR_INPUT));
  CHECK(untouched());
  CHECK(M(position)(&ctx) == 2);
  for (int i = 2; i < 5; i++) CHECK(M(decode)(&ctx, tokens[i], logits + i * VOCAB) == MC(OK));
  CHECK(M(position)(&ctx) == 5);
  CHECK(memcmp(logits + 2 * VOCAB, want + 2 * VOCAB, 3 * VOCAB * sizeof *logits) == 0);

  /* A reset and the same calls again: the same logits, bit for bit. */
  CHECK(M(reset)(&ctx) == MC(OK));
  CHECK(M(prefill)(&ctx, tokens, 2, logits) == MC(OK));
  for (int i = 2; i < 5; i++) CHECK(M(decode)(&ctx, tokens[i], logits + i * VOCAB) == MC(OK));
  CHECK(memcmp(logits, want, 5 * VOCAB * sizeof *logits) == 0);

  free(ws);
  if (!failures) printf("api_test: all checks passed\n");
  return failures != 0;
}
