/* lift.c — merging C texts printed at sample sizes into one text for every
 * size (see lift.h).  The texts are walked in lockstep, one pass each, so the
 * work is linear in their total length; every literal that differs is fitted
 * exactly (integer Gauss-Jordan in 128 bits, then verified in checked int64)
 * and nothing is ever guessed: a mismatch that is not an integer polynomial is
 * refused with the line and the values. */
#include "codegen/lift.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef __int128 i128;

/* ---- fitting ------------------------------------------------------------ */

/* Coefficient slots are fixed: 1, s0, s1, s0*s0, s0*s1, s1*s1; with one
 * symbol the slots that mention s1 stay 0.  Slots used by degree d: */
static int slots(int n_syms, int deg, int *slot) {
  static const int one[] = {0, 1, 3}, two[] = {0, 1, 2, 3, 4, 5};
  int n = n_syms == 1 ? deg + 1 : (deg == 0 ? 1 : deg == 1 ? 3 : 6);
  for (int i = 0; i < n; i++) slot[i] = n_syms == 1 ? one[i] : two[i];
  return n;
}

static i128 mono128(const int64_t *x, int slot) {
  switch (slot) {
  case 0: return 1;
  case 1: return x[0];
  case 2: return x[1];
  case 3: return (i128)x[0] * x[0];
  case 4: return (i128)x[0] * x[1];
  default: return (i128)x[1] * x[1];
  }
}

static i128 abs128(i128 v) { return v < 0 ? -v : v; }

static i128 gcd128(i128 a, i128 b) {
  a = abs128(a), b = abs128(b);
  while (b) {
    i128 t = a % b;
    a = b, b = t;
  }
  return a;
}

/* Checked polynomial value in int64; false on any overflow. */
static bool eval_checked(const TfxLiftSpec *s, const int64_t *coef, const int64_t *x, int64_t *out) {
  int64_t m[TFX_LIFT_MAX_TERMS] = {1, x[0], s->n_syms == 2 ? x[1] : 0, 0, 0, 0};
  if (__builtin_mul_overflow(m[1], m[1], &m[3]) || __builtin_mul_overflow(m[1], m[2], &m[4]) ||
      __builtin_mul_overflow(m[2], m[2], &m[5]))
    return false;
  int64_t sum = 0, t;
  for (int j = 0; j < TFX_LIFT_MAX_TERMS; j++) {
    if (!coef[j]) continue;
    if (__builtin_mul_overflow(coef[j], m[j], &t) || __builtin_add_overflow(sum, t, &sum)) return false;
  }
  *out = sum;
  return true;
}

enum { FIT_OK, FIT_NONE, FIT_DEGENERATE };

/* Solve for degree deg exactly: Gauss-Jordan over the integers on the k x
 * (n+1) augmented system, each row kept reduced by its gcd. */
static int fit_degree(const TfxLiftSpec *s, const int64_t *y, int deg, int64_t *coef) {
  int slot[TFX_LIFT_MAX_TERMS];
  int n = slots(s->n_syms, deg, slot), k = s->k;
  if (k < n) return FIT_DEGENERATE;
  i128 a[TFX_LIFT_MAX_SAMPLES][TFX_LIFT_MAX_TERMS + 1];
  for (int i = 0; i < k; i++) {
    for (int j = 0; j < n; j++) a[i][j] = mono128(s->sample[i], slot[j]);
    a[i][n] = y[i];
  }
  for (int c = 0; c < n; c++) {
    int p = -1;
    for (int r = c; r < k; r++) /* smallest pivot keeps the numbers small */
      if (a[r][c] && (p < 0 || abs128(a[r][c]) < abs128(a[p][c]))) p = r;
    if (p < 0) return FIT_DEGENERATE;
    if (p != c)
      for (int j = 0; j <= n; j++) {
        i128 t = a[p][j];
        a[p][j] = a[c][j], a[c][j] = t;
      }
    for (int r = 0; r < k; r++) {
      if (r == c || !a[r][c]) continue;
      i128 f = a[r][c], pv = a[c][c], g = gcd128(f, pv);
      f /= g, pv /= g;
      i128 rowg = 0;
      for (int j = 0; j <= n; j++) {
        i128 u, v;
        if (__builtin_mul_overflow(a[r][j], pv, &u) || __builtin_mul_overflow(a[c][j], f, &v) ||
            __builtin_sub_overflow(u, v, &a[r][j]))
          return FIT_NONE;
        rowg = gcd128(rowg, a[r][j]);
      }
      if (rowg > 1)
        for (int j = 0; j <= n; j++) a[r][j] /= rowg;
    }
  }
  for (int r = n; r < k; r++)
    if (a[r][n]) return FIT_NONE; /* the extra samples disagree */
  memset(coef, 0, TFX_LIFT_MAX_TERMS * sizeof *coef);
  for (int c = 0; c < n; c++) {
    if (a[c][n] % a[c][c]) return FIT_NONE; /* not an integer coefficient */
    i128 v = a[c][n] / a[c][c];
    if (v > INT64_MAX || v < INT64_MIN) return FIT_NONE;
    coef[slot[c]] = (int64_t)v;
  }
  for (int i = 0; i < k; i++) {
    int64_t v;
    if (!eval_checked(s, coef, s->sample[i], &v) || v != y[i]) return FIT_NONE;
  }
  return FIT_OK;
}

int tfx_lift_fit(const TfxLiftSpec *s, const int64_t *y, int64_t *coef) {
  memset(coef, 0, TFX_LIFT_MAX_TERMS * sizeof *coef);
  if (s->n_syms < 1 || s->n_syms > TFX_LIFT_MAX_SYMS || s->k < 1 || s->k > TFX_LIFT_MAX_SAMPLES) return -1;
  for (int deg = 0; deg <= 2; deg++) {
    int r = fit_degree(s, y, deg, coef);
    if (r == FIT_OK) return deg;
    if (r == FIT_DEGENERATE) break;
  }
  memset(coef, 0, TFX_LIFT_MAX_TERMS * sizeof *coef);
  return -1;
}

int64_t tfx_lift_eval(const TfxLiftSpec *s, const int64_t *coef, const int64_t *sym) {
  /* wrapping arithmetic: no undefined behaviour on absurd inputs */
  uint64_t x0 = (uint64_t)sym[0], x1 = s->n_syms == 2 ? (uint64_t)sym[1] : 0;
  uint64_t m[TFX_LIFT_MAX_TERMS] = {1, x0, x1, x0 * x0, x0 * x1, x1 * x1}, sum = 0;
  for (int j = 0; j < TFX_LIFT_MAX_TERMS; j++) sum += (uint64_t)coef[j] * m[j];
  return (int64_t)sum;
}

/* ---- printing an expression --------------------------------------------- */

typedef struct {
  char *p;
  size_t n, cap;
} Buf;

static void buf_reserve(Buf *b, size_t more) {
  if (b->n + more + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + more + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) abort();
  b->p = p, b->cap = cap;
}

static void buf_put(Buf *b, const char *s, size_t len) {
  buf_reserve(b, len);
  memcpy(b->p + b->n, s, len);
  b->n += len;
  b->p[b->n] = 0;
}

static void buf_puts(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }

/* Appends to a fixed buffer, truncating; the buffer stays NUL-terminated. */
static void fmt(char *err, size_t errlen, size_t *n, const char *f, ...) {
  if (!err || !errlen || *n >= errlen) return;
  va_list ap;
  va_start(ap, f);
  int w = vsnprintf(err + *n, errlen - *n, f, ap);
  va_end(ap);
  if (w > 0) *n = *n + (size_t)w < errlen ? *n + (size_t)w : errlen - 1;
}

const char *tfx_lift_expr(const TfxLiftSpec *s, const int64_t *coef, char *buf, size_t size) {
  /* highest degree first, the constant last: "(tfx_S * tfx_S * 4 + tfx_S - 3)" */
  static const int order[] = {3, 4, 5, 1, 2, 0};
  static const int f0[] = {-1, 0, 1, 0, 0, 1}, f1[] = {-1, -1, -1, 0, 1, 1};
  size_t n = 0;
  if (!size) return buf;
  buf[0] = 0;
  bool only_const = true;
  for (int j = 1; j < TFX_LIFT_MAX_TERMS; j++)
    if (coef[j]) only_const = false;
  if (only_const) {
    fmt(buf, size, &n, coef[0] < 0 ? "(%lld)" : "%lld", (long long)coef[0]);
    return buf;
  }
  fmt(buf, size, &n, "(");
  int terms = 0;
  for (int o = 0; o < TFX_LIFT_MAX_TERMS; o++) {
    int j = order[o];
    if (!coef[j]) continue;
    /* magnitude as unsigned: -INT64_MIN must not overflow */
    unsigned long long mag = coef[j] < 0 ? 0ull - (unsigned long long)coef[j] : (unsigned long long)coef[j];
    fmt(buf, size, &n, "%s", coef[j] < 0 ? (terms ? " - " : "-") : (terms ? " + " : ""));
    if (j == 0) {
      fmt(buf, size, &n, "%llu", mag);
    } else {
      fmt(buf, size, &n, "%s", s->sym_expr[f0[j]]);
      if (f1[j] >= 0) fmt(buf, size, &n, " * %s", s->sym_expr[f1[j]]);
      if (mag != 1) fmt(buf, size, &n, " * %llu", mag);
    }
    terms++;
  }
  fmt(buf, size, &n, ")");
  return buf;
}

/* ---- tokens ------------------------------------------------------------- */

/* A text is a sequence of runs of other text, each followed by a number
 * token or by the end.  A cursor walks one text. */
typedef struct {
  const char *t;
  size_t pos;
  char last_nb, prev_nb; /* the last two non-blank characters passed */
} Cur;

enum { WRAP_NONE, WRAP_INT64_C, WRAP_UINT64_C };

typedef struct {
  size_t run, run_end; /* [run, run_end): text before the token */
  size_t tok_end;      /* token is [run_end, tok_end); empty at the end */
  size_t num, num_end; /* the literal inside, with its sign */
  int wrap;
} Tok;

static bool is_ident(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(char c) { return c >= '0' && c <= '9'; }
static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* The number token starting at the digit t[p]: [0-9A-Za-z_.] and a sign right
 * after an exponent letter. */
static size_t number_end(const char *t, size_t p) {
  size_t q = p;
  for (;;) {
    char c = t[q];
    if (is_ident(c) || c == '.') q++;
    else if ((c == '+' || c == '-') && q > p && strchr("eEpP", t[q - 1])) q++;
    else return q;
  }
}

/* A plain integer literal (decimal without a leading 0, or hex) and its
 * [uUlL] suffix; false for floats, octal and values beyond int64. */
static bool parse_int(const char *t, size_t p, size_t end, int64_t *val, size_t *suffix) {
  bool neg = t[p] == '-';
  if (neg) p++;
  uint64_t v = 0;
  size_t q = p;
  if (t[q] == '0' && (t[q + 1] == 'x' || t[q + 1] == 'X') && q + 2 < end) {
    q += 2;
    size_t start = q;
    for (;; q++) {
      char c = t[q];
      int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0 || q >= end) break;
      if (v > (UINT64_MAX >> 4)) return false;
      v = v * 16 + (uint64_t)d;
    }
    if (q == start) return false;
  } else {
    if (t[q] == '0' && q + 1 < end && is_digit(t[q + 1])) return false; /* octal */
    for (; q < end && is_digit(t[q]); q++) {
      if (v > (UINT64_MAX - 9) / 10) return false;
      v = v * 10 + (uint64_t)(t[q] - '0');
    }
  }
  *suffix = q;
  for (; q < end; q++)
    if (!strchr("uUlL", t[q])) return false;
  if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u)) return false;
  *val = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

/* INT64_C(<int>) / UINT64_C(<int>) at t[p]: the end of the whole form. */
static size_t wrapped_end(const char *t, size_t p, int *wrap, size_t *num, size_t *num_end) {
  size_t q = p;
  if (strncmp(t + q, "INT64_C(", 8) == 0) *wrap = WRAP_INT64_C, q += 8;
  else if (strncmp(t + q, "UINT64_C(", 9) == 0) *wrap = WRAP_UINT64_C, q += 9;
  else return 0;
  *num = q;
  if (t[q] == '-') q++;
  if (!is_digit(t[q])) return 0;
  q = number_end(t, q);
  int64_t v;
  size_t sfx;
  if (t[q] != ')' || !parse_int(t, *num, q, &v, &sfx)) return 0;
  *num_end = q;
  return q + 1;
}

static void next_token(Cur *c, Tok *k) {
  const char *t = c->t;
  size_t p = c->pos;
  k->run = p;
  for (;; p++) {
    char ch = t[p];
    if (!ch) break;
    if (is_digit(ch) && (p == 0 || !(is_ident(t[p - 1]) || t[p - 1] == '.'))) {
      size_t start = p;
      /* a '-' right before is the literal's sign unless it follows an operand */
      if (p > k->run && t[p - 1] == '-' && !(is_ident(c->prev_nb) || c->prev_nb == ')' || c->prev_nb == ']'))
        start = p - 1;
      k->run_end = k->num = start;
      k->tok_end = k->num_end = number_end(t, p);
      k->wrap = WRAP_NONE;
      c->pos = k->tok_end;
      c->last_nb = t[k->tok_end - 1];
      return;
    }
    if ((ch == 'I' || ch == 'U') && (p == 0 || !is_ident(t[p - 1]))) {
      size_t e = wrapped_end(t, p, &k->wrap, &k->num, &k->num_end);
      if (e) {
        k->run_end = p;
        k->tok_end = e;
        c->pos = e;
        c->last_nb = ')';
        return;
      }
    }
    if (!is_blank(ch)) c->prev_nb = c->last_nb, c->last_nb = ch;
  }
  k->run_end = k->tok_end = k->num = k->num_end = p;
  k->wrap = WRAP_NONE;
  c->pos = p;
}

/* ---- errors ------------------------------------------------------------- */

/* The line around t[p], quoted (trimmed, at most 160 characters). */
static void quote_line(char *err, size_t errlen, size_t *n, const char *t, size_t p) {
  size_t a = p, b = p;
  while (a > 0 && t[a - 1] != '\n') a--;
  while (t[b] && t[b] != '\n') b++;
  while (a < b && is_blank(t[a])) a++;
  while (b > a && is_blank(t[b - 1])) b--;
  bool cut = b - a > 160;
  fmt(err, errlen, n, "'%.*s%s'", (int)(cut ? 160 : b - a), t + a, cut ? "..." : "");
}

static const char *sym_name(const TfxLiftSpec *s, int j) {
  const char *e = s->sym_expr[j] ? s->sym_expr[j] : "?";
  return strncmp(e, "tfx_", 4) == 0 ? e + 4 : e;
}

static void sample_name(char *err, size_t errlen, size_t *n, const TfxLiftSpec *s, int i) {
  if (s->n_syms == 1) fmt(err, errlen, n, "%s=%lld", sym_name(s, 0), (long long)s->sample[i][0]);
  else
    fmt(err, errlen, n, "%s=%lld,%s=%lld", sym_name(s, 0), (long long)s->sample[i][0], sym_name(s, 1),
        (long long)s->sample[i][1]);
}

static void samples_list(char *err, size_t errlen, size_t *n, const TfxLiftSpec *s) {
  if (s->n_syms == 1) {
    fmt(err, errlen, n, "%s=", sym_name(s, 0));
    for (int i = 0; i < s->k; i++) fmt(err, errlen, n, "%s%lld", i ? "," : "", (long long)s->sample[i][0]);
  } else {
    fmt(err, errlen, n, "(%s,%s)=", sym_name(s, 0), sym_name(s, 1));
    for (int i = 0; i < s->k; i++)
      fmt(err, errlen, n, "%s(%lld,%lld)", i ? "," : "", (long long)s->sample[i][0], (long long)s->sample[i][1]);
  }
}

static size_t count_lines(const char *t, size_t a, size_t b) {
  size_t n = 0;
  for (const char *p = t + a, *e = t + b; p < e && (p = memchr(p, '\n', (size_t)(e - p))); p++) n++;
  return n;
}

/* ---- lifting ------------------------------------------------------------ */

/* Varying literals repeat (a loop bound in every loop over the sequence), so
 * fitted expressions are memoised by their sample values. */
enum { MEMO_SIZE = 1024 };
typedef struct {
  bool used;
  int64_t y[TFX_LIFT_MAX_SAMPLES];
  int deg;
  char expr[512];
} Memo;

static uint64_t hash_y(const int64_t *y, int k) {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < k; i++) h = (h ^ (uint64_t)y[i]) * 1099511628211ull;
  return h ^ (h >> 29);
}

char *tfx_lift(const TfxLiftSpec *s, const char *const *texts, char *err, size_t errlen) {
  size_t en = 0;
  if (err && errlen) err[0] = 0;
  if (s->n_syms < 1 || s->n_syms > TFX_LIFT_MAX_SYMS || s->k < 1 || s->k > TFX_LIFT_MAX_SAMPLES) {
    fmt(err, errlen, &en, "lift: bad spec (%d symbols, %d samples)", s->n_syms, s->k);
    return NULL;
  }
  int k = s->k;
  Cur cur[TFX_LIFT_MAX_SAMPLES];
  Tok tok[TFX_LIFT_MAX_SAMPLES];
  for (int i = 0; i < k; i++) cur[i] = (Cur){.t = texts[i]};
  Memo *memo = calloc(MEMO_SIZE, sizeof *memo);
  if (!memo) abort();
  Buf out = {0};
  buf_reserve(&out, strlen(texts[0]) + strlen(texts[0]) / 8);
  size_t line = 1; /* line of texts[0] at the current run's start */
  const char *t0 = texts[0];

  for (;;) {
    for (int i = 0; i < k; i++) next_token(&cur[i], &tok[i]);
    size_t rlen = tok[0].run_end - tok[0].run;
    bool more = tok[0].tok_end > tok[0].run_end;
    /* the runs of other text must agree exactly, and so must the end */
    for (int i = 1; i < k; i++) {
      size_t li = tok[i].run_end - tok[i].run;
      bool mi = tok[i].tok_end > tok[i].run_end;
      if (li == rlen && mi == more && memcmp(t0 + tok[0].run, texts[i] + tok[i].run, rlen) == 0) continue;
      size_t d = 0, m = li < rlen ? li : rlen;
      while (d < m && t0[tok[0].run + d] == texts[i][tok[i].run + d]) d++;
      size_t ln = line + count_lines(t0, tok[0].run, tok[0].run + d);
      fmt(err, errlen, &en, "line %zu: the texts differ in more than integer literals: ", ln);
      sample_name(err, errlen, &en, s, 0);
      fmt(err, errlen, &en, ": ");
      quote_line(err, errlen, &en, t0, tok[0].run + d);
      fmt(err, errlen, &en, "; ");
      sample_name(err, errlen, &en, s, i);
      fmt(err, errlen, &en, ": ");
      quote_line(err, errlen, &en, texts[i], tok[i].run + d);
      goto fail;
    }
    buf_put(&out, t0 + tok[0].run, rlen);
    line += count_lines(t0, tok[0].run, tok[0].run_end);
    if (!more) break;

    size_t tl = tok[0].tok_end - tok[0].run_end;
    bool same = true;
    for (int i = 1; i < k && same; i++)
      same = tok[i].tok_end - tok[i].run_end == tl && memcmp(t0 + tok[0].run_end, texts[i] + tok[i].run_end, tl) == 0;
    if (same) {
      buf_put(&out, t0 + tok[0].run_end, tl);
      continue;
    }

    /* a varying literal: an integer with one spelling of suffix and wrapper */
    int64_t y[TFX_LIFT_MAX_SAMPLES];
    size_t sfx[TFX_LIFT_MAX_SAMPLES];
    const char *why = NULL;
    for (int i = 0; i < k && !why; i++) {
      if (!parse_int(texts[i], tok[i].num, tok[i].num_end, &y[i], &sfx[i])) why = "only integer literals may vary";
      else if (tok[i].wrap != tok[0].wrap) why = "INT64_C/UINT64_C wrapping differs";
      else if (tok[i].num_end - sfx[i] != tok[0].num_end - sfx[0] ||
               memcmp(texts[i] + sfx[i], t0 + sfx[0], tok[0].num_end - sfx[0]) != 0)
        why = "the literal's suffix differs";
    }
    const char *expr = NULL;
    if (!why) {
      Memo *mm = &memo[hash_y(y, k) % MEMO_SIZE];
      if (!mm->used || memcmp(mm->y, y, (size_t)k * sizeof *y) != 0) {
        int64_t coef[TFX_LIFT_MAX_TERMS];
        mm->used = true;
        memcpy(mm->y, y, (size_t)k * sizeof *y);
        mm->deg = tfx_lift_fit(s, y, coef);
        if (mm->deg >= 0) tfx_lift_expr(s, coef, mm->expr, sizeof mm->expr);
      }
      if (mm->deg < 0) why = "no polynomial of degree <= 2 with integer coefficients fits";
      else expr = mm->expr;
    }
    if (why) {
      fmt(err, errlen, &en, "line %zu: ", line);
      quote_line(err, errlen, &en, t0, tok[0].run_end);
      fmt(err, errlen, &en, ": the literal takes values ");
      for (int i = 0; i < k; i++)
        fmt(err, errlen, &en, "%s%.*s", i ? ", " : "", (int)(tok[i].tok_end - tok[i].run_end), texts[i] + tok[i].run_end);
      fmt(err, errlen, &en, " at ");
      samples_list(err, errlen, &en, s);
      fmt(err, errlen, &en, ": %s", why);
      goto fail;
    }
    bool is_unsigned = tok[0].wrap == WRAP_UINT64_C || memchr(t0 + sfx[0], 'u', tok[0].num_end - sfx[0]) ||
                       memchr(t0 + sfx[0], 'U', tok[0].num_end - sfx[0]);
    if (is_unsigned) {
      buf_puts(&out, "((uint64_t)");
      buf_puts(&out, expr);
      buf_puts(&out, ")");
    } else if (tok[0].wrap == WRAP_INT64_C) {
      buf_puts(&out, "((int64_t)");
      buf_puts(&out, expr);
      buf_puts(&out, ")");
    } else {
      buf_puts(&out, expr);
    }
  }
  free(memo);
  if (!out.p) buf_reserve(&out, 0), out.p[0] = 0;
  return out.p;

fail:
  free(memo);
  free(out.p);
  return NULL;
}
