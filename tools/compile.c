/* compile.c — model file to C files (see compile.h).
 *
 * Fixed dims: import, bind, run the passes, emit.
 *
 * Variable length (--max SYM=N): the graph is compiled at a few sample values
 * of the run-time symbols — the length S, and for decoders the cache position
 * P — and the samples must agree in everything but sizes.  Each value's size
 * is fitted as a polynomial in the symbols and the workspace is planned for
 * its largest value over 1 <= S, S + P <= N.  The C printed for each sample is
 * merged by codegen/lift.c into one body whose sizes are expressions.
 * Constants that depend on the length (position tables sliced to S, causal
 * masks) are compiled at S = N and cut to the window the call needs at run
 * time: rows P..P+S-1 along an axis of length S, rows 0..P+S-1 along one of
 * length P+S.  Each sample's constant is checked to be exactly that window. */
#include <stdlib.h>
#include <string.h>

#include "codegen/lift.h"
#include "frontend/frontend.h"
#include "tools/compile.h"

/* Sample points.  Small and varied, so that a literal that is not a
 * polynomial in the symbols (a min(), a tile size) shows up as a misfit;
 * never 1 or 0, which emitters may treat as broadcasts or empty tensors. */
static const int64_t plain_samples[] = {2, 3, 5, 7, 11};
static const int64_t grid_s[] = {2, 3, 5}, grid_p[] = {1, 2, 4};
enum { MIN_PLAIN_MAX = 5, MIN_DECODER_MAX = 9 };

typedef struct {
  const TfxCompileRequest *r;
  TfxDiag *d;
  /* The model imported once (and prepared); every sample compiles a copy
   * sharing its weights.  NULL: build imports the model itself. */
  TfxGraph *base;
  const char *past_sym; /* symbol of the past inputs' length, or NULL */
  bool decoder;
  bool keep_masks; /* see TfxGraph.keep_masks */
} Ctx;

/* The symbol that sizes the past_key_values.* inputs (decode-step exports). */
static const char *find_past_symbol(const TfxGraph *g, const char *seq) {
  for (uint32_t k = 0; k < g->n_inputs; k++) {
    const TfxValue *v = &g->values[g->inputs[k]];
    if (strncmp(v->name, "past", 4) != 0) continue;
    int a = v->rank - 2; /* [batch, heads, past, head_size] */
    if (a >= 0 && v->dim_sym[a] && strcmp(g->syms[v->dim_sym[a] - 1].name, seq) != 0)
      return g->syms[v->dim_sym[a] - 1].name;
  }
  return NULL;
}

/* A copy of c->base, or else the model freshly imported and prepared. */
static TfxGraph *fresh_graph(Ctx *c) {
  if (c->base) return tfx_graph_clone(c->base);
  const TfxCompileRequest *r = c->r;
  TfxGraph *g = tfx_import(r->model, c->d);
  if (g && r->prepare && r->prepare(g, r->prepare_arg)) {
    tfx_graph_free(g);
    return NULL;
  }
  return g;
}

/* Import (or copy) and compile at S (and P); with kv, run the KV-cache pass.
 * Returns NULL on error (reported).  *kvi is filled when kv. */
static TfxGraph *build(Ctx *c, bool have_s, int64_t S, int64_t P, bool kv, TfxKvInfo *kvi, int64_t window,
                       bool dump) {
  const TfxCompileRequest *r = c->r;
  TfxGraph *g = fresh_graph(c);
  if (!g) return NULL;
  g->keep_masks = c->keep_masks;
  TfxDimBinding b[TFX_MAX_BINDINGS + 2];
  int nb = 0;
  for (int i = 0; i < r->n_dims; i++) {
    if (have_s && strcmp(r->dims[i].name, r->max.name) == 0) continue;
    if (kv && c->past_sym && strcmp(r->dims[i].name, c->past_sym) == 0) continue;
    b[nb++] = r->dims[i];
  }
  if (have_s) b[nb++] = (TfxDimBinding){r->max.name, S};
  if (kv && c->past_sym) b[nb++] = (TfxDimBinding){c->past_sym, P};
  if (tfx_bind_dims(g, b, nb)) goto fail;
  TfxPipelineOptions po = {.opt_level = r->opt_level,
                           .dump_after = dump ? r->dump_after : NULL,
                           .dump_file = r->dump_file};
  if (tfx_run_pipeline(g, &po)) goto fail;
  if (r->quant.weight_bits) {
    int changed = 0;
    if (tfx_pass_quantize_weights(g, &r->quant, r->quant_keep, r->n_quant_keep, &changed) ||
        tfx_pass_dce(g, &changed) || tfx_graph_verify(g))
      goto fail;
  }
  if (kv) {
    TfxKvOptions ko = {.past = P, .max_seq = r->max.value, .window = window, .kv_int8 = r->quant.kv_int8};
    if (tfx_pass_kv_cache(g, &ko, kvi)) goto fail;
    int changed = 0;
    if (kvi->ok && (tfx_pass_dce(g, &changed) || tfx_graph_verify(g))) goto fail;
  }
  if (r->opt_level >= 2) {
    int changed = 0;
    if (tfx_pass_fuse_linear(g, &changed) || tfx_pass_dce(g, &changed) || tfx_graph_verify(g)) goto fail;
  }
  return g;
fail:
  tfx_graph_free(g);
  return NULL;
}

/* The samples must be one graph at different sizes. */
static TfxStatus same_structure(Ctx *c, TfxGraph *a, TfxGraph *b) {
  const char *sym = c->r->max.name;
  if (a->n_values != b->n_values || a->n_nodes != b->n_nodes || a->n_inputs != b->n_inputs ||
      a->n_outputs != b->n_outputs)
    return tfx_error(c->d, "%s: --max %s: the compiled graph changes with %s (%u/%u nodes): it cannot be "
                     "compiled for variable lengths; use --dim %s=V",
                     a->path, sym, sym, a->n_nodes, b->n_nodes, sym);
  for (uint32_t i = 0; i < a->n_nodes; i++) {
    const TfxNode *x = &a->nodes[i], *y = &b->nodes[i];
    bool same = x->op == y->op && x->dead == y->dead && x->n_inputs == y->n_inputs &&
                x->n_outputs == y->n_outputs;
    for (int k = 0; same && k < x->n_inputs; k++) same = x->inputs[k] == y->inputs[k];
    for (int k = 0; same && k < x->n_outputs; k++) same = x->outputs[k] == y->outputs[k];
    if (!same)
      return tfx_error(c->d, "%s: node '%s' (%s): --max %s: the compiled graph changes with %s here: it "
                       "cannot be compiled for variable lengths; use --dim %s=V",
                       a->path, x->name, x->op_type, sym, sym, sym);
  }
  for (uint32_t v = 0; v < a->n_values; v++) {
    const TfxValue *x = &a->values[v], *y = &b->values[v];
    if (x->dtype != y->dtype || x->rank != y->rank || !x->konst != !y->konst)
      return tfx_error(c->d, "%s: value '%s': --max %s: its type or constness changes with %s: it cannot "
                       "be compiled for variable lengths; use --dim %s=V",
                       a->path, x->name, sym, sym, sym);
  }
  return TFX_OK;
}

static bool tensor_equal(const TfxTensor *a, const TfxTensor *b) {
  if (a == b) return true; /* a weight every sample shares */
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  size_t n = tfx_tensor_bytes(a);
  return !n || memcmp(a->data, b->data, n) == 0;
}

/* Is sample tensor t exactly the window of full (rows P..P+S-1 on S-axes,
 * 0..P+S-1 on T-axes, everything on fixed axes)? */
static bool is_window(const TfxTensor *t, const TfxTensor *full, const uint8_t *axis, int64_t P) {
  if (t->dtype != full->dtype || t->rank != full->rank) return false;
  int rank = t->rank;
  int64_t fst[TFX_MAX_RANK], idx[TFX_MAX_RANK] = {0};
  int64_t s = 1;
  for (int a = rank - 1; a >= 0; a--) {
    fst[a] = s;
    s *= full->dims[a];
    int64_t lo = axis[a] == 1 ? P : 0;
    if (lo + t->dims[a] > full->dims[a]) return false;
  }
  int64_t n = tfx_tensor_numel(t);
  size_t es = tfx_dtype_bytes(t->dtype);
  const unsigned char *src = full->data, *dst = t->data;
  for (int64_t i = 0; i < n; i++) {
    int64_t off = 0;
    for (int a = 0; a < rank; a++) off += (idx[a] + (axis[a] == 1 ? P : 0)) * fst[a];
    if (memcmp(dst + (size_t)i * es, src + (size_t)off * es, es) != 0) return false;
    for (int a = rank - 1; a >= 0; a--) {
      if (++idx[a] < t->dims[a]) break;
      idx[a] = 0;
    }
  }
  return true;
}

/* Largest value of a fitted size over the domain; -1 when it can shrink as a
 * symbol grows (a negative coefficient), which the planner cannot bound. */
static int64_t size_at_bound(const TfxLiftSpec *s, const int64_t *coef, int64_t N) {
  for (int t = 1; t < TFX_LIFT_MAX_TERMS; t++)
    if (coef[t] < 0) return -1;
  int64_t best = 0;
  if (s->n_syms == 1) {
    int64_t x[2] = {N, 0};
    return tfx_lift_eval(s, coef, x);
  }
  for (int64_t S = 1; S <= N; S++) {
    int64_t x[2] = {S, N - S};
    int64_t v = tfx_lift_eval(s, coef, x);
    if (v > best) best = v;
  }
  return best;
}

static TfxStatus compile(const TfxCompileRequest *r, TfxDiag *d, TfxGenKind *kind);

/* Quantisation first measures itself (and, with a budget, picks the weights
 * that stay float32), then the model compiles as usual. */
TfxStatus tfx_compile(const TfxCompileRequest *r, TfxDiag *d, TfxGenKind *kind) {
  if (!r->quant.weight_bits && !r->quant.kv_int8) return compile(r, d, kind);
  if (r->quant.kv_int8 && (!r->max.name || r->no_kv_cache))
    return tfx_error(d, "--quantize-kv=int8 needs a decoder: compile with --dim batch=1 --max seq=N");
  char **keep = NULL;
  int n_keep = 0;
  TfxQuantCalib *stats = NULL;
  if (tfx_quant_report(r, d, &keep, &n_keep, &stats)) return TFX_ERR;
  TfxCompileRequest q = *r;
  q.quant_keep = (const char *const *)keep;
  q.n_quant_keep = n_keep;
  q.quant.stats = stats;
  TfxStatus st = compile(&q, d, kind);
  tfx_quant_keep_free(keep, n_keep);
  tfx_quant_calib_free(stats);
  return st;
}

/* Does the model have the --max symbol, within its own bound?  Sets
 * c->past_sym for decode-step exports. */
static TfxStatus check_max_symbol(Ctx *c, const TfxGraph *g) {
  const TfxCompileRequest *r = c->r;
  const char *sym = r->max.name;
  int64_t N = r->max.value;
  bool found = false;
  for (uint32_t s = 0; s < g->n_syms; s++)
    if (strcmp(g->syms[s].name, sym) == 0) {
      found = true;
      if (g->syms[s].max >= 0 && N > g->syms[s].max) {
        tfx_error(c->d, "%s: --max %s=%lld: the model allows at most %s=%lld", r->model, sym, (long long)N, sym,
                  (long long)g->syms[s].max);
        found = false;
      }
    }
  if (found) {
    const char *p = find_past_symbol(g, sym);
    c->past_sym = p ? strdup(p) : NULL;
  } else if (!c->d->count) {
    tfx_error(c->d, "%s: --max %s=%lld: the model has no dimension named '%s'", r->model, sym, (long long)N, sym);
  }
  return found ? TFX_OK : TFX_ERR;
}

/* --max: the samples, the fitted sizes and windows, and the lifted code. */
static TfxStatus compile_variable(Ctx *c, TfxGenKind *kind) {
  const TfxCompileRequest *r = c->r;
  TfxDiag *d = c->d;
  const char *sym = r->max.name;
  int64_t N = r->max.value;
  TfxStatus st = TFX_OK;
  TfxLiftSpec spec = {0};
  TfxKvInfo kvi = {0};
  /* a decoder when the KV-cache pass accepts the graph at full length, where
   * sliding windows show in the masks (short samples cannot tell) */
  TfxGraph *full = NULL;
  int64_t kv_window = 0;
  if (r->why_not_decoder && r->why_size)
    snprintf(r->why_not_decoder, r->why_size, "%s", r->no_kv_cache ? "--no-kv-cache was given" : "");
  if (!r->no_kv_cache) {
    full = build(c, true, N, 0, true, &kvi, 0, false);
    if (!full) return TFX_ERR;
    c->decoder = kvi.ok;
    if (!kvi.ok && r->why_not_decoder && r->why_size) snprintf(r->why_not_decoder, r->why_size, "%s", kvi.why);
    if (c->decoder && N < MIN_DECODER_MAX) {
      tfx_graph_free(full);
      return tfx_error(d, "%s: --max %s=%lld: a decoder needs a bound of at least %d (or --no-kv-cache)",
                       r->model, sym, (long long)N, MIN_DECODER_MAX);
    }
    if (!c->decoder) {
      tfx_graph_free(full);
      full = NULL;
    }
    for (uint32_t i = 0; full && i < full->n_nodes; i++)
      if (!full->nodes[i].dead && full->nodes[i].op == TFX_OP_KvAttention) {
        int64_t w = tfx_attr_int(&full->nodes[i], "window", 0);
        if (w > kv_window) kv_window = w;
      }
  }
  if (c->decoder) {
    spec.n_syms = 2;
    spec.sym_expr[0] = "tfx_S";
    spec.sym_expr[1] = "tfx_P";
    for (size_t i = 0; i < 3; i++)
      for (size_t j = 0; j < 3; j++) {
        spec.sample[spec.k][0] = grid_s[i];
        spec.sample[spec.k][1] = grid_p[j];
        spec.k++;
      }
  } else {
    /* a mask kept at full length (a sliding window) may look causal at the
     * short samples: keep every mask then, so all samples fuse alike */
    TfxGraph *probe = N >= MIN_PLAIN_MAX ? build(c, true, N, 0, false, NULL, 0, false) : NULL;
    for (uint32_t i = 0; probe && i < probe->n_nodes; i++)
      if (!probe->nodes[i].dead && probe->nodes[i].op == TFX_OP_Attention && probe->nodes[i].n_inputs > 3 &&
          probe->nodes[i].inputs[3] != TFX_NONE)
        c->keep_masks = true;
    if (probe) tfx_graph_free(probe);
    if (N < MIN_PLAIN_MAX)
      return tfx_error(d, "--max %s=%lld: the bound must be at least %d (use --dim %s=%lld for one length)",
                       sym, (long long)N, MIN_PLAIN_MAX, sym, (long long)N);
    spec.n_syms = 1;
    spec.sym_expr[0] = "tfx_S";
    for (size_t i = 0; i < sizeof plain_samples / sizeof *plain_samples; i++)
      if (plain_samples[i] <= N) spec.sample[spec.k++][0] = plain_samples[i];
  }

  TfxGraph *gs[TFX_LIFT_MAX_SAMPLES] = {0};
  int k = spec.k;
  for (int i = 0; i < k && !st; i++) {
    TfxKvInfo ki = {0};
    gs[i] = build(c, true, spec.sample[i][0], spec.sample[i][1], c->decoder, &ki, kv_window, i == 0);
    if (!gs[i]) st = TFX_ERR;
    else if (c->decoder && !ki.ok)
      st = tfx_error(d, "%s: --max %s: the graph is a decoder at some lengths only: %s", r->model, sym, ki.why);
    else if (i > 0)
      st = same_structure(c, gs[0], gs[i]);
    if (!st && c->decoder && i == 0) kvi = ki;
  }
  if (!st && !full) {
    TfxKvInfo ki = {0};
    full = build(c, true, N, 0, c->decoder, &ki, kv_window, false);
    if (!full) st = TFX_ERR;
  }

  TfxGraph *g0 = gs[0];
  uint32_t nv = g0 ? g0->n_values : 0;
  int64_t *bytes = calloc(nv + 1, sizeof *bytes);
  const TfxTensor **window = calloc(nv + 1, sizeof *window);
  uint8_t *win_axis = calloc((size_t)(nv + 1) * TFX_MAX_RANK, 1);
  bool *unliftable = calloc(nv + 1, sizeof *unliftable);
  if (!bytes || !window || !win_axis || !unliftable) abort();
  for (uint32_t v = 0; v < nv && !st; v++) {
    const TfxValue *val = &g0->values[v];
    if (val->rank < 0) continue;
    int64_t y[TFX_LIFT_MAX_SAMPLES], coef[TFX_LIFT_MAX_TERMS];
    int64_t dcoef[TFX_MAX_RANK][TFX_LIFT_MAX_TERMS];
    bool varies = false;
    for (int a = 0; a < val->rank && !st; a++) {
      for (int i = 0; i < k; i++) y[i] = gs[i]->values[v].dims[a];
      if (tfx_lift_fit(&spec, y, dcoef[a]) < 0)
        st = tfx_error(d, "%s: value '%s': dim %d is not a polynomial in the run-time lengths: it cannot be "
                       "compiled for variable lengths",
                       r->model, val->name, a);
      for (int t = 1; t < TFX_LIFT_MAX_TERMS; t++)
        if (dcoef[a][t]) varies = true;
    }
    if (st) break;
    if (!val->konst) {
      for (int i = 0; i < k; i++)
        y[i] = tfx_numel(gs[i]->values[v].rank, gs[i]->values[v].dims) *
               (int64_t)tfx_dtype_bytes(val->dtype);
      if (tfx_lift_fit(&spec, y, coef) < 0 || (bytes[v] = size_at_bound(&spec, coef, N)) < 0)
        st = tfx_error(d, "%s: value '%s': its size is not a growing polynomial in the run-time lengths: it "
                       "cannot be compiled for variable lengths",
                       r->model, val->name);
      continue;
    }
    bool same = !varies;
    for (int i = 1; i < k && same; i++) same = tensor_equal(val->konst, gs[i]->values[v].konst);
    if (same) continue;
    /* a length-dependent constant: classify its axes, then check the windows */
    uint8_t *ax = win_axis + (size_t)v * TFX_MAX_RANK;
    bool ok = true;
    for (int a = 0; a < val->rank && ok; a++) {
      const int64_t *cf = dcoef[a];
      bool only_const = true;
      for (int t = 1; t < TFX_LIFT_MAX_TERMS; t++)
        if (cf[t]) only_const = false;
      if (only_const) ax[a] = 0;
      else if (spec.n_syms == 1 && cf[1] == 1 && cf[0] >= 0 && !cf[3])
        ax[a] = 2; /* S + c rows (c: a fixed past): the first rows of the full table */
      else if (cf[0] == 0 && cf[1] == 1 && (spec.n_syms == 1 || cf[2] == 0) && !cf[3] && !cf[4] && !cf[5])
        ax[a] = 1;
      else if (spec.n_syms == 2 && cf[0] == 0 && cf[1] == 1 && cf[2] == 1 && !cf[3] && !cf[4] && !cf[5])
        ax[a] = 2;
      else
        ok = false;
    }
    uint32_t fv = full ? tfx_graph_find_value(full, val->name) : TFX_NONE;
    const TfxTensor *ft = fv != TFX_NONE ? full->values[fv].konst : NULL;
    for (int i = 0; i < k && ok; i++)
      /* a plain export run as a decoder computes positions from 0: its window
       * starts at P only in the generated code (the rows of a longer run) */
      ok = ft && is_window(gs[i]->values[v].konst, ft, ax, c->past_sym ? spec.sample[i][1] : 0);
    if (!ok) {
      unliftable[v] = true; /* fine while no code reads it (shape operands) */
      continue;
    }
    window[v] = ft;
    bytes[v] = (int64_t)tfx_tensor_bytes(ft);
  }

  if (!st) {
    TfxCLift lift = {.n_samples = k,
                     .g = gs,
                     .spec = spec,
                     .param = sym,
                     .max = N,
                     .bytes = bytes,
                     .window = window,
                     .win_axis = win_axis,
                     .varies = unliftable,
                     .decoder = c->decoder};
    if (c->decoder) {
      lift.vocab = kvi.vocab;
      lift.token_limit = kvi.token_limit;
      lift.kv_floats = kvi.kv_floats;
      lift.kv_bytes = kvi.kv_bytes ? kvi.kv_bytes : kvi.kv_floats * 4;
    }
    TfxCOptions co = r->c;
    co.lift = &lift;
    st = tfx_emit_c(g0, &co);
    if (!st && kind) *kind = c->decoder ? TFX_GEN_DECODER : TFX_GEN_VARIABLE;
  }
  for (int i = 0; i < k; i++)
    if (gs[i]) tfx_graph_free(gs[i]);
  if (full) tfx_graph_free(full);
  free(bytes);
  free(window);
  free(win_axis);
  free(unliftable);
  return st;
}

static TfxStatus compile(const TfxCompileRequest *r, TfxDiag *d, TfxGenKind *kind) {
  Ctx c = {.r = r, .d = d};
  if (kind) *kind = TFX_GEN_FIXED;
  if (!r->max.name) {
    TfxGraph *g = build(&c, false, 0, 0, false, NULL, 0, true);
    if (!g) return TFX_ERR;
    TfxStatus st = tfx_emit_c(g, &r->c);
    tfx_graph_free(g);
    return st;
  }

  if (r->c.emit_main)
    return tfx_error(d, "--emit-main reads fixed-shape inputs: it cannot be combined with --max");
  /* every sample shares one import of the weights */
  c.base = tfx_import(r->model, d);
  if (!c.base) return TFX_ERR;
  TfxStatus st = check_max_symbol(&c, c.base);
  if (!st && r->prepare) st = r->prepare(c.base, r->prepare_arg);
  if (!st) st = compile_variable(&c, kind);
  tfx_graph_free(c.base);
  free((char *)c.past_sym);
  return st;
}
