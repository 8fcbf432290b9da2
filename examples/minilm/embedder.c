/* embedder.c -- tokenizer + generated MiniLM + mean pooling + L2 normalisation.
 *
 * EMBEDDER_SEQ (the --max seq=N given to tfxc: the model runs at each text's own
 * length, up to N) and EMBEDDER_HIDDEN come from the
 * build; the generated minilm.h gives the workspace and weights sizes.  All
 * memory is allocated in embedder_open; embedding a sentence allocates none.
 */
#include "embedder.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minilm.h"
#include "wordpiece.h"

#ifndef EMBEDDER_SEQ
#error "define EMBEDDER_SEQ: the longest sequence minilm.c was compiled for (--max seq=N)"
#endif
#ifndef EMBEDDER_HIDDEN
#define EMBEDDER_HIDDEN 384
#endif

struct Embedder {
  WordPiece *wp;
  minilm_ctx ctx;
  void *ws;                                     /* MINILM_WORKSPACE_BYTES */
  void *weights;                                /* the contents of minilm.bin */
  int64_t ids[EMBEDDER_SEQ];                    /* (1, seq) */
  int64_t mask[EMBEDDER_SEQ];                   /* (1, seq) */
  int64_t types[EMBEDDER_SEQ];                  /* (1, seq) */
  float hidden[EMBEDDER_SEQ * EMBEDDER_HIDDEN]; /* (1, seq, hidden) */
#if MINILM_NUM_OUTPUTS > 1
  float pooler[EMBEDDER_HIDDEN]; /* (1, hidden), unused */
#endif
};

size_t embedder_dim(void) { return EMBEDDER_HIDDEN; }
size_t embedder_max_tokens(void) { return EMBEDDER_SEQ; }

/* 64-byte aligned, zeroed, at least one byte. */
static void *alloc_aligned(size_t bytes) {
  size_t n = (bytes + 63) / 64 * 64;
  void *p = aligned_alloc(64, n ? n : 64);
  if (p) memset(p, 0, n ? n : 64);
  return p;
}

static void *read_file(const char *path, size_t *size, char *err, size_t err_len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, err_len, "%s: cannot open the weights file", path);
    return NULL;
  }
  long n = -1;
  if (fseek(f, 0, SEEK_END) == 0) n = ftell(f);
  void *buf = NULL;
  if (n >= 0 && fseek(f, 0, SEEK_SET) == 0) buf = alloc_aligned((size_t)n);
  if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    snprintf(err, err_len, "%s: cannot read the weights file", path);
    free(buf);
    fclose(f);
    return NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return buf;
}

Embedder *embedder_open(const char *vocab_path, const char *weights_path, char *err,
                        size_t err_len) {
  Embedder *em = alloc_aligned(sizeof *em);
  if (!em) {
    snprintf(err, err_len, "out of memory");
    return NULL;
  }
  em->wp = wordpiece_load(vocab_path, err, err_len);
  if (!em->wp) {
    embedder_close(em);
    return NULL;
  }
  size_t wbytes = 0;
  em->weights = read_file(weights_path, &wbytes, err, err_len);
  if (!em->weights) {
    embedder_close(em);
    return NULL;
  }
  if (MINILM_WEIGHTS_BYTES != 0 && wbytes != MINILM_WEIGHTS_BYTES) {
    snprintf(err, err_len, "%s: %zu bytes, the compiled model expects %zu", weights_path, wbytes,
             (size_t)MINILM_WEIGHTS_BYTES);
    embedder_close(em);
    return NULL;
  }
  em->ws = alloc_aligned(MINILM_WORKSPACE_BYTES);
  if (!em->ws) {
    snprintf(err, err_len, "out of memory (workspace of %zu bytes)",
             (size_t)MINILM_WORKSPACE_BYTES);
    embedder_close(em);
    return NULL;
  }
  int st = minilm_init(&em->ctx, em->ws, MINILM_WORKSPACE_BYTES, em->weights, wbytes);
  if (st != MINILM_OK) {
    snprintf(err, err_len, "%s: minilm_init: %s", weights_path, minilm_status_str(st));
    embedder_close(em);
    return NULL;
  }
  return em;
}

void embedder_close(Embedder *em) {
  if (!em) return;
  wordpiece_free(em->wp);
  free(em->ws);
  free(em->weights);
  free(em);
}

long embedder_embed(Embedder *em, const char *text, size_t len, float *out, char *err,
                    size_t err_len) {
  long needed = wordpiece_encode(em->wp, text, len, em->ids, EMBEDDER_SEQ);
  if (needed < 0) {
    snprintf(err, err_len, "cannot tokenise the text");
    return -1;
  }
  size_t n = needed < EMBEDDER_SEQ ? (size_t)needed : EMBEDDER_SEQ;
  for (size_t t = 0; t < n; t++) {
    em->mask[t] = t < n;
    em->types[t] = 0;
  }
#if MINILM_NUM_OUTPUTS > 1
  int st = minilm_run(&em->ctx, (int64_t)n, em->ids, em->mask, em->types, em->hidden, em->pooler);
#else
  int st = minilm_run(&em->ctx, (int64_t)n, em->ids, em->mask, em->types, em->hidden);
#endif
  if (st != MINILM_OK) {
    snprintf(err, err_len, "minilm_run: %s", minilm_status_str(st));
    return -1;
  }
  /* Mean over the real tokens (padding has mask 0), then unit length. */
  double sum[EMBEDDER_HIDDEN] = {0};
  for (size_t t = 0; t < n; t++)
    for (size_t d = 0; d < EMBEDDER_HIDDEN; d++) sum[d] += em->hidden[t * EMBEDDER_HIDDEN + d];
  double norm = 0;
  for (size_t d = 0; d < EMBEDDER_HIDDEN; d++) {
    sum[d] /= (double)n;
    norm += sum[d] * sum[d];
  }
  norm = sqrt(norm);
  if (norm < 1e-12) norm = 1e-12;
  for (size_t d = 0; d < EMBEDDER_HIDDEN; d++) out[d] = (float)(sum[d] / norm);
  return needed;
}
