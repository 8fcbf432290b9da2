/* quant_report.c — the accuracy of quantisation, measured with the reference
 * evaluator (see tfx_quant_report in compile.h).
 *
 * The model is built twice at one calibration length S (min(--max, 16), or the
 * shortest --calib line, or the --dim binding), float32 and quantised, and both
 * are evaluated on the calibration inputs (default: 4 deterministic random
 * sequences; token ids uniform below the embedding's row count, masks 1, token
 * types 0, floats N(0, 1)).  Outputs are matched by name.  Per output: cosine
 * and max abs error over all sequences; for outputs named *logit* also top-1
 * agreement of the rows and mean KL(p_float || p_quant) of their softmax.
 * Per quantised weight: the cosine of its product's output in the model (error
 * accumulated from upstream) and alone (the quantised product on the float
 * input), the latter ranking the weights that a budget moves, a few at a
 * time, from int4 to int8 and from int8 to float32, until 1 - cosine of every
 * output is within it.
 * With --quantize-kv=int8 the quantised build also runs the KV-cache pass
 * (past 0, cache of S rows) so KvAttention's evaluator applies the int8 round
 * trip.  The report (--report FILE) is plain text, or JSON when FILE ends in
 * .json (the same figures, for scripts). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "frontend/frontend.h"
#include "tools/compile.h"

enum { DEFAULT_SEQS = 4, DEFAULT_LEN = 16, MAX_SEQS = 64, MAX_BATCH = 8 };

void tfx_quant_keep_free(char **keep, int n_keep) {
  for (int i = 0; i < n_keep; i++) free(keep[i]);
  free(keep);
}

/* ---- statistics -------------------------------------------------------------- */
typedef struct {
  double dot, na, nb, max_abs;
  int64_t rows, top1;
  double kl;
  bool logits;
} Stat;

static void stat_add(Stat *s, const TfxTensor *a, const TfxTensor *b, bool logits) {
  int64_t n = tfx_tensor_numel(a);
  for (int64_t i = 0; i < n; i++) {
    double x = tfx_tensor_get_f64(a, i), y = tfx_tensor_get_f64(b, i);
    s->dot += x * y, s->na += x * x, s->nb += y * y;
    if (fabs(x - y) > s->max_abs) s->max_abs = fabs(x - y);
  }
  if (!logits || a->rank < 1 || a->dims[a->rank - 1] < 2) return;
  s->logits = true;
  int64_t V = a->dims[a->rank - 1];
  for (int64_t r = 0; r < n / V; r++) {
    int64_t ia = 0, ib = 0;
    double ma = -INFINITY, mb = -INFINITY;
    for (int64_t v = 0; v < V; v++) {
      double x = tfx_tensor_get_f64(a, r * V + v), y = tfx_tensor_get_f64(b, r * V + v);
      if (x > ma) ma = x, ia = v;
      if (y > mb) mb = y, ib = v;
    }
    double za = 0, zb = 0;
    for (int64_t v = 0; v < V; v++) {
      za += exp(tfx_tensor_get_f64(a, r * V + v) - ma);
      zb += exp(tfx_tensor_get_f64(b, r * V + v) - mb);
    }
    double kl = 0;
    for (int64_t v = 0; v < V; v++) {
      double la = tfx_tensor_get_f64(a, r * V + v) - ma - log(za);
      double lb = tfx_tensor_get_f64(b, r * V + v) - mb - log(zb);
      kl += exp(la) * (la - lb);
    }
    s->kl += kl;
    s->rows++;
    s->top1 += ia == ib;
  }
}

static double stat_cos(const Stat *s) {
  if (s->na == 0 && s->nb == 0) return 1;
  if (s->na == 0 || s->nb == 0) return 0;
  return s->dot / sqrt(s->na * s->nb);
}

/* ---- building ------------------------------------------------------------------ */
typedef struct {
  const TfxCompileRequest *r;
  TfxDiag *d;
  TfxGraph *base;       /* the model imported (and prepared) once; builds clone it */
  int64_t S;            /* calibration length of the --max symbol (0: none) */
  int64_t tokens[MAX_SEQS][256];
  int n_seqs;
  bool from_file;
} Calib;

static const char *past_symbol(const TfxGraph *g, const char *seq) {
  for (uint32_t k = 0; k < g->n_inputs; k++) {
    const TfxValue *v = &g->values[g->inputs[k]];
    if (strncmp(v->name, "past", 4) != 0) continue;
    int a = v->rank - 2;
    if (a >= 0 && v->dim_sym[a] && (!seq || strcmp(g->syms[v->dim_sym[a] - 1].name, seq) != 0))
      return g->syms[v->dim_sym[a] - 1].name;
  }
  return NULL;
}

/* A copy of the model, bound, through the pipeline; quantised when q; the
 * KV-cache pass when kv. */
static TfxGraph *build(Calib *c, const TfxQuantOptions *q, const char *const *keep, int n_keep, bool kv) {
  const TfxCompileRequest *r = c->r;
  TfxGraph *g = tfx_graph_clone(c->base);
  if (!g) return NULL;
  const char *past = past_symbol(g, r->max.name);
  TfxDimBinding b[TFX_MAX_BINDINGS + 2];
  int nb = 0;
  for (int i = 0; i < r->n_dims; i++) {
    if (r->max.name && strcmp(r->dims[i].name, r->max.name) == 0) continue;
    if (past && strcmp(r->dims[i].name, past) == 0) continue;
    b[nb++] = r->dims[i];
  }
  if (r->max.name) b[nb++] = (TfxDimBinding){r->max.name, c->S};
  if (past) b[nb++] = (TfxDimBinding){past, 0};
  if (tfx_bind_dims(g, b, nb)) goto fail;
  TfxPipelineOptions po = {.opt_level = r->opt_level};
  if (tfx_run_pipeline(g, &po)) goto fail;
  int changed = 0;
  if (q && q->weight_bits) {
    if (tfx_pass_quantize_weights(g, q, keep, n_keep, &changed) || tfx_pass_dce(g, &changed) ||
        tfx_graph_verify(g))
      goto fail;
  }
  if (kv) {
    TfxKvOptions ko = {.past = 0, .max_seq = c->S, .kv_int8 = true};
    TfxKvInfo ki = {0};
    if (tfx_pass_kv_cache(g, &ko, &ki)) goto fail;
    if (ki.ok && (tfx_pass_dce(g, &changed) || tfx_graph_verify(g))) goto fail;
  }
  return g;
fail:
  tfx_graph_free(g);
  return NULL;
}

/* ---- inputs --------------------------------------------------------------------- */
static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static uint64_t name_seed(const char *name, int seq) {
  uint64_t h = 1469598103934665603ull;
  for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
  return h ^ ((uint64_t)seq * 0x9E3779B97F4A7C15ull);
}

/* Rows of the constant table that a Gather on value v indexes, or -1. */
static int64_t token_limit(const TfxGraph *g, uint32_t v) {
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->op == TFX_OP_Gather && n->n_inputs >= 2 && n->inputs[1] == v && g->values[n->inputs[0]].konst)
      return g->values[n->inputs[0]].konst->dims[0];
  }
  return -1;
}

static bool has(const char *name, const char *part) { return strstr(name, part) != NULL; }

/* Fill tensor t for graph input v, calibration sequence seq.  Token ids are
 * the same in both graphs (drawn from the name and seq). */
static TfxStatus make_input(Calib *c, const TfxGraph *g, uint32_t v, int seq, TfxTensor *t, int64_t limit) {
  const TfxValue *val = &g->values[v];
  memset(t, 0, sizeof *t);
  t->dtype = val->dtype;
  t->rank = val->rank;
  memcpy(t->dims, val->dims, sizeof(int64_t) * (size_t)val->rank);
  size_t bytes = tfx_tensor_bytes(t);
  t->data = calloc(1, bytes ? bytes : 1);
  if (!t->data) abort();
  int64_t n = tfx_tensor_numel(t);
  uint64_t s = name_seed(val->name, seq);
  if (tfx_dtype_is_int(val->dtype)) {
    bool ids = !has(val->name, "mask") && !has(val->name, "type") && !has(val->name, "position");
    if (ids && c->from_file) {
      for (int64_t i = 0; i < n; i++) {
        int64_t tok = c->tokens[seq][i % c->S];
        if (limit > 0 && (tok < 0 || tok >= limit))
          return tfx_error(c->d, "%s: token id %lld is outside 0..%lld", c->r->quant.calib, (long long)tok,
                           (long long)limit - 1);
        tfx_tensor_set_i64(t, i, tok);
      }
      return TFX_OK;
    }
    int64_t last = val->rank ? val->dims[val->rank - 1] : 1;
    for (int64_t i = 0; i < n; i++) {
      int64_t x = 0;
      if (has(val->name, "mask")) x = 1;
      else if (has(val->name, "position")) x = last ? i % last : 0;
      else if (ids) x = (int64_t)(rng_next(&s) % (uint64_t)(limit > 0 ? limit : 2));
      tfx_tensor_set_i64(t, i, x);
    }
  } else if (val->dtype == TFX_BOOL) {
    for (int64_t i = 0; i < n; i++) tfx_tensor_set_i64(t, i, 1);
  } else {
    for (int64_t i = 0; i < n; i += 2) { /* Box-Muller */
      double u1 = ((double)(rng_next(&s) >> 11) + 1) / 9007199254740993.0;
      double u2 = (double)(rng_next(&s) >> 11) / 9007199254740992.0;
      double rad = sqrt(-2 * log(u1));
      tfx_tensor_set_f64(t, i, rad * cos(6.283185307179586 * u2));
      if (i + 1 < n) tfx_tensor_set_f64(t, i + 1, rad * sin(6.283185307179586 * u2));
    }
  }
  return TFX_OK;
}

/* Evaluate g on calibration sequence seq; outs receives g->n_outputs tensors. */
static TfxStatus run(Calib *c, TfxGraph *g, const TfxGraph *ref, int seq, TfxTensor *outs) {
  TfxTensor *ins = calloc(g->n_inputs + 1, sizeof *ins);
  if (!ins) abort();
  TfxStatus st = TFX_OK;
  for (uint32_t k = 0; k < g->n_inputs && !st; k++) {
    uint32_t v = g->inputs[k];
    int64_t lim = token_limit(g, v);
    if (lim < 0 && ref) { /* after the KV pass the Gather may be gone: ask the float graph */
      uint32_t rv = tfx_graph_find_value(ref, g->values[v].name);
      if (rv != TFX_NONE) lim = token_limit(ref, rv);
    }
    st = make_input(c, g, v, seq, &ins[k], lim);
  }
  if (!st) st = tfx_eval_graph(g, ins, outs);
  for (uint32_t k = 0; k < g->n_inputs; k++) free(ins[k].data);
  free(ins);
  return st;
}

static void add_output(TfxGraph *g, uint32_t v) {
  for (uint32_t k = 0; k < g->n_outputs; k++)
    if (g->outputs[k] == v) return;
  g->outputs = realloc(g->outputs, sizeof(uint32_t) * (g->n_outputs + 1));
  if (!g->outputs) abort();
  g->outputs[g->n_outputs++] = v;
}

static int out_index(const TfxGraph *g, uint32_t v) {
  for (uint32_t k = 0; k < g->n_outputs; k++)
    if (g->outputs[k] == v) return (int)k;
  return -1;
}

/* ---- activation statistics ----------------------------------------------------- */
/* The float graph on every calibration sequence, the activation entering each
 * product the pass may quantise recorded for its weight (tfx_quant_calib_add). */
static TfxStatus collect_stats(Calib *c, TfxQuantCalib *qc) {
  TfxGraph *gf = build(c, NULL, NULL, 0, false);
  if (!gf) return TFX_ERR;
  uint32_t *wv = calloc(gf->n_nodes + 1, sizeof *wv), *xo = calloc(gf->n_nodes + 1, sizeof *xo);
  int *first = calloc(gf->n_nodes + 1, sizeof *first); /* the product before p reading the same x, or -1 */
  if (!wv || !xo || !first) abort();
  uint32_t np = 0;
  for (uint32_t i = 0; i < gf->n_nodes; i++) {
    const TfxNode *n = &gf->nodes[i];
    uint32_t w = tfx_quant_weight_of(gf, n);
    if (w == TFX_NONE || gf->values[n->inputs[0]].konst) continue;
    add_output(gf, n->inputs[0]);
    wv[np] = w, xo[np] = (uint32_t)out_index(gf, n->inputs[0]), first[np] = -1;
    for (uint32_t p = 0; p < np && first[np] < 0; p++)
      if (xo[p] == xo[np]) first[np] = (int)p;
    np++;
  }
  TfxStatus st = TFX_OK;
  TfxTensor *of = calloc(gf->n_outputs + 1, sizeof *of);
  if (!of) abort();
  for (int s = 0; s < c->n_seqs && !st; s++) {
    memset(of, 0, sizeof *of * gf->n_outputs);
    if ((st = run(c, gf, NULL, s, of))) break;
    for (uint32_t p = 0; p < np; p++) {
      const TfxTensor *x = &of[xo[p]];
      int64_t K = x->dims[x->rank - 1];
      if (K > 0 && first[p] < 0) tfx_quant_calib_add(qc, gf->values[wv[p]].name, x->data, tfx_tensor_numel(x) / K, K);
      else if (K > 0 && s == 0) /* one activation, several weights: its statistics once */
        tfx_quant_calib_share(qc, gf->values[wv[p]].name, gf->values[wv[first[p]]].name);
    }
    for (uint32_t k = 0; k < gf->n_outputs; k++) tfx_tensor_free_data(&of[k]);
  }
  free(of), free(wv), free(xo), free(first);
  tfx_graph_free(gf);
  return st;
}

/* ---- one measurement -------------------------------------------------------------- */
typedef struct {
  char *name;    /* the float weight's name */
  char *out;     /* its product's output value */
  int bits;      /* 8 or 4 */
  int64_t group; /* 0: one scale per output channel */
  Stat model;    /* in the model: the quantised graph's value vs the float one */
  Stat alone;    /* the quantised product on the float input vs the float output */
} Layer;

typedef struct {
  int n_out;
  char **out_names;
  Stat *outs;
  Layer *layers;
  int n_layers;
  int n_candidates; /* weights the pass would quantise with nothing kept */
  int n_tables;     /* embedding tables quantised (WeightQGather) */
} Measure;

static void measure_free(Measure *m) {
  for (int i = 0; i < m->n_out; i++) free(m->out_names[i]);
  for (int i = 0; i < m->n_layers; i++) free(m->layers[i].name), free(m->layers[i].out);
  free(m->out_names), free(m->outs), free(m->layers);
  memset(m, 0, sizeof *m);
}

static char *weight_name(const char *qname) {
  char *s = strdup(qname);
  char *dot = strrchr(s, '.');
  if (dot && (strncmp(dot, ".q8", 3) == 0 || strncmp(dot, ".q4", 3) == 0)) *dot = 0;
  return s;
}

/* The BlockQuantize node whose xhat is the product's x, or -1 (x is float). */
static int block_quantizer(const TfxGraph *g, uint32_t x) {
  for (uint32_t i = 0; i < g->n_nodes; i++)
    if (!g->nodes[i].dead && g->nodes[i].op == TFX_OP_BlockQuantize && g->nodes[i].outputs[2] == x) return (int)i;
  return -1;
}

/* Product node n of gq alone on the float activation x, through the
 * BlockQuantize node bq that feeds it (-1: none): y (caller frees). */
static TfxStatus eval_alone(TfxGraph *gq, const TfxNode *n, int bq, const TfxTensor *x, TfxTensor *y) {
  const TfxTensor *in[8] = {x, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
  for (int k = 1; k < n->n_inputs && k < 8; k++) in[k] = n->inputs[k] == TFX_NONE ? NULL : gq->values[n->inputs[k]].konst;
  if (bq < 0) return tfx_eval_node(gq, n, in, y);
  const TfxNode *bn = &gq->nodes[bq];
  const TfxTensor *bin[2] = {x, bn->n_inputs > 1 && bn->inputs[1] != TFX_NONE ? gq->values[bn->inputs[1]].konst : NULL};
  TfxTensor qo[3];
  memset(qo, 0, sizeof qo);
  TfxStatus st = tfx_eval_node(gq, bn, bin, qo);
  if (!st) {
    in[0] = &qo[2], in[5] = &qo[0], in[6] = &qo[1];
    st = tfx_eval_node(gq, n, in, y);
  }
  for (int k = 0; k < 3; k++) tfx_tensor_free_data(&qo[k]);
  return st;
}

static TfxStatus measure(Calib *c, const TfxQuantOptions *q, const char *const *keep, int n_keep, Measure *m) {
  memset(m, 0, sizeof *m);
  bool kv = c->r->quant.kv_int8;
  TfxGraph *gf = build(c, NULL, NULL, 0, false);
  TfxGraph *gq = gf ? build(c, q, keep, n_keep, kv) : NULL;
  if (!gq) {
    if (gf) tfx_graph_free(gf);
    return TFX_ERR;
  }
  /* the outputs both graphs have */
  uint32_t n_orig = gq->n_outputs;
  m->out_names = calloc(n_orig + 1, sizeof *m->out_names);
  m->outs = calloc(n_orig + 1, sizeof *m->outs);
  int *fo = calloc(n_orig + 1, sizeof *fo), *qo = calloc(n_orig + 1, sizeof *qo);
  if (!m->out_names || !m->outs || !fo || !qo) abort();
  for (uint32_t k = 0; k < n_orig; k++) {
    const char *name = gq->values[gq->outputs[k]].name;
    uint32_t fv = tfx_graph_find_value(gf, name);
    int fi = fv == TFX_NONE ? -1 : out_index(gf, fv);
    if (fi < 0) continue;
    fo[m->n_out] = fi, qo[m->n_out] = (int)k;
    m->out_names[m->n_out++] = strdup(name);
  }
  /* the quantised products, their inputs and outputs as extra outputs */
  int nq = 0;
  for (uint32_t i = 0; i < gq->n_nodes; i++) {
    const TfxNode *n = &gq->nodes[i];
    nq += !n->dead && n->op == TFX_OP_WeightQMatMul;
    if (n->dead || n->op != TFX_OP_WeightQGather) continue;
    bool seen = false; /* tables are counted once however many nodes gather from them */
    for (uint32_t j = 0; j < i && !seen; j++)
      seen = !gq->nodes[j].dead && gq->nodes[j].op == TFX_OP_WeightQGather && gq->nodes[j].inputs[0] == n->inputs[0];
    m->n_tables += !seen;
  }
  m->layers = calloc((size_t)nq + 1, sizeof *m->layers);
  uint32_t *qnode = calloc((size_t)nq + 1, sizeof *qnode);
  int *fx = calloc((size_t)nq + 1, sizeof *fx), *fy = calloc((size_t)nq + 1, sizeof *fy),
      *qy = calloc((size_t)nq + 1, sizeof *qy), *qbq = calloc((size_t)nq + 1, sizeof *qbq);
  if (!m->layers || !qnode || !fx || !fy || !qy || !qbq) abort();
  for (uint32_t i = 0; i < gq->n_nodes; i++) {
    const TfxNode *n = &gq->nodes[i];
    if (n->dead || n->op != TFX_OP_WeightQMatMul) continue;
    int bq = block_quantizer(gq, n->inputs[0]); /* x is its xhat: the float x is its input */
    const char *yname = gq->values[n->outputs[0]].name,
               *xname = gq->values[bq < 0 ? n->inputs[0] : gq->nodes[bq].inputs[0]].name;
    uint32_t fyv = tfx_graph_find_value(gf, yname), fxv = tfx_graph_find_value(gf, xname);
    if (fyv == TFX_NONE || fxv == TFX_NONE || gf->values[fyv].konst || gf->values[fxv].rank < 0) continue;
    Layer *L = &m->layers[m->n_layers];
    L->name = weight_name(gq->values[n->inputs[1]].name);
    L->out = strdup(yname);
    L->bits = (int)tfx_attr_int(n, "bits", 8);
    L->group = tfx_attr_int(n, "group", 0);
    add_output(gf, fxv);
    add_output(gf, fyv);
    add_output(gq, n->outputs[0]);
    fx[m->n_layers] = out_index(gf, fxv), fy[m->n_layers] = out_index(gf, fyv);
    qy[m->n_layers] = out_index(gq, n->outputs[0]);
    qbq[m->n_layers] = bq;
    qnode[m->n_layers++] = i;
  }
  m->n_candidates = m->n_layers + n_keep;
  TfxStatus st = TFX_OK;
  TfxTensor *of = calloc(gf->n_outputs + 1, sizeof *of), *oq = calloc(gq->n_outputs + 1, sizeof *oq);
  if (!of || !oq) abort();
  for (int s = 0; s < c->n_seqs && !st; s++) {
    memset(of, 0, sizeof *of * gf->n_outputs);
    memset(oq, 0, sizeof *oq * gq->n_outputs);
    if ((st = run(c, gf, NULL, s, of)) || (st = run(c, gq, gf, s, oq))) break;
    for (int k = 0; k < m->n_out; k++)
      stat_add(&m->outs[k], &of[fo[k]], &oq[qo[k]], has(m->out_names[k], "logit"));
    for (int l = 0; l < m->n_layers && !st; l++) {
      Layer *L = &m->layers[l];
      stat_add(&L->model, &of[fy[l]], &oq[qy[l]], false);
      TfxTensor y;
      if ((st = eval_alone(gq, &gq->nodes[qnode[l]], qbq[l], &of[fx[l]], &y))) break;
      stat_add(&L->alone, &of[fy[l]], &y, false);
      tfx_tensor_free_data(&y);
    }
    for (uint32_t k = 0; k < gf->n_outputs; k++) tfx_tensor_free_data(&of[k]);
    for (uint32_t k = 0; k < gq->n_outputs; k++) tfx_tensor_free_data(&oq[k]);
  }
  free(of), free(oq), free(fo), free(qo), free(qnode), free(fx), free(fy), free(qy), free(qbq);
  tfx_graph_free(gf);
  tfx_graph_free(gq);
  if (!st && !m->n_out)
    st = tfx_error(c->d, "%s: quantisation report: the quantised graph has no output in common with the float "
                   "one", c->r->model);
  return st;
}

/* "float32", "int8 per channel" or "int<bits> g<group>". */
static const char *precision(char *buf, size_t size, int bits, int64_t group) {
  if (!bits) snprintf(buf, size, "float32");
  else if (bits == 8 && !group) snprintf(buf, size, "int8 per channel");
  else snprintf(buf, size, "int%d g%lld", bits, (long long)group);
  return buf;
}

/* Quantised weights with `bits`. */
static int count_bits(const Measure *m, int bits) {
  int n = 0;
  for (int l = 0; l < m->n_layers; l++) n += m->layers[l].bits == bits;
  return n;
}

/* Worst 1 - cosine over the outputs. */
static double worst_error(const Measure *m) {
  double w = 0;
  for (int k = 0; k < m->n_out; k++)
    if (1 - stat_cos(&m->outs[k]) > w) w = 1 - stat_cos(&m->outs[k]);
  return w;
}

/* ---- calibration input ----------------------------------------------------------- */
static TfxStatus read_calib(Calib *c) {
  FILE *f = fopen(c->r->quant.calib, "r");
  if (!f) return tfx_error(c->d, "%s: cannot open the calibration file", c->r->quant.calib);
  char line[16384];
  int64_t shortest = -1;
  c->n_seqs = 0;
  while (fgets(line, sizeof line, f) && c->n_seqs < MAX_SEQS) {
    int64_t n = 0;
    char *p = line, *end;
    for (;;) {
      long long v = strtoll(p, &end, 10);
      if (end == p) break;
      if (n < 256) c->tokens[c->n_seqs][n++] = v;
      p = end;
    }
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (*p) {
      fclose(f);
      return tfx_error(c->d, "%s: line %d: expected whitespace-separated token ids", c->r->quant.calib,
                       c->n_seqs + 1);
    }
    if (!n) continue;
    if (shortest < 0 || n < shortest) shortest = n;
    c->n_seqs++;
  }
  fclose(f);
  if (!c->n_seqs) return tfx_error(c->d, "%s: no token sequences in the calibration file", c->r->quant.calib);
  c->from_file = true;
  if (c->r->max.name) {
    if (shortest < c->S) c->S = shortest;
  } else {
    c->S = shortest; /* fixed dims: an ids input longer than the line repeats it */
  }
  return TFX_OK;
}

/* ---- the report -------------------------------------------------------------------- */
static void write_report(FILE *f, const Calib *c, const Measure *m, char **keep, int n_keep,
                         const TfxQuantCalib *qc) {
  const TfxQuantOptions *q = &c->r->quant;
  fprintf(f, "tfxc quantisation report\nmodel: %s\n", c->r->model);
  if (q->weight_bits == 8 && q->group) fprintf(f, "weights: int8, symmetric, group %d along K\n", q->group);
  else if (q->weight_bits == 8) fprintf(f, "weights: int8, symmetric, one scale per output channel\n");
  else if (q->weight_bits == 4)
    fprintf(f, "weights: int4, %s, group %d along K\n", q->asym ? "asymmetric (an offset per group)" : "symmetric",
            q->group ? q->group : 32);
  if (q->kv_int8) fprintf(f, "kv cache: int8, a scale per token and head\n");
  fprintf(f, "calibration: %d sequences%s", c->n_seqs, c->from_file ? " from " : " (random)");
  if (c->from_file) fprintf(f, "%s", q->calib);
  if (c->r->max.name) fprintf(f, ", %s=%lld", c->r->max.name, (long long)c->S);
  fprintf(f, "\nweights quantised: %d of %d", m->n_layers + m->n_tables, m->n_candidates + m->n_tables);
  if (m->n_tables) fprintf(f, " (%d of them embedding tables, int8)", m->n_tables);
  if (q->weight_bits == 4 && count_bits(m, 8)) {
    fprintf(f, " (%d int4; int8 for the budget %g:", count_bits(m, 4), q->max_error);
    for (int l = 0; l < m->n_layers; l++)
      if (m->layers[l].bits == 8) fprintf(f, " %s", m->layers[l].name);
    fprintf(f, ")");
  }
  if (n_keep) {
    fprintf(f, " (kept float32 for the budget %g:", q->max_error);
    for (int i = 0; i < n_keep; i++) fprintf(f, " %s", keep[i]);
    fprintf(f, ")");
  }
  fprintf(f, "\n\nend to end (quantised vs float32):\n");
  for (int k = 0; k < m->n_out; k++) {
    const Stat *s = &m->outs[k];
    fprintf(f, "  %-40s cosine %.6f  max abs err %.6g", m->out_names[k], stat_cos(s), s->max_abs);
    if (s->logits && s->rows)
      fprintf(f, "  top-1 %.2f%%  KL %.6g  (%lld rows)", 100.0 * (double)s->top1 / (double)s->rows,
              s->kl / (double)s->rows, (long long)s->rows);
    fprintf(f, "\n");
  }
  fprintf(f, "\nper weight (precision; output of its product: in the model / alone on the float input; AWQ alpha; "
             "GPTQ):\n");
  char prec[32];
  for (int l = 0; l < m->n_layers; l++) {
    const Layer *L = &m->layers[l];
    fprintf(f, "  %-40s %-16s model cosine %.6f max abs err %.6g | alone cosine %.6f max abs err %.6g | alpha %.1f | %s\n",
            L->name, precision(prec, sizeof prec, L->bits, L->group), stat_cos(&L->model), L->model.max_abs,
            stat_cos(&L->alone), L->alone.max_abs, tfx_quant_calib_alpha(qc, L->name),
            tfx_quant_calib_gptq(qc, L->name) > 0 ? "gptq" : "round");
  }
}

static json_t *stat_json(const Stat *s) {
  json_t *o = json_pack("{s:f, s:f}", "cosine", stat_cos(s), "max_abs_error", s->max_abs);
  if (s->logits && s->rows) {
    json_object_set_new(o, "top1_agreement", json_real((double)s->top1 / (double)s->rows));
    json_object_set_new(o, "kl_divergence", json_real(s->kl / (double)s->rows));
    json_object_set_new(o, "rows", json_integer(s->rows));
  }
  return o;
}

static TfxStatus write_json(FILE *f, const Calib *c, const Measure *m, char **keep, int n_keep,
                            const TfxQuantCalib *qc) {
  const TfxQuantOptions *q = &c->r->quant;
  char prec[32], lprec[32];
  precision(prec, sizeof prec, q->weight_bits, q->weight_bits == 4 && !q->group ? 32 : q->group);
  json_t *outs = json_array(), *weights = json_array();
  for (int k = 0; k < m->n_out; k++) {
    json_t *o = stat_json(&m->outs[k]);
    json_object_set_new(o, "name", json_string(m->out_names[k]));
    json_array_append_new(outs, o);
  }
  for (int l = 0; l < m->n_layers; l++) {
    const Layer *L = &m->layers[l];
    json_array_append_new(weights, json_pack("{s:s, s:s, s:o, s:o, s:f, s:b}", "name", L->name, "precision",
                                             precision(lprec, sizeof lprec, L->bits, L->group), "model", stat_json(&L->model), "alone",
                                             stat_json(&L->alone), "awq_alpha", tfx_quant_calib_alpha(qc, L->name),
                                             "gptq", tfx_quant_calib_gptq(qc, L->name) > 0));
  }
  for (int i = 0; i < n_keep; i++)
    json_array_append_new(weights, json_pack("{s:s, s:s}", "name", keep[i], "precision", "float32"));
  json_t *root = json_pack(
      "{s:s, s:s, s:b, s:b, s:{s:i, s:s, s:I}, s:i, s:i, s:i, s:i, s:f, s:o, s:o}", "model", c->r->model, "weights",
      prec, "asymmetric", q->asym && q->weight_bits == 4, "kv_int8", q->kv_int8, "calibration", "sequences", c->n_seqs, "source",
      c->from_file ? q->calib : "random", "length", (json_int_t)c->S, "quantised", m->n_layers, "int8_for_budget",
      q->weight_bits == 4 ? count_bits(m, 8) : 0, "candidates",
      m->n_candidates, "embedding_tables", m->n_tables, "max_error", q->max_error, "outputs", outs, "per_weight",
      weights);
  int rc = root ? json_dumpf(root, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : -1;
  json_decref(root);
  if (!rc) fputc('\n', f);
  return rc ? tfx_error(c->d, "%s: cannot write the JSON report", q->report) : TFX_OK;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void summary(const Calib *c, const Measure *m) {
  const TfxQuantOptions *q = &c->r->quant;
  const Stat *s = &m->outs[0];
  char what[64];
  if (q->weight_bits == 8 && q->group) snprintf(what, sizeof what, "int8 g%d weights", q->group);
  else if (q->weight_bits == 8) snprintf(what, sizeof what, "int8 weights");
  else if (q->weight_bits == 4) snprintf(what, sizeof what, "int4 g%d weights", q->group ? q->group : 32);
  else what[0] = 0;
  if (q->kv_int8) snprintf(what + strlen(what), sizeof what - strlen(what), "%sint8 KV", what[0] ? " + " : "");
  fprintf(stderr, "tfxc: %s: ", what);
  if (q->weight_bits) fprintf(stderr, "%d of %d quantised, ", m->n_layers + m->n_tables, m->n_candidates + m->n_tables);
  if (q->weight_bits == 4 && count_bits(m, 8)) fprintf(stderr, "%d int4 + %d int8, ", count_bits(m, 4), count_bits(m, 8));
  fprintf(stderr, "%s cosine %.6f, max abs err %.4g", m->out_names[0], stat_cos(s), s->max_abs);
  if (s->logits && s->rows)
    fprintf(stderr, ", top-1 %.1f%%, KL %.3g", 100.0 * (double)s->top1 / (double)s->rows, s->kl / (double)s->rows);
  if (c->r->max.name)
    fprintf(stderr, " (%d calibration sequences of %lld tokens)\n", c->n_seqs, (long long)c->S);
  else
    fprintf(stderr, " (%d calibration inputs)\n", c->n_seqs);
}

/* Weights to move next: a quarter of what the last move's gain per weight
 * says the gap to the budget needs, at most MAX_BATCH (each re-measure
 * evaluates the model on every calibration input, so one at a time is slow
 * for many weights; the gains shrink down the ranking, so more overshoots). */
static int next_batch(double before, double after, int moved, double budget) {
  double per = (before - after) / moved, need = (after - budget) / per / 4;
  return per > 0 && need > 1 ? (need < MAX_BATCH ? (int)need : MAX_BATCH) : 1;
}

static int by_alone_error(const void *a, const void *b) {
  const Layer *x = a, *y = b;
  double ex = 1 - stat_cos(&x->alone), ey = 1 - stat_cos(&y->alone);
  return ex < ey ? 1 : ex > ey ? -1 : strcmp(x->name, y->name);
}

TfxStatus tfx_quant_report(const TfxCompileRequest *r, TfxDiag *d, char ***keep, int *n_keep,
                           TfxQuantCalib **stats) {
  *keep = NULL;
  *n_keep = 0;
  *stats = NULL;
  Calib *c = calloc(1, sizeof *c);
  if (!c) abort();
  c->r = r, c->d = d, c->n_seqs = DEFAULT_SEQS;
  c->S = r->max.name ? (r->max.value < DEFAULT_LEN ? r->max.value : DEFAULT_LEN) : 0;
  if (r->quant.calib && read_calib(c)) {
    free(c);
    return TFX_ERR;
  }
  c->base = tfx_import(r->model, d);
  if (!c->base || (r->prepare && r->prepare(c->base, r->prepare_arg))) {
    if (c->base) tfx_graph_free(c->base);
    free(c);
    return TFX_ERR;
  }
  TfxQuantOptions q = r->quant;
  q.stats = tfx_quant_calib_new();
  TfxStatus st = q.weight_bits ? collect_stats(c, q.stats) : TFX_OK;
  Measure m = {0};
  if (!st) st = measure(c, &q, NULL, 0, &m);
  char **kept = NULL;
  int nk = 0;
  if (!st && q.max_error > 0 && q.weight_bits && worst_error(&m) > q.max_error) {
    int total = m.n_candidates, batch = 1;
    while (!st && worst_error(&m) > q.max_error && m.n_layers > 0) {
      qsort(m.layers, (size_t)m.n_layers, sizeof *m.layers, by_alone_error);
      for (int i = 0; i < batch && i < m.n_layers; i++) {
        const Layer *L = &m.layers[i];
        if (L->bits == 4) {
          tfx_quant_calib_set_bits(q.stats, L->name, 8);
        } else {
          kept = realloc(kept, sizeof *kept * (size_t)(nk + 1));
          if (!kept) abort();
          kept[nk++] = strdup(L->name);
        }
        fprintf(stderr, "tfxc: budget %g: keeping %s in %s (1 - cosine %.3g)\n", q.max_error, L->name,
                L->bits == 4 ? "int8" : "float32", worst_error(&m));
      }
      double before = worst_error(&m);
      int moved = batch < m.n_layers ? batch : m.n_layers;
      measure_free(&m);
      if ((st = measure(c, &q, (const char *const *)kept, nk, &m))) break;
      batch = next_batch(before, worst_error(&m), moved, q.max_error);
    }
    if (!st) m.n_candidates = total;
    if (!st && worst_error(&m) > q.max_error)
      fprintf(stderr, "tfxc: budget %g: not met even with every weight float32 (1 - cosine %.3g)\n", q.max_error,
              worst_error(&m));
  }
  if (!st) {
    if (r->quant.report) {
      FILE *f = fopen(r->quant.report, "w");
      if (!f) st = tfx_error(d, "%s: cannot write the quantisation report", r->quant.report);
      else {
        if (ends_with(r->quant.report, ".json")) st = write_json(f, c, &m, kept, nk, q.stats);
        else write_report(f, c, &m, kept, nk, q.stats);
        if (fclose(f) && !st) st = tfx_error(d, "%s: error writing the quantisation report", r->quant.report);
      }
    }
    summary(c, &m);
  }
  measure_free(&m);
  tfx_graph_free(c->base);
  free(c);
  if (st) {
    tfx_quant_keep_free(kept, nk);
    tfx_quant_calib_free(q.stats);
    return st;
  }
  *keep = kept;
  *n_keep = nk;
  *stats = q.stats;
  return TFX_OK;
}
