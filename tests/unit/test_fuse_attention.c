/* test_fuse_attention.c — the attention-fusion pass: each exporter pattern is built
 * twice, run at -O1 (no fusion) and -O2 (fusion), and must give one Attention node
 * with the expected inputs and scale and the same outputs under the reference
 * evaluator; a chain whose intermediate has a second user must stay unfused.  The
 * BERT layout (heads split from [B,S,H*D] and merged back) must become a 3-D
 * Attention with no Reshape or Transpose left. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/passes.h"

#include "tests/unit/check.h"
#include "tests/unit/graph_build.h"

/* ---- graph building ------------------------------------------------------ */

static uint32_t constant(TfxGraph *g, const char *name, TfxDtype dt, int rank, const int64_t *dims,
                         const double *vals) {
  TfxTensor *t = tfx_graph_new_tensor(g, dt, rank, dims);
  int64_t n = tfx_tensor_numel(t);
  for (int64_t i = 0; i < n; i++) {
    if (dt == TFX_I64 || dt == TFX_BOOL) tfx_tensor_set_i64(t, i, (int64_t)vals[i]);
    else tfx_tensor_set_f64(t, i, vals[i]);
  }
  uint32_t v = tfx_graph_add_value(g, name);
  tfx_value_set_const(g, v, t);
  return v;
}

static uint32_t scalar(TfxGraph *g, const char *name, double x) { return constant(g, name, TFX_F32, 0, NULL, &x); }

static uint32_t node1(TfxGraph *g, TfxOp op, const char *name, uint32_t a, const char *out) {
  return node(g, op, name, 1, &a, out);
}

static uint32_t node2(TfxGraph *g, TfxOp op, const char *name, uint32_t a, uint32_t b, const char *out) {
  uint32_t in[2] = {a, b};
  return node(g, op, name, 2, in, out);
}

/* Give the last node one attribute. */
static void attr_int(TfxGraph *g, const char *name, int64_t v) {
  TfxAttr *a = tfx_graph_alloc(g, sizeof *a);
  a->name = name, a->kind = TFX_ATTR_INT, a->i = v;
  g->nodes[g->n_nodes - 1].attrs = a;
  g->nodes[g->n_nodes - 1].n_attrs = 1;
}

static void attr_ints(TfxGraph *g, const char *name, int n, const int64_t *v) {
  TfxAttr *a = tfx_graph_alloc(g, sizeof *a);
  a->name = name, a->kind = TFX_ATTR_INTS, a->n = n;
  a->ints = tfx_graph_alloc(g, sizeof(int64_t) * (size_t)n);
  memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
  g->nodes[g->n_nodes - 1].attrs = a;
  g->nodes[g->n_nodes - 1].n_attrs = 1;
}

static const int64_t SWAP[4] = {0, 1, 3, 2};

/* The patterns.  B=2, H=4 query heads, S=5 queries, L=6 keys, D=8. */
enum { B = 2, H = 4, HKV = 2, S = 5, L = 6, D = 8 };
typedef enum {
  PLAIN,      /* Q·Transpose(K) / sqrt(D) + mask, Softmax, ·V */
  SPLIT,      /* Q*a · Kt*a (K given transposed), Where(causal, ·, -large), identity Casts */
  GQA,        /* K/V heads broadcast by Unsqueeze→Expand→Reshape */
  HEADSPLIT,  /* K comes from [B,L,H,D] through Transpose perm [0,2,3,1] */
  TWO_USERS,  /* negative: the scores are also a graph output */
  MASK_FIRST, /* negative: the additive mask is added before the scale */
  FLAT,       /* [B,S,H*D] split into heads by Reshape+Transpose, merged back likewise */
} Pattern;

/* Heads split from x3 [B,N,H*D] into [B,H,N,D]; perm [0,2,1,3] or [0,2,3,1] (Kᵀ). */
static uint32_t split(TfxGraph *g, uint32_t x3, int64_t n, const char *name, bool kt) {
  const int64_t four = 4;
  const double shape[4] = {B, (double)n, H, D};
  const int64_t perm[4] = {0, 2, kt ? 3 : 1, kt ? 1 : 3};
  char nm[32], out[32];
  snprintf(nm, sizeof nm, "%s_shape", name);
  uint32_t sh = constant(g, tfx_graph_strdup(g, nm), TFX_I64, 1, &four, shape);
  snprintf(nm, sizeof nm, "%s_split", name), snprintf(out, sizeof out, "%s_4", name);
  uint32_t r = node2(g, TFX_OP_Reshape, tfx_graph_strdup(g, nm), x3, sh, tfx_graph_strdup(g, out));
  snprintf(nm, sizeof nm, "%s_heads", name), snprintf(out, sizeof out, "%s_h", name);
  uint32_t t = node1(g, TFX_OP_Transpose, tfx_graph_strdup(g, nm), r, tfx_graph_strdup(g, out));
  attr_ints(g, "perm", 4, perm);
  return t;
}

/* The BERT layout: q3/k3/v3 [B,N,H*D] in, y3 [B,S,H*D] out, Q scaled by a Mul. */
static TfxGraph *build_flat(TfxGraph *g, uint32_t mask) {
  const int64_t qd[3] = {B, S, H * D}, kd[3] = {B, L, H * D}, three = 3, perm[4] = {0, 2, 1, 3};
  const double merged[3] = {B, S, H * D};
  uint32_t q = split(g, input(g, "q3", TFX_F32, 3, qd), S, "q", false);
  uint32_t kt = split(g, input(g, "k3", TFX_F32, 3, kd), L, "k", true);
  uint32_t v = split(g, input(g, "v3", TFX_F32, 3, kd), L, "v", false);
  q = node2(g, TFX_OP_Mul, "q_scale", q, scalar(g, "qs", 1 / sqrt(D)), "q_s");
  uint32_t sc = node2(g, TFX_OP_MatMul, "qk", q, kt, "scores");
  sc = node2(g, TFX_OP_Add, "mask_add", sc, mask, "masked");
  uint32_t p = node1(g, TFX_OP_Softmax, "attn/Softmax", sc, "probs");
  attr_int(g, "axis", -1);
  uint32_t y = node2(g, TFX_OP_MatMul, "pv", p, v, "y");
  y = node1(g, TFX_OP_Transpose, "merge", y, "y_t");
  attr_ints(g, "perm", 4, perm);
  output(g, node2(g, TFX_OP_Reshape, "merge_rs", y, constant(g, "merged", TFX_I64, 1, &three, merged), "y3"));
  return g;
}

/* Q [B,H,S,D]; K/V [B,H,L,D] (GQA: [B,HKV,L,D]; SPLIT: K is Kt [B,H,D,L]; HEADSPLIT:
 * K is [B,L,H,D]); mask [B,1,S,L] float (PLAIN, MASK_FIRST, FLAT). */
static TfxGraph *build(TfxDiag *d, Pattern pat) {
  TfxGraph *g = tfx_graph_new(d, "test.onnx");
  g->opset = 18;
  const int64_t qd[4] = {B, H, S, D}, kd[4] = {B, pat == GQA ? HKV : H, L, D}, ktd[4] = {B, H, D, L},
                hd[4] = {B, L, H, D}, md[4] = {B, 1, S, L};
  if (pat == FLAT) return build_flat(g, input(g, "mask", TFX_F32, 4, md));
  uint32_t q = input(g, "q", TFX_F32, 4, qd);
  uint32_t k = input(g, "k", TFX_F32, 4, pat == SPLIT ? ktd : pat == HEADSPLIT ? hd : kd);
  uint32_t v = input(g, "v", TFX_F32, 4, kd);
  uint32_t mask = pat == PLAIN || pat == MASK_FIRST ? input(g, "mask", TFX_F32, 4, md) : TFX_NONE;
  uint32_t kt, scores;
  if (pat == GQA) {
    const double ax = 2, shp5[5] = {B, HKV, H / HKV, L, D}, shp4[4] = {B, H, L, D};
    const int64_t one = 1, five = 5, four = 4;
    uint32_t axes = constant(g, "axes", TFX_I64, 1, &one, &ax);
    uint32_t e5 = constant(g, "e5", TFX_I64, 1, &five, shp5), r4 = constant(g, "r4", TFX_I64, 1, &four, shp4);
    uint32_t ku = node2(g, TFX_OP_Unsqueeze, "k_unsq", k, axes, "k_u");
    uint32_t ke = node2(g, TFX_OP_Expand, "k_exp", ku, e5, "k_e");
    k = node2(g, TFX_OP_Reshape, "k_rs", ke, r4, "k_r");
    uint32_t vu = node2(g, TFX_OP_Unsqueeze, "v_unsq", v, axes, "v_u");
    uint32_t ve = node2(g, TFX_OP_Expand, "v_exp", vu, e5, "v_e");
    v = node2(g, TFX_OP_Reshape, "v_rs", ve, r4, "v_r");
  }
  if (pat == SPLIT) {
    uint32_t a = scalar(g, "a", pow(D, -0.25));
    q = node2(g, TFX_OP_Mul, "q_scale", q, a, "q_s");
    kt = node2(g, TFX_OP_Mul, "k_scale", a, k, "kt_s");
  } else if (pat == HEADSPLIT) {
    kt = node1(g, TFX_OP_Transpose, "k_t", k, "kt");
    const int64_t perm[4] = {0, 2, 3, 1};
    attr_ints(g, "perm", 4, perm);
  } else {
    kt = node1(g, TFX_OP_Transpose, "k_t", k, "kt");
    attr_ints(g, "perm", 4, SWAP);
  }
  scores = node2(g, TFX_OP_MatMul, "qk", q, kt, "scores");
  if (pat == MASK_FIRST) scores = node2(g, TFX_OP_Add, "mask_add", scores, mask, "masked");
  /* 1/sqrt(8) is not reproducible by Attention's float32 sqrt rounding, 1/4 is */
  double div = pat == HEADSPLIT ? 4 : sqrt(D);
  if (pat != SPLIT) scores = node2(g, TFX_OP_Div, "scale", scores, scalar(g, "div", div), "scaled");
  if (pat == PLAIN) scores = node2(g, TFX_OP_Add, "mask_add", mask, scores, "masked");
  if (pat == SPLIT) {
    double causal[S * L], fill = -3.4028234663852886e38;
    for (int i = 0; i < S; i++)
      for (int j = 0; j < L; j++) causal[i * L + j] = j <= i + (L - S);
    const int64_t cd[2] = {S, L};
    uint32_t c = constant(g, "causal", TFX_BOOL, 2, cd, causal);
    scores = node1(g, TFX_OP_Cast, "cast_up", scores, "scores_c");
    attr_int(g, "to", 1);
    uint32_t in[3] = {c, scores, scalar(g, "fill", fill)};
    scores = node(g, TFX_OP_Where, "causal_where", 3, in, "masked");
  }
  if (pat == TWO_USERS) output(g, scores);
  uint32_t p = node1(g, TFX_OP_Softmax, "attn/Softmax", scores, "probs");
  attr_int(g, "axis", -1);
  if (pat == SPLIT) {
    p = node1(g, TFX_OP_Cast, "cast_down", p, "probs_c");
    attr_int(g, "to", 1);
  }
  output(g, node2(g, TFX_OP_MatMul, "pv", p, v, "y"));
  return g;
}

static const TfxNode *find_op(const TfxGraph *g, TfxOp op, int *count) {
  const TfxNode *found = NULL;
  *count = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++)
    if (!g->nodes[i].dead && g->nodes[i].op == op) found = &g->nodes[i], (*count)++;
  return found;
}

static float rnd01(uint32_t *s) {
  *s = *s * 1664525u + 1013904223u;
  return (float)((*s >> 8) & 0xffff) / 65536.0f;
}

/* Random inputs for g (mask inputs get 0 or -1e4, query/key values in [-2, 2)). */
static void make_inputs(const TfxGraph *g, TfxTensor *in) {
  uint32_t seed = 12345;
  for (uint32_t k = 0; k < g->n_inputs; k++) {
    const TfxValue *v = tfx_val(g, g->inputs[k]);
    memset(&in[k], 0, sizeof in[k]);
    in[k].dtype = v->dtype, in[k].rank = v->rank;
    memcpy(in[k].dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    int64_t n = tfx_tensor_numel(&in[k]);
    float *x = malloc(sizeof(float) * (size_t)n);
    bool is_mask = strcmp(v->name, "mask") == 0;
    for (int64_t i = 0; i < n; i++)
      x[i] = is_mask ? (rnd01(&seed) < 0.3f ? -1e4f : 0.0f) : 4.0f * rnd01(&seed) - 2.0f;
    in[k].data = x;
  }
}

/* Run -O1 and -O2 on two copies of the pattern; return the -O2 graph (fused) for
 * inspection, NULL on failure.  *fusions = what the pass reported. */
static TfxGraph *run_both(TfxDiag *d, Pattern pat, double *max_err) {
  TfxGraph *g1 = build(d, pat), *g2 = build(d, pat);
  TfxPipelineOptions o1 = {.opt_level = 1}, o2 = {.opt_level = 2};
  TfxStatus st = tfx_run_pipeline(g1, &o1);
  if (!st) st = tfx_run_pipeline(g2, &o2);
  if (st) {
    if (d->text) fprintf(stderr, "%s", d->text);
    CHECK(st == TFX_OK);
    tfx_graph_free(g1), tfx_graph_free(g2);
    return NULL;
  }
  int na;
  find_op(g1, TFX_OP_Attention, &na);
  CHECK(na == 0); /* -O1 does not fuse */
  TfxTensor in[4], out1[2], out2[2];
  make_inputs(g1, in);
  *max_err = INFINITY;
  if (!tfx_eval_graph(g1, in, out1)) {
    if (!tfx_eval_graph(g2, in, out2)) {
      *max_err = 0;
      for (uint32_t k = 0; k < g1->n_outputs; k++) {
        CHECK(out1[k].dtype == TFX_F32 && out2[k].dtype == TFX_F32);
        int64_t n = tfx_tensor_numel(&out1[k]);
        CHECK(n == tfx_tensor_numel(&out2[k]));
        for (int64_t i = 0; i < n; i++) {
          double e = fabs(tfx_tensor_get_f64(&out1[k], i) - tfx_tensor_get_f64(&out2[k], i));
          if (!(e <= *max_err)) *max_err = isnan(e) ? INFINITY : e;
        }
        tfx_tensor_free_data(&out2[k]);
      }
    }
    for (uint32_t k = 0; k < g1->n_outputs; k++) tfx_tensor_free_data(&out1[k]);
  }
  if (d->text) fprintf(stderr, "%s", d->text);
  for (uint32_t k = 0; k < g1->n_inputs; k++) free(in[k].data);
  tfx_graph_free(g1);
  return g2;
}

static bool input_is(const TfxGraph *g, const TfxNode *n, int k, const char *name) {
  const TfxValue *v = tfx_node_in(g, n, k);
  return v && strcmp(v->name, name) == 0;
}

static void test_fused(Pattern pat, const char *k_name, const char *v_name, const char *mask_name,
                       double scale, bool exact) {
  TfxDiag d;
  tfx_diag_init(&d);
  double err;
  TfxGraph *g = run_both(&d, pat, &err);
  if (g) {
    int na, ns, nm;
    const TfxNode *a = find_op(g, TFX_OP_Attention, &na);
    find_op(g, TFX_OP_Softmax, &ns);
    find_op(g, TFX_OP_MatMul, &nm);
    CHECK(na == 1 && ns == 0 && nm == 0);
    if (pat == FLAT) { /* heads are read in place: no split or merge copies remain */
      int nt, nr;
      find_op(g, TFX_OP_Transpose, &nt);
      find_op(g, TFX_OP_Reshape, &nr);
      CHECK(nt == 0 && nr == 0);
    }
    if (a) {
      CHECK(strcmp(a->name, "attn/Attention") == 0);
      /* the scale is the attribute; scale_exact where Attention's float32 sqrt(scale)
       * rounding would not reproduce it */
      CHECK(input_is(g, a, 0, pat == FLAT ? "q3" : "q"));
      CHECK(fabs(tfx_attr_float(a, "scale", 0) - scale) <= 1e-6 * scale);
      CHECK((tfx_attr_int(a, "scale_exact", 0) == 1) == exact);
      CHECK(tfx_attr_int(a, "q_num_heads", 0) == (pat == FLAT ? H : 0));
      CHECK(tfx_attr_int(a, "kv_num_heads", 0) == (pat == FLAT ? H : 0));
      CHECK(input_is(g, a, 1, k_name));
      CHECK(input_is(g, a, 2, v_name));
      CHECK(mask_name ? input_is(g, a, 3, mask_name) : a->n_inputs == 3);
      CHECK(strcmp(tfx_val(g, a->outputs[0])->name, pat == FLAT ? "y3" : "y") == 0);
    }
    CHECK(tfx_graph_verify(g) == TFX_OK);
    if (!(err <= 1e-5)) fprintf(stderr, "pattern %d: max error %g\n", (int)pat, err);
    CHECK(err <= 1e-5);
    tfx_graph_free(g);
  }
  tfx_diag_deinit(&d);
}

static void test_not_fused(Pattern pat) {
  TfxDiag d;
  tfx_diag_init(&d);
  double err;
  TfxGraph *g = run_both(&d, pat, &err);
  if (g) {
    int na, ns;
    find_op(g, TFX_OP_Attention, &na);
    find_op(g, TFX_OP_Softmax, &ns);
    CHECK(na == 0 && ns == 1);
    CHECK(err == 0);
    tfx_graph_free(g);
  }
  tfx_diag_deinit(&d);
}

/* The pass reports its fusions and the pipeline can dump after it. */
static void test_changed_count(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = build(&d, PLAIN);
  TfxPipelineOptions o = {.opt_level = 0};
  CHECK(tfx_run_pipeline(g, &o) == TFX_OK);
  int changed = 0;
  CHECK(tfx_pass_fuse_attention(g, &changed) == TFX_OK && changed == 1);
  CHECK(tfx_graph_verify(g) == TFX_OK);
  changed = 0;
  CHECK(tfx_pass_fuse_attention(g, &changed) == TFX_OK && changed == 0);
  CHECK(tfx_pass_known("fuse-attention"));
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

int main(void) {
  test_fused(PLAIN, "k", "v", "mask", 1 / sqrt(D), true);
  test_fused(SPLIT, "attn/Attention_K", "v", "causal", 1 / sqrt(D), false); /* a·a: exact */
  test_fused(GQA, "k", "v", NULL, 1 / sqrt(D), true);
  test_fused(HEADSPLIT, "attn/Attention_K", "v", NULL, 0.25, false);
  test_fused(FLAT, "k3", "v3", "mask", 1 / sqrt(D), true);
  test_not_fused(TWO_USERS);
  test_not_fused(MASK_FIRST);
  test_changed_count();
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures != 0;
}
