/* test_kv_cache.c — the KV-cache pass: decoder fixtures (ONNX plain exports, a
 * sliding-window one, an export with past_key_values, a Hugging Face
 * checkpoint) become one decoder step (only input_ids in, only logits out,
 * every Attention a KvAttention with the cache laid out layer after layer);
 * graphs that are not decoders (BERT, a bidirectional mask, softcap) are
 * refused and left unchanged.  With kv_int8 the cache blocks are laid out in
 * bytes (int8 rows and float scales, 16-byte aligned) and the step, evaluated
 * at past 0 with the int8 round trip, stays within cosine 0.9995 of the float
 * logits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "passes/passes.h"

#include "tests/unit/check.h"
#include "tests/unit/graph_build.h"

enum { S = 5, P = 3, N = 16 };

static int count_op(const TfxGraph *g, TfxOp op) {
  int n = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++)
    n += !g->nodes[i].dead && g->nodes[i].op == op;
  return n;
}

/* The graph's text dump, malloc'd. */
static char *dump(const TfxGraph *g) {
  FILE *f = tmpfile();
  if (!f)
    return NULL;
  tfx_graph_dump(g, f);
  long len = ftell(f);
  char *s = calloc((size_t)len + 1, 1);
  rewind(f);
  if (s && fread(s, 1, (size_t)len, f) != (size_t)len)
    s[0] = 0;
  fclose(f);
  return s;
}

/* Import, bind batch=1 seq=len (past_seq=P when past), run the -O2 pipeline. */
static TfxGraph *prepare_len(const char *path, bool past, int64_t len, TfxDiag *d) {
  TfxGraph *g = tfx_import(path, d);
  TfxDimBinding b[3] = {{"batch", 1}, {"seq", len}, {"past_seq", P}};
  TfxPipelineOptions po = {.opt_level = 2};
  if (!g || tfx_bind_dims(g, b, past ? 3 : 2) || tfx_run_pipeline(g, &po)) {
    fprintf(stderr, "%s: preparing failed:\n%s", path, d->text ? d->text : "");
    failures++;
    tfx_graph_free(g);
    return NULL;
  }
  return g;
}

static TfxGraph *prepare(const char *path, bool past, TfxDiag *d) { return prepare_len(path, past, S, d); }

typedef struct {
  int layers;
  int64_t hkv, dk, dv, window, vocab, token_limit;
} Expect;

/* Logits of g under the reference evaluator for fixed token ids (graph input 0
 * must be the ids [1, len]; other inputs are not bound). malloc'd len*vocab
 * floats, or NULL. */
static float *eval_logits_len(TfxGraph *g, int64_t len, int64_t vocab) {
  const TfxValue *iv = tfx_val(g, g->inputs[0]);
  TfxTensor in = {.dtype = iv->dtype, .rank = 2, .dims = {1, len}};
  in.data = calloc((size_t)len, 8);
  for (int i = 0; i < len; i++)
    tfx_tensor_set_i64(&in, i, (i * 7 + 3) % vocab);
  TfxTensor *out = calloc(g->n_outputs, sizeof *out);
  float *r = NULL;
  if (tfx_eval_graph(g, &in, out) == TFX_OK) {
    r = malloc(sizeof(float) * (size_t)tfx_tensor_numel(&out[0]));
    for (int64_t i = 0; i < tfx_tensor_numel(&out[0]); i++)
      r[i] = (float)tfx_tensor_get_f64(&out[0], i);
  } else {
    fprintf(stderr, "eval failed: %s\n", g->diag->text ? g->diag->text : "");
  }
  for (uint32_t k = 0; k < g->n_outputs; k++)
    tfx_tensor_free_data(&out[k]);
  free(out);
  free(in.data);
  return r;
}

static float *eval_logits(TfxGraph *g, int64_t vocab) { return eval_logits_len(g, S, vocab); }

/* Run the pass on a prepared fixture and check the decoder it makes. */
static void check_decoder(const char *path, bool past, int64_t opast,
                          const Expect *x) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = prepare(path, past, &d);
  if (!g) {
    tfx_diag_deinit(&d);
    return;
  }
  int attn = count_op(g, TFX_OP_Attention);
  uint32_t ids = tfx_graph_find_value(g, "input_ids"),
           logits = tfx_graph_find_value(g, "logits");
  TfxKvOptions o = {.past = opast, .max_seq = N};
  TfxKvInfo info;
  /* at past 0 the rewritten step computes what the export does (KvAttention's
   * reference evaluator is defined there) */
  float *want = opast == 0 && !past ? eval_logits(g, x->vocab) : NULL;
  CHECK(want || opast != 0 || past);
  TfxStatus st = tfx_pass_kv_cache(g, &o, &info);
  CHECK(st == TFX_OK);
  if (!info.ok)
    fprintf(stderr, "%s: refused: %s\n%s", path, info.why,
            d.text ? d.text : "");
  CHECK(info.ok);
  int changed = 0;
  CHECK(tfx_pass_dce(g, &changed) == TFX_OK);
  CHECK(tfx_graph_verify(g) == TFX_OK);
  if (want) {
    float *got = eval_logits(g, x->vocab);
    CHECK(got != NULL);
    double worst = 0;
    for (int64_t i = 0; got && i < S * x->vocab; i++)
      worst = fmax(worst, fabs((double)got[i] - want[i]));
    if (!(worst < 1e-4))
      fprintf(stderr, "%s: logits differ by %g after the pass\n", path, worst);
    CHECK(worst < 1e-4);
    free(got);
    free(want);
  }
  CHECK(attn == x->layers);
  CHECK(info.n_layers == x->layers);
  CHECK(count_op(g, TFX_OP_Attention) == 0);
  CHECK(count_op(g, TFX_OP_KvAttention) == x->layers);
  CHECK(g->n_inputs == 1 && g->inputs[0] == ids && info.tokens == ids);
  CHECK(g->n_outputs == 1 && g->outputs[0] == logits && info.logits == logits);
  if (info.vocab != x->vocab || info.token_limit != x->token_limit) {
    fprintf(stderr, "%s: vocab %lld token_limit %lld\n", path,
            (long long)info.vocab, (long long)info.token_limit);
    failures++;
  }
  CHECK(info.kv_floats == x->layers * x->hkv * N * (x->dk + x->dv));
  CHECK(info.kv_bytes == info.kv_floats * 4);
  for (uint32_t i = 0; i < g->n_values; i++)
    if (strncmp(g->values[i].name, "present", 7) == 0)
      CHECK(!g->values[i].is_output);
  /* each KvAttention: new tokens' K/V, its cache block after the previous ones
   */
  int l = 0;
  int64_t seen_offsets[8] = {0};
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead || n->op != TFX_OP_KvAttention)
      continue;
    CHECK(n->n_inputs == 3);
    const TfxValue *k = tfx_node_in(g, n, 1), *v = tfx_node_in(g, n, 2),
                   *y = tfx_node_out(g, n, 0);
    CHECK(k->rank == 4 && k->dims[1] == x->hkv && k->dims[2] == S &&
          k->dims[3] == x->dk);
    CHECK(v->rank == 4 && v->dims[2] == S && v->dims[3] == x->dv);
    CHECK(!k->konst && !v->konst);
    CHECK(y->rank == 4 && y->dims[2] == S);
    CHECK(tfx_attr_int(n, "past", -1) == opast);
    CHECK(tfx_attr_int(n, "max_seq", -1) == N);
    if (tfx_attr_int(n, "window", -1) != x->window) {
      fprintf(stderr, "%s: window %lld\n", path,
              (long long)tfx_attr_int(n, "window", -1));
      failures++;
    }
    CHECK(tfx_attr(n, "scale") != NULL);
    CHECK(tfx_attr(n, "kv_int8") == NULL);
    if (l < 8)
      seen_offsets[l] = tfx_attr_int(n, "kv_offset", -1);
    l++;
  }
  for (int i = 0; i < l && i < 8; i++)
    CHECK(seen_offsets[i] == i * x->hkv * N * (x->dk + x->dv));
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* Bytes of one layer's int8 block: K int8 [Hkv][N][Dk], K scales float
 * [Hkv][N], V int8, V scales, each rounded up to 16 bytes. */
static int64_t int8_block(int64_t hkv, int64_t n, int64_t dk, int64_t dv) {
#define UP16(x) (((x) + 15) / 16 * 16)
  return UP16(hkv * n * dk) + UP16(hkv * n * 4) + UP16(hkv * n * dv) + UP16(hkv * n * 4);
#undef UP16
}

/* --quantize-kv=int8 on a plain decoder export at seq = max_seq = len, past 0:
 * every KvAttention has kv_int8 = 1 and a 16-byte aligned byte offset after the
 * previous layer's block, kv_bytes is the sum and kv_floats the float-equivalent
 * count; the step's logits (reference evaluator, int8 round trip) against the
 * float graph's: cosine >= 0.9995. */
static void check_int8(const char *path, int64_t len) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = prepare_len(path, false, len, &d);
  if (!g) {
    tfx_diag_deinit(&d);
    return;
  }
  const int64_t vocab = tfx_val(g, g->outputs[0])->dims[2];
  float *want = eval_logits_len(g, len, vocab);
  CHECK(want != NULL);
  TfxKvOptions o = {.past = 0, .max_seq = len, .kv_int8 = true};
  TfxKvInfo info;
  CHECK(tfx_pass_kv_cache(g, &o, &info) == TFX_OK);
  if (!info.ok) fprintf(stderr, "%s: refused: %s\n%s", path, info.why, d.text ? d.text : "");
  CHECK(info.ok && info.n_layers > 0);
  int changed = 0;
  CHECK(tfx_pass_dce(g, &changed) == TFX_OK && tfx_graph_verify(g) == TFX_OK);
  int64_t off = 0, floats = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead || n->op != TFX_OP_KvAttention) continue;
    const TfxValue *k = tfx_node_in(g, n, 1), *v = tfx_node_in(g, n, 2);
    CHECK(tfx_attr_int(n, "kv_int8", 0) == 1);
    CHECK(tfx_attr_int(n, "kv_offset", -1) == off && off % 16 == 0);
    off += int8_block(k->dims[1], len, k->dims[3], v->dims[3]);
    floats += k->dims[1] * len * (k->dims[3] + v->dims[3]);
  }
  CHECK(info.kv_bytes == off && info.kv_floats == floats);
  /* roughly a quarter of the float cache, plus 8 bytes of scales per row and head */
  CHECK(info.kv_bytes < info.kv_floats * 4 / 2);
  float *got = want && info.ok ? eval_logits_len(g, len, vocab) : NULL;
  CHECK(got != NULL);
  if (got) {
    double dot = 0, na = 0, nb = 0, worst = 0;
    for (int64_t i = 0; i < len * vocab; i++) {
      dot += (double)got[i] * want[i], na += (double)got[i] * got[i], nb += (double)want[i] * want[i];
      worst = fmax(worst, fabs((double)got[i] - want[i]));
    }
    const double cosine = dot / sqrt(na * nb);
    printf("%s: int8 KV cache at %lld tokens: logits cosine %.7f, max abs error %.3g; cache %lld bytes (float %lld)\n",
           path, (long long)len, cosine, worst, (long long)info.kv_bytes, (long long)info.kv_floats * 4);
    CHECK(cosine >= 0.9995);
    CHECK(worst > 0); /* the round trip is applied */
  }
  free(got);
  free(want);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* Any decoder fixture: one input, one output, every Attention rewritten, the
 * cache blocks laid out back to back. */
static void check_any_decoder(const char *path, bool past) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = prepare(path, past, &d);
  if (!g) {
    tfx_diag_deinit(&d);
    return;
  }
  int attn = count_op(g, TFX_OP_Attention);
  TfxKvOptions o = {.past = past ? P : 1, .max_seq = N};
  TfxKvInfo info;
  CHECK(tfx_pass_kv_cache(g, &o, &info) == TFX_OK);
  if (!info.ok)
    fprintf(stderr, "%s: refused: %s\n%s", path, info.why,
            d.text ? d.text : "");
  CHECK(info.ok && info.n_layers == attn && attn > 0);
  CHECK(count_op(g, TFX_OP_Attention) == 0 &&
        count_op(g, TFX_OP_KvAttention) == attn);
  CHECK(g->n_inputs == 1 && g->n_outputs == 1);
  /* GPT2Model fixtures end in hidden states: "vocab" is then the hidden size */
  CHECK(info.token_limit > 0);
  int64_t off = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead || n->op != TFX_OP_KvAttention)
      continue;
    const TfxValue *k = tfx_node_in(g, n, 1), *v = tfx_node_in(g, n, 2);
    CHECK(tfx_attr_int(n, "kv_offset", -1) == off);
    off += k->dims[1] * N * (k->dims[3] + v->dims[3]);
  }
  CHECK(info.kv_floats == off);
  int changed = 0;
  CHECK(tfx_pass_dce(g, &changed) == TFX_OK && tfx_graph_verify(g) == TFX_OK);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* The pass must refuse and leave the graph byte-for-byte as it was. */
static void check_refused(TfxGraph *g, const TfxKvOptions *o,
                          const char *why_part) {
  char *before = dump(g);
  uint32_t n_nodes = g->n_nodes, n_in = g->n_inputs, n_out = g->n_outputs;
  TfxKvInfo info;
  CHECK(tfx_pass_kv_cache(g, o, &info) == TFX_OK);
  CHECK(!info.ok);
  CHECK(info.why[0] != 0);
  if (why_part && !strstr(info.why, why_part)) {
    fprintf(stderr, "why '%s' lacks '%s'\n", info.why, why_part);
    failures++;
  }
  char *after = dump(g);
  CHECK(before && after && strcmp(before, after) == 0);
  CHECK(g->n_nodes == n_nodes && g->n_inputs == n_in && g->n_outputs == n_out);
  free(before);
  free(after);
}

static void check_fixture_refused(const char *path, bool past, int64_t opast,
                                  const char *why_part) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = prepare(path, past, &d);
  if (g) {
    TfxKvOptions o = {.past = opast, .max_seq = N};
    check_refused(g, &o, why_part);
  }
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* ---- a hand-built one-layer decoder ----------------------------------------
 * ids [1,S] -> Gather(table [V,D]) -> Reshape [1,1,S,D] = Q = K = V
 *   -> Attention(mask) -> Reshape [1,S,D] = logits (V = D). */
enum { D = 8 };

typedef enum {
  M_NONE_CAUSAL,
  M_BOOL_CAUSAL,
  M_FLOAT_WINDOW,
  M_BIDIRECTIONAL,
  M_SOFTCAP,
  M_FLOAT_NEAR
} MaskKind;

static uint32_t constant(TfxGraph *g, const char *name, TfxDtype dt, int rank,
                         const int64_t *dims) {
  TfxTensor *t = tfx_graph_new_tensor(g, dt, rank, dims);
  uint32_t v = tfx_graph_add_value(g, name);
  tfx_value_set_const(g, v, t);
  return v;
}

static TfxGraph *tiny(MaskKind mk, TfxDiag *d) {
  TfxGraph *g = tfx_graph_new(d, "tiny");
  g->opset = 23;
  const int64_t idd[2] = {1, S}, td[2] = {12, D}, s4[1] = {4}, s3[1] = {3},
                md[2] = {S, S};
  uint32_t ids = input(g, "input_ids", TFX_I64, 2, idd);
  uint32_t table = constant(g, "table", TFX_F32, 2, td);
  float *tw = g->values[table].konst->data;
  for (int i = 0; i < 12 * D; i++)
    tw[i] = (float)sin(i * 0.37);
  uint32_t sh4 = constant(g, "shape4", TFX_I64, 1, s4),
           sh3 = constant(g, "shape3", TFX_I64, 1, s3);
  int64_t *p4 = g->values[sh4].konst->data, *p3 = g->values[sh3].konst->data;
  p4[0] = 1, p4[1] = 1, p4[2] = S, p4[3] = D;
  p3[0] = 1, p3[1] = S, p3[2] = D;
  uint32_t gi[2] = {table, ids};
  uint32_t x = node(g, TFX_OP_Gather, "embed", 2, gi, "x");
  uint32_t ri[2] = {x, sh4};
  uint32_t q = node(g, TFX_OP_Reshape, "heads", 2, ri, "q");
  uint32_t ai[4] = {q, q, q, TFX_NONE};
  if (mk != M_NONE_CAUSAL && mk != M_SOFTCAP) {
    bool fl = mk == M_FLOAT_WINDOW || mk == M_FLOAT_NEAR;
    ai[3] = constant(g, "mask", fl ? TFX_F32 : TFX_BOOL, 2, md);
    const TfxTensor *m = g->values[ai[3]].konst;
    for (int i = 0; i < S; i++)
      for (int j = 0; j < S; j++) {
        bool vis = mk == M_BIDIRECTIONAL ||
                   (j <= i && (mk != M_FLOAT_WINDOW || j > i - 2));
        if (fl)
          ((float *)m->data)[i * S + j] = vis                  ? 0.0f
                                          : mk == M_FLOAT_NEAR ? -5.0f
                                                               : -INFINITY;
        else
          ((uint8_t *)m->data)[i * S + j] = vis;
      }
  }
  uint32_t y =
      node(g, TFX_OP_Attention, "attn", ai[3] != TFX_NONE ? 4 : 3, ai, "y");
  TfxNode *an = &g->nodes[g->n_nodes - 1];
  TfxAttr *at = tfx_graph_alloc(g, 2 * sizeof *at);
  at[0].name = "is_causal", at[0].kind = TFX_ATTR_INT,
  at[0].i = mk == M_NONE_CAUSAL || mk == M_SOFTCAP;
  at[1].name = "softcap", at[1].kind = TFX_ATTR_FLOAT,
  at[1].f = mk == M_SOFTCAP ? 30.0f : 0.0f;
  an->attrs = at, an->n_attrs = 2;
  uint32_t oi[2] = {y, sh3};
  output(g, node(g, TFX_OP_Reshape, "merge", 2, oi, "logits"));
  TfxPipelineOptions po = {.opt_level = 1};
  if (tfx_run_pipeline(g, &po)) {
    fprintf(stderr, "tiny graph: %s", d->text ? d->text : "");
    failures++;
  }
  return g;
}

static void test_tiny_ok(MaskKind mk, int64_t window) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tiny(mk, &d);
  TfxKvOptions o = {.past = 2, .max_seq = 10};
  TfxKvInfo info;
  CHECK(tfx_pass_kv_cache(g, &o, &info) == TFX_OK);
  if (!info.ok)
    fprintf(stderr, "tiny %d refused: %s\n%s", (int)mk, info.why,
            d.text ? d.text : "");
  CHECK(info.ok && info.n_layers == 1);
  CHECK(info.vocab == D && info.token_limit == 12);
  CHECK(info.kv_floats == 1 * 10 * (D + D));
  CHECK(count_op(g, TFX_OP_Attention) == 0 &&
        count_op(g, TFX_OP_KvAttention) == 1);
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead || n->op != TFX_OP_KvAttention)
      continue;
    CHECK(n->n_inputs == 3);
    CHECK(tfx_attr_int(n, "window", -1) == window);
    CHECK(tfx_attr_int(n, "past", -1) == 2 &&
          tfx_attr_int(n, "max_seq", -1) == 10);
    CHECK(tfx_attr_int(n, "kv_offset", -1) == 0);
    CHECK(fabsf(tfx_attr_float(n, "scale", 0) - (float)(1 / sqrt(D))) < 1e-7f);
  }
  CHECK(tfx_graph_verify(g) == TFX_OK);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

static void test_tiny_refused(MaskKind mk, const char *why_part) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tiny(mk, &d);
  TfxKvOptions o = {.past = 0, .max_seq = 10};
  check_refused(g, &o, why_part);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* The tiny graph with kv_int8: one layer at byte offset 0, kv_bytes from the
 * block layout (D = 8, N = 10: 80 bytes of int8 and 40 of scales per array). */
static void test_tiny_int8(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tiny(M_BOOL_CAUSAL, &d);
  TfxKvOptions o = {.past = 2, .max_seq = 10, .kv_int8 = true};
  TfxKvInfo info;
  CHECK(tfx_pass_kv_cache(g, &o, &info) == TFX_OK);
  CHECK(info.ok && info.n_layers == 1);
  CHECK(info.kv_floats == 1 * 10 * (D + D));
  /* K int8 80 bytes, K scales 40 -> 48, V int8 80, V scales 48 */
  CHECK(info.kv_bytes == 80 + 48 + 80 + 48);
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead || n->op != TFX_OP_KvAttention) continue;
    CHECK(tfx_attr_int(n, "kv_int8", -1) == 1 && tfx_attr_int(n, "kv_offset", -1) == 0);
    CHECK(tfx_attr_int(n, "past", -1) == 2 && tfx_attr_int(n, "max_seq", -1) == 10);
  }
  CHECK(tfx_graph_verify(g) == TFX_OK);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* A step that does not fit the cache is refused too. */
static void test_tiny_too_long(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tiny(M_BOOL_CAUSAL, &d);
  TfxKvOptions o = {.past = 8, .max_seq = 10};
  check_refused(g, &o, "does not fit");
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

int main(void) {
  /* tiny GPT-2: 2 layers, 4 heads of 8, vocab 64 (wte has 64 rows) */
  const Expect gpt2 = {.layers = 2,
                       .hkv = 4,
                       .dk = 8,
                       .dv = 8,
                       .window = 0,
                       .vocab = 64,
                       .token_limit = 64};
  check_decoder("tests/models/onnx/gpt2_tiny/model.onnx", false, 0, &gpt2);
  check_decoder("tests/models/onnx/gpt2_tiny/model.onnx", false, 4, &gpt2);
  const Expect gqa = {.layers = 2,
                      .hkv = 2,
                      .dk = 8,
                      .dv = 8,
                      .window = 0,
                      .vocab = 64,
                      .token_limit = 64};
  check_decoder("tests/models/onnx/llama_gqa/model.onnx", false, 0, &gqa);
  check_decoder("tests/models/hf/llama_gqa", false, 2, &gqa);
  /* past_key_values export: past_seq = P in the graph, the step continues at P
   */
  check_decoder("tests/models/onnx/llama_gqa_past/model.onnx", true, P, &gqa);
  check_fixture_refused("tests/models/onnx/llama_gqa_past/model.onnx", true,
                        P + 1, "past tokens");
  /* sliding window: the ONNX export (config sliding_window 3) sees 3 keys */
  Expect win = gqa;
  win.window = 4, win.vocab = win.token_limit = 48;
  check_decoder("tests/models/onnx/mistral_window/model.onnx", false, 0, &win);
  check_decoder("tests/models/hf/mistral_window", false, 0, &win);
  static const char *const all[] = {
      "tests/models/onnx/gpt2_model_gelu/model.onnx",
      "tests/models/onnx/llama_bias_tied/model.onnx",
      "tests/models/onnx/qwen2_mqa_tied/model.onnx",
      "tests/models/onnx/llama_bf16/model.onnx",
      "tests/models/dynamo/gpt2_tiny/model.onnx",
      "tests/models/dynamo/llama_gqa/model.onnx",
      "tests/models/hf/gpt2_tiny",
      "tests/models/hf/gpt2_model_gelu",
      "tests/models/hf/llama_bias_tied",
      "tests/models/hf/qwen2_mqa_tied",
      "tests/models/hf/llama_bf16"};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    check_any_decoder(all[i], false);
  /* BERT: its (non-causal) attention reads heads in place from [B,S,H*D]
   * (passes/fuse_attention.c), which no decoder's does */
  check_fixture_refused("tests/models/onnx/bert_tiny/model.onnx", false, 0,
                        "3-D layout");
  check_fixture_refused("tests/models/hf/bert_tiny", false, 0, "3-D layout");
  check_fixture_refused("tests/models/dynamo/bert_tiny/model.onnx", false, 0,
                        "3-D layout");

  test_tiny_ok(M_NONE_CAUSAL, 0);
  test_tiny_ok(M_BOOL_CAUSAL, 0);
  test_tiny_ok(M_FLOAT_WINDOW, 2);
  test_tiny_refused(M_BIDIRECTIONAL, "not causal");
  test_tiny_refused(M_FLOAT_NEAR, "neither 0 nor masked");
  test_tiny_refused(M_SOFTCAP, "softcap");
  test_tiny_too_long();
  test_tiny_int8();
  /* int8 KV cache: layouts, sizes and accuracy at the fixtures' full length */
  check_int8("tests/models/onnx/gpt2_tiny/model.onnx", 16);
  check_int8("tests/models/onnx/llama_gqa/model.onnx", 16);
  check_int8("tests/models/onnx/qwen2_mqa_tied/model.onnx", 16);
  check_int8("tests/models/onnx/mistral_window/model.onnx", 16);
  check_int8("tests/models/hf/llama_gqa", 16);
  if (failures)
    fprintf(stderr, "%d check(s) failed\n", failures);
  return failures != 0;
}
