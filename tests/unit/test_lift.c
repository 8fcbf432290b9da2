/* test_lift.c — codegen/lift.c: exact polynomial fits (constant, linear,
 * quadratic, the S*P cross term, negative coefficients) and their refusals,
 * the printed expressions, the tokenizer's edge cases (negative literals,
 * identifiers with digits, hex floats, INT64_C, suffixes), the refusal
 * messages, and a round trip: texts printed by a generator at the samples are
 * lifted, and the lifted text evaluated at a new point must equal the
 * generator's text there. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/lift.h"

#include "tests/unit/check.h"

static TfxLiftSpec spec1(int k, const int64_t *S) {
  TfxLiftSpec s = {.n_syms = 1, .sym_expr = {"tfx_S", NULL}, .k = k};
  for (int i = 0; i < k; i++) s.sample[i][0] = S[i];
  return s;
}

/* The 3x3 grid a decoder is compiled at. */
static TfxLiftSpec spec2(void) {
  static const int64_t S[] = {2, 3, 5}, P[] = {0, 1, 4};
  TfxLiftSpec s = {.n_syms = 2, .sym_expr = {"tfx_S", "tfx_P"}};
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 3; j++) {
      s.sample[s.k][0] = S[i];
      s.sample[s.k][1] = P[j];
      s.k++;
    }
  return s;
}

static const int64_t S5[] = {2, 3, 5, 7, 11};

static bool coef_is(const int64_t *c, int64_t c0, int64_t c1, int64_t c2, int64_t c3, int64_t c4, int64_t c5) {
  return c[0] == c0 && c[1] == c1 && c[2] == c2 && c[3] == c3 && c[4] == c4 && c[5] == c5;
}

static void test_fit(void) {
  TfxLiftSpec s = spec1(5, S5);
  int64_t y[TFX_LIFT_MAX_SAMPLES], c[TFX_LIFT_MAX_TERMS];
  char buf[256];

  for (int i = 0; i < 5; i++) y[i] = 7;
  CHECK(tfx_lift_fit(&s, y, c) == 0 && coef_is(c, 7, 0, 0, 0, 0, 0));
  CHECK(strcmp(tfx_lift_expr(&s, c, buf, sizeof buf), "7") == 0);
  for (int i = 0; i < 5; i++) y[i] = -3;
  CHECK(tfx_lift_fit(&s, y, c) == 0 && strcmp(tfx_lift_expr(&s, c, buf, sizeof buf), "(-3)") == 0);

  for (int i = 0; i < 5; i++) y[i] = 12 * S5[i] + 3;
  CHECK(tfx_lift_fit(&s, y, c) == 1 && coef_is(c, 3, 12, 0, 0, 0, 0));
  CHECK(strcmp(tfx_lift_expr(&s, c, buf, sizeof buf), "(tfx_S * 12 + 3)") == 0);

  for (int i = 0; i < 5; i++) y[i] = S5[i];
  CHECK(tfx_lift_fit(&s, y, c) == 1 && strcmp(tfx_lift_expr(&s, c, buf, sizeof buf), "(tfx_S)") == 0);

  /* quadratic; s0*s0 lives in slot 3 even with one symbol */
  for (int i = 0; i < 5; i++) y[i] = 4 * S5[i] * S5[i] - S5[i] + 2;
  CHECK(tfx_lift_fit(&s, y, c) == 2 && coef_is(c, 2, -1, 0, 4, 0, 0));
  CHECK(strcmp(tfx_lift_expr(&s, c, buf, sizeof buf), "(tfx_S * tfx_S * 4 - tfx_S + 2)") == 0);
  int64_t x[2] = {100, 0};
  CHECK(tfx_lift_eval(&s, c, x) == 4 * 100 * 100 - 100 + 2);
  char tiny[8];
  CHECK(strcmp(tfx_lift_expr(&s, c, tiny, sizeof tiny), "(tfx_S ") == 0); /* truncated, terminated */

  /* negative leading coefficient */
  for (int i = 0; i < 5; i++) y[i] = 5 - 3 * S5[i];
  CHECK(tfx_lift_fit(&s, y, c) == 1 && coef_is(c, 5, -3, 0, 0, 0, 0));
  CHECK(strcmp(tfx_lift_expr(&s, c, buf, sizeof buf), "(-tfx_S * 3 + 5)") == 0);
  for (int i = 0; i < 5; i++) y[i] = -S5[i] * S5[i];
  CHECK(tfx_lift_fit(&s, y, c) == 2 && strcmp(tfx_lift_expr(&s, c, buf, sizeof buf), "(-tfx_S * tfx_S)") == 0);

  /* not a polynomial: min(S, 4) */
  for (int i = 0; i < 5; i++) y[i] = S5[i] < 4 ? S5[i] : 4;
  CHECK(tfx_lift_fit(&s, y, c) == -1);
  /* a polynomial, but not with integer coefficients: S*(S+1)/2 */
  for (int i = 0; i < 5; i++) y[i] = S5[i] * (S5[i] + 1) / 2;
  CHECK(tfx_lift_fit(&s, y, c) == -1);
  /* cubic */
  for (int i = 0; i < 5; i++) y[i] = S5[i] * S5[i] * S5[i];
  CHECK(tfx_lift_fit(&s, y, c) == -1);

  /* degenerate samples: a repeated point cannot tell S from 2 */
  int64_t same[] = {2, 2, 2};
  TfxLiftSpec d = spec1(3, same);
  y[0] = y[1] = y[2] = 2;
  CHECK(tfx_lift_fit(&d, y, c) == 0 && c[0] == 2);
  y[2] = 3; /* inconsistent at one point */
  CHECK(tfx_lift_fit(&d, y, c) == -1);
  /* two samples determine a line but not a parabola */
  int64_t two[] = {2, 3};
  TfxLiftSpec t2 = spec1(2, two);
  y[0] = 4, y[1] = 9;
  CHECK(tfx_lift_fit(&t2, y, c) == 1 && coef_is(c, -6, 5, 0, 0, 0, 0));

  /* values near the int64 range: no overflow, no false fit */
  for (int i = 0; i < 5; i++) y[i] = i % 2 ? INT64_MAX : INT64_MIN;
  CHECK(tfx_lift_fit(&s, y, c) == -1);
  for (int i = 0; i < 5; i++) y[i] = INT64_MAX - 2 * (11 - S5[i]);
  CHECK(tfx_lift_fit(&s, y, c) == 1 && c[1] == 2 && c[0] == INT64_MAX - 22);
  int64_t big[] = {3000000000LL, 3000000001LL, 3000000002LL, 3000000005LL};
  TfxLiftSpec sb = spec1(4, big);
  for (int i = 0; i < 4; i++) y[i] = big[i] * big[i]; /* ~9e18: the solve needs 128 bits */
  CHECK(tfx_lift_fit(&sb, y, c) == 2 && coef_is(c, 0, 0, 0, 1, 0, 0));
  y[3] += 1;
  CHECK(tfx_lift_fit(&sb, y, c) == -1);
}

static void test_fit2(void) {
  TfxLiftSpec s = spec2();
  int64_t y[TFX_LIFT_MAX_SAMPLES], c[TFX_LIFT_MAX_TERMS];
  char buf[256];
  for (int i = 0; i < s.k; i++) y[i] = s.sample[i][0] + s.sample[i][1];
  CHECK(tfx_lift_fit(&s, y, c) == 1 && coef_is(c, 0, 1, 1, 0, 0, 0));
  CHECK(strcmp(tfx_lift_expr(&s, c, buf, sizeof buf), "(tfx_S + tfx_P)") == 0);

  for (int i = 0; i < s.k; i++) {
    int64_t S = s.sample[i][0], P = s.sample[i][1];
    y[i] = 4 * S * S + 4 * S * P;
  }
  CHECK(tfx_lift_fit(&s, y, c) == 2 && coef_is(c, 0, 0, 0, 4, 4, 0));
  CHECK(strcmp(tfx_lift_expr(&s, c, buf, sizeof buf), "(tfx_S * tfx_S * 4 + tfx_S * tfx_P * 4)") == 0);
  int64_t x[2] = {17, 9};
  CHECK(tfx_lift_eval(&s, c, x) == 4 * 17 * 17 + 4 * 17 * 9);

  for (int i = 0; i < s.k; i++) {
    int64_t S = s.sample[i][0], P = s.sample[i][1];
    y[i] = -2 * P * P + 3 * S * P - 7 * P + 1;
  }
  CHECK(tfx_lift_fit(&s, y, c) == 2 && coef_is(c, 1, 0, -7, 0, 3, -2));
  CHECK(strcmp(tfx_lift_expr(&s, c, buf, sizeof buf), "(tfx_S * tfx_P * 3 - tfx_P * tfx_P * 2 - tfx_P * 7 + 1)") ==
        0);

  /* max(S, P) is not a polynomial */
  for (int i = 0; i < s.k; i++) y[i] = s.sample[i][0] > s.sample[i][1] ? s.sample[i][0] : s.sample[i][1];
  CHECK(tfx_lift_fit(&s, y, c) == -1);

  /* samples on a line S + P = 5 cannot separate S from P */
  TfxLiftSpec l = {.n_syms = 2, .sym_expr = {"tfx_S", "tfx_P"}, .k = 4};
  for (int i = 0; i < 4; i++) l.sample[i][0] = i + 1, l.sample[i][1] = 4 - i, y[i] = i + 1;
  CHECK(tfx_lift_fit(&l, y, c) == -1);
}

/* Lifts k texts; NULL on failure, with the message in err. */
static char *lift(const TfxLiftSpec *s, const char *const *texts, char *err, size_t n) {
  err[0] = 0;
  return tfx_lift(s, texts, err, n);
}

static void test_tokens(void) {
  static const int64_t S3[] = {2, 3, 5};
  TfxLiftSpec s = spec1(3, S3);
  char err[1024];
  char *r;

  /* identical texts come back unchanged, numbers and all */
  {
    const char *t = "v12_x[i0] = 0x1.8p-3f * 1e-05f + 3 - -4 + INT64_C(5);\n";
    const char *ts[] = {t, t, t};
    r = lift(&s, ts, err, sizeof err);
    CHECK(r && strcmp(r, t) == 0);
    free(r);
  }
  /* an empty text */
  {
    const char *ts[] = {"", "", ""};
    r = lift(&s, ts, err, sizeof err);
    CHECK(r && r[0] == 0);
    free(r);
  }
  /* a loop bound, a binary minus, a negative literal after '=', '(' and ',' */
  {
    const char *ts[] = {"for (int64_t i1 = 0; i1 < 2; i1++) y[i1 - 2] = f(-1, x -1);\nz = -3; (-3);\n",
                        "for (int64_t i1 = 0; i1 < 3; i1++) y[i1 - 3] = f(-2, x -1);\nz = -5; (-5);\n",
                        "for (int64_t i1 = 0; i1 < 5; i1++) y[i1 - 5] = f(-4, x -1);\nz = -9; (-9);\n"};
    r = lift(&s, ts, err, sizeof err);
    CHECK(r && strcmp(r, "for (int64_t i1 = 0; i1 < (tfx_S); i1++) y[i1 - (tfx_S)] = f((-tfx_S + 1), x -1);\n"
                         "z = (-tfx_S * 2 + 1); ((-tfx_S * 2 + 1));\n") == 0);
    if (!r) fprintf(stderr, "%s\n", err);
    free(r);
  }
  /* "x - 3" with a varying 3 is a binary minus: only the 3 is replaced */
  {
    const char *ts[] = {"a[x - 4]", "a[x - 6]", "a[x - 10]"};
    r = lift(&s, ts, err, sizeof err);
    CHECK(r && strcmp(r, "a[x - (tfx_S * 2)]") == 0);
    free(r);
    const char *tn[] = {"a[x -4]", "a[x -6]", "a[x -10]"};
    r = lift(&s, tn, err, sizeof err);
    CHECK(r && strcmp(r, "a[x -(tfx_S * 2)]") == 0);
    free(r);
    const char *tb[] = {"a[(b) -4]", "a[(b) -6]", "a[(b) -10]"}; /* after ')' too */
    r = lift(&s, tb, err, sizeof err);
    CHECK(r && strcmp(r, "a[(b) -(tfx_S * 2)]") == 0);
    free(r);
  }
  /* a literal whose sign changes between samples */
  {
    const char *ts[] = {"o = 1;", "o = -1;", "o = -5;"};
    r = lift(&s, ts, err, sizeof err);
    CHECK(r && strcmp(r, "o = (-tfx_S * 2 + 5);") == 0);
    free(r);
  }
  /* identifiers with digits are text: a differing one is a structural difference */
  {
    const char *ts[] = {"v12_x[i0 * 2]", "v12_x[i0 * 3]", "v12_x[i0 * 5]"};
    r = lift(&s, ts, err, sizeof err);
    CHECK(r && strcmp(r, "v12_x[i0 * (tfx_S)]") == 0);
    free(r);
    const char *tv[] = {"v12 = 0;", "v13 = 0;", "v12 = 0;"};
    r = lift(&s, tv, err, sizeof err);
    CHECK(!r && strstr(err, "line 1") && strstr(err, "'v12 = 0;'") && strstr(err, "'v13 = 0;'") &&
          strstr(err, "S=3"));
    free(r);
  }
  /* INT64_C / UINT64_C: one token; copied when equal, cast when varying */
  {
    const char *ts[] = {"n = INT64_C(7) + UINT64_C(4) + INT64_C(-1) + MY_INT64_C(2);",
                        "n = INT64_C(9) + UINT64_C(6) + INT64_C(-1) + MY_INT64_C(2);",
                        "n = INT64_C(13) + UINT64_C(10) + INT64_C(-1) + MY_INT64_C(2);"};
    r = lift(&s, ts, err, sizeof err);
    CHECK(r && strcmp(r, "n = ((int64_t)(tfx_S * 2 + 3)) + ((uint64_t)(tfx_S * 2)) + INT64_C(-1) + MY_INT64_C(2);") == 0);
    free(r);
    const char *tn[] = {"n = INT64_C(-2);", "n = INT64_C(-3);", "n = INT64_C(-5);"};
    r = lift(&s, tn, err, sizeof err);
    CHECK(r && strcmp(r, "n = ((int64_t)(-tfx_S));") == 0);
    free(r);
    const char *tw[] = {"n = INT64_C(2);", "n = 3;", "n = INT64_C(5);"};
    r = lift(&s, tw, err, sizeof err);
    CHECK(!r && strstr(err, "INT64_C"));
  }
  /* integer suffixes keep the type unsigned; a differing suffix is refused */
  {
    const char *ts[] = {"m = 2u + 2ull + 2L;", "m = 3u + 3ull + 3L;", "m = 5u + 5ull + 5L;"};
    r = lift(&s, ts, err, sizeof err);
    CHECK(r && strcmp(r, "m = ((uint64_t)(tfx_S)) + ((uint64_t)(tfx_S)) + (tfx_S);") == 0);
    free(r);
    const char *tb[] = {"m = 2u;", "m = 3;", "m = 5u;"};
    r = lift(&s, tb, err, sizeof err);
    CHECK(!r && strstr(err, "suffix"));
    /* hex integers may vary too */
    const char *th[] = {"m = 0x2;", "m = 0x3;", "m = 0x5;"};
    r = lift(&s, th, err, sizeof err);
    CHECK(r && strcmp(r, "m = (tfx_S);") == 0);
    free(r);
  }
  /* a varying float literal is refused, with the line and values */
  {
    const char *ts[] = {"a = 1;\ny = 0.5f;\n", "a = 1;\ny = 0.333333343f;\n", "a = 1;\ny = 0.200000003f;\n"};
    r = lift(&s, ts, err, sizeof err);
    CHECK(!r && strstr(err, "line 2") && strstr(err, "'y = 0.5f;'") && strstr(err, "0.5f, 0.333333343f, 0.200000003f") &&
          strstr(err, "integer"));
    const char *te[] = {"y = 1e-05f;", "y = 1e-06f;", "y = 1e-05f;"};
    r = lift(&s, te, err, sizeof err);
    CHECK(!r && strstr(err, "1e-05f, 1e-06f, 1e-05f"));
    /* the exponent's sign belongs to the float: 1e-05f vs 1e+05f differ as literals */
    const char *tx[] = {"y = 0x1.8p-3f;", "y = 0x1.8p+3f;", "y = 0x1.8p-3f;"};
    r = lift(&s, tx, err, sizeof err);
    CHECK(!r && strstr(err, "0x1.8p-3f, 0x1.8p+3f") && strstr(err, "integer"));
  }
  /* non-polynomial literal: the message of the brief */
  {
    TfxLiftSpec s5 = spec1(5, S5);
    const char *ts[] = {"{\n  for (int64_t i1 = 0; i1 < 2; i1++)\n", "{\n  for (int64_t i1 = 0; i1 < 3; i1++)\n",
                        "{\n  for (int64_t i1 = 0; i1 < 4; i1++)\n", "{\n  for (int64_t i1 = 0; i1 < 4; i1++)\n",
                        "{\n  for (int64_t i1 = 0; i1 < 4; i1++)\n"};
    r = lift(&s5, ts, err, sizeof err);
    CHECK(!r && strstr(err, "line 2: 'for (int64_t i1 = 0; i1 < 2; i1++)': the literal takes values 2, 3, 4, 4, 4 "
                            "at S=2,3,5,7,11: no polynomial of degree <= 2"));
  }
  /* structural differences: more tokens, a different word, a missing tail */
  {
    const char *ts[] = {"a;\nb;\nc = 1;\n", "a;\nb;\nc = 1 + 2;\n", "a;\nb;\nc = 1;\n"};
    r = lift(&s, ts, err, sizeof err);
    CHECK(!r && strstr(err, "line 3") && strstr(err, "'c = 1;'") && strstr(err, "'c = 1 + 2;'"));
    const char *tt[] = {"a;\nb;\n", "a;\nb;\n", "a;\nb;\nc;\n"};
    r = lift(&s, tt, err, sizeof err);
    CHECK(!r && strstr(err, "line 3") && strstr(err, "'c;'") && strstr(err, "S=5"));
    const char *tn[] = {"x = 1;", "x = 2;", "x = 3"};
    r = lift(&s, tn, err, sizeof err);
    CHECK(!r && strstr(err, "line 1"));
  }
  /* a long line is quoted shortened, and a small err buffer is respected */
  {
    char a[1200], b[1200];
    memset(a, 'x', 1000), memset(b, 'x', 1000);
    strcpy(a + 1000, "a"), strcpy(b + 1000, "b");
    const char *ts[] = {a, b, a};
    char small[40];
    r = lift(&s, ts, err, sizeof err);
    CHECK(!r && strlen(err) < 500 && strstr(err, "..."));
    r = tfx_lift(&s, ts, small, sizeof small);
    CHECK(!r && strlen(small) == sizeof small - 1);
  }
}

/* ---- round trip --------------------------------------------------------- */

/* The body a code generator would print at (S, P). */
static char *gen(int64_t S, int64_t P) {
  size_t cap = 1 << 16;
  char *b = malloc(cap);
  int64_t T = S + P;
  snprintf(b, cap,
           "  /* node 3: MatMul 'v12_x' [1,%lld,64] */\n"
           "  {\n"
           "    for (int64_t i0 = 0; i0 < %lld; i0++) {\n"
           "      for (int64_t i1 = 0; i1 < 64; i1++) v12_x[i0 * 64 + i1] = v3[i0 * %lld + i1] * 0x1.8p-3f + 1e-05f;\n"
           "    }\n"
           "    int64_t off = %lld, base = %lld;\n"
           "    y[%lld] = x[off - %lld] + f(-%lld, 2.0);\n"
           "    memcpy(kv + %lld, src, %lld);\n"
           "  }\n",
           (long long)S, (long long)S, (long long)(64 * T + 3), (long long)(5 - 2 * S), (long long)(S * P - 1),
           (long long)(4 * S * S + 4 * S * P - 1), (long long)(P + 1), (long long)(S + 2 * P),
           (long long)(P * 128), (long long)(S * 256));
  return b;
}

typedef struct {
  const char *p;
  int64_t sym[2];
  bool used_sym, ok;
} Ev;

static void ev_ws(Ev *e) {
  while (*e->p == ' ') e->p++;
}

static int64_t ev_expr(Ev *e);

static int64_t ev_unary(Ev *e) {
  ev_ws(e);
  if (*e->p == '-') {
    e->p++;
    return -ev_unary(e);
  }
  if (*e->p >= '0' && *e->p <= '9') return strtoll(e->p, (char **)&e->p, 10);
  if (strncmp(e->p, "tfx_S", 5) == 0 || strncmp(e->p, "tfx_P", 5) == 0) {
    int64_t v = e->sym[e->p[4] == 'P'];
    e->p += 5;
    e->used_sym = true;
    return v;
  }
  if (*e->p == '(') {
    e->p++;
    if (strncmp(e->p, "int64_t)", 8) == 0 || strncmp(e->p, "uint64_t)", 9) == 0) {
      e->p = strchr(e->p, ')') + 1;
      return ev_unary(e);
    }
    int64_t v = ev_expr(e);
    ev_ws(e);
    if (*e->p != ')') e->ok = false;
    else e->p++;
    return v;
  }
  e->ok = false;
  return 0;
}

static int64_t ev_expr(Ev *e) {
  int64_t v = 0;
  int sign = 1;
  for (;;) {
    int64_t t = ev_unary(e);
    for (ev_ws(e); *e->p == '*' && e->ok; ev_ws(e)) {
      e->p++;
      t *= ev_unary(e);
    }
    v += sign * t;
    ev_ws(e);
    if (!e->ok || (*e->p != '+' && *e->p != '-')) return v;
    sign = *e->p == '+' ? 1 : -1;
    e->p++;
  }
}

/* Replaces every parenthesised expression in the symbols by its value. */
static char *substitute(const char *lifted, int64_t S, int64_t P) {
  size_t cap = strlen(lifted) + 1, n = 0;
  char *out = malloc(cap);
  for (const char *p = lifted; *p;) {
    if (*p == '(') {
      Ev e = {.p = p, .sym = {S, P}, .ok = true};
      int64_t v = ev_unary(&e);
      if (e.ok && e.used_sym) {
        n += (size_t)snprintf(out + n, cap - n, "%lld", (long long)v);
        p = e.p;
        continue;
      }
    }
    out[n++] = *p++;
  }
  out[n] = 0;
  return out;
}

static void test_round_trip(void) {
  TfxLiftSpec s = spec2();
  char *texts[TFX_LIFT_MAX_SAMPLES];
  for (int i = 0; i < s.k; i++) texts[i] = gen(s.sample[i][0], s.sample[i][1]);
  char err[1024];
  char *r = tfx_lift(&s, (const char *const *)texts, err, sizeof err);
  CHECK(r != NULL);
  if (!r) {
    fprintf(stderr, "%s\n", err);
  } else {
    CHECK(strstr(r, "i0 < (tfx_S); i0++"));
    CHECK(strstr(r, "v3[i0 * (tfx_S * 64 + tfx_P * 64 + 3) + i1] * 0x1.8p-3f + 1e-05f"));
    CHECK(strstr(r, "y[(tfx_S * tfx_S * 4 + tfx_S * tfx_P * 4 - 1)]"));
    CHECK(strstr(r, "int64_t off = (-tfx_S * 2 + 5), base = (tfx_S * tfx_P - 1);"));
    CHECK(strstr(r, "'v12_x' [1,(tfx_S),64]"));
    static const int64_t pts[][2] = {{17, 9}, {1, 0}, {64, 1000}, {2, 0}};
    for (size_t j = 0; j < sizeof pts / sizeof *pts; j++) {
      char *want = gen(pts[j][0], pts[j][1]), *got = substitute(r, pts[j][0], pts[j][1]);
      CHECK(strcmp(want, got) == 0);
      if (strcmp(want, got)) fprintf(stderr, "want:\n%s\ngot:\n%s\n", want, got);
      free(want);
      free(got);
    }
  }
  free(r);
  for (int i = 0; i < s.k; i++) free(texts[i]);
}

/* Big texts must lift in linear time: 9 texts of ~6 MB. */
static void test_big(void) {
  TfxLiftSpec s = spec2();
  char *texts[TFX_LIFT_MAX_SAMPLES];
  const int reps = 20000;
  for (int i = 0; i < s.k; i++) {
    char *one = gen(s.sample[i][0], s.sample[i][1]);
    size_t l = strlen(one);
    texts[i] = malloc(l * reps + 1);
    for (int j = 0; j < reps; j++) memcpy(texts[i] + l * j, one, l);
    texts[i][l * reps] = 0;
    free(one);
  }
  char err[512];
  char *r = tfx_lift(&s, (const char *const *)texts, err, sizeof err);
  CHECK(r != NULL);
  if (r) {
    char *want = gen(17, 9), *got = substitute(r, 17, 9);
    size_t l = strlen(want);
    CHECK(strlen(got) == l * reps && strncmp(got + l * (reps - 1), want, l) == 0);
    free(want);
    free(got);
  }
  free(r);
  for (int i = 0; i < s.k; i++) free(texts[i]);
}

int main(void) {
  test_fit();
  test_fit2();
  test_tokens();
  test_round_trip();
  test_big();
  if (failures) fprintf(stderr, "test_lift: %d failure(s)\n", failures);
  else printf("test_lift: ok\n");
  return failures != 0;
}
