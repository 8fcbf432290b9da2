/* demo.c — embeds the code tfxc generated for tiny_encoder: sets up a
 * context with a caller-owned workspace, runs one sequence of token ids and
 * prints each token's hidden state (first values and L2 norm).
 * usage: tiny_encoder_demo [TOKEN_ID ...]   (8 ids, default: a fixed sentence) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "tiny_encoder.h"

enum { SEQ = 8, DIM = 32 };

int main(int argc, char **argv) {
  int64_t ids[SEQ] = {2, 45, 17, 33, 8, 61, 29, 3};
  if (argc > 1 && argc != SEQ + 1) {
    fprintf(stderr, "usage: %s [%d token ids in 0..63]\n", argv[0], SEQ);
    return 2;
  }
  for (int i = 1; i < argc; i++) ids[i - 1] = strtoll(argv[i], NULL, 10);

  static float hidden[SEQ * DIM];
  void *ws = aligned_alloc(64, TINY_ENCODER_WORKSPACE_BYTES ? TINY_ENCODER_WORKSPACE_BYTES : 64);
  tiny_encoder_ctx ctx;
  int st = tiny_encoder_init(&ctx, ws, TINY_ENCODER_WORKSPACE_BYTES, NULL, 0);
  if (st == TINY_ENCODER_OK) st = tiny_encoder_run(&ctx, ids, hidden);
  if (st != TINY_ENCODER_OK) {
    fprintf(stderr, "tiny_encoder: %s\n", tiny_encoder_status_str(st));
    free(ws);
    return 1;
  }
  printf("workspace: %zu bytes\n", (size_t)TINY_ENCODER_WORKSPACE_BYTES);
  for (int t = 0; t < SEQ; t++) {
    double norm = 0;
    for (int d = 0; d < DIM; d++) norm += (double)hidden[t * DIM + d] * hidden[t * DIM + d];
    printf("token %2d (id %2lld): [% .4f % .4f % .4f % .4f ...]  |h| = %.4f\n", t, (long long)ids[t],
           hidden[t * DIM], hidden[t * DIM + 1], hidden[t * DIM + 2], hidden[t * DIM + 3], sqrt(norm));
  }
  free(ws);
  return 0;
}
