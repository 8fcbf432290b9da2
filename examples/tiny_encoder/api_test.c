/* api_test.c — the generated API's contract, on the example model: bad
 * arguments return an error status (never crash), contexts are independent,
 * and the same input gives the same output in two threads at once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tiny_encoder.h"

enum { SEQ = 8, DIM = 32 };
static int failures;
#define CHECK(c) \
  do { if (!(c)) { fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); failures++; } } while (0)

static const int64_t ids[SEQ] = {1, 2, 3, 4, 5, 6, 7, 8};

typedef struct {
  float out[SEQ * DIM];
  int status;
} Job;

static void *worker(void *arg) {
  Job *j = arg;
  void *ws = aligned_alloc(64, TINY_ENCODER_WORKSPACE_BYTES);
  tiny_encoder_ctx ctx;
  j->status = tiny_encoder_init(&ctx, ws, TINY_ENCODER_WORKSPACE_BYTES, NULL, 0);
  for (int r = 0; r < 50 && j->status == TINY_ENCODER_OK; r++) j->status = tiny_encoder_run(&ctx, ids, j->out);
  free(ws);
  return NULL;
}

int main(void) {
  size_t need = TINY_ENCODER_WORKSPACE_BYTES;
  unsigned char *ws = aligned_alloc(64, need + 64);
  float out[SEQ * DIM];
  tiny_encoder_ctx ctx;
  memset(&ctx, 0, sizeof ctx);
  CHECK(tiny_encoder_run(&ctx, ids, out) == TINY_ENCODER_ERR_STATE);
  CHECK(tiny_encoder_init(NULL, ws, need, NULL, 0) == TINY_ENCODER_ERR_NULL);
  CHECK(tiny_encoder_init(&ctx, NULL, need, NULL, 0) == TINY_ENCODER_ERR_NULL);
  CHECK(tiny_encoder_init(&ctx, ws, need - 1, NULL, 0) == TINY_ENCODER_ERR_WORKSPACE);
  CHECK(tiny_encoder_init(&ctx, ws + 4, need, NULL, 0) == TINY_ENCODER_ERR_WORKSPACE);
  CHECK(tiny_encoder_run(&ctx, ids, out) == TINY_ENCODER_ERR_STATE); /* failed init leaves it unusable */
  CHECK(tiny_encoder_init(&ctx, ws, need, NULL, 0) == TINY_ENCODER_OK);
  CHECK(tiny_encoder_run(NULL, ids, out) == TINY_ENCODER_ERR_NULL);
  CHECK(tiny_encoder_run(&ctx, NULL, out) == TINY_ENCODER_ERR_NULL);
  CHECK(tiny_encoder_run(&ctx, ids, NULL) == TINY_ENCODER_ERR_NULL);
  CHECK(tiny_encoder_run(&ctx, ids, out) == TINY_ENCODER_OK);
  CHECK(strcmp(tiny_encoder_status_str(TINY_ENCODER_ERR_WORKSPACE), "ok") != 0);

  Job jobs[2];
  pthread_t th[2];
  for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, worker, &jobs[i]);
  for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 2; i++) {
    CHECK(jobs[i].status == TINY_ENCODER_OK);
    CHECK(memcmp(jobs[i].out, out, sizeof out) == 0);
  }
  free(ws);
  if (!failures) printf("api_test: all checks passed\n");
  return failures != 0;
}
