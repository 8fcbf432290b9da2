/* test_quantize.c — weight-only quantisation: WeightQMatMul's evaluator against
 * hand computation (int8; int4 with groups 32 and 64; the nibble layout), the
 * pass (graph shape after, keep[] honoured, the LM head left float unless
 * asked, Gemm with transB and bias), activation-aware quantisation from
 * calibration statistics (smaller error on activations with outlier channels,
 * the 1/s input), and the generated C of a quantised graph against the
 * reference evaluator of the same graph (compiled with cc): int8 per channel
 * and grouped, int4, with and without the AWQ rescaling.  GPTQ: its factor
 * (R R^T = X^T X + damping), an output error on correlated activations clearly
 * below round-to-nearest's on rows it was not fitted to, and with X^T X = I
 * exactly round-to-nearest. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "passes/passes.h"

#include "tests/unit/check.h"
#include "tests/unit/graph_build.h"

static uint64_t rng = 88172645463325252ull;
static double urand(void) { /* in [-1, 1) */
  rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
  return (double)(rng >> 11) / 4503599627370496.0 - 1.0;
}

static uint32_t konst(TfxGraph *g, const char *name, TfxDtype dt, int rank, const int64_t *dims) {
  uint32_t v = tfx_graph_add_value(g, name);
  tfx_value_set_const(g, v, tfx_graph_new_tensor(g, dt, rank, dims));
  return v;
}

static float *fdata(TfxGraph *g, uint32_t v) { return g->values[v].konst->data; }

/* Element i of a bfloat16 tensor (WeightQMatMul's scales and offsets), and
 * setting one of a bfloat16 constant (rounded to nearest). */
static float bget(const TfxTensor *t, int64_t i) { return tfx_bf16_to_f32(((const uint16_t *)t->data)[i]); }
static void bset(TfxGraph *g, uint32_t v, int64_t i, float x) {
  ((uint16_t *)g->values[v].konst->data)[i] = tfx_f32_to_bf16(x);
}

static void set_int_attrs(TfxGraph *g, TfxNode *n, const char *a, int64_t va, const char *b, int64_t vb) {
  TfxAttr *at = tfx_graph_alloc(g, 2 * sizeof *at);
  at[0].name = a, at[0].kind = TFX_ATTR_INT, at[0].i = va;
  at[1].name = b, at[1].kind = TFX_ATTR_INT, at[1].i = vb;
  n->attrs = at;
  n->n_attrs = b ? 2 : 1;
}

static bool infer_all(TfxGraph *g) {
  for (uint32_t i = 0; i < g->n_nodes; i++)
    if (!g->nodes[i].dead && tfx_ops[g->nodes[i].op].infer(g, &g->nodes[i])) return false;
  return true;
}

static TfxTensor random_input(const TfxGraph *g, uint32_t v) {
  TfxTensor t = {.dtype = TFX_F32, .rank = g->values[v].rank};
  memcpy(t.dims, g->values[v].dims, sizeof t.dims);
  int64_t n = tfx_tensor_numel(&t);
  t.data = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) ((float *)t.data)[i] = (float)urand();
  return t;
}

/* Like random_input, with every eighth channel 30 times larger: the outlier
 * channels that activation-aware quantisation is for. */
static TfxTensor outlier_input(const TfxGraph *g, uint32_t v) {
  TfxTensor t = random_input(g, v);
  int64_t K = t.dims[t.rank - 1];
  for (int64_t i = 0; i < tfx_tensor_numel(&t); i++)
    if (i % K % 8 == 0) ((float *)t.data)[i] *= 30;
  return t;
}

/* The live node named name (the pass adds nodes and sorts the graph). */
static const TfxNode *named(const TfxGraph *g, const char *name) {
  for (uint32_t i = 0; i < g->n_nodes; i++)
    if (!g->nodes[i].dead && g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0) return &g->nodes[i];
  return NULL;
}

/* ---- the op ---------------------------------------------------------------- */

/* x [M, K] times int8 weights: y = sum_k x q scale + bias, by hand. */
static void test_eval_int8(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_graph_new(&d, "int8");
  enum { M = 3, K = 8, N = 5 };
  uint32_t x = input(g, "x", TFX_F32, 2, (int64_t[]){M, K});
  uint32_t w = konst(g, "w", TFX_I8, 2, (int64_t[]){N, K});
  uint32_t s = konst(g, "s", TFX_BF16, 1, (int64_t[]){N});
  uint32_t b = konst(g, "b", TFX_F32, 1, (int64_t[]){N});
  int8_t *q = g->values[w].konst->data;
  for (int i = 0; i < N * K; i++) q[i] = (int8_t)((i * 37) % 255 - 127);
  for (int j = 0; j < N; j++) bset(g, s, j, 0.01f * (float)(j + 1)), fdata(g, b)[j] = (float)j - 2;
  uint32_t y = node(g, TFX_OP_WeightQMatMul, "qmm", 4, (uint32_t[]){x, w, s, b}, "y");
  set_int_attrs(g, &g->nodes[0], "bits", 8, NULL, 0);
  CHECK(infer_all(g));
  CHECK(g->values[y].rank == 2 && g->values[y].dims[0] == M && g->values[y].dims[1] == N);
  TfxTensor xt = random_input(g, x), out;
  const TfxTensor *in[4] = {&xt, g->values[w].konst, g->values[s].konst, g->values[b].konst};
  CHECK(tfx_eval_node(g, &g->nodes[0], in, &out) == TFX_OK);
  for (int m = 0; m < M; m++)
    for (int j = 0; j < N; j++) {
      double acc = 0;
      for (int k = 0; k < K; k++) acc += ((float *)xt.data)[m * K + k] * q[j * K + k];
      double want = acc * bget(g->values[s].konst, j) + fdata(g, b)[j];
      CHECK(fabs(((float *)out.data)[m * N + j] - want) < 1e-5);
    }
  /* a bad layout is a node error, not a crash */
  set_int_attrs(g, &g->nodes[0], "bits", 4, "group", 32);
  CHECK(tfx_ops[TFX_OP_WeightQMatMul].infer(g, &g->nodes[0]) == TFX_ERR);
  CHECK(d.text && strstr(d.text, "uint8"));
  tfx_tensor_free_data(&out);
  free(xt.data);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* The fifth input multiplies x's channels; int8 with groups of 16 along K. */
static void test_eval_xs(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_graph_new(&d, "xs");
  enum { M = 2, K = 32, N = 3, G = 16 };
  uint32_t x = input(g, "x", TFX_F32, 2, (int64_t[]){M, K});
  uint32_t w = konst(g, "w", TFX_I8, 2, (int64_t[]){N, K});
  uint32_t s = konst(g, "s", TFX_BF16, 2, (int64_t[]){N, K / G});
  uint32_t xs = konst(g, "xs", TFX_F32, 1, (int64_t[]){K});
  int8_t *q = g->values[w].konst->data;
  for (int i = 0; i < N * K; i++) q[i] = (int8_t)((i * 53) % 255 - 127);
  for (int i = 0; i < N * K / G; i++) bset(g, s, i, 0.01f * (float)(i + 1));
  for (int k = 0; k < K; k++) fdata(g, xs)[k] = 0.25f * (float)(k % 5 + 1);
  node(g, TFX_OP_WeightQMatMul, "qmm", 5, (uint32_t[]){x, w, s, TFX_NONE, xs}, "y");
  set_int_attrs(g, &g->nodes[0], "bits", 8, "group", G);
  CHECK(infer_all(g));
  TfxTensor xt = random_input(g, x), out;
  const TfxTensor *in[5] = {&xt, g->values[w].konst, g->values[s].konst, NULL, g->values[xs].konst};
  CHECK(tfx_eval_node(g, &g->nodes[0], in, &out) == TFX_OK);
  for (int m = 0; m < M; m++)
    for (int j = 0; j < N; j++) {
      double want = 0;
      for (int k = 0; k < K; k++)
        want += ((float *)xt.data)[m * K + k] * fdata(g, xs)[k] * q[j * K + k] * bget(g->values[s].konst, j * (K / G) + k / G);
      CHECK(fabs(((float *)out.data)[m * N + j] - want) < 1e-5);
    }
  /* xs of the wrong length is a node error */
  g->values[xs].dims[0] = K - 1;
  CHECK(tfx_ops[TFX_OP_WeightQMatMul].infer(g, &g->nodes[0]) == TFX_ERR);
  tfx_tensor_free_data(&out);
  free(xt.data);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* x [M, K] times int4 weights, group G: nibbles low first, q + 8. */
/* int4 by hand: y = x (q * scale (+ offset))^T, with offsets when asked. */
static void test_eval_int4(int64_t G, bool offsets) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_graph_new(&d, "int4");
  enum { M = 2, K = 128, N = 3 };
  int64_t ng = K / G;
  uint32_t x = input(g, "x", TFX_F32, 3, (int64_t[]){1, M, K});
  uint32_t w = konst(g, "w", TFX_U8, 2, (int64_t[]){N, K / 2});
  uint32_t s = konst(g, "s", TFX_BF16, 2, (int64_t[]){N, ng});
  int qv[N][K];
  uint8_t *pk = g->values[w].konst->data;
  for (int j = 0; j < N; j++)
    for (int k = 0; k < K; k++) {
      qv[j][k] = (j * 7 + k * 3) % 16 - 8;
      pk[j * K / 2 + k / 2] |= (uint8_t)((qv[j][k] + 8) << (k % 2 * 4));
    }
  for (int i = 0; i < N * ng; i++) bset(g, s, i, 0.05f * (float)(i % 5 + 1));
  uint32_t o = konst(g, "o", TFX_BF16, 2, (int64_t[]){N, ng});
  for (int i = 0; i < N * ng; i++) bset(g, o, i, 0.03f * (float)(i % 7 - 3));
  uint32_t y = node(g, TFX_OP_WeightQMatMul, "qmm", offsets ? 8 : 3,
                    (uint32_t[]){x, w, s, TFX_NONE, TFX_NONE, TFX_NONE, TFX_NONE, o}, "y");
  set_int_attrs(g, &g->nodes[0], "bits", 4, "group", G);
  CHECK(infer_all(g));
  CHECK(g->values[y].rank == 3 && g->values[y].dims[2] == N);
  TfxTensor xt = random_input(g, x), out;
  const TfxTensor *in[8] = {&xt, g->values[w].konst, g->values[s].konst, NULL, NULL, NULL, NULL, g->values[o].konst};
  CHECK(tfx_eval_node(g, &g->nodes[0], in, &out) == TFX_OK);
  for (int m = 0; m < M; m++)
    for (int j = 0; j < N; j++) {
      double want = 0;
      for (int k = 0; k < K; k++) {
        int64_t gi = j * ng + k / G;
        want += ((float *)xt.data)[m * K + k] * (qv[j][k] * bget(g->values[s].konst, gi) + (offsets ? bget(g->values[o].konst, gi) : 0.0f));
      }
      CHECK(fabs(((float *)out.data)[m * N + j] - want) < 1e-4);
    }
  if (offsets) { /* offsets of the wrong shape, or with int8 weights, are node errors */
    g->values[o].dims[1] = ng + 1;
    CHECK(tfx_ops[TFX_OP_WeightQMatMul].infer(g, &g->nodes[0]) == TFX_ERR);
    CHECK(d.text && strstr(d.text, "offsets must be bfloat16 [N, K/group]"));
  }
  tfx_tensor_free_data(&out);
  free(xt.data);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* BlockQuantize by hand: blocks of 4 with a scale each, xs applied first;
 * ties round to even; a tiny block is zero, a non-finite one NaN. */
static void test_block_quantize(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_graph_new(&d, "bq");
  enum { M = 2, K = 16 };
  uint32_t x = input(g, "x", TFX_F32, 2, (int64_t[]){M, K});
  uint32_t xs = konst(g, "xs", TFX_F32, 1, (int64_t[]){K});
  for (int k = 0; k < K; k++) fdata(g, xs)[k] = k < 4 ? 2.0f : 1.0f;
  uint32_t outs[3] = {tfx_graph_add_value(g, "q"), tfx_graph_add_value(g, "d"), tfx_graph_add_value(g, "xhat")};
  tfx_graph_add_node(g, TFX_OP_BlockQuantize, "BlockQuantize", "bq", (uint32_t[]){x, xs}, 2, outs, 3);
  set_int_attrs(g, &g->nodes[0], "block", 4, NULL, 0);
  CHECK(infer_all(g));
  CHECK(g->values[outs[0]].dtype == TFX_I8 && g->values[outs[1]].dims[1] == 4 && g->values[outs[2]].dims[1] == K);
  float xv[M * K] = {
      /* times 2: amax 127 (d 1): -63.5 and 0.25 round to even */
      63.5f, -31.75f, 0.25f, 10.0f,
      /* amax 254 (d 2): 1 -> 0.5 -> 0, 3 -> 1.5 -> 2 */
      254.0f, 1.0f, 3.0f, -254.0f,
      /* below 1e-30: zero */
      1e-31f, -1e-31f, 0.0f, 0.0f,
      /* an infinity: NaN */
      1.0f, INFINITY, 2.0f, 3.0f,
      /* row 1: a NaN in block 0 */
      NAN, 1.0f, 1.0f, 1.0f, 0.5f, -0.25f, 0.125f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 127.0f, 0.0f, 0.0f, 0.0f};
  TfxTensor xt = {.dtype = TFX_F32, .rank = 2, .dims = {M, K}, .data = xv}, out[3];
  const TfxTensor *in[2] = {&xt, g->values[xs].konst};
  CHECK(tfx_eval_node(g, &g->nodes[0], in, out) == TFX_OK);
  const int8_t *q = out[0].data;
  const float *dd = out[1].data, *xh = out[2].data;
  const int8_t want_q[8] = {127, -64, 0, 20, 127, 0, 2, -127};
  for (int k = 0; k < 8; k++) CHECK(q[k] == want_q[k]);
  CHECK(dd[0] == 1.0f && dd[1] == 2.0f && dd[2] == 0.0f && isnan(dd[3]) && isnan(dd[4]));
  CHECK(xh[1] == -64.0f && xh[6] == 4.0f && xh[8] == 0.0f && isnan(xh[13]));
  for (int k = 8; k < 16; k++) CHECK(q[k] == 0);
  /* row 1, block 1: amax 0.5, d = 0.5 / 127 */
  CHECK(dd[5] == 0.5f / 127.0f && q[20] == 127 && q[21] == -64 && q[22] == 32 && q[23] == 0);
  CHECK(dd[6] == 0.0f && dd[7] == 1.0f && q[28] == 127);
  for (int k = 0; k < 3; k++) tfx_tensor_free_data(&out[k]);
  /* a block that does not divide K is a node error */
  set_int_attrs(g, &g->nodes[0], "block", 5, NULL, 0);
  CHECK(tfx_ops[TFX_OP_BlockQuantize].infer(g, &g->nodes[0]) == TFX_ERR);
  CHECK(d.text && strstr(d.text, "block 5"));
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* WeightQMatMul on integer activations: y = sum_b scale * xd[b] * (sum xq q) + bias,
 * by hand in integers, for int8 per channel and int4 groups of 16 over blocks of 8. */
static void test_eval_int_acts(int bits, bool offsets) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_graph_new(&d, "intacts");
  enum { M = 2, K = 32, N = 3, L = 8 };
  const int64_t G = bits == 8 ? K : 16, ng = K / G;
  uint32_t xh = input(g, "xhat", TFX_F32, 2, (int64_t[]){M, K});
  uint32_t w = konst(g, "w", bits == 8 ? TFX_I8 : TFX_U8, 2, (int64_t[]){N, bits == 8 ? K : K / 2});
  uint32_t s = bits == 8 ? konst(g, "s", TFX_BF16, 1, (int64_t[]){N}) : konst(g, "s", TFX_BF16, 2, (int64_t[]){N, ng});
  uint32_t b = konst(g, "b", TFX_F32, 1, (int64_t[]){N});
  uint32_t xq = konst(g, "xq", TFX_I8, 2, (int64_t[]){M, K}), xd = konst(g, "xd", TFX_F32, 2, (int64_t[]){M, K / L});
  uint32_t o = konst(g, "o", TFX_BF16, 2, (int64_t[]){N, ng});
  for (int i = 0; i < N * ng; i++) bset(g, o, i, 0.02f * (float)(i % 5 - 2));
  uint8_t *wb = g->values[w].konst->data;
  int8_t *xqv = g->values[xq].konst->data;
  for (int i = 0; i < N * (bits == 8 ? K : K / 2); i++) wb[i] = (uint8_t)((i * 77 + 5) % 255 + (bits == 8 ? 1 : 0));
  for (int i = 0; i < M * K; i++) xqv[i] = (int8_t)((i * 53) % 255 - 127);
  for (int i = 0; i < N * ng; i++) bset(g, s, i, 0.01f * (float)(i + 1));
  for (int i = 0; i < M * K / L; i++) fdata(g, xd)[i] = 0.003f * (float)(i + 2);
  for (int j = 0; j < N; j++) fdata(g, b)[j] = (float)j;
  node(g, TFX_OP_WeightQMatMul, "qmm", offsets ? 8 : 7, (uint32_t[]){xh, w, s, b, TFX_NONE, xq, xd, o}, "y");
  set_int_attrs(g, &g->nodes[0], "bits", bits, bits == 4 ? "group" : NULL, G);
  CHECK(infer_all(g));
  TfxTensor xt = random_input(g, xh), out; /* xhat's values are not read */
  const TfxTensor *in[8] = {&xt, g->values[w].konst, g->values[s].konst, g->values[b].konst, NULL,
                            g->values[xq].konst, g->values[xd].konst, g->values[o].konst};
  CHECK(tfx_eval_node(g, &g->nodes[0], in, &out) == TFX_OK);
  for (int m = 0; m < M; m++)
    for (int j = 0; j < N; j++) {
      double want = fdata(g, b)[j];
      for (int bl = 0; bl < K / L; bl++) {
        long isum = 0, xsum = 0;
        for (int k = bl * L; k < (bl + 1) * L; k++) {
          int qw = bits == 8 ? (int8_t)wb[j * K + k] : (int)((k & 1) ? wb[j * K / 2 + k / 2] >> 4 : wb[j * K / 2 + k / 2] & 15) - 8;
          isum += (long)xqv[m * K + k] * qw, xsum += xqv[m * K + k];
        }
        int64_t gi = j * ng + bl * L / G;
        want += (double)fdata(g, xd)[m * K / L + bl] * ((double)isum * bget(g->values[s].konst, gi) + (offsets ? (double)xsum * bget(g->values[o].konst, gi) : 0.0));
      }
      CHECK(fabs(((float *)out.data)[m * N + j] - want) < 1e-5 * (1 + fabs(want)));
    }
  /* xq without xd is a node error */
  g->nodes[0].inputs[6] = TFX_NONE;
  CHECK(tfx_ops[TFX_OP_WeightQMatMul].infer(g, &g->nodes[0]) == TFX_ERR);
  CHECK(d.text && strstr(d.text, "xq and xd come together"));
  tfx_tensor_free_data(&out);
  free(xt.data);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* ---- the pass ---------------------------------------------------------------- */

static int count_op(const TfxGraph *g, TfxOp op) {
  int n = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++) n += !g->nodes[i].dead && g->nodes[i].op == op;
  return n;
}

/* x's width in mlp_rows (64 unless a test widens it) */
static int64_t mlp_k = 64, mlp_h = 32, mlp_o = 16; /* x's width, the hidden width, the outputs */

/* x [rows, mlp_k] -> MatMul(w1 [mlp_k, mlp_h]) -> Relu -> Gemm(w2 [mlp_o, mlp_h], transB, bias [mlp_o]) -> y
 * (the head) */

static TfxGraph *mlp_rows(TfxDiag *d, uint32_t *xv, int64_t rows) {
  TfxGraph *g = tfx_graph_new(d, "mlp");
  uint32_t x = input(g, "x", TFX_F32, 2, (int64_t[]){rows, mlp_k});
  uint32_t w1 = konst(g, "w1", TFX_F32, 2, (int64_t[]){mlp_k, mlp_h});
  uint32_t w2 = konst(g, "w2", TFX_F32, 2, (int64_t[]){mlp_o, mlp_h});
  uint32_t b2 = konst(g, "b2", TFX_F32, 1, (int64_t[]){mlp_o});
  for (int i = 0; i < mlp_k * mlp_h; i++) fdata(g, w1)[i] = (float)urand() * 0.2f;
  for (int i = 0; i < mlp_o * mlp_h; i++) fdata(g, w2)[i] = (float)urand() * 0.3f;
  for (int i = 0; i < mlp_o; i++) fdata(g, b2)[i] = (float)urand();
  uint32_t h = node(g, TFX_OP_MatMul, "mm1", 2, (uint32_t[]){x, w1}, "h");
  uint32_t r = node(g, TFX_OP_Relu, "relu", 1, &h, "r");
  uint32_t y = node(g, TFX_OP_Gemm, "head", 3, (uint32_t[]){r, w2, b2}, "y");
  set_int_attrs(g, &g->nodes[2], "transB", 1, NULL, 0);
  output(g, y);
  if (!infer_all(g)) failures++;
  *xv = x;
  return g;
}

static TfxGraph *mlp(TfxDiag *d, uint32_t *xv) { return mlp_rows(d, xv, 4); }

static double cosine(const TfxTensor *a, const TfxTensor *b) {
  double dot = 0, na = 0, nb = 0;
  for (int64_t i = 0; i < tfx_tensor_numel(a); i++) {
    double x = ((float *)a->data)[i], y = ((float *)b->data)[i];
    dot += x * y, na += x * x, nb += y * y;
  }
  return dot / sqrt(na * nb);
}

static void test_pass(int bits, bool head, const char *const *keep, int n_keep, int want_changed, bool float_acts) {
  TfxDiag d;
  tfx_diag_init(&d);
  uint32_t x;
  uint64_t seed = rng;
  TfxGraph *gf = mlp(&d, &x);
  rng = seed;
  TfxGraph *gq = mlp(&d, &x);
  TfxQuantOptions q = {.weight_bits = bits, .group = bits == 4 ? 32 : 0, .lm_head = head, .float_acts = float_acts};
  int changed = -1;
  CHECK(tfx_pass_quantize_weights(gq, &q, keep, n_keep, &changed) == TFX_OK);
  CHECK(changed == want_changed);
  CHECK(tfx_graph_verify(gq) == TFX_OK);
  CHECK(count_op(gq, TFX_OP_WeightQMatMul) == want_changed);
  /* one BlockQuantize per product's x (h and r differ) unless float_acts */
  CHECK(count_op(gq, TFX_OP_BlockQuantize) == (float_acts ? 0 : want_changed));
  /* the head: transposed already ([N, K] = [16, 32]), bias kept */
  const TfxNode *hn = named(gq, "head");
  if (head) {
    CHECK(hn->op == TFX_OP_WeightQMatMul && hn->n_inputs == (float_acts ? 4 : 7));
    const TfxValue *wq = tfx_node_in(gq, hn, 1);
    CHECK(wq->dims[0] == 16 && wq->dims[1] == (bits == 8 ? 32 : 16));
    CHECK(strcmp(wq->name, bits == 8 ? "w2.q8" : "w2.q4") == 0);
  } else {
    CHECK(hn->op == TFX_OP_Gemm);
  }
  /* w1 [K, N] = [64, 32] is stored transposed */
  bool kept1 = n_keep && strcmp(keep[0], "w1") == 0;
  const TfxNode *n1 = named(gq, "mm1");
  CHECK(n1->op == (kept1 ? TFX_OP_MatMul : TFX_OP_WeightQMatMul));
  if (!kept1) CHECK(tfx_node_in(gq, n1, 1)->dims[0] == 32);
  TfxTensor xt = random_input(gf, x), of, oq;
  CHECK(tfx_eval_graph(gf, &xt, &of) == TFX_OK);
  CHECK(tfx_eval_graph(gq, &xt, &oq) == TFX_OK);
  double c = cosine(&of, &oq);
  CHECK(c > (bits == 8 ? 0.9995 : 0.98));
  CHECK(c < 1 || !want_changed); /* something did change */
  tfx_tensor_free_data(&of);
  tfx_tensor_free_data(&oq);
  free(xt.data);
  tfx_graph_free(gf);
  tfx_graph_free(gq);
  tfx_diag_deinit(&d);
}

/* The squared error of w1 [64, 32] (the float graph's) as quantised in gq:
 * q * scale (+ offset), from the pass's constants. */
static double w1_error(const TfxGraph *gf, const TfxGraph *gq) {
  const float *w = gf->values[tfx_graph_find_value(gf, "w1")].konst->data;
  const uint8_t *q = gq->values[tfx_graph_find_value(gq, "w1.q4")].konst->data;
  const TfxTensor *sc = gq->values[tfx_graph_find_value(gq, "w1.scale")].konst;
  uint32_t ov = tfx_graph_find_value(gq, "w1.offset");
  const TfxTensor *of = ov == TFX_NONE ? NULL : gq->values[ov].konst;
  double err = 0;
  for (int n = 0; n < 32; n++)
    for (int k = 0; k < 64; k++) {
      int qk = (int)((k & 1) ? q[n * 32 + k / 2] >> 4 : q[n * 32 + k / 2] & 15) - 8;
      double d = w[k * 32 + n] - ((double)qk * bget(sc, n * 2 + k / 32) + (of ? bget(of, n * 2 + k / 32) : 0.0));
      err += d * d;
    }
  return err;
}

/* int4 with offsets: w1 shifted to be positive (where symmetric levels waste
 * half their range) and channel 0 constant (the bfloat16 offset plus one step
 * of a scale for the rest: within 2^-17 of it).  The error must fall well
 * below the symmetric one's; int8 refuses offsets. */
static void test_asym(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  uint32_t x;
  TfxGraph *g[3];
  for (int v = 0; v < 3; v++) {
    rng = 7;
    g[v] = mlp(&d, &x);
    float *w = g[v]->values[tfx_graph_find_value(g[v], "w1")].konst->data;
    for (int i = 0; i < 64 * 32; i++) w[i] = i % 32 == 0 ? 0.7f : w[i] + 0.5f;
  }
  for (int v = 1; v < 3; v++) {
    TfxQuantOptions q = {.weight_bits = 4, .group = 32, .lm_head = true, .asym = v == 2, .no_gptq = true};
    int changed = 0;
    CHECK(tfx_pass_quantize_weights(g[v], &q, NULL, 0, &changed) == TFX_OK && changed == 2);
  }
  uint32_t ov = tfx_graph_find_value(g[2], "w1.offset");
  CHECK(ov != TFX_NONE && tfx_graph_find_value(g[1], "w1.offset") == TFX_NONE);
  CHECK(g[2]->values[ov].rank == 2 && g[2]->values[ov].dims[0] == 32 && g[2]->values[ov].dims[1] == 2);
  CHECK(named(g[2], "mm1")->n_inputs == 8 && named(g[2], "mm1")->inputs[7] == ov);
  double es = w1_error(g[0], g[1]), ea = w1_error(g[0], g[2]);
  CHECK(ea < 0.5 * es);
  if (!(ea < 0.5 * es)) fprintf(stderr, "asym error %g, sym %g\n", ea, es);
  const TfxTensor *sc = g[2]->values[tfx_graph_find_value(g[2], "w1.scale")].konst, *off = g[2]->values[ov].konst;
  const uint8_t *q0 = g[2]->values[tfx_graph_find_value(g[2], "w1.q4")].konst->data; /* channel 0 */
  CHECK(sc->dtype == TFX_BF16 && off->dtype == TFX_BF16);
  for (int k = 0; k < 64; k++) {
    const int qk = (int)((k & 1) ? q0[k / 2] >> 4 : q0[k / 2] & 15) - 8;
    CHECK(fabs(qk * bget(sc, k / 32) + bget(off, k / 32) - 0.7) < 0.7 / 131072);
  }
  CHECK(bget(off, 0) != 0.7f && bget(sc, 0) < 0.01f); /* 0.7 is not a bfloat16 */
  TfxTensor xt = random_input(g[0], x), of, oa;
  CHECK(tfx_eval_graph(g[0], &xt, &of) == TFX_OK && tfx_eval_graph(g[2], &xt, &oa) == TFX_OK);
  CHECK(cosine(&of, &oa) > 0.99);
  tfx_tensor_free_data(&of);
  tfx_tensor_free_data(&oa);
  free(xt.data);
  TfxQuantOptions q8 = {.weight_bits = 8, .asym = true};
  int changed = 0;
  CHECK(tfx_pass_quantize_weights(g[0], &q8, NULL, 0, &changed) == TFX_ERR);
  CHECK(d.text && strstr(d.text, "--asymmetric applies to int4"));
  for (int v = 0; v < 3; v++) tfx_graph_free(g[v]);
  tfx_diag_deinit(&d);
}

/* A weight whose values are exact multiples of its scale quantises exactly;
 * the nibbles go low first. */
static void test_exact_int4(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_graph_new(&d, "exact");
  uint32_t x = input(g, "x", TFX_F32, 2, (int64_t[]){1, 32});
  uint32_t w = konst(g, "w", TFX_F32, 2, (int64_t[]){32, 2});
  for (int k = 0; k < 32; k++) fdata(g, w)[k * 2] = 0.5f * (float)(k % 15 - 7), fdata(g, w)[k * 2 + 1] = k == 3 ? -2.0f : 0;
  uint32_t y = node(g, TFX_OP_MatMul, "mm", 2, (uint32_t[]){x, w}, "y");
  uint32_t z = node(g, TFX_OP_Relu, "relu", 1, &y, "z");
  output(g, z);
  CHECK(infer_all(g));
  TfxQuantOptions q = {.weight_bits = 4};
  int changed = 0;
  CHECK(tfx_pass_quantize_weights(g, &q, NULL, 0, &changed) == TFX_OK && changed == 1);
  const TfxTensor *wq = tfx_node_const_in(g, named(g, "mm"), 1), *sc = tfx_node_const_in(g, named(g, "mm"), 2);
  CHECK(wq && sc && wq->dtype == TFX_U8 && sc->dims[0] == 2 && sc->dims[1] == 1);
  if (wq && sc) {
    const uint8_t *p = wq->data;
    CHECK(sc->dtype == TFX_BF16 && bget(sc, 0) == 0.5f);
    CHECK(p[0] == ((-7 + 8) | (-6 + 8) << 4)); /* k = 0, 1 */
    CHECK(p[7] == ((7 + 8) | (-7 + 8) << 4)); /* k = 14 (q = 7), 15 (q = -7) */
    /* channel 1: one value -2 at k = 3: exact as q = -8 with scale 1/4 (the
     * search prefers it to scale 2/7, q = -7, which rounds) */
    CHECK(bget(sc, 1) == 0.25f);
    CHECK(p[16 + 1] == (8 | (-8 + 8) << 4) && p[16] == (8 | 8 << 4));
  }
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* Non-constant B (attention), int4 with K not a multiple of the group, and
 * --quantize-embeddings are left alone / refused. */
static void test_untouched(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_graph_new(&d, "untouched");
  uint32_t a = input(g, "a", TFX_F32, 2, (int64_t[]){4, 48});
  uint32_t b = input(g, "b", TFX_F32, 2, (int64_t[]){48, 8});
  uint32_t w = konst(g, "w", TFX_F32, 2, (int64_t[]){48, 8});
  uint32_t y1 = node(g, TFX_OP_MatMul, "attn", 2, (uint32_t[]){a, b}, "y1");
  uint32_t y2 = node(g, TFX_OP_MatMul, "k48", 2, (uint32_t[]){a, w}, "y2");
  uint32_t y = node(g, TFX_OP_Add, "add", 2, (uint32_t[]){y1, y2}, "y");
  uint32_t z = node(g, TFX_OP_Relu, "relu", 1, &y, "z");
  output(g, z);
  CHECK(infer_all(g));
  TfxQuantOptions q = {.weight_bits = 4, .group = 32};
  int changed = -1;
  CHECK(tfx_pass_quantize_weights(g, &q, NULL, 0, &changed) == TFX_OK && changed == 0);
  q.weight_bits = 8;
  CHECK(tfx_pass_quantize_weights(g, &q, NULL, 0, &changed) == TFX_OK && changed == 1);
  CHECK(named(g, "attn")->op == TFX_OP_MatMul && named(g, "k48")->op == TFX_OP_WeightQMatMul);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* ids -> Gather(E [8, 16]) -> Gemm(E, transB): a table tied to the head is
 * int8 only with lm_head; the gathered rows are within a scale of E's, and an
 * id outside [-8, 8) is refused by the evaluator. */
static void test_tied_table(bool head) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_graph_new(&d, "tied");
  uint32_t ids = input(g, "ids", TFX_I64, 1, (int64_t[]){3});
  uint32_t e = konst(g, "E", TFX_F32, 2, (int64_t[]){8, 16});
  for (int i = 0; i < 8 * 16; i++) fdata(g, e)[i] = (float)urand();
  uint32_t h = node(g, TFX_OP_Gather, "emb", 2, (uint32_t[]){e, ids}, "h");
  uint32_t y = node(g, TFX_OP_Gemm, "head", 2, (uint32_t[]){h, e}, "y");
  set_int_attrs(g, &g->nodes[1], "transB", 1, NULL, 0);
  output(g, y);
  CHECK(infer_all(g));
  TfxQuantOptions q = {.weight_bits = 8, .embeddings = true, .lm_head = head};
  int changed = -1;
  CHECK(tfx_pass_quantize_weights(g, &q, NULL, 0, &changed) == TFX_OK && changed == (head ? 2 : 0));
  CHECK(named(g, "emb")->op == (head ? TFX_OP_WeightQGather : TFX_OP_Gather));
  if (head) {
    int64_t id[3] = {5, -1, 0};
    TfxTensor it = {.dtype = TFX_I64, .rank = 1, .dims = {3}, .data = id}, out;
    const TfxNode *en = named(g, "emb");
    const TfxTensor *in[3] = {tfx_node_const_in(g, en, 0), tfx_node_const_in(g, en, 1), &it};
    CHECK(tfx_eval_node(g, en, in, &out) == TFX_OK);
    for (int j = 0; j < 3; j++)
      for (int c = 0; c < 16; c++)
        CHECK(fabs(((float *)out.data)[j * 16 + c] - fdata(g, e)[(id[j] + 8) % 8 * 16 + c]) < 0.01);
    tfx_tensor_free_data(&out);
    id[1] = 8;
    CHECK(tfx_eval_node(g, en, in, &out) == TFX_ERR);
  }
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* Statistics of x for w1 (the first product of mlp()): eight calibration inputs. */
static TfxQuantCalib *mlp_stats(const TfxGraph *g, uint32_t x) {
  TfxQuantCalib *c = tfx_quant_calib_new();
  for (int i = 0; i < 8; i++) {
    TfxTensor t = outlier_input(g, x);
    tfx_quant_calib_add(c, "w1", t.data, t.dims[0], t.dims[1]);
    free(t.data);
  }
  return c;
}

/* On activations with outlier channels, the statistics-driven quantisation of
 * w1 has a smaller product error than max|w| alone, and reads x through 1/s. */
static void test_awq(int bits) {
  TfxDiag d;
  tfx_diag_init(&d);
  uint32_t x;
  uint64_t seed = rng;
  TfxGraph *gf = mlp(&d, &x);
  rng = seed;
  TfxGraph *gp = mlp(&d, &x);
  rng = seed;
  TfxGraph *ga = mlp(&d, &x);
  TfxQuantOptions q = {.weight_bits = bits, .group = bits == 4 ? 32 : 0, .float_acts = true};
  int changed = 0;
  CHECK(tfx_pass_quantize_weights(gp, &q, NULL, 0, &changed) == TFX_OK && changed == 1);
  q.stats = mlp_stats(ga, x);
  CHECK(tfx_pass_quantize_weights(ga, &q, NULL, 0, &changed) == TFX_OK && changed == 1);
  CHECK(tfx_graph_verify(ga) == TFX_OK);
  double alpha = tfx_quant_calib_alpha(q.stats, "w1");
  CHECK(alpha > 0 && alpha <= 1);
  CHECK(named(ga, "mm1")->n_inputs == 5 && tfx_node_in(ga, named(ga, "mm1"), 4)->dims[0] == 64);
  double err_plain = 0, err_awq = 0;
  for (int i = 0; i < 4; i++) {
    TfxTensor xt = outlier_input(gf, x), of, op, oa;
    CHECK(tfx_eval_graph(gf, &xt, &of) == TFX_OK && tfx_eval_graph(gp, &xt, &op) == TFX_OK &&
          tfx_eval_graph(ga, &xt, &oa) == TFX_OK);
    err_plain += 1 - cosine(&of, &op), err_awq += 1 - cosine(&of, &oa);
    tfx_tensor_free_data(&of), tfx_tensor_free_data(&op), tfx_tensor_free_data(&oa);
    free(xt.data);
  }
  CHECK(err_awq < err_plain);
  if (!(err_awq < err_plain)) fprintf(stderr, "int%d: AWQ error %g, plain %g\n", bits, err_awq, err_plain);
  tfx_quant_calib_free(q.stats);
  tfx_graph_free(gf), tfx_graph_free(gp), tfx_graph_free(ga);
  tfx_diag_deinit(&d);
}

/* ---- generated code against the evaluator --------------------------------------- */

/* Builds dir/main.c and dir/qm.c with cc and flags, runs the program and
 * returns the largest error of its n_out outputs against ref (1 if it failed). */
static double run_generated(const char *cc, const char *dir, const char *flags, const float *ref, int n_out) {
  char path[256], cmd[1024];
  snprintf(cmd, sizeof cmd, "%s -std=c99 -O2 %s -Wall -Wextra -Werror -o %s/prog %s/main.c %s/qm.c -lm && %s/prog > %s/out.txt",
           cc, flags, dir, dir, dir, dir, dir);
  if (system(cmd) != 0) return 1;
  snprintf(path, sizeof path, "%s/out.txt", dir);
  FILE *f = fopen(path, "r");
  int n = 0;
  double worst = 0;
  for (float v; f && fscanf(f, "%a", &v) == 1 && n < n_out; n++) {
    double err = fabs(v - ref[n]) / (1 + fabs(ref[n]));
    if (err > worst) worst = err;
  }
  if (f) fclose(f);
  return n == n_out ? worst : 1;
}

/* The quantised mlp's generated C against the evaluator; rows < 6 run the
 * decode kernels, more the prefill ones. */
static void test_codegen(int bits, int group, bool awq, bool float_acts, bool asym, int rows) {
  const char *cc = getenv("CC") ? getenv("CC") : "cc";
  char dir[] = "/tmp/tfx_quantXXXXXX";
  if (!mkdtemp(dir)) {
    failures++;
    return;
  }
  TfxDiag d;
  tfx_diag_init(&d);
  uint32_t x;
  rng = 99;
  TfxGraph *g = mlp_rows(&d, &x, rows);
  TfxQuantOptions q = {.weight_bits = bits, .group = group, .lm_head = true, .float_acts = float_acts, .asym = asym};
  if (awq) q.stats = mlp_stats(g, x);
  int changed = 0;
  CHECK(tfx_pass_quantize_weights(g, &q, NULL, 0, &changed) == TFX_OK && changed == 2);
  /* AWQ's xs: an input of the product, or of the BlockQuantize before it */
  const TfxNode *m1 = named(g, "mm1");
  CHECK(!awq || m1->n_inputs == (asym ? 8 : float_acts ? 5 : 7));
  CHECK(!awq || (m1->inputs[4] != TFX_NONE) == float_acts);
  CHECK(count_op(g, TFX_OP_BlockQuantize) == (float_acts ? 0 : 2));
  CHECK((named(g, "head")->n_inputs == 8) == asym); /* the offsets are input 7 */
  tfx_quant_calib_free(q.stats);
  tfx_pass_dce(g, &changed);
  char path[256], cmd[1024];
  snprintf(path, sizeof path, "%s/qm.c", dir);
  TfxCOptions co = {.name = "qm", .out_c = path, .weights = TFX_WEIGHTS_EMBED};
  CHECK(tfx_emit_c(g, &co) == TFX_OK);
  TfxTensor xt = random_input(g, x), ref;
  CHECK(tfx_eval_graph(g, &xt, &ref) == TFX_OK);
  snprintf(path, sizeof path, "%s/main.c", dir);
  FILE *f = fopen(path, "w");
  fprintf(f, "#include <stdio.h>\n#include <stdlib.h>\n#include \"qm.h\"\nstatic const float x[%d * %d] = {", (int)mlp_k,
          rows);
  for (int i = 0; i < rows * mlp_k; i++) fprintf(f, "%a,", ((float *)xt.data)[i]);
  fprintf(f, "};\nint main(void) {\n  static qm_ctx ctx;\n");
  fprintf(f, "  static unsigned char ws[QM_WORKSPACE_BYTES + 128];\n");
  fprintf(f, "  unsigned char *w = ws + (64 - (size_t)ws %% 64);\n  static float y[%d * %d];\n", rows, (int)mlp_o);
  fprintf(f, "  if (qm_init(&ctx, w, QM_WORKSPACE_BYTES, NULL, 0) || qm_run(&ctx, x, y)) return 1;\n");
  fprintf(f, "  for (int i = 0; i < %d * %d; i++) printf(\"%%a\\n\", (double)y[i]);\n  return 0;\n}\n", rows,
          (int)mlp_o);
  fclose(f);
  /* the portable loops, and the AVX2 ones where this machine runs them;
   * decode also with tiles of a few channels (x prepared per tile, or once) */
  const char *flags[3] = {"", "-march=native", "-march=native -DTFX_QMV_TILE=512"};
  int n_flags = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? (rows < 6 ? 3 : 2) : 1;
  for (int i = 0; i < n_flags; i++) {
    double worst = run_generated(cc, dir, flags[i], ref.data, rows * (int)mlp_o);
    CHECK(worst < 1e-5); /* float summation order only */
    if (worst >= 1e-5)
      fprintf(stderr, "int%d g%d%s rows %d K %d %s: generated vs evaluator: %g\n", bits, group, asym ? " asym" : "",
              rows, (int)mlp_k, flags[i], worst);
  }
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd)) failures++;
  tfx_tensor_free_data(&ref);
  free(xt.data);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* ---- GPTQ ------------------------------------------------------------------------- */

/* rows [rows, K] of correlated activations: x = z A with a few loud channels. */
static float *correlated_rows(int64_t rows, int64_t K) {
  double *a = calloc((size_t)(K * K), sizeof *a);
  float *x = calloc((size_t)(rows * K), sizeof *x);
  for (int64_t i = 0; i < K; i++)
    for (int64_t j = 0; j < K; j++) a[i * K + j] = (i == j ? 1.0 : 0.0) + 0.6 * urand();
  for (int64_t r = 0; r < rows; r++)
    for (int64_t i = 0; i < K; i++) {
      double z = urand() * (i % 13 == 0 ? 6.0 : 1.0);
      for (int64_t j = 0; j < K; j++) x[r * K + j] += (float)(z * a[i * K + j]);
    }
  free(a);
  return x;
}

/* The sum over rows and outputs of (x (w - q * scale)^T)^2. */
static double product_error(const float *x, int64_t rows, const float *w, const int8_t *q, const float *sc,
                            int64_t N, int64_t K, int64_t G) {
  double err = 0;
  for (int64_t r = 0; r < rows; r++)
    for (int64_t n = 0; n < N; n++) {
      double y = 0;
      for (int64_t k = 0; k < K; k++) y += x[r * K + k] * (w[n * K + k] - q[n * K + k] * sc[n * (K / G) + k / G]);
      err += y * y;
    }
  return err;
}

/* R R^T = X^T X + damping, by the dense Cholesky (rows >= K / 2) or the
 * low-rank recursion (fewer rows). */
static void test_gptq_factor(int64_t K, int64_t rows) {
  float *x = correlated_rows(rows, K);
  double *r = calloc((size_t)(K * K), sizeof *r), *h = calloc((size_t)(K * K), sizeof *h), mean = 0;
  CHECK(tfx_gptq_factor(x, rows, K, NULL, 0.1, r));
  for (int64_t i = 0; i < K; i++)
    for (int64_t j = 0; j < K; j++)
      for (int64_t m = 0; m < rows; m++) h[i * K + j] += (double)x[m * K + i] * x[m * K + j];
  for (int64_t i = 0; i < K; i++) mean += h[i * K + i] / (double)K;
  double worst = 0;
  for (int64_t i = 0; i < K; i++)
    for (int64_t j = i; j < K; j++) { /* (R R^T)_ij over m >= j: R is upper triangular */
      double s = 0;
      for (int64_t m = j; m < K; m++) s += r[i * K + m] * r[j * K + m];
      double want = h[i * K + j] + (i == j ? 0.1 * mean : 0);
      if (fabs(s - want) > worst) worst = fabs(s - want);
    }
  CHECK(worst < 1e-9 * mean);
  float *zero = calloc((size_t)(2 * K), sizeof *zero);
  CHECK(!tfx_gptq_factor(zero, 2, K, NULL, 0.1, r)); /* no activation: nothing to factor */
  free(x), free(r), free(h), free(zero);
}

/* GPTQ against round-to-nearest, fitted on ROWS rows and measured there and on as many fresh ones. */
static void test_gptq_error(int bits, int64_t group) {
  enum { N = 24, K = 128, ROWS = 512 };
  float *x = correlated_rows(2 * ROWS, K), *w = calloc(N * K, sizeof *w), *sc[2];
  int8_t *q[2];
  int64_t G = group ? group : K;
  for (int i = 0; i < N * K; i++) w[i] = (float)urand();
  for (int v = 0; v < 2; v++) {
    q[v] = calloc(N * K, 1), sc[v] = calloc(N * K / G, sizeof(float));
    tfx_quant_matrix(w, N, K, bits, group, x, ROWS, v == 1, q[v], sc[v]);
  }
  double fit[2], held[2];
  for (int v = 0; v < 2; v++) {
    fit[v] = product_error(x, ROWS, w, q[v], sc[v], N, K, G);
    held[v] = product_error(x + ROWS * K, ROWS, w, q[v], sc[v], N, K, G);
  }
  CHECK(fit[1] < 0.5 * fit[0]);
  CHECK(held[1] < 0.5 * held[0]);
  fprintf(stderr, "int%d g%lld: GPTQ / round-to-nearest output error: %.3f (fitted rows %.3f)\n", bits,
          (long long)group, held[1] / held[0], fit[1] / fit[0]);
  for (int v = 0; v < 2; v++) free(q[v]), free(sc[v]);
  free(x), free(w);
}

/* Few rows (the low-rank GPTQ) against the same rows six times over (dense
 * R: X^T X scaled by 6, which GPTQ's ratios do not see): the same codes but
 * for rounding ties, and fitted error below round-to-nearest's. */
static void test_gptq_lowrank(int bits, int64_t group) {
  enum { N = 16, K = 256, ROWS = 24, REP = 6 };
  float *x = correlated_rows(ROWS, K), *x6 = calloc(REP * ROWS * K, sizeof *x6), *w = calloc(N * K, sizeof *w);
  int64_t G = group ? group : K;
  for (int i = 0; i < REP; i++) memcpy(x6 + i * ROWS * K, x, sizeof *x * ROWS * K);
  for (int i = 0; i < N * K; i++) w[i] = (float)urand();
  int8_t *q[3];
  float *sc[3];
  for (int v = 0; v < 3; v++) {
    q[v] = calloc(N * K, 1), sc[v] = calloc(N * K / G, sizeof(float));
    tfx_quant_matrix(w, N, K, bits, group, v == 2 ? x6 : x, v == 2 ? REP * ROWS : ROWS, v > 0, q[v], sc[v]);
  }
  int same = 0;
  for (int i = 0; i < N * K; i++) same += q[1][i] == q[2][i];
  CHECK(same >= N * K * 99 / 100);
  CHECK(product_error(x, ROWS, w, q[1], sc[1], N, K, G) < 0.5 * product_error(x, ROWS, w, q[0], sc[0], N, K, G));
  for (int v = 0; v < 3; v++) free(q[v]), free(sc[v]);
  free(x), free(x6), free(w);
}

/* X^T X = I: nothing to compensate, so GPTQ is round-to-nearest bit for bit. */
static void test_gptq_identity(int bits, int64_t group) {
  enum { N = 8, K = 64 };
  float *x = calloc(K * K, sizeof *x), *w = calloc(N * K, sizeof *w), *sc[2];
  int8_t *q[2];
  int64_t G = group ? group : K;
  for (int k = 0; k < K; k++) x[k * K + k] = 1;
  for (int i = 0; i < N * K; i++) w[i] = (float)urand() * (i % 7 == 0 ? 3.0f : 1.0f);
  for (int v = 0; v < 2; v++) {
    q[v] = calloc(N * K, 1), sc[v] = calloc(N * K / G, sizeof(float));
    tfx_quant_matrix(w, N, K, bits, group, x, K, v == 1, q[v], sc[v]);
  }
  CHECK(memcmp(q[0], q[1], N * K) == 0);
  CHECK(memcmp(sc[0], sc[1], sizeof(float) * (size_t)(N * K / G)) == 0);
  for (int v = 0; v < 2; v++) free(q[v]), free(sc[v]);
  free(x), free(w);
}

int main(void) {
  test_gptq_factor(21, 40);
  test_gptq_factor(50, 7);
  test_gptq_error(4, 32);
  test_gptq_error(4, 128);
  test_gptq_error(8, 0);
  test_gptq_lowrank(4, 32);
  test_gptq_lowrank(8, 0);
  test_gptq_identity(4, 32);
  test_gptq_identity(8, 0);
  test_eval_int8();
  test_eval_xs();
  test_eval_int4(32, false);
  test_eval_int4(64, false);
  test_eval_int4(32, true);
  test_exact_int4();
  test_block_quantize();
  test_eval_int_acts(8, false);
  test_eval_int_acts(4, false);
  test_eval_int_acts(4, true);
  for (int fa = 0; fa < 2; fa++) {
    test_pass(8, false, NULL, 0, 1, fa);
    test_pass(8, true, NULL, 0, 2, fa);
    test_pass(4, true, NULL, 0, 2, fa);
    const char *keep[] = {"w1"};
    test_pass(8, true, keep, 1, 1, fa);
  }
  test_untouched();
  test_asym();
  test_tied_table(false);
  test_tied_table(true);
  test_awq(8);
  test_awq(4);
  for (int fa = 0; fa < 2; fa++) {
    test_codegen(8, 0, false, fa, false, 4);
    test_codegen(8, 32, false, fa, false, 4);
    test_codegen(4, 32, false, fa, false, 4);
    test_codegen(8, 0, true, fa, false, 4);
    test_codegen(4, 32, true, fa, false, 4);
    /* int4 with offsets, decode and prefill, with and without AWQ */
    test_codegen(4, 32, false, fa, true, 4);
    test_codegen(4, 32, true, fa, true, 4);
    test_codegen(4, 32, true, fa, true, 7);
    test_codegen(4, 32, false, fa, true, 7);
    /* K = 288: 9 groups, so the offsets' dot product has 8 lanes and a tail,
     * and the int4 steps of 64 k end in a half */
    mlp_k = 288;
    test_codegen(4, 32, false, fa, true, 4);
    test_codegen(4, 32, false, fa, false, 7);
    test_codegen(8, 32, false, fa, false, 4);
    /* one row (the decode step): x prepared once for every tile */
    test_codegen(4, 32, false, fa, true, 1);
    test_codegen(4, 32, true, fa, false, 1);
    test_codegen(8, 0, false, fa, false, 1);
    /* prefill of 13 rows (3 blocks of 4, then 1) with integer x: int8 per
     * channel and per group, int4 with offsets and with AWQ; K = 320: two
     * chunks of 256 k; 96 channels (a block of 64, then 32) and a head of 20
     * (a last panel of 4 channels); groups of 64 with 128 channels */
    mlp_k = 320, mlp_h = 96, mlp_o = 20;
    test_codegen(8, 0, false, fa, false, 13);
    test_codegen(8, 32, false, fa, false, 13);
    test_codegen(4, 32, false, fa, true, 13);
    test_codegen(4, 32, true, fa, false, 13);
    mlp_h = 128;
    test_codegen(4, 64, false, fa, true, 13);
    mlp_k = 64, mlp_h = 32, mlp_o = 16;
  }
  if (failures) fprintf(stderr, "%d failures\n", failures);
  return failures != 0;
}
