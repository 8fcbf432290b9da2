/* test_tokenizer.c -- the C WordPiece tokenizer reproduces, id for id, what
 * the model's own tokenizer (tokenizers, Rust) gave for every sentence of
 * reference.json; plus the edge cases of the API (truncation, invalid UTF-8,
 * bad arguments).
 *
 * Usage: test_tokenizer VOCAB_TXT REFERENCE_JSON
 *        test_tokenizer VOCAB_TXT --encode MAX_IDS < RECORDS
 * The second form serves fuzz_tokenizer.py: RECORDS are texts, each preceded
 * by its byte length (4 bytes, little-endian); it prints, per text, the return
 * value of wordpiece_encode and the ids written, on one line.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wordpiece.h"

#define MAX_IDS 4096

static int failures;

#define CHECK(cond, ...)                                    \
  do {                                                      \
    if (!(cond)) {                                          \
      fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                         \
      fprintf(stderr, "\n");                                \
      failures++;                                           \
    }                                                       \
  } while (0)

static long encode(const WordPiece *wp, const char *s, size_t len, int64_t *ids, size_t max) {
  return wordpiece_encode(wp, s, len, ids, max);
}

static int same_ids(const int64_t *a, const int64_t *b, long n) {
  for (long i = 0; i < n; i++)
    if (a[i] != b[i]) return 0;
  return 1;
}

/* Every reference sentence, at the model's max length and untruncated. */
static int check_reference(const WordPiece *wp, const char *ref_path) {
  json_error_t jerr;
  json_t *root = json_load_file(ref_path, JSON_ALLOW_NUL, &jerr);
  if (!root) {
    fprintf(stderr, "%s:%d: %s\n", ref_path, jerr.line, jerr.text);
    return -1;
  }
  json_t *sentences = json_object_get(root, "sentences");
  json_int_t max_len = json_integer_value(json_object_get(root, "max_length"));
  if (!json_is_array(sentences) || json_array_size(sentences) < 20 || max_len < 2 ||
      max_len > MAX_IDS) {
    fprintf(stderr, "%s: expected max_length and at least 20 sentences\n", ref_path);
    json_decref(root);
    return -1;
  }
  static int64_t ids[MAX_IDS], want[MAX_IDS], full[MAX_IDS];
  size_t i;
  json_t *rec;
  json_array_foreach(sentences, i, rec) {
    json_t *text = json_object_get(rec, "text");
    json_t *jids = json_object_get(rec, "ids");
    size_t n_want = json_array_size(jids);
    if (!json_is_string(text) || n_want < 2 || n_want > (size_t)max_len) {
      fprintf(stderr, "%s: sentence %zu is malformed\n", ref_path, i);
      failures++;
      continue;
    }
    for (size_t k = 0; k < n_want; k++) want[k] = json_integer_value(json_array_get(jids, k));
    const char *s = json_string_value(text);
    size_t len = json_string_length(text);

    long n = encode(wp, s, len, ids, (size_t)max_len);
    long got = n < max_len ? n : (long)max_len;
    int ok = got == (long)n_want && same_ids(ids, want, got);
    CHECK(ok, "sentence %zu \"%.60s\": ids differ", i, s);
    if (!ok) {
      fprintf(stderr, "  want:");
      for (size_t k = 0; k < n_want; k++) fprintf(stderr, " %lld", (long long)want[k]);
      fprintf(stderr, "\n  got: ");
      for (long k = 0; k < got; k++) fprintf(stderr, " %lld", (long long)ids[k]);
      fprintf(stderr, "\n");
    }
    /* Untruncated, the same pieces come first; the total matches the return value. */
    long nf = encode(wp, s, len, full, MAX_IDS);
    CHECK(nf == n && nf <= MAX_IDS, "sentence %zu: full length %ld vs %ld", i, nf, n);
    if (n_want < (size_t)max_len) {
      CHECK(nf == (long)n_want && same_ids(full, want, nf), "sentence %zu: untruncated ids", i);
    } else {
      CHECK(nf >= max_len && same_ids(full, want, max_len - 1),
            "sentence %zu: truncation keeps the first pieces", i);
    }
  }
  printf("tokenizer: %zu reference sentences checked (max_length %lld)\n",
         json_array_size(sentences), (long long)max_len);
  json_decref(root);
  return 0;
}

static void check_edges(const WordPiece *wp) {
  int64_t a[64], b[64];
  int64_t cls = wordpiece_token_id(wp, "[CLS]"), sep = wordpiece_token_id(wp, "[SEP]");
  int64_t unk = wordpiece_token_id(wp, "[UNK]");
  CHECK(cls >= 0 && sep >= 0 && unk >= 0, "special tokens");
  CHECK(wordpiece_token(wp, cls) && strcmp(wordpiece_token(wp, cls), "[CLS]") == 0,
        "token spelling");
  CHECK(wordpiece_token(wp, -1) == NULL &&
            wordpiece_token(wp, (int64_t)wordpiece_vocab_size(wp)) == NULL,
        "token out of range");

  /* Empty text: [CLS] [SEP]; so is NULL with length 0. */
  CHECK(encode(wp, "", 0, a, 64) == 2 && a[0] == cls && a[1] == sep, "empty text");
  CHECK(encode(wp, NULL, 0, a, 64) == 2, "NULL empty text");

  /* Bad arguments touch nothing. */
  a[0] = 12345;
  CHECK(encode(wp, "hello", 5, a, 1) == -1 && a[0] == 12345, "max_ids < 2");
  CHECK(wordpiece_encode(NULL, "hello", 5, a, 64) == -1, "NULL tokenizer");
  CHECK(wordpiece_encode(wp, "hello", 5, NULL, 64) == -1, "NULL ids");
  CHECK(wordpiece_encode(wp, NULL, 5, a, 64) == -1, "NULL text");

  /* Truncation: snprintf-like return, [SEP] last, nothing written past max. */
  const char *t = "the quick brown fox jumps over the lazy dog";
  long n = encode(wp, t, strlen(t), a, 64);
  CHECK(n == 11, "fox: %ld ids", n);
  for (size_t max = 2; max < 11; max++) {
    for (int k = 0; k < 64; k++) b[k] = -7;
    long m = encode(wp, t, strlen(t), b, max);
    CHECK(m == n && same_ids(a, b, (long)max - 1) && b[max - 1] == sep && b[max] == -7,
          "truncation to %zu", max);
  }

  /* Invalid UTF-8 is dropped: the same ids as the text without those bytes. */
  const char bad[] = "caf\xC3\xA9 \xFF\xC0\xAFna\xE2\x82\xEDive \xED\xA0\x80x \xF0\x9F\x98";
  const char clean[] = "caf\xC3\xA9 naive x ";
  long nb = encode(wp, bad, sizeof bad - 1, a, 64);
  long nc = encode(wp, clean, sizeof clean - 1, b, 64);
  CHECK(nb == nc && same_ids(a, b, nb), "invalid UTF-8 bytes are dropped");

  /* Upper case and accents do not matter; a word of 101 characters is [UNK]. */
  nb = encode(wp, "CAFÉ NAÏVE", strlen("CAFÉ NAÏVE"), a, 64);
  nc = encode(wp, "cafe naive", 10, b, 64);
  CHECK(nb == nc && same_ids(a, b, nb), "lower-casing and accent stripping");
  char longw[102];
  memset(longw, 'a', 101);
  longw[101] = '\0';
  CHECK(encode(wp, longw, 101, a, 64) == 3 && a[1] == unk, "101-character word");
  CHECK(encode(wp, longw, 100, a, 64) > 3, "100-character word is split into pieces");
}

static int encode_stdin(const WordPiece *wp, size_t max_ids) {
  static char text[1 << 22];
  static int64_t ids[1 << 16];
  unsigned char hdr[4];
  if (max_ids < 2 || max_ids > sizeof ids / sizeof ids[0]) return 2;
  while (fread(hdr, 1, 4, stdin) == 4) {
    size_t len = hdr[0] | hdr[1] << 8 | hdr[2] << 16 | (size_t)hdr[3] << 24;
    if (len > sizeof text || fread(text, 1, len, stdin) != len) return 1;
    long n = encode(wp, text, len, ids, max_ids);
    long written = n < (long)max_ids ? n : (long)max_ids;
    printf("%ld", n);
    for (long i = 0; i < written; i++) printf(" %lld", (long long)ids[i]);
    printf("\n");
  }
  return 0;
}

int main(int argc, char **argv) {
  int encode_mode = argc == 4 && strcmp(argv[2], "--encode") == 0;
  if (argc != 3 && !encode_mode) {
    fprintf(stderr, "usage: %s VOCAB_TXT REFERENCE_JSON\n       %s VOCAB_TXT --encode MAX_IDS\n",
            argv[0], argv[0]);
    return 2;
  }
  char err[512];
  WordPiece *wp = wordpiece_load(argv[1], err, sizeof err);
  if (!wp) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  if (encode_mode) {
    int rc = encode_stdin(wp, (size_t)strtoul(argv[3], NULL, 10));
    wordpiece_free(wp);
    return rc;
  }
  CHECK(wordpiece_load("/nonexistent/vocab.txt", err, sizeof err) == NULL &&
            strstr(err, "/nonexistent"),
        "missing vocabulary is an error naming the file");
  check_edges(wp);
  if (check_reference(wp, argv[2]) != 0) failures++;
  wordpiece_free(wp);
  if (failures) {
    fprintf(stderr, "%d failure(s)\n", failures);
    return 1;
  }
  printf("tokenizer: all checks passed\n");
  return 0;
}
