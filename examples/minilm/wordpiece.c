/* wordpiece.c -- BERT WordPiece tokenizer: normaliser, pre-tokeniser, WordPiece.
 *
 * The text is processed in one pass, one code point at a time: each input
 * code point is normalised (wordpiece_tables.h) into zero or more code points
 * that feed the current word; whitespace ends it, punctuation and CJK
 * ideographs end it and form a word of their own.  A finished word is turned
 * into pieces at once, so the only state is one word of at most
 * WORDPIECE_MAX_WORD_CHARS characters on the stack.
 */
#include "wordpiece.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wordpiece_tables.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

struct WordPiece {
  char *pool;        /* the file's bytes, each line NUL-terminated in place */
  uint32_t *tok_off; /* (vocab) offset of each token in pool */
  uint32_t *tok_len; /* (vocab) its length in bytes */
  size_t n_tok;
  uint32_t *slots; /* open-addressing hash table: token id + 1, 0 = empty */
  size_t n_slots;  /* a power of two */
  int64_t unk, cls, sep;
  int64_t special[5]; /* ids of the special tokens matched literally in text, -1 if absent */
};

static const char *const special_names[5] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

/* ---- vocabulary ---------------------------------------------------------- */

/* FNV-1a over "##" (when cont) followed by s[0..len). */
static uint32_t hash_piece(int cont, const char *s, size_t len) {
  uint32_t h = 2166136261u;
  if (cont) {
    h = (h ^ '#') * 16777619u;
    h = (h ^ '#') * 16777619u;
  }
  for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
  return h;
}

/* Id of "##"s (cont) or s, or -1. */
static int64_t lookup(const WordPiece *wp, int cont, const char *s, size_t len) {
  size_t full = len + (cont ? 2 : 0);
  size_t mask = wp->n_slots - 1;
  for (size_t i = hash_piece(cont, s, len) & mask;; i = (i + 1) & mask) {
    uint32_t slot = wp->slots[i];
    if (!slot) return -1;
    uint32_t id = slot - 1;
    const char *t = wp->pool + wp->tok_off[id];
    if (wp->tok_len[id] != full) continue;
    if (cont && (t[0] != '#' || t[1] != '#')) continue;
    if (memcmp(t + (cont ? 2 : 0), s, len) == 0) return id;
  }
}

static void set_err(char *err, size_t err_len, const char *fmt, const char *path) {
  if (err && err_len) snprintf(err, err_len, fmt, path);
}

WordPiece *wordpiece_load(const char *vocab_path, char *err, size_t err_len) {
  FILE *f = fopen(vocab_path, "rb");
  if (!f) {
    set_err(err, err_len, "%s: cannot open the vocabulary", vocab_path);
    return NULL;
  }
  WordPiece *wp = calloc(1, sizeof *wp);
  long size = -1;
  if (wp && fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (!wp || size < 0 || size > 0x7fffffffL || fseek(f, 0, SEEK_SET) != 0) {
    set_err(err, err_len, "%s: cannot read the vocabulary", vocab_path);
    fclose(f);
    free(wp);
    return NULL;
  }
  wp->pool = malloc((size_t)size + 1);
  if (!wp->pool || fread(wp->pool, 1, (size_t)size, f) != (size_t)size) {
    set_err(err, err_len, "%s: cannot read the vocabulary", vocab_path);
    fclose(f);
    wordpiece_free(wp);
    return NULL;
  }
  fclose(f);
  wp->pool[size] = '\n';

  size_t lines = 0;
  for (long i = 0; i < size; i++) lines += wp->pool[i] == '\n';
  if (size > 0 && wp->pool[size - 1] != '\n') lines++;
  wp->tok_off = malloc((lines + 1) * sizeof *wp->tok_off);
  wp->tok_len = malloc((lines + 1) * sizeof *wp->tok_len);
  wp->n_slots = 64;
  while (wp->n_slots < 2 * lines) wp->n_slots *= 2;
  wp->slots = calloc(wp->n_slots, sizeof *wp->slots);
  if (!wp->tok_off || !wp->tok_len || !wp->slots) {
    set_err(err, err_len, "%s: out of memory", vocab_path);
    wordpiece_free(wp);
    return NULL;
  }
  size_t start = 0;
  for (size_t i = 0; i < (size_t)size + 1 && wp->n_tok < lines; i++) {
    if (wp->pool[i] != '\n') continue;
    size_t end = i;
    if (end > start && wp->pool[end - 1] == '\r') end--;
    wp->pool[end] = '\0';
    size_t id = wp->n_tok++;
    wp->tok_off[id] = (uint32_t)start;
    wp->tok_len[id] = (uint32_t)(end - start);
    /* A repeated token keeps its last id, as the Python and Rust loaders do. */
    size_t mask = wp->n_slots - 1;
    for (size_t h = hash_piece(0, wp->pool + start, end - start) & mask;; h = (h + 1) & mask) {
      uint32_t slot = wp->slots[h];
      if (slot && (wp->tok_len[slot - 1] != end - start ||
                   memcmp(wp->pool + wp->tok_off[slot - 1], wp->pool + start, end - start))) {
        continue;
      }
      wp->slots[h] = (uint32_t)id + 1;
      break;
    }
    start = i + 1;
  }
  for (int k = 0; k < 5; k++) wp->special[k] = wordpiece_token_id(wp, special_names[k]);
  wp->unk = wp->special[1];
  wp->cls = wp->special[2];
  wp->sep = wp->special[3];
  if (wp->unk < 0 || wp->cls < 0 || wp->sep < 0) {
    set_err(err, err_len, "%s: the vocabulary lacks [UNK], [CLS] or [SEP]", vocab_path);
    wordpiece_free(wp);
    return NULL;
  }
  return wp;
}

void wordpiece_free(WordPiece *wp) {
  if (!wp) return;
  free(wp->pool);
  free(wp->tok_off);
  free(wp->tok_len);
  free(wp->slots);
  free(wp);
}

size_t wordpiece_vocab_size(const WordPiece *wp) { return wp ? wp->n_tok : 0; }

int64_t wordpiece_token_id(const WordPiece *wp, const char *token) {
  if (!wp || !token) return -1;
  return lookup(wp, 0, token, strlen(token));
}

const char *wordpiece_token(const WordPiece *wp, int64_t id) {
  if (!wp || id < 0 || (size_t)id >= wp->n_tok) return NULL;
  return wp->pool + wp->tok_off[id];
}

/* ---- Unicode ------------------------------------------------------------- */

/* Decodes one code point at s[*i] (i < len) and advances *i.  An invalid or
 * truncated sequence, an overlong form or a surrogate yields U+FFFD after
 * consuming one byte, so a valid character after it is never swallowed. */
static uint32_t utf8_next(const unsigned char *s, size_t len, size_t *i) {
  unsigned b = s[*i];
  size_t left = len - *i;
  if (b < 0x80) {
    (*i)++;
    return b;
  }
  unsigned lo = 0x80, hi = 0xBF;
  size_t n;
  uint32_t c;
  if (b >= 0xC2 && b <= 0xDF) {
    n = 2, c = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    n = 3, c = b & 0x0F;
    if (b == 0xE0) lo = 0xA0;
    if (b == 0xED) hi = 0x9F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    n = 4, c = b & 0x07;
    if (b == 0xF0) lo = 0x90;
    if (b == 0xF4) hi = 0x8F;
  } else {
    (*i)++;
    return 0xFFFD;
  }
  if (left < n || s[*i + 1] < lo || s[*i + 1] > hi) {
    (*i)++;
    return 0xFFFD;
  }
  for (size_t k = 1; k < n; k++) {
    unsigned cb = s[*i + k];
    if (cb < 0x80 || cb > 0xBF) {
      (*i)++;
      return 0xFFFD;
    }
    c = (c << 6) | (cb & 0x3F);
  }
  *i += n;
  return c;
}

static size_t utf8_put(uint32_t c, char *out) {
  if (c < 0x80) {
    out[0] = (char)c;
    return 1;
  }
  if (c < 0x800) {
    out[0] = (char)(0xC0 | (c >> 6));
    out[1] = (char)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    out[0] = (char)(0xE0 | (c >> 12));
    out[1] = (char)(0x80 | ((c >> 6) & 0x3F));
    out[2] = (char)(0x80 | (c & 0x3F));
    return 3;
  }
  out[0] = (char)(0xF0 | (c >> 18));
  out[1] = (char)(0x80 | ((c >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((c >> 6) & 0x3F));
  out[3] = (char)(0x80 | (c & 0x3F));
  return 4;
}

static int in_ranges(const uint32_t (*r)[2], size_t n, uint32_t c) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (c < r[mid][0]) {
      hi = mid;
    } else if (c > r[mid][1]) {
      lo = mid + 1;
    } else {
      return 1;
    }
  }
  return 0;
}

/* The ranges of tokenizers' BertNormalizer (see gen_unicode_tables.py). */
static int is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* NFD without non-spacing marks, then lower case: c -> out[0..n), n <= 4. */
static size_t map_cp(uint32_t c, uint32_t out[4]) {
  if (c >= 0xAC00 && c <= 0xD7A3) { /* Hangul syllables decompose into jamo */
    uint32_t s = c - 0xAC00;
    out[0] = 0x1100 + s / 588;
    out[1] = 0x1161 + (s % 588) / 28;
    if (s % 28 == 0) return 2;
    out[2] = 0x11A7 + s % 28;
    return 3;
  }
  size_t lo = 0, hi = COUNT(wp_mapn);
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (c < wp_mapn[mid].cp) {
      hi = mid;
    } else if (c > wp_mapn[mid].cp) {
      lo = mid + 1;
    } else {
      size_t n = wp_mapn[mid].len;
      for (size_t k = 0; k < n && k < 4; k++) out[k] = wp_mapn_out[wp_mapn[mid].off + k];
      return n < 4 ? n : 4;
    }
  }
  /* The last run starting at or before c. */
  lo = 0, hi = COUNT(wp_map1);
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (wp_map1[mid].start <= c) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo > 0) {
    const WpMapRun *r = &wp_map1[lo - 1];
    uint32_t d = c - r->start;
    if (d % r->step == 0 && d / r->step < r->count) {
      out[0] = (uint32_t)((int32_t)c + r->delta);
      return 1;
    }
  }
  out[0] = c;
  return 1;
}

/* ---- encoding ------------------------------------------------------------ */

typedef struct {
  const WordPiece *wp;
  int64_t *ids;
  size_t max_ids;
  size_t n; /* ids the encoding needs so far, [CLS] included */
  char word[WORDPIECE_MAX_WORD_CHARS * 4];
  uint16_t off[WORDPIECE_MAX_WORD_CHARS + 1]; /* byte offset of each character, and the end */
  int nchars; /* characters in the word; > WORDPIECE_MAX_WORD_CHARS: too long */
} Enc;

/* Appends a piece; the last slot of ids is kept for [SEP]. */
static void emit(Enc *e, int64_t id) {
  if (e->n < e->max_ids - 1) e->ids[e->n] = id;
  e->n++;
}

static void push_char(Enc *e, uint32_t c) {
  if (e->nchars < WORDPIECE_MAX_WORD_CHARS) {
    size_t at = e->off[e->nchars];
    e->off[e->nchars + 1] = (uint16_t)(at + utf8_put(c, e->word + at));
  }
  if (e->nchars <= WORDPIECE_MAX_WORD_CHARS) e->nchars++;
}

/* Greedy longest-match-first WordPiece; a word with any uncovered part, or
 * over WORDPIECE_MAX_WORD_CHARS characters, is a single [UNK]. */
static void flush_word(Enc *e) {
  int n = e->nchars;
  e->nchars = 0;
  if (n == 0) return;
  if (n > WORDPIECE_MAX_WORD_CHARS) {
    emit(e, e->wp->unk);
    return;
  }
  int64_t pieces[WORDPIECE_MAX_WORD_CHARS];
  int np = 0;
  for (int start = 0; start < n;) {
    int64_t id = -1;
    int end = n;
    for (; end > start; end--) {
      id = lookup(e->wp, start > 0, e->word + e->off[start], (size_t)(e->off[end] - e->off[start]));
      if (id >= 0) break;
    }
    if (id < 0) {
      emit(e, e->wp->unk);
      return;
    }
    pieces[np++] = id;
    start = end;
  }
  for (int k = 0; k < np; k++) emit(e, pieces[k]);
}

static int is_ascii_punct(uint32_t c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}

/* Pre-tokeniser on one normalised code point. */
static void pretok_char(Enc *e, uint32_t c) {
  if (c < 0x80) {
    if (c == ' ') {
      flush_word(e);
    } else if (is_ascii_punct(c)) {
      flush_word(e);
      push_char(e, c);
      flush_word(e);
    } else {
      push_char(e, c);
    }
    return;
  }
  if (in_ranges(wp_prews, COUNT(wp_prews), c)) {
    flush_word(e);
  } else if (in_ranges(wp_punct, COUNT(wp_punct), c)) {
    flush_word(e);
    push_char(e, c);
    flush_word(e);
  } else {
    push_char(e, c);
  }
}

/* Normaliser on one input code point, feeding the pre-tokeniser. */
static void normalize_char(Enc *e, uint32_t c) {
  if (c < 0x80) { /* fast path; the tables agree */
    if (c == '\t' || c == '\n' || c == '\r' || c == ' ') {
      flush_word(e);
    } else if (c < 0x20 || c == 0x7F) {
      /* control: dropped */
    } else {
      pretok_char(e, c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    return;
  }
  if (in_ranges(wp_drop, COUNT(wp_drop), c)) return;
  if (in_ranges(wp_space, COUNT(wp_space), c)) {
    flush_word(e);
    return;
  }
  uint32_t out[4];
  size_t n = map_cp(c, out);
  int cjk = is_cjk(c);
  if (cjk) flush_word(e);
  for (size_t k = 0; k < n; k++) pretok_char(e, out[k]);
  if (cjk) flush_word(e);
}

/* Length of the special token written literally at s[0..left), or 0. */
static size_t match_special(const Enc *e, const char *s, size_t left, int64_t *id) {
  for (int k = 0; k < 5; k++) {
    size_t n = strlen(special_names[k]);
    if (e->wp->special[k] >= 0 && n <= left && memcmp(s, special_names[k], n) == 0) {
      *id = e->wp->special[k];
      return n;
    }
  }
  return 0;
}

long wordpiece_encode(const WordPiece *wp, const char *text, size_t len, int64_t *ids,
                      size_t max_ids) {
  if (!wp || !ids || (!text && len > 0) || max_ids < 2) return -1;
  Enc e;
  e.wp = wp;
  e.ids = ids;
  e.max_ids = max_ids;
  e.n = 0;
  e.nchars = 0;
  e.off[0] = 0;
  emit(&e, wp->cls);
  const unsigned char *s = (const unsigned char *)text;
  for (size_t i = 0; i < len;) {
    int64_t id;
    size_t m;
    if (s[i] == '[' && (m = match_special(&e, text + i, len - i, &id)) > 0) {
      flush_word(&e);
      emit(&e, id);
      i += m;
      continue;
    }
    normalize_char(&e, utf8_next(s, len, &i));
  }
  flush_word(&e);
  ids[e.n < max_ids - 1 ? e.n : max_ids - 1] = wp->sep;
  return (long)(e.n + 1);
}
