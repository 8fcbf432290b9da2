/* embed.c -- embeds sentences with the tfxc-compiled all-MiniLM-L6-v2 and
 * prints their cosine-similarity matrix.
 *
 *   minilm_embed [--vocab vocab.txt] [--weights minilm.bin] [SENTENCE...]
 *
 * Without sentences it embeds a few defaults.  The default paths of the
 * vocabulary and the weights are those of the build that produced it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedder.h"

#ifndef MINILM_VOCAB_PATH
#define MINILM_VOCAB_PATH "vocab.txt"
#endif
#ifndef MINILM_WEIGHTS_PATH
#define MINILM_WEIGHTS_PATH "minilm.bin"
#endif

static const char *const default_sentences[] = {
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is riding a horse.",
    "The new movie is awesome!",
    "The new film is so great.",
};

static void usage(FILE *f, const char *argv0) {
  fprintf(f,
          "usage: %s [--vocab FILE] [--weights FILE] [SENTENCE...]\n"
          "Embeds each sentence with all-MiniLM-L6-v2 (compiled by tfxc for %zu tokens)\n"
          "and prints the cosine-similarity matrix.  Defaults:\n"
          "  --vocab   %s\n  --weights %s\n",
          argv0, embedder_max_tokens(), MINILM_VOCAB_PATH, MINILM_WEIGHTS_PATH);
}

int main(int argc, char **argv) {
  const char *vocab = MINILM_VOCAB_PATH, *weights = MINILM_WEIGHTS_PATH;
  const char **sentences = malloc((size_t)argc * sizeof *sentences);
  size_t n = 0;
  if (!sentences) return 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc) {
      vocab = argv[++i];
    } else if (strcmp(argv[i], "--weights") == 0 && i + 1 < argc) {
      weights = argv[++i];
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage(stdout, argv[0]);
      free(sentences);
      return 0;
    } else if (strcmp(argv[i], "--") == 0) {
      while (++i < argc) sentences[n++] = argv[i];
    } else if (strncmp(argv[i], "--", 2) == 0) {
      usage(stderr, argv[0]);
      free(sentences);
      return 2;
    } else {
      sentences[n++] = argv[i];
    }
  }
  const char *const *list = sentences;
  if (n == 0) {
    list = default_sentences;
    n = sizeof default_sentences / sizeof default_sentences[0];
  }

  char err[512];
  Embedder *em = embedder_open(vocab, weights, err, sizeof err);
  if (!em) {
    fprintf(stderr, "minilm_embed: %s\n", err);
    free(sentences);
    return 1;
  }
  size_t dim = embedder_dim();
  float *emb = malloc(n * dim * sizeof *emb);
  int rc = emb ? 0 : 1;
  for (size_t i = 0; i < n && rc == 0; i++) {
    long tokens = embedder_embed(em, list[i], strlen(list[i]), emb + i * dim, err, sizeof err);
    if (tokens < 0) {
      fprintf(stderr, "minilm_embed: sentence %zu: %s\n", i + 1, err);
      rc = 1;
      break;
    }
    printf("[%zu] %s  (%ld tokens%s)\n", i + 1, list[i], tokens,
           (size_t)tokens > embedder_max_tokens() ? ", truncated" : "");
  }
  if (rc == 0) {
    printf("\ncosine similarity\n     ");
    for (size_t j = 0; j < n; j++) printf(" %6zu", j + 1);
    printf("\n");
    for (size_t i = 0; i < n; i++) {
      printf("[%2zu] ", i + 1);
      for (size_t j = 0; j < n; j++) {
        double dot = 0; /* unit vectors: the dot product is the cosine */
        for (size_t d = 0; d < dim; d++) dot += (double)emb[i * dim + d] * emb[j * dim + d];
        printf(" %6.3f", dot);
      }
      printf("\n");
    }
  }
  free(emb);
  embedder_close(em);
  free(sentences);
  return rc;
}
