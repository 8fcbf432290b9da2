/* test_embeddings.c -- every reference sentence, embedded end to end by the C
 * tokenizer and the tfxc-compiled all-MiniLM-L6-v2, has cosine >= 0.99999
 * (or MIN_COSINE, for a model compiled with quantised weights) with the
 * embedding the model's Python stack produced (reference.json).  The median
 * and worst cosine are printed: they are the quantisation accuracy figures.
 *
 * Usage: test_embeddings VOCAB_TXT MINILM_BIN REFERENCE_JSON [MIN_COSINE]
 * Sentences longer than the compiled sequence length are skipped (and said
 * so); compile with --dim seq=256 to cover them all.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "embedder.h"

#define MIN_COSINE 0.99999

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The first bytes of s for a log line: whole UTF-8 characters, controls as spaces. */
static const char *snippet(const char *s, size_t len, char out[64]) {
  size_t n = len < 48 ? len : 48;
  while (n < len && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
  for (size_t i = 0; i < n; i++) out[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
  strcpy(out + n, n < len ? "..." : "");
  return out;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 5) {
    fprintf(stderr, "usage: %s VOCAB_TXT MINILM_BIN REFERENCE_JSON [MIN_COSINE]\n", argv[0]);
    return 2;
  }
  double min_cosine = argc == 5 ? strtod(argv[4], NULL) : MIN_COSINE;
  json_error_t jerr;
  json_t *root = json_load_file(argv[3], JSON_ALLOW_NUL, &jerr);
  if (!root) {
    fprintf(stderr, "%s:%d: %s\n", argv[3], jerr.line, jerr.text);
    return 1;
  }
  char err[512];
  Embedder *em = embedder_open(argv[1], argv[2], err, sizeof err);
  if (!em) {
    fprintf(stderr, "%s\n", err);
    json_decref(root);
    return 1;
  }
  size_t dim = embedder_dim();
  json_t *sentences = json_object_get(root, "sentences");
  if ((size_t)json_integer_value(json_object_get(root, "dim")) != dim ||
      json_array_size(sentences) < 20) {
    fprintf(stderr, "%s: expected dim %zu and at least 20 sentences\n", argv[3], dim);
    embedder_close(em);
    json_decref(root);
    return 1;
  }
  float *got = malloc(dim * sizeof *got);
  double *cosines = malloc(json_array_size(sentences) * sizeof *cosines);
  size_t n_cos = 0;
  int failures = 0, skipped = 0;
  double worst = 1.0;
  size_t i;
  json_t *rec;
  json_array_foreach(sentences, i, rec) {
    json_t *text = json_object_get(rec, "text"), *ref = json_object_get(rec, "embedding");
    size_t n_ids = json_array_size(json_object_get(rec, "ids"));
    if (!json_is_string(text) || json_array_size(ref) != dim) {
      fprintf(stderr, "FAIL: sentence %zu is malformed\n", i);
      failures++;
      continue;
    }
    const char *s = json_string_value(text);
    if (n_ids > embedder_max_tokens()) {
      printf("skip: sentence %zu has %zu tokens, the model is compiled for %zu\n", i, n_ids,
             embedder_max_tokens());
      skipped++;
      continue;
    }
    long tokens = embedder_embed(em, s, json_string_length(text), got, err, sizeof err);
    if (tokens < 0) {
      fprintf(stderr, "FAIL: sentence %zu: %s\n", i, err);
      failures++;
      continue;
    }
    double dot = 0, nr = 0, ng = 0;
    for (size_t d = 0; d < dim; d++) {
      double r = json_number_value(json_array_get(ref, d));
      dot += r * got[d];
      nr += r * r;
      ng += (double)got[d] * got[d];
    }
    double cosine = dot / (sqrt(nr) * sqrt(ng));
    size_t used = (size_t)tokens < embedder_max_tokens() ? (size_t)tokens : embedder_max_tokens();
    int ok = cosine >= min_cosine && used == n_ids;
    if (cosine < worst) worst = cosine;
    cosines[n_cos++] = cosine;
    char buf[64];
    printf("%s sentence %2zu: 1 - cosine = %.1e, %3zu tokens  \"%s\"\n", ok ? "ok  " : "FAIL", i,
           1.0 - cosine, used, snippet(s, json_string_length(text), buf));
    failures += !ok;
  }
  printf("embeddings: %zu sentences, %d skipped, %d failed, worst 1 - cosine = %.1e (need <= %g)\n",
         json_array_size(sentences), skipped, failures, 1.0 - worst, 1.0 - min_cosine);
  if (n_cos) {
    qsort(cosines, n_cos, sizeof *cosines, by_value);
    printf("cosine: median %.6f worst %.6f\n", cosines[n_cos / 2], cosines[0]);
  }
  free(cosines);
  free(got);
  embedder_close(em);
  json_decref(root);
  return failures ? 1 : 0;
}
