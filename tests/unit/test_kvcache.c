/* test_kvcache.c — the KvAttention op: infer's errors, the reference evaluator
 * (past 0: causal and windowed attention against a hand computation; past > 0
 * refused), and emit_c end to end: the node's printed code is wrapped in a C
 * function over a cache buffer, compiled with cc, run as a prefill of 3 tokens
 * then a decode of 1, and compared with causal attention over all 4 rows.  The
 * code printed at several (S, P) must differ only in integer literals.  The int8
 * cache (kv_int8 = 1) is tested the same way against attention over K/V rows
 * put through this file's own int8 round trip, and the round trip itself
 * against hand-computed values.  Decode steps over a 600-row cache check the
 * float32 kernel's key split and merge, and each path of its P.V. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/c/cemit.h"
#include "codegen/c/kernels.h"
#include "codegen/codegen.h"
#include "ir/ir.h"

#include "tests/unit/check.h"
#include "tests/unit/graph_build.h"

typedef struct {
  int64_t hq, hkv, s, dk, dv; /* Q [1,hq,s,dk], K [1,hkv,s,dk], V [1,hkv,s,dv] */
  int64_t past, max_seq, kv_offset, window;
  float scale;
  int qrank;      /* rank of Q (4 unless testing the error) */
  int64_t kv_int8; /* the attribute (then kv_offset is in bytes) */
} Cfg;

static void set_attrs(TfxGraph *g, const Cfg *c) {
  TfxAttr *a = tfx_graph_alloc(g, sizeof *a * 6);
  const char *names[5] = {"past", "max_seq", "kv_offset", "window", "kv_int8"};
  const int64_t vals[5] = {c->past, c->max_seq, c->kv_offset, c->window, c->kv_int8};
  for (int k = 0; k < 5; k++) a[k].name = names[k], a[k].kind = TFX_ATTR_INT, a[k].i = vals[k];
  a[5].name = "scale", a[5].kind = TFX_ATTR_FLOAT, a[5].f = c->scale;
  g->nodes[g->n_nodes - 1].attrs = a;
  g->nodes[g->n_nodes - 1].n_attrs = c->kv_int8 ? 6 : 5;
  if (!c->kv_int8) a[4] = a[5]; /* float caches carry no kv_int8 attribute, as the pass makes them */
}

static TfxGraph *build(TfxDiag *d, const Cfg *c) {
  TfxGraph *g = tfx_graph_new(d, "test.onnx");
  g->opset = 23;
  const int64_t qd[4] = {1, c->hq, c->s, c->dk}, kd[4] = {1, c->hkv, c->s, c->dk}, vd[4] = {1, c->hkv, c->s, c->dv};
  uint32_t in[3];
  in[0] = input(g, "q", TFX_F32, c->qrank ? c->qrank : 4, c->qrank == 3 ? qd + 1 : qd);
  in[1] = input(g, "k", TFX_F32, 4, kd);
  in[2] = input(g, "v", TFX_F32, 4, vd);
  uint32_t y = node(g, TFX_OP_KvAttention, "attn0", 3, in, "y");
  set_attrs(g, c);
  output(g, y);
  return g;
}

static TfxNode *the_node(TfxGraph *g) { return &g->nodes[g->n_nodes - 1]; }

/* infer on a fresh graph; returns the status, diag text copied into msg. */
static TfxStatus infer(const Cfg *c, char *msg, size_t size) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = build(&d, c);
  TfxStatus st = tfx_ops[TFX_OP_KvAttention].infer(g, the_node(g));
  snprintf(msg, size, "%s", d.text ? d.text : "");
  if (!st) {
    const TfxValue *y = &g->values[g->outputs[0]];
    CHECK(y->dtype == TFX_F32 && y->rank == 4 && y->dims[0] == 1 && y->dims[1] == c->hq && y->dims[2] == c->s &&
          y->dims[3] == c->dv);
  }
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
  return st;
}

static const Cfg BASE = {4, 2, 3, 3, 2, 0, 6, 5, 0, 0.5f, 4, 0};

static void test_infer(void) {
  char msg[1024];
  Cfg c = BASE;
  CHECK(infer(&c, msg, sizeof msg) == TFX_OK);
  c = BASE, c.qrank = 3;
  CHECK(infer(&c, msg, sizeof msg) != TFX_OK && strstr(msg, "rank") && strstr(msg, "attn0"));
  c = BASE, c.past = 4; /* 4 + 3 > 6 */
  CHECK(infer(&c, msg, sizeof msg) != TFX_OK && strstr(msg, "max_seq") && strstr(msg, "attn0"));
  c = BASE, c.past = 3; /* 3 + 3 == 6: fits */
  CHECK(infer(&c, msg, sizeof msg) == TFX_OK);
  c = BASE, c.hq = 3; /* 3 % 2 != 0 */
  CHECK(infer(&c, msg, sizeof msg) != TFX_OK && strstr(msg, "multiple"));
  c = BASE, c.past = -1;
  CHECK(infer(&c, msg, sizeof msg) != TFX_OK && strstr(msg, "past"));
  c = BASE, c.kv_offset = -2;
  CHECK(infer(&c, msg, sizeof msg) != TFX_OK && strstr(msg, "kv_offset"));
  c = BASE, c.window = -1;
  CHECK(infer(&c, msg, sizeof msg) != TFX_OK && strstr(msg, "window"));
  c = BASE, c.kv_int8 = 2;
  CHECK(infer(&c, msg, sizeof msg) != TFX_OK && strstr(msg, "kv_int8") && strstr(msg, "attn0"));
  c = BASE, c.kv_int8 = 1; /* kv_offset 5 is not a multiple of 16 bytes */
  CHECK(infer(&c, msg, sizeof msg) != TFX_OK && strstr(msg, "multiple of 16") && strstr(msg, "kv_offset"));
  c = BASE, c.kv_int8 = 1, c.kv_offset = 48;
  CHECK(infer(&c, msg, sizeof msg) == TFX_OK);
}

/* ---- data and the hand-computed reference ------------------------------- */

static float frand(uint32_t *st) {
  *st = *st * 1664525u + 1013904223u;
  return (float)((*st >> 8) & 0xffff) / 65536.0f * 2.0f - 1.0f;
}

/* Causal attention over T rows: q [hq][T][dk], k [hkv][T][dk], v [hkv][T][dv] ->
 * y [hq][T][dv]; rows j with i - window < j <= i (window 0: all j <= i). */
static void reference(const Cfg *c, int64_t T, const float *q, const float *k, const float *v, double *y) {
  const int64_t R = c->hq / c->hkv;
  for (int64_t h = 0; h < c->hq; h++)
    for (int64_t i = 0; i < T; i++) {
      double *w = malloc(sizeof(double) * (size_t)T), mx = -INFINITY, sum = 0;
      if (!w) abort();
      for (int64_t j = 0; j <= i; j++) {
        w[j] = -INFINITY;
        if (c->window && i - j >= c->window) continue;
        double s = 0;
        for (int64_t d = 0; d < c->dk; d++) s += (double)q[(h * T + i) * c->dk + d] * k[(h / R * T + j) * c->dk + d];
        w[j] = s * c->scale;
        if (w[j] > mx) mx = w[j];
      }
      for (int64_t j = 0; j <= i; j++) sum += w[j] = exp(w[j] - mx);
      for (int64_t d = 0; d < c->dv; d++) {
        double a = 0;
        for (int64_t j = 0; j <= i; j++) a += w[j] / sum * v[(h / R * T + j) * c->dv + d];
        y[(h * T + i) * c->dv + d] = a;
      }
      free(w);
    }
}

/* The int8 cache's round trip of rows rows of D values, in place: scale =
 * max|x| / 127, q = round(x / scale) in [-127, 127], x = q * scale. */
static void round_trip(float *x, int64_t rows, int64_t D) {
  for (int64_t r = 0; r < rows; r++) {
    float *row = x + r * D, amax = 0;
    for (int64_t d = 0; d < D; d++) amax = fmaxf(amax, fabsf(row[d]));
    const float sc = amax / 127.0f;
    for (int64_t d = 0; d < D; d++) {
      float q = sc > 0 ? roundf(row[d] / sc) : 0.0f;
      row[d] = fminf(fmaxf(q, -127.0f), 127.0f) * sc;
    }
  }
}

/* Bytes of one layer's int8 cache block: K int8, K scales, V int8, V scales,
 * each rounded up to 16 bytes. */
static int64_t int8_block(const Cfg *c) {
#define UP16(x) (((x) + 15) / 16 * 16)
  const int64_t rows = c->hkv * c->max_seq;
  return UP16(rows * c->dk) + UP16(rows * 4) + UP16(rows * c->dv) + UP16(rows * 4);
#undef UP16
}

/* Rows [r0, r0+n) of x [H][T][D] into out [H][n][D]. */
static void rows(const float *x, int64_t H, int64_t T, int64_t D, int64_t r0, int64_t n, float *out) {
  for (int64_t h = 0; h < H; h++) memcpy(out + h * n * D, x + (h * T + r0) * D, sizeof(float) * (size_t)(n * D));
}

enum { T4 = 4, BIG = 1024 };

static void make_data(const Cfg *c, float *q, float *k, float *v) {
  uint32_t st = 12345;
  for (int64_t i = 0; i < c->hq * T4 * c->dk; i++) q[i] = frand(&st) * 2;
  for (int64_t i = 0; i < c->hkv * T4 * c->dk; i++) k[i] = frand(&st) * 2;
  for (int64_t i = 0; i < c->hkv * T4 * c->dv; i++) v[i] = frand(&st);
}

static void test_eval(int64_t window, bool int8) {
  Cfg c = BASE;
  c.s = T4, c.window = window;
  if (int8) c.kv_int8 = 1, c.kv_offset = 0;
  float q[BIG], k[BIG], v[BIG], kq[BIG], vq[BIG];
  double ref[BIG], ref_float[BIG];
  make_data(&c, q, k, v);
  memcpy(kq, k, sizeof k), memcpy(vq, v, sizeof v);
  if (int8) round_trip(kq, c.hkv * T4, c.dk), round_trip(vq, c.hkv * T4, c.dv);
  reference(&c, T4, q, kq, vq, ref);
  reference(&c, T4, q, k, v, ref_float);
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = build(&d, &c);
  CHECK(tfx_ops[TFX_OP_KvAttention].infer(g, the_node(g)) == TFX_OK);
  TfxTensor ti[3] = {{TFX_F32, 4, {1, c.hq, T4, c.dk}, q}, {TFX_F32, 4, {1, c.hkv, T4, c.dk}, k},
                     {TFX_F32, 4, {1, c.hkv, T4, c.dv}, v}};
  const TfxTensor *in[3] = {&ti[0], &ti[1], &ti[2]};
  TfxTensor out[1];
  memset(out, 0, sizeof out);
  CHECK(tfx_eval_node(g, the_node(g), in, out) == TFX_OK);
  if (out[0].data) {
    double worst = 0, off_float = 0;
    for (int64_t i = 0; i < c.hq * T4 * c.dv; i++) {
      worst = fmax(worst, fabs(((float *)out[0].data)[i] - ref[i]));
      off_float = fmax(off_float, fabs(((float *)out[0].data)[i] - ref_float[i]));
    }
    CHECK(worst < 1e-5);
    /* the int8 round trip is visible (a step is max|x|/127), and small */
    if (int8) CHECK(off_float > 1e-4 && off_float < 0.05);
    tfx_tensor_free_data(&out[0]);
  }
  /* past > 0 has no reference semantics */
  the_node(g)->attrs[0].i = 1;
  memset(out, 0, sizeof out);
  CHECK(tfx_eval_node(g, the_node(g), in, out) != TFX_OK);
  CHECK(d.text && strstr(d.text, "needs the generated code's cache"));
  tfx_tensor_free_data(&out[0]);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* One query, one key and value row: the output is the value row as the int8
 * cache reads it back.  Scales that are powers of two make every expected
 * value exact: max|x| = 127/64 gives the scale 1/64. */
static void test_eval_round_trip(void) {
  Cfg c = {1, 1, 1, 4, 4, 0, 4, 0, 0, 0.5f, 4, 1};
  static const float rows[3][4] = {
      {1.984375f, -0.5078125f, 0.00390625f, 0.0234375f}, /* x*64 = 127, -32.5, 0.25, 1.5 */
      {0, 0, 0, 0},                                      /* scale 0: zeros */
      {-0.5f, 0.25f, 0.001f, 0.125f}};                   /* scale 0.5/127 */
  const float want[3][4] = {{127 / 64.0f, -33 / 64.0f, 0, 2 / 64.0f},
                            {0, 0, 0, 0},
                            {-127 * (0.5f / 127), 64 * (0.5f / 127), 0, 32 * (0.5f / 127)}};
  for (int t = 0; t < 3; t++) {
    TfxDiag d;
    tfx_diag_init(&d);
    TfxGraph *g = build(&d, &c);
    CHECK(tfx_ops[TFX_OP_KvAttention].infer(g, the_node(g)) == TFX_OK);
    float q[4] = {1, 2, 3, 4}, k[4] = {0.5f, -1, 0.25f, 2};
    TfxTensor ti[3] = {{TFX_F32, 4, {1, 1, 1, 4}, q}, {TFX_F32, 4, {1, 1, 1, 4}, k},
                       {TFX_F32, 4, {1, 1, 1, 4}, (void *)rows[t]}};
    const TfxTensor *in[3] = {&ti[0], &ti[1], &ti[2]};
    TfxTensor out[1];
    memset(out, 0, sizeof out);
    CHECK(tfx_eval_node(g, the_node(g), in, out) == TFX_OK);
    for (int i = 0; out[0].data && i < 4; i++) {
      const float y = ((float *)out[0].data)[i];
      if (fabsf(y - want[t][i]) > (t == 2 ? 1e-7f : 0.0f)) {
        fprintf(stderr, "round trip %d[%d]: %.9g, want %.9g\n", t, i, (double)y, (double)want[t][i]);
        failures++;
      }
    }
    tfx_tensor_free_data(&out[0]);
    tfx_graph_free(g);
    tfx_diag_deinit(&d);
  }
}

/* ---- emit_c --------------------------------------------------------------- */

/* The node's printed code at (S, P); malloc'd, NULL on error. */
static char *emit_body(const Cfg *base, int64_t S, int64_t P) {
  Cfg c = *base;
  c.s = S, c.past = P;
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = build(&d, &c);
  char *text = NULL;
  if (tfx_ops[TFX_OP_KvAttention].infer(g, the_node(g)) == TFX_OK) {
    TfxCEmit e;
    memset(&e, 0, sizeof e);
    e.g = g;
    e.vars = calloc(g->n_values, sizeof *e.vars);
    e.referenced = calloc(g->n_values, sizeof *e.referenced);
    for (uint32_t v = 0; v < g->n_values; v++) e.vars[v] = g->values[v].name; /* q, k, v, y */
    e.indent = 1;
    if (tfx_ops[TFX_OP_KvAttention].emit_c(&e, g, the_node(g)) == TFX_OK && !e.oom && e.buf) text = strdup(e.buf);
    free(e.buf);
    free((void *)e.vars);
    free(e.referenced);
  }
  if (!text) fprintf(stderr, "emit failed: %s\n", d.text ? d.text : "");
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
  return text;
}

/* text with every run of digits replaced by '#' (malloc'd). */
static char *skeleton(const char *s) {
  char *out = malloc(strlen(s) + 1), *o = out;
  for (const char *p = s; *p;) {
    if (isdigit((unsigned char)*p)) {
      *o++ = '#';
      while (isdigit((unsigned char)*p)) p++;
    } else {
      *o++ = *p++;
    }
  }
  *o = 0;
  return out;
}

static void test_structure(const Cfg *c) {
  static const int64_t samples[][2] = {{1, 0}, {3, 0}, {1, 3}, {2, 4}, {1, 5}};
  char *first = NULL;
  for (size_t k = 0; k < sizeof samples / sizeof samples[0]; k++) {
    char *t = emit_body(c, samples[k][0], samples[k][1]);
    CHECK(t != NULL);
    if (!t) continue;
    char *sk = skeleton(t);
    if (!first) first = sk;
    else {
      CHECK(strcmp(first, sk) == 0);
      free(sk);
    }
    free(t);
  }
  free(first);
}

static void print_array(FILE *f, const char *name, const float *x, int64_t n) {
  fprintf(f, "static const float %s[%lld] = {", name, (long long)n);
  for (int64_t i = 0; i < n; i++) fprintf(f, "%s%a", i ? ", " : "", (double)x[i]);
  fprintf(f, "};\n");
}

/* The kernels a KvAttention body may call (the float32 cache uses tfx_kv_attn),
 * printed as the C backend prints them before the model function. */
static void print_helpers(FILE *f) {
  fputs("#if defined(__GNUC__) || defined(__clang__)\n#define TFX_MAYBE_UNUSED __attribute__((unused))\n"
        "#else\n#define TFX_MAYBE_UNUSED\n#endif\n", f);
  tfx_c_print_simd(f);
  tfx_c_print_pool(f, 1);
  tfx_c_print_math(f);
  tfx_c_print_sgemm(f);
  tfx_c_print_attn(f);
}

/* Flags for the generated test programs: "" (portable), then "-march=native"
 * where this machine has AVX2 and FMA, so the kernels' vector paths run too. */
static const char *base_arch = "";

/* A test program's start: headers, the kernels, with lcg the data generator
 * of the long tests (lcg() below), and one function names[i](tfx_kv, q, k, v,
 * y) per body. */
static void print_program(FILE *f, bool lcg, const char *const *names, char *const *bodies, int n) {
  fprintf(f, "#include <stdint.h>\n#include <string.h>\n#include <math.h>\n#include <float.h>\n#include <stdio.h>\n\n");
  print_helpers(f);
  if (lcg)
    fprintf(f, "static float lcg(uint32_t *s) {\n  *s = *s * 1664525u + 1013904223u;\n"
               "  return (float)((*s >> 8) & 0xffffu) / 65536.0f * 2.0f - 1.0f;\n}\n");
  for (int i = 0; i < n; i++)
    fprintf(f, "static void %s(float *tfx_kv, const float *q, const float *k, const float *v, float *y) {\n"
               "  tfx_pool *const tfx_pp = NULL;\n  (void)tfx_pp;\n%s}\n\n", names[i], bodies[i]);
}

/* src built with cc (opt, base_arch, warnings as errors) into exe and started,
 * its output to read; NULL, counted as a failure, when either step fails. */
static FILE *build_and_start(const char *src, const char *exe, const char *opt) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cc -std=c99 %s %s -Wall -Wextra -Werror -o %s %s -lm", opt, base_arch, exe, src);
  int rc = system(cmd);
  CHECK(rc == 0);
  FILE *p = rc == 0 ? popen(exe, "r") : NULL;
  CHECK(rc != 0 || p != NULL);
  return p;
}

/* Prefill 3 tokens then decode 1 through the generated code; compare with the
 * reference over 4 rows and check the cache block's neighbours stay untouched. */
static void test_emit(const Cfg *base) {
  if (system("cc --version >/dev/null 2>&1") != 0) {
    fprintf(stderr, "test_kvcache: SKIPPED the emit_c compile test: no `cc` found\n");
    return;
  }
  Cfg c = *base;
  float q[BIG], k[BIG], v[BIG], kq[BIG], vq[BIG];
  double ref[BIG];
  make_data(&c, q, k, v);
  memcpy(kq, k, sizeof k), memcpy(vq, v, sizeof v);
  if (c.kv_int8) round_trip(kq, c.hkv * T4, c.dk), round_trip(vq, c.hkv * T4, c.dv);
  reference(&c, T4, q, kq, vq, ref);
  char *b0 = emit_body(&c, 3, 0), *b1 = emit_body(&c, 1, 3);
  CHECK(b0 && b1);
  char dir[] = "/tmp/tfx_kvcache_XXXXXX";
  if (!b0 || !b1 || !mkdtemp(dir)) {
    free(b0), free(b1);
    CHECK(!"cannot make a temporary directory");
    return;
  }
  char src[128], exe[128];
  snprintf(src, sizeof src, "%s/step.c", dir);
  snprintf(exe, sizeof exe, "%s/step", dir);
  FILE *f = fopen(src, "w");
  CHECK(f != NULL);
  if (!f) {
    free(b0), free(b1);
    return;
  }
  /* the layer's block in floats of the buffer: [lo, hi) */
  const int64_t lo = c.kv_int8 ? c.kv_offset / 4 : c.kv_offset,
                hi = c.kv_int8 ? (c.kv_offset + int8_block(&c)) / 4 : c.kv_offset + c.hkv * c.max_seq * (c.dk + c.dv),
                total = hi + 7;
  print_program(f, false, (const char *const[]){"step0", "step1"}, (char *const[]){b0, b1}, 2);
  float q0[BIG], k0[BIG], v0[BIG], q1[BIG], k1[BIG], v1[BIG];
  rows(q, c.hq, T4, c.dk, 0, 3, q0), rows(k, c.hkv, T4, c.dk, 0, 3, k0), rows(v, c.hkv, T4, c.dv, 0, 3, v0);
  rows(q, c.hq, T4, c.dk, 3, 1, q1), rows(k, c.hkv, T4, c.dk, 3, 1, k1), rows(v, c.hkv, T4, c.dv, 3, 1, v1);
  print_array(f, "q0", q0, c.hq * 3 * c.dk), print_array(f, "k0", k0, c.hkv * 3 * c.dk);
  print_array(f, "v0", v0, c.hkv * 3 * c.dv), print_array(f, "q1", q1, c.hq * c.dk);
  print_array(f, "k1", k1, c.hkv * c.dk), print_array(f, "v1", v1, c.hkv * c.dv);
  fprintf(f,
          "int main(void) {\n"
          "  static float kv[%lld], y0[%lld], y1[%lld];\n"
          "  for (int i = 0; i < %lld; i++) kv[i] = (float)(1000 + i);\n"
          "  step0(kv, q0, k0, v0, y0);\n"
          "  step1(kv, q1, k1, v1, y1);\n"
          "  for (int i = 0; i < %lld; i++) printf(\"%%a\\n\", (double)y0[i]);\n"
          "  for (int i = 0; i < %lld; i++) printf(\"%%a\\n\", (double)y1[i]);\n"
          "  int bad = 0;\n"
          "  for (int i = 0; i < %lld; i++) bad += kv[i] != (float)(1000 + i);\n"
          "  for (int i = %lld; i < %lld; i++) bad += kv[i] != (float)(1000 + i);\n"
          "  printf(\"guard %%d\\n\", bad);\n"
          "  return 0;\n}\n",
          (long long)total, (long long)(c.hq * 3 * c.dv), (long long)(c.hq * c.dv), (long long)total,
          (long long)(c.hq * 3 * c.dv), (long long)(c.hq * c.dv), (long long)lo, (long long)hi, (long long)total);
  fclose(f);
  {
    FILE *p = build_and_start(src, exe, "-O1");
    if (p) {
      double worst = 0;
      int got = 0, guard = -1;
      char line[128];
      for (int64_t i = 0; i < c.hq * T4 * c.dv && fgets(line, sizeof line, p); i++, got++) {
        /* y0 is [hq][3][dv] (rows 0..2), then y1 [hq][1][dv] (row 3) */
        int64_t h, r, d;
        if (i < c.hq * 3 * c.dv) h = i / (3 * c.dv), r = i / c.dv % 3, d = i % c.dv;
        else h = (i - c.hq * 3 * c.dv) / c.dv, r = 3, d = i % c.dv;
        worst = fmax(worst, fabs(strtod(line, NULL) - ref[(h * T4 + r) * c.dv + d]));
      }
      if (fgets(line, sizeof line, p)) sscanf(line, "guard %d", &guard);
      CHECK(pclose(p) == 0);
      CHECK(got == c.hq * T4 * c.dv);
      CHECK(worst < 1e-5);
      CHECK(guard == 0);
      if (worst >= 1e-5)
        fprintf(stderr, "emit_c (window %lld, int8 %lld): worst error %g\n", (long long)c.window,
                (long long)c.kv_int8, worst);
    }
  }
  if (failures == 0 && !getenv("KEEP")) {
    unlink(exe), unlink(src), rmdir(dir);
  } else {
    fprintf(stderr, "generated test program kept in %s\n", dir);
  }
  free(b0), free(b1);
}

/* A decode step over a long cache (P = 599 rows already there, 2 key splits of
 * the float32 kernel merged afterwards): the cache is filled by a generator that
 * the test repeats, and the step's output is compared with attention computed
 * here in double over the same rows. */
static float lcg(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffffu) / 65536.0f * 2.0f - 1.0f;
}

/* A decode step at position 599 over HQ query heads on HKV KV heads (heads of
 * DK and DV floats) against attention in double.  The shapes choose the paths
 * of the step's P.V: 5 heads a group with DV 12 (dot4 and one more; every
 * column left to the axpy), DV 80 (a 4-row block of registers, then the fifth
 * row 64 columns in registers and 16 by the axpy), one head a group with DV 64
 * (one row in registers). */
static void test_long_decode(int HQ, int HKV, int DK, int DV) {
  enum { N = 600, P = N - 1 };
  Cfg c = BASE;
  c.hq = HQ, c.hkv = HKV, c.dk = DK, c.dv = DV, c.max_seq = N, c.kv_offset = 0;
  char *b = emit_body(&c, 1, P);
  char dir[] = "/tmp/tfx_kvlong_XXXXXX", src[128], exe[128];
  const int nkv = HKV * N * (DK + DV);
  float *kv = malloc(sizeof *kv * (size_t)nkv), *q = malloc(sizeof *q * (size_t)(HQ * DK));
  float *k = malloc(sizeof *k * (size_t)(HKV * DK)), *v = malloc(sizeof *v * (size_t)(HKV * DV));
  CHECK(b != NULL);
  if (!kv || !q || !k || !v) abort();
  if (!b || !mkdtemp(dir)) {
    free(b), free(kv), free(q), free(k), free(v);
    return;
  }
  snprintf(src, sizeof src, "%s/long.c", dir), snprintf(exe, sizeof exe, "%s/long", dir);
  FILE *f = fopen(src, "w");
  CHECK(f != NULL);
  if (!f) {
    free(b), free(kv), free(q), free(k), free(v);
    return;
  }
  print_program(f, true, (const char *const[]){"step"}, (char *const[]){b}, 1);
  fprintf(f, "int main(void) {\n  static float kv[%d], q[%d], k[%d], v[%d], y[%d];\n  uint32_t s = 7;\n  int i;\n"
             "  for (i = 0; i < %d; i++) kv[i] = lcg(&s);\n  for (i = 0; i < %d; i++) q[i] = 2.0f * lcg(&s);\n"
             "  for (i = 0; i < %d; i++) k[i] = lcg(&s);\n  for (i = 0; i < %d; i++) v[i] = lcg(&s);\n"
             "  step(kv, q, k, v, y);\n  for (i = 0; i < %d; i++) printf(\"%%a\\n\", (double)y[i]);\n  return 0;\n}\n",
          nkv, HQ * DK, HKV * DK, HKV * DV, HQ * DV, nkv, HQ * DK, HKV * DK, HKV * DV, HQ * DV);
  fclose(f);
  /* the same numbers here: cache K [HKV][N][DK] then V [HKV][N][DV]; row P comes from k/v */
  uint32_t st = 7;
  for (int i = 0; i < nkv; i++) kv[i] = lcg(&st);
  for (int i = 0; i < HQ * DK; i++) q[i] = 2.0f * lcg(&st);
  for (int i = 0; i < HKV * DK; i++) k[i] = lcg(&st);
  for (int i = 0; i < HKV * DV; i++) v[i] = lcg(&st);
  double worst = 0;
  int got = 0;
  FILE *p = build_and_start(src, exe, "-O2");
  for (int h = 0; p && h < HQ; h++) {
    const int kh = h / (HQ / HKV);
    static double sc[N];
    double mx = -INFINITY, sum = 0;
    for (int j = 0; j < N; j++) {
      const float *kr = j < P ? kv + (kh * N + j) * DK : k + kh * DK;
      double d = 0;
      for (int x = 0; x < DK; x++) d += (double)q[h * DK + x] * kr[x];
      sc[j] = d * (double)c.scale, mx = fmax(mx, sc[j]);
    }
    for (int j = 0; j < N; j++) sum += sc[j] = exp(sc[j] - mx);
    for (int x = 0; x < DV; x++) {
      double y = 0;
      for (int j = 0; j < N; j++) y += sc[j] / sum * (j < P ? kv[HKV * N * DK + (kh * N + j) * DV + x] : v[kh * DV + x]);
      char line[64];
      if (!fgets(line, sizeof line, p)) break;
      got++;
      worst = fmax(worst, fabs(strtod(line, NULL) - y));
    }
  }
  if (p) CHECK(pclose(p) == 0);
  CHECK(got == HQ * DV);
  CHECK(worst < 1e-5);
  if (worst >= 1e-5 || got != HQ * DV)
    fprintf(stderr, "long decode (%d/%d heads, dk %d, dv %d, %s): worst error %g, %d values (kept %s)\n", HQ, HKV, DK,
            DV, base_arch, worst, got, dir);
  else unlink(exe), unlink(src), rmdir(dir);
  free(b), free(kv), free(q), free(k), free(v);
}

/* Prefill P = N - 1 rows, then decode row P, through the generated code (the
 * tiled kernel over several key tiles and query blocks, then a decode step over
 * two key splits), against attention computed here in double over all N rows
 * (with int8, over the rows after this file's round trip).  The program makes
 * its data with the generator above, as the test does. */
static void test_long(bool int8, int64_t window) {
  enum { N = 600, P = N - 1, HQ = 10, HKV = 2, DK = 24, DV = 20 }; /* DV: 16 + a remainder of 4 */
  Cfg c = BASE;
  c.hq = HQ, c.hkv = HKV, c.dk = DK, c.dv = DV, c.max_seq = N, c.kv_offset = 0, c.window = window;
  c.kv_int8 = int8;
  char *b0 = emit_body(&c, P, 0), *b1 = emit_body(&c, 1, P);
  char dir[] = "/tmp/tfx_kvlong_XXXXXX", src[128], exe[128];
  CHECK(b0 && b1);
  if (!b0 || !b1 || !mkdtemp(dir)) {
    free(b0), free(b1);
    return;
  }
  snprintf(src, sizeof src, "%s/long.c", dir), snprintf(exe, sizeof exe, "%s/long", dir);
  FILE *f = fopen(src, "w");
  CHECK(f != NULL);
  if (!f) {
    free(b0), free(b1);
    return;
  }
  const int64_t kv_floats = int8 ? int8_block(&c) / 4 : HKV * N * (DK + DV);
  print_program(f, true, (const char *const[]){"step0", "step1"}, (char *const[]){b0, b1}, 2);
  /* q [HQ][N][DK], k [HKV][N][DK], v [HKV][N][DV]; step0 takes rows 0..P-1, step1 row P */
  fprintf(f,
          "static void split(const float *x, int H, int D, float *x0, float *x1) {\n"
          "  for (int h = 0; h < H; h++) {\n"
          "    memcpy(x0 + h * %d * D, x + h * %d * D, sizeof(float) * %d * D);\n"
          "    memcpy(x1 + h * D, x + (h * %d + %d) * D, sizeof(float) * D);\n"
          "  }\n}\n",
          P, N, P, N, P);
  fprintf(f,
          "int main(void) {\n"
          "  static float kv[%lld], q[%d], k[%d], v[%d], q0[%d], k0[%d], v0[%d], q1[%d], k1[%d], v1[%d], y0[%d], y1[%d];\n"
          "  uint32_t s = 11;\n  int i;\n"
          "  for (i = 0; i < %d; i++) q[i] = 2.0f * lcg(&s);\n"
          "  for (i = 0; i < %d; i++) k[i] = lcg(&s);\n  for (i = 0; i < %d; i++) v[i] = lcg(&s);\n"
          "  split(q, %d, %d, q0, q1), split(k, %d, %d, k0, k1), split(v, %d, %d, v0, v1);\n"
          "  step0(kv, q0, k0, v0, y0);\n  step1(kv, q1, k1, v1, y1);\n"
          "  for (i = 0; i < %d; i++) printf(\"%%a\\n\", (double)y0[i]);\n"
          "  for (i = 0; i < %d; i++) printf(\"%%a\\n\", (double)y1[i]);\n  return 0;\n}\n",
          (long long)kv_floats, HQ * N * DK, HKV * N * DK, HKV * N * DV, HQ * P * DK, HKV * P * DK, HKV * P * DV, HQ * DK,
          HKV * DK, HKV * DV, HQ * P * DV, HQ * DV, HQ * N * DK, HKV * N * DK, HKV * N * DV, HQ, DK, HKV, DK, HKV, DV,
          HQ * P * DV, HQ * DV);
  fclose(f);
  static float q[HQ * N * DK], k[HKV * N * DK], v[HKV * N * DV];
  static double ref[HQ * N * DV];
  uint32_t st = 11;
  for (int i = 0; i < HQ * N * DK; i++) q[i] = 2.0f * lcg(&st);
  for (int i = 0; i < HKV * N * DK; i++) k[i] = lcg(&st);
  for (int i = 0; i < HKV * N * DV; i++) v[i] = lcg(&st);
  if (int8) round_trip(k, HKV * N, DK), round_trip(v, HKV * N, DV);
  reference(&c, N, q, k, v, ref);
  FILE *p = build_and_start(src, exe, "-O2");
  double worst = 0;
  int got = 0;
  char line[64];
  for (int i = 0; p && i < HQ * N * DV && fgets(line, sizeof line, p); i++, got++) {
    /* y0 [HQ][P][DV], then y1 [HQ][1][DV] (row P) */
    const int h = i < HQ * P * DV ? i / (P * DV) : (i - HQ * P * DV) / DV;
    const int r = i < HQ * P * DV ? i / DV % P : P;
    worst = fmax(worst, fabs(strtod(line, NULL) - ref[(h * N + r) * DV + i % DV]));
  }
  if (p) CHECK(pclose(p) == 0);
  CHECK(got == HQ * N * DV);
  CHECK(worst < 1e-5);
  if (worst >= 1e-5 || got != HQ * N * DV)
    fprintf(stderr, "long prefill + decode (int8 %d, window %lld, %s): worst error %g, %d values (kept %s)\n", int8,
            (long long)window, base_arch, worst, got, dir);
  else unlink(exe), unlink(src), rmdir(dir);
  free(b0), free(b1);
}

int main(void) {
  test_infer();
  test_eval(0, false);
  test_eval(2, false);
  test_eval(0, true);
  test_eval(2, true);
  test_eval_round_trip();
  Cfg c = BASE;
  test_structure(&c);
  test_emit(&c); /* GQA (4 query heads over 2 KV heads), no window */
  c.window = 2;
  test_structure(&c);
  test_emit(&c);
  c = BASE, c.hq = 2, c.hkv = 2, c.kv_offset = 0, c.max_seq = 4; /* MHA, block at the cache start, full */
  test_emit(&c);
  /* the int8 cache: K int8 [2][6][3] (36 bytes, padded to 48), odd sizes everywhere */
  c = BASE, c.kv_int8 = 1, c.kv_offset = 32;
  test_structure(&c);
  test_emit(&c);
  c.window = 2;
  test_structure(&c);
  test_emit(&c);
  c = BASE, c.hq = 2, c.hkv = 2, c.kv_offset = 0, c.max_seq = 4, c.kv_int8 = 1;
  test_emit(&c);
  c = BASE, c.dk = 10, c.kv_int8 = 1, c.kv_offset = 16; /* the 8-lane score loop plus a remainder of 2 */
  test_structure(&c);
  test_emit(&c);
  /* 66 query heads on one KV head: past the kernel's 64 a group, the loops
   * printed in place attend, float32 and int8 */
  c = BASE, c.hq = 66, c.hkv = 1, c.kv_offset = 0;
  test_structure(&c);
  test_emit(&c);
  c.kv_int8 = 1;
  test_structure(&c);
  test_emit(&c);
  /* the kernels' portable loops, then their vector paths where this machine has them */
  for (int arch = 0; arch < (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 2 : 1); arch++) {
    base_arch = arch ? "-march=native" : "";
    test_long_decode(10, 2, 20, 12);
    test_long_decode(10, 2, 24, 80);
    test_long_decode(3, 3, 16, 64);
    test_long(false, 0);
    test_long(true, 0);
    test_long(true, 100);
  }
  if (failures) fprintf(stderr, "test_kvcache: %d failure(s)\n", failures);
  else printf("test_kvcache: ok\n");
  return failures != 0;
}
