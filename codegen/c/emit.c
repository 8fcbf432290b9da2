/* emit.c — the C backend's driver: plans memory, prints the weights, the
 * header, <name>_init and <name>_run with each node's code (from its op's
 * emit_c), and writes <name>.c/.h/.bin atomically (temporary names, renamed
 * only when everything succeeded).  Output is a pure function of the graph
 * and options, so builds are reproducible. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codegen/c/cemit.h"
#include "codegen/c/kernels.h"

enum { EMBED_LIMIT = 16 << 20, WEIGHTS_HEADER = 64 };

typedef struct {
  TfxGraph *g;
  const TfxCOptions *opt;
  TfxCEmit e;
  TfxMemPlan plan;
  bool *used;          /* value referenced by the printed code */
  bool *body_ref;      /* ... by the node code itself (not the final copies) */
  int64_t *woff;       /* file mode: weight offset in the .bin, -1 if none */
  const char **params; /* per graph input k / output k: parameter name */
  const char **oparams;
  char upper[128];
  bool file_weights;
  int64_t weights_bytes;
  const TfxCLift *lift; /* NULL: fixed shapes */
  int64_t *win_off;     /* per value: workspace offset of a length-dependent window, -1 */
  int64_t kv_off;       /* workspace offset of the KV cache (decoders) */
  int64_t ws_total;     /* NAME_WORKSPACE_BYTES */
  int64_t pool_off;     /* workspace offset of the thread pool (threads > 1) */
  int threads;          /* most threads the code may use (1: no pool) */
  int sample;           /* the lifted sample being printed */
  uint8_t *pack;        /* per value: 0, or the weight is stored prepacked from K x N (1) or N x K (2) */
} Emitter;

/* The constant printed for value v: the full-length one for a window. */
static const TfxTensor *const_of(const Emitter *m, uint32_t v) {
  if (m->lift && m->lift->window[v]) return m->lift->window[v];
  return m->g->values[v].konst;
}

static void sanitize(char *out, size_t size, const char *s) {
  size_t j = 0;
  for (size_t i = 0; s[i] && j + 1 < size && j < 40; i++)
    out[j++] = isalnum((unsigned char)s[i]) ? s[i] : '_';
  out[j] = 0;
}

/* The model's file name without its folder: output must not depend on where
 * the model sits, or builds from two checkouts would differ. */
static const char *path_base(const char *path) {
  const char *b = strrchr(path, '/');
  return b && b[1] ? b + 1 : path;
}

static bool is_identifier(const char *s) {
  if (!s || !*s || !(isalpha((unsigned char)*s) || *s == '_')) return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_') return false;
  return true;
}

/* ---- weights ------------------------------------------------------------- */
static void print_embedded(FILE *f, const char *name, uint32_t id, const TfxTensor *t) {
  int64_t n = tfx_tensor_numel(t);
  int64_t count = n ? n : 1;
  const char *ct = tfx_dtype_ctype(t->dtype);
  bool punned = t->dtype == TFX_F32 || t->dtype == TFX_F64;
  if (punned)
    fprintf(f, "static const union { %s u[%lld]; %s f[%lld]; } %s_c%u = {{",
            t->dtype == TFX_F32 ? "uint32_t" : "uint64_t", (long long)count, ct, (long long)count,
            name, id);
  else
    fprintf(f, "static const %s %s_c%u[%lld] = {", ct, name, id, (long long)count);
  const unsigned char *p = t->data;
  for (int64_t i = 0; i < count; i++) {
    if (i % 12 == 0) fputs("\n  ", f);
    if (i >= n) {
      fputs("0", f);
      break;
    }
    switch (t->dtype) {
    case TFX_F32: { uint32_t u; memcpy(&u, p + 4 * i, 4); fprintf(f, "0x%08xu,", u); break; }
    case TFX_F64: { uint64_t u; memcpy(&u, p + 8 * i, 8); fprintf(f, "0x%016llxull,", (unsigned long long)u); break; }
    case TFX_U64: { uint64_t u; memcpy(&u, p + 8 * i, 8); fprintf(f, "%lluull,", (unsigned long long)u); break; }
    case TFX_I64: {
      int64_t v = tfx_tensor_get_i64(t, i);
      if (v == INT64_MIN) fputs("INT64_MIN,", f);
      else fprintf(f, "INT64_C(%lld),", (long long)v);
      break;
    }
    case TFX_U32: fprintf(f, "%lluu,", (unsigned long long)tfx_tensor_get_i64(t, i)); break;
    case TFX_F16: case TFX_BF16: { uint16_t u; memcpy(&u, p + 2 * i, 2); fprintf(f, "0x%04xu,", u); break; }
    case TFX_I32:
      if (tfx_tensor_get_i64(t, i) == INT32_MIN) fputs("INT32_MIN,", f);
      else fprintf(f, "%lld,", (long long)tfx_tensor_get_i64(t, i));
      break;
    default: fprintf(f, "%lld,", (long long)tfx_tensor_get_i64(t, i)); break;
    }
  }
  fputs(punned ? "\n}};\n" : "\n};\n", f);
}

/* ---- prepacked weights ------------------------------------------------------
 * A float32 weight read only as the weight of Linear nodes (all with the same
 * trans_b) is stored as the GEMM reads it: panels of 16 columns of the K x N
 * matrix, each K x 16 and contiguous, the last one zero-padded, so no call
 * packs it again (codegen/c/kernels.c, layout 2).  A trans_b weight N x K may
 * also be read by Gathers of its rows (a tied embedding table and LM head):
 * the Gather reads a row from its panel, K floats 16 apart (ir/ops/
 * shape_index.c), and the head's GEMM streams the panels. */
static void find_packed(Emitter *m) {
  /* transient states beside 1 (K x N) and 2 (N x K): no reader seen yet, and
   * read by row Gathers alone (which fit 2) */
  enum { CANDIDATE = 3, ROWS = 4 };
  TfxGraph *g = m->g;
  for (uint32_t v = 0; v < g->n_values; v++) m->pack[v] = 0;
  for (uint32_t v = 0; v < g->n_values; v++) {
    const TfxValue *val = &g->values[v];
    if (val->konst && val->dtype == TFX_F32 && val->rank == 2 && !val->is_output &&
        !(m->lift && (m->lift->window[v] || m->lift->varies[v])))
      m->pack[v] = CANDIDATE;
  }
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++) {
      uint32_t v = n->inputs[k];
      if (v == TFX_NONE || !m->pack[v]) continue;
      uint8_t want = n->op == TFX_OP_Linear && k == 1 ? (tfx_attr_int(n, "trans_b", 0) ? 2 : 1) : 0;
      if (n->op == TFX_OP_Gather && k == 0 && tfx_attr_int(n, "axis", 0) == 0) want = ROWS;
      const uint8_t was = m->pack[v];
      if (was == CANDIDATE || was == want) m->pack[v] = want;
      else if ((was == ROWS && want == 2) || (was == 2 && want == ROWS)) m->pack[v] = 2;
      else m->pack[v] = 0;
    }
  }
  for (uint32_t v = 0; v < g->n_values; v++)
    if (m->pack[v] == CANDIDATE || m->pack[v] == ROWS) m->pack[v] = 0;
}

static void pack_dims(const Emitter *m, uint32_t v, int64_t *K, int64_t *N) {
  const TfxTensor *t = m->g->values[v].konst;
  *K = t->dims[m->pack[v] == 2 ? 1 : 0];
  *N = t->dims[m->pack[v] == 2 ? 0 : 1];
}

static int64_t stored_bytes(const Emitter *m, uint32_t v) {
  if (!m->pack[v]) return (int64_t)tfx_tensor_bytes(const_of(m, v));
  int64_t K, N;
  pack_dims(m, v, &K, &N);
  return (N + 15) / 16 * 16 * K * (int64_t)sizeof(float);
}

/* Panel p of weight v into out[K * 16]. */
static void pack_panel(const Emitter *m, uint32_t v, int64_t p, float *out) {
  const float *w = m->g->values[v].konst->data;
  int64_t K, N;
  pack_dims(m, v, &K, &N);
  const int64_t j0 = p * 16, nr = N - j0 < 16 ? N - j0 : 16;
  if (nr < 16) memset(out, 0, (size_t)K * 16 * sizeof(float));
  if (m->pack[v] == 1) {
    for (int64_t k = 0; k < K; k++) memcpy(out + k * 16, w + k * N + j0, (size_t)nr * sizeof(float));
    return;
  }
  for (int64_t j = 0; j < nr; j++) {
    const float *src = w + (j0 + j) * K;
    for (int64_t k = 0; k < K; k++) out[k * 16 + j] = src[k];
  }
}

/* The whole prepacked weight (embedded weights only: they are small). */
static TfxTensor *pack_whole(const Emitter *m, uint32_t v, TfxTensor *t) {
  int64_t K, N;
  pack_dims(m, v, &K, &N);
  int64_t panels = (N + 15) / 16;
  memset(t, 0, sizeof *t);
  t->dtype = TFX_F32;
  t->rank = 1;
  t->dims[0] = panels * 16 * K;
  t->data = malloc((size_t)(t->dims[0] ? t->dims[0] : 1) * sizeof(float));
  if (!t->data) abort();
  for (int64_t p = 0; p < panels; p++) pack_panel(m, v, p, (float *)t->data + p * 16 * K);
  return t;
}

/* ---- declarations -------------------------------------------------------- */
static void name_vars(Emitter *m) {
  TfxGraph *g = m->g;
  char s[64], buf[128];
  for (uint32_t v = 0; v < g->n_values; v++) {
    if (!m->used[v]) continue;
    sanitize(s, sizeof s, g->values[v].name);
    snprintf(buf, sizeof buf, "v%u_%s", v, s);
    m->e.vars[v] = tfx_graph_strdup(g, buf);
  }
  for (uint32_t k = 0; k < g->n_inputs; k++) {
    sanitize(s, sizeof s, g->values[g->inputs[k]].name);
    snprintf(buf, sizeof buf, "in%u_%s", k, s);
    m->params[k] = tfx_graph_strdup(g, buf);
  }
  for (uint32_t k = 0; k < g->n_outputs; k++) {
    sanitize(s, sizeof s, g->values[g->outputs[k]].name);
    snprintf(buf, sizeof buf, "out%u_%s", k, s);
    m->oparams[k] = tfx_graph_strdup(g, buf);
  }
}

/* "float32[1,seq,384]": a value's type, with run-time sizes named. */
static const char *type_text(const Emitter *m, char *buf, size_t size, const TfxValue *v) {
  if (!m->lift) return tfx_c_type_text(buf, size, v);
  TfxLiftSpec names = m->lift->spec;
  char sym[64], e[256];
  sanitize(sym, sizeof sym, m->lift->param);
  names.sym_expr[0] = sym;
  names.sym_expr[1] = "pos";
  uint32_t id = (uint32_t)(v - m->g->values);
  size_t n = (size_t)snprintf(buf, size, "%s[", tfx_dtype_name(v->dtype));
  for (int a = 0; a < v->rank && n < size; a++) {
    int64_t y[TFX_LIFT_MAX_SAMPLES], coef[TFX_LIFT_MAX_TERMS];
    for (int i = 0; i < m->lift->n_samples; i++) y[i] = m->lift->g[i]->values[id].dims[a];
    if (tfx_lift_fit(&names, y, coef) < 0) snprintf(e, sizeof e, "?");
    else tfx_lift_expr(&names, coef, e, sizeof e);
    n += (size_t)snprintf(buf + n, size - n, "%s%s", a ? "," : "", e);
  }
  if (n < size) snprintf(buf + n, size - n, "]");
  return buf;
}

static void print_signature(Emitter *m, FILE *f, bool comments) {
  TfxGraph *g = m->g;
  char ty[256], cm[256], sym[64];
  fprintf(f, "int %s_run(%s_ctx *ctx", m->opt->name, m->opt->name);
  if (m->lift) {
    sanitize(sym, sizeof sym, m->lift->param);
    fprintf(f, ", int64_t %s", sym);
  }
  if (m->lift && m->lift->decoder) {
    const TfxValue *t = &g->values[g->inputs[0]], *l = &g->values[g->outputs[0]];
    fprintf(f, ", const %s *%s, %s *%s)", tfx_dtype_ctype(t->dtype), m->params[0], tfx_dtype_ctype(l->dtype),
            m->oparams[0]);
    return;
  }
  for (uint32_t k = 0; k < g->n_inputs; k++) {
    const TfxValue *v = &g->values[g->inputs[k]];
    tfx_c_comment_text(cm, sizeof cm, v->name);
    fprintf(f, ",\n    const %s *%s", tfx_dtype_ctype(v->dtype), m->params[k]);
    if (comments) fprintf(f, " /* %s: %s */", cm, type_text(m, ty, sizeof ty, v));
  }
  for (uint32_t k = 0; k < g->n_outputs; k++) {
    const TfxValue *v = &g->values[g->outputs[k]];
    tfx_c_comment_text(cm, sizeof cm, v->name);
    fprintf(f, ",\n    %s *%s", tfx_dtype_ctype(v->dtype), m->oparams[k]);
    if (comments) fprintf(f, " /* %s: %s */", cm, type_text(m, ty, sizeof ty, v));
  }
  fputs(")", f);
}

static void print_header(Emitter *m, FILE *f) {
  const char *nm = m->opt->name, *U = m->upper;
  TfxGraph *g = m->g;
  const TfxCLift *L = m->lift;
  char cm[256], sym[64], SYM[64];
  tfx_c_comment_text(cm, sizeof cm, path_base(g->path));
  fprintf(f, "/* %s.h — generated by tfxc from %s.  Do not edit. */\n", nm, cm);
  fprintf(f, "#ifndef %s_H\n#define %s_H\n\n#include <stddef.h>\n#include <stdint.h>\n%s\n", U, U,
          m->opt->profile ? "#include <stdio.h>\n" : "");
  fprintf(f, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
  fprintf(f, "/* Bytes of scratch memory <name>_init needs (16-byte aligned)%s. */\n",
          L && L->decoder ? ", the KV cache included" : "");
  fprintf(f, "#define %s_WORKSPACE_BYTES ((size_t)%lld)\n", U, (long long)m->ws_total);
  fprintf(f, "/* Bytes of the weights file %s.bin (0: weights are compiled in). */\n", nm);
  fprintf(f, "#define %s_WEIGHTS_BYTES ((size_t)%lld)\n", U, (long long)(m->file_weights ? m->weights_bytes : 0));
  fprintf(f, "#define %s_NUM_INPUTS %u\n#define %s_NUM_OUTPUTS %u\n", U, g->n_inputs, U, g->n_outputs);
  fprintf(f, "/* The instruction set the code is written for (tfxc --cpu): %s", tfx_c_cpu_what(m->opt->cpu));
  if (tfx_c_cpu_checked(m->opt->cpu))
    fprintf(f, ";\n * on a processor without %s, %s_init returns %s_ERR_CPU", tfx_c_cpu_lacks(m->opt->cpu), nm, U);
  fprintf(f, ". */\n#define %s_CPU \"%s\"\n", U, tfx_cpu_name(m->opt->cpu));
  if (L) {
    sanitize(sym, sizeof sym, L->param);
    size_t i = 0;
    for (; sym[i] && i + 1 < sizeof SYM; i++) SYM[i] = (char)toupper((unsigned char)sym[i]);
    SYM[i] = 0;
    fprintf(f, "/* Largest run-time %s: %s_run takes any length from 1 to this. */\n", sym, nm);
    fprintf(f, "#define %s_MAX_%s %lld\n", U, SYM, (long long)L->max);
    if (L->decoder && strcmp(SYM, "SEQ") != 0) fprintf(f, "#define %s_MAX_SEQ %lld\n", U, (long long)L->max);
  }
  if (L && L->decoder) {
    fprintf(f, "/* Logits per token, and the part of the workspace that holds the KV cache. */\n");
    fprintf(f, "#define %s_VOCAB %lld\n", U, (long long)L->vocab);
    fprintf(f, "/* Token ids run from 0 to %s_TOKENS - 1 (the rows of the embedding table). */\n", U);
    fprintf(f, "#define %s_TOKENS %lld\n", U, (long long)L->token_limit);
    fprintf(f, "#define %s_KV_BYTES ((size_t)%lld)\n", U, (long long)L->kv_bytes);
  }
  fputc('\n', f);
  /* a trailing comma is C99 */
  fprintf(f, "enum {\n  %s_OK = 0,\n  %s_ERR_NULL = 1,      /* a required pointer is NULL */\n"
             "  %s_ERR_WORKSPACE = 2, /* workspace too small or misaligned */\n"
             "  %s_ERR_WEIGHTS = 3,   /* weights missing, wrong size or corrupt */\n"
             "  %s_ERR_STATE = 4,     /* context not initialised */\n"
             "  %s_ERR_DIM = 5,       /* a run-time length outside 1..max */\n"
             "  %s_ERR_INPUT = 6,     /* a token id outside the vocabulary */\n",
          U, U, U, U, U, U, U);
  if (m->threads > 1) fprintf(f, "  %s_ERR_THREAD = 7,    /* a worker thread could not be started */\n", U);
  if (tfx_c_cpu_checked(m->opt->cpu))
    fprintf(f, "  %s_ERR_CPU = 8,       /* the processor lacks the instructions of %s_CPU */\n", U, U);
  fputs("};\n\n", f);
  const int np = m->opt->profile ? tfx_c_profile_nodes(g) : 0;
  if (m->opt->profile) fprintf(f, "#define %s_PROFILE_NODES %d\n\n", U, np);
  fprintf(f, "/* All mutable state: one context per concurrent caller. */\n");
  fprintf(f, "typedef struct {\n  unsigned char *ws;\n  const unsigned char *weights;\n  int ready;\n"
             "  int64_t pos; /* tokens in the KV cache (decoders) */\n");
  if (m->opt->profile) /* one element at least: C has no empty arrays */
    fprintf(f, "  double prof_seconds[%d]; /* --profile, per node */\n  int64_t prof_runs[%d];\n", np ? np : 1,
            np ? np : 1);
  fprintf(f, "} %s_ctx;\n\n", nm);
  fprintf(f, "int %s_init(%s_ctx *ctx, void *workspace, size_t workspace_bytes,\n    const void *weights, size_t weights_bytes);\n", nm, nm);
  if (L && L->decoder) {
    fprintf(f, "/* The whole sequence from an empty cache: %s_reset, then %s_prefill.\n", nm, nm);
    fprintf(f, " * logits: %s values per token, row i for input_ids[i]. */\n", sym);
  } else {
    fprintf(f, "/* Buffers must not overlap.  Returns %s_OK or an error code. */\n", U);
  }
  print_signature(m, f, true);
  fputs(";\n", f);
  if (L && L->decoder) {
    fprintf(f, "/* Empty the KV cache: the next token is at position 0. */\nint %s_reset(%s_ctx *ctx);\n", nm, nm);
    fprintf(f, "/* Append n tokens at the current position; logits gets n x %s_VOCAB values,\n"
               " * row i for tokens[i].  %s_ERR_DIM when n < 1 or the cache would exceed\n"
               " * %s_MAX_SEQ, %s_ERR_INPUT for a token outside 0..%lld; nothing changes then. */\n",
            U, U, U, U, (long long)(L->token_limit - 1));
    fprintf(f, "int %s_prefill(%s_ctx *ctx, const int64_t *tokens, int64_t n, float *logits);\n", nm, nm);
    if (m->e.last_row_used)
      fprintf(f, "/* As %s_prefill, but logits gets the %s_VOCAB values of the last token\n"
                 " * alone: what generation needs, without the product of the other rows\n"
                 " * with the output head.  The cache is the same as after %s_prefill. */\n", nm, U, nm);
    else
      fprintf(f, "/* As %s_prefill, but logits gets the %s_VOCAB values of the last token\n"
                 " * alone.  The node writing the logits cannot leave rows out here, so the\n"
                 " * tokens go through one at a time; the cache equals %s_prefill's within\n"
                 " * rounding. */\n", nm, U, nm);
    fprintf(f, "int %s_prefill_last(%s_ctx *ctx, const int64_t *tokens, int64_t n, float *logits);\n", nm, nm);
    fprintf(f, "/* Append one token; logits gets %s_VOCAB values. */\n", U);
    fprintf(f, "int %s_decode(%s_ctx *ctx, int64_t token, float *logits);\n", nm, nm);
    fprintf(f, "/* Tokens in the cache (-1 for a NULL or uninitialised context). */\n");
    fprintf(f, "int64_t %s_position(const %s_ctx *ctx);\n", nm, nm);
  }
  if (m->threads > 1) {
    fprintf(f, "/* Run on n threads, the caller's included (1 <= n <= %s_MAX_THREADS; after\n"
               " * %s_init: 1).  n > 1 starts worker threads that wait between calls; n = 1\n"
               " * joins them.  They use the workspace: call %s_set_threads(ctx, 1) before\n"
               " * freeing it or passing it to %s_init again.  %s_ERR_DIM for n outside\n"
               " * 1..%s_MAX_THREADS, %s_ERR_THREAD when a thread cannot start (the context\n"
               " * is then back to one thread).  The program must be built with -pthread. */\n",
            U, nm, nm, nm, U, U, U);
    fprintf(f, "#define %s_MAX_THREADS %d\nint %s_set_threads(%s_ctx *ctx, int n);\n", U, m->threads, nm, nm);
  }
  if (m->opt->profile) tfx_c_profile_header(f, g, nm, U);
  fprintf(f, "const char *%s_status_str(int status);\n\n#ifdef __cplusplus\n}\n#endif\n#endif\n", nm);
}

static void print_helpers(Emitter *m, FILE *f) {
  /* a pair is printed whole; a program may use only one half of it */
  if (m->threads > 1) m->e.need[TFX_HELP_POOL] = true; /* set_threads uses it */
  if (m->e.need[TFX_HELP_F16] || m->e.need[TFX_HELP_BF16] || m->e.need[TFX_HELP_POOL] || m->e.need[TFX_HELP_MATH])
    fputs("#if defined(__GNUC__) || defined(__clang__)\n#define TFX_MAYBE_UNUSED __attribute__((unused))\n"
          "#else\n#define TFX_MAYBE_UNUSED\n#endif\n", f);
  if (m->e.need[TFX_HELP_F16]) {
    fputs("static TFX_MAYBE_UNUSED float tfx_h2f(uint16_t h) {\n"
          "  uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, x = h & 0x3ffu, u;\n"
          "  float f;\n"
          "  if (e == 0x1fu) u = s | 0x7f800000u | (x << 13);\n"
          "  else if (e == 0) { f = ldexpf((float)x, -24); return s ? -f : f; }\n"
          "  else u = s | ((e + 112u) << 23) | (x << 13);\n"
          "  memcpy(&f, &u, 4);\n  return f;\n}\n"
          "static TFX_MAYBE_UNUSED uint16_t tfx_f2h(float f) {\n"
          "  uint32_t u, s, e, x, h, r;\n  int ex;\n  memcpy(&u, &f, 4);\n"
          "  s = (u >> 16) & 0x8000u; e = (u >> 23) & 0xffu; x = u & 0x7fffffu;\n"
          "  if (e == 0xffu) return (uint16_t)(s | 0x7c00u | (x ? 0x200u | (x >> 13) : 0u));\n"
          "  ex = (int)e - 112;\n"
          "  if (ex >= 0x1f) return (uint16_t)(s | 0x7c00u);\n"
          "  if (ex <= 0) {\n"
          "    int sh;\n    uint32_t mid;\n"
          "    if (ex < -10) return (uint16_t)s;\n"
          "    x |= 0x800000u; sh = 14 - ex; h = x >> sh; r = x & ((1u << sh) - 1u); mid = 1u << (sh - 1);\n"
          "    if (r > mid || (r == mid && (h & 1u))) h++;\n"
          "    return (uint16_t)(s | h);\n  }\n"
          "  h = ((uint32_t)ex << 10) | (x >> 13); r = x & 0x1fffu;\n"
          "  if (r > 0x1000u || (r == 0x1000u && (h & 1u))) h++;\n"
          "  return (uint16_t)(s | h);\n}\n", f);
  }
  if (m->e.need[TFX_HELP_BF16]) {
    fputs("static TFX_MAYBE_UNUSED float tfx_b2f(uint16_t h) {\n  uint32_t u = (uint32_t)h << 16;\n  float f;\n"
          "  memcpy(&f, &u, 4);\n  return f;\n}\n"
          "static TFX_MAYBE_UNUSED uint16_t tfx_f2b(float f) {\n  uint32_t u;\n  memcpy(&u, &f, 4);\n"
          "  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);\n"
          "  u += 0x7fffu + ((u >> 16) & 1u);\n  return (uint16_t)(u >> 16);\n}\n", f);
  }
  if (m->e.need[TFX_HELP_SIMD] && m->opt->cpu == TFX_CPU_AUTO) tfx_c_print_simd(f);
  if (m->e.need[TFX_HELP_POOL]) tfx_c_print_pool(f, m->threads);
  if (m->e.need[TFX_HELP_MATH]) tfx_c_print_math(f);
  if (m->e.need[TFX_HELP_SGEMM]) tfx_c_print_sgemm(f);
  if (m->e.need[TFX_HELP_ATTN]) tfx_c_print_attn(f);
  if (m->e.need[TFX_HELP_QMM]) tfx_c_print_qmm(f);
}

static void print_set_threads(Emitter *m, FILE *f) {
  const char *nm = m->opt->name, *U = m->upper;
  fprintf(f, "int %s_set_threads(%s_ctx *ctx, int n) {\n  if (!ctx) return %s_ERR_NULL;\n"
             "  if (!ctx->ready) return %s_ERR_STATE;\n  if (n < 1 || n > %s_MAX_THREADS) return %s_ERR_DIM;\n",
          nm, nm, U, U, U, U);
  fprintf(f, "  return tfx_pool_resize((tfx_pool *)(void *)(ctx->ws + %lld), n) ? %s_ERR_THREAD : %s_OK;\n}\n\n",
          (long long)m->pool_off, U, U);
}

static void print_init(Emitter *m, FILE *f) {
  const char *nm = m->opt->name, *U = m->upper;
  if (m->file_weights)
    fputs("/* a little-endian 64-bit word */\n"
          "static uint64_t tfx_le64(const unsigned char *p) {\n"
          "#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__\n"
          "  uint64_t x;\n  memcpy(&x, p, 8);\n  return x;\n"
          "#else\n"
          "  return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |\n"
          "         (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;\n"
          "#endif\n"
          "}\n\n", f);
  fprintf(f, "int %s_init(%s_ctx *ctx, void *workspace, size_t workspace_bytes,\n    const void *weights, size_t weights_bytes) {\n", nm, nm);
  fprintf(f, "  if (!ctx) return %s_ERR_NULL;\n  ctx->ws = NULL;\n  ctx->weights = NULL;\n  ctx->ready = 0;\n  ctx->pos = 0;\n", U);
  tfx_c_print_cpu_check(f, m->opt->cpu, U);
  if (m->ws_total > 0) {
    fprintf(f, "  if (!workspace) return %s_ERR_NULL;\n", U);
    fprintf(f, "  if (workspace_bytes < %s_WORKSPACE_BYTES || ((uintptr_t)workspace & 15u) != 0)\n    return %s_ERR_WORKSPACE;\n", U, U);
  } else {
    fputs("  (void)workspace_bytes;\n", f);
  }
  if (m->file_weights) {
    fprintf(f, "  {\n    const unsigned char *w = (const unsigned char *)weights;\n"
               "    uint64_t l0 = 1469598103934665603ull, l1 = l0 + 1u, l2 = l0 + 2u, l3 = l0 + 3u, want = 0;\n"
               "    size_t i;\n");
    fprintf(f, "    if (!w) return %s_ERR_NULL;\n", U);
    fprintf(f, "    if (weights_bytes != %s_WEIGHTS_BYTES || ((uintptr_t)w & 15u) != 0 || memcmp(w, \"TFXW\\002\", 5) != 0)\n"
               "      return %s_ERR_WEIGHTS;\n", U, U);
    fprintf(f, "    for (i = 0; i < 8; i++) want |= (uint64_t)w[16 + i] << (8 * i);\n");
    fputs("    /* the checksum of format 2 (codegen/c/emit.c, WHash): four lanes of 64-bit words */\n", f);
    fprintf(f, "    for (i = %d; i < weights_bytes; i += 32) {\n", WEIGHTS_HEADER);
    for (int k = 0; k < 4; k++)
      fprintf(f, "      l%d = (l%d ^ tfx_le64(w + i + %d)) * 1099511628211ull;\n", k, k, 8 * k);
    fputs("    }\n    l0 = (l0 ^ l1) * 1099511628211ull;\n    l0 = (l0 ^ l2) * 1099511628211ull;\n"
          "    l0 = (l0 ^ l3) * 1099511628211ull;\n", f);
    fprintf(f, "    if (l0 != want) return %s_ERR_WEIGHTS;\n  }\n", U);
  } else {
    fputs("  (void)weights;\n  (void)weights_bytes;\n", f);
  }
  if (m->threads > 1)
    fprintf(f, "  tfx_pool_init((tfx_pool *)(void *)((unsigned char *)workspace + %lld));\n", (long long)m->pool_off);
  if (m->opt->profile)
    fputs("  memset(ctx->prof_seconds, 0, sizeof ctx->prof_seconds);\n  memset(ctx->prof_runs, 0, sizeof ctx->prof_runs);\n", f);
  fprintf(f, "  ctx->ws = (unsigned char *)workspace;\n  ctx->weights = (const unsigned char *)weights;\n  ctx->ready = 1;\n  return %s_OK;\n}\n\n", U);
  if (m->threads > 1) print_set_threads(m, f);
  fprintf(f, "const char *%s_status_str(int status) {\n  switch (status) {\n", nm);
  fprintf(f, "  case %s_OK: return \"ok\";\n  case %s_ERR_NULL: return \"a required pointer is NULL\";\n", U, U);
  fprintf(f, "  case %s_ERR_WORKSPACE: return \"workspace too small or not 16-byte aligned\";\n", U);
  fprintf(f, "  case %s_ERR_WEIGHTS: return \"weights missing, of the wrong size, or corrupt\";\n", U);
  fprintf(f, "  case %s_ERR_STATE: return \"context not initialised\";\n", U);
  fprintf(f, "  case %s_ERR_DIM: return \"a length outside 1..the compiled maximum\";\n", U);
  fprintf(f, "  case %s_ERR_INPUT: return \"a token id outside the vocabulary\";\n", U);
  if (m->threads > 1) fprintf(f, "  case %s_ERR_THREAD: return \"a worker thread could not be started\";\n", U);
  if (tfx_c_cpu_checked(m->opt->cpu))
    fprintf(f, "  case %s_ERR_CPU: return \"the processor lacks %s, which this code was generated for (tfxc --cpu %s)\";\n",
            U, tfx_c_cpu_lacks(m->opt->cpu), tfx_cpu_name(m->opt->cpu));
  fputs("  default: return \"unknown status\";\n  }\n}\n\n", f);
}

static void print_checks(Emitter *m, FILE *f) {
  TfxGraph *g = m->g;
  const char *U = m->upper;
  fprintf(f, "  if (!ctx) return %s_ERR_NULL;\n  if (!ctx->ready) return %s_ERR_STATE;\n", U, U);
  for (uint32_t k = 0; k < g->n_inputs; k++) fprintf(f, "  if (!%s) return %s_ERR_NULL;\n", m->params[k], U);
  for (uint32_t k = 0; k < g->n_outputs; k++) fprintf(f, "  if (!%s) return %s_ERR_NULL;\n", m->oparams[k], U);
}

/* Where the code of a constant's bytes lives, as a `const T *` expression. */
static void const_ref(Emitter *m, char *buf, size_t size, uint32_t v) {
  const char *ct = tfx_dtype_ctype(m->g->values[v].dtype);
  TfxDtype dt = const_of(m, v)->dtype;
  if (m->file_weights)
    snprintf(buf, size, "(const %s *)(const void *)(ctx->weights + %lld)", ct, (long long)m->woff[v]);
  else if (dt == TFX_F32 || dt == TFX_F64)
    snprintf(buf, size, "%s_c%u.f", m->opt->name, v);
  else
    snprintf(buf, size, "%s_c%u", m->opt->name, v);
}

/* Everything of <name>_run after the argument checks: declarations, body
 * (the node code) and the final copies.  Lifted code prints it per sample. */
static void print_inner(Emitter *m, FILE *f, const char *body) {
  TfxGraph *g = m->g;
  char ty[256], cm[256], src[256];
  if (m->plan.total == 0) fputs("  (void)ctx->ws;\n", f);
  if (m->threads > 1)
    fprintf(f, "  tfx_pool *const tfx_pp = (tfx_pool *)(void *)(ctx->ws + %lld);\n  (void)tfx_pp;\n",
            (long long)m->pool_off);
  else if (m->e.need[TFX_HELP_POOL])
    fputs("  tfx_pool *const tfx_pp = NULL; /* one thread */\n  (void)tfx_pp;\n", f);
  bool *declared = calloc(g->n_values + 1, 1);
  if (!declared) abort();
  for (uint32_t k = 0; k < g->n_inputs; k++) {
    uint32_t v = g->inputs[k];
    if (!m->used[v] || declared[v]) {
      fprintf(f, "  (void)%s;\n", m->params[k]);
      continue;
    }
    declared[v] = true;
    fprintf(f, "  const %s *%s = %s;\n", tfx_dtype_ctype(g->values[v].dtype), m->e.vars[v], m->params[k]);
  }
  for (uint32_t k = 0; k < g->n_outputs; k++) {
    uint32_t v = g->outputs[k];
    const TfxValue *val = &g->values[v];
    if (declared[v] || val->konst || val->producer == TFX_NONE) continue;
    declared[v] = true;
    if (!m->body_ref[v]) continue; /* e.g. an empty output no loop touches */
    fprintf(f, "  %s *%s = %s;\n", tfx_dtype_ctype(val->dtype), m->e.vars[v], m->oparams[k]);
  }
  for (uint32_t v = 0; v < g->n_values; v++) {
    const TfxValue *val = &g->values[v];
    if (!m->used[v] || declared[v]) continue;
    declared[v] = true;
    tfx_c_comment_text(cm, sizeof cm, val->name);
    type_text(m, ty, sizeof ty, val);
    const char *ct = tfx_dtype_ctype(val->dtype);
    if (val->konst && m->win_off && m->win_off[v] >= 0) {
      const_ref(m, src, sizeof src, v);
      fprintf(f, "  %s *%s = (%s *)(void *)(ctx->ws + %lld); /* %s: %s, cut from the full-length table */\n", ct,
              m->e.vars[v], ct, (long long)m->win_off[v], cm, ty);
      fprintf(f, "  const %s *%s_full = %s;\n", ct, m->e.vars[v], src);
    } else if (val->konst) {
      const_ref(m, src, sizeof src, v);
      fprintf(f, "  const %s *%s = %s; /* %s: %s */\n", ct, m->e.vars[v], src, cm, ty);
    } else if (m->plan.offset[v] >= 0) {
      fprintf(f, "  %s *%s = (%s *)(void *)(ctx->ws + %lld); /* %s: %s */\n", ct, m->e.vars[v], ct,
              (long long)m->plan.offset[v], cm, ty);
    }
  }
  free(declared);
  fputs(body ? body : "", f);
  /* outputs not written in place: constants, passed-through inputs, repeats */
  for (uint32_t k = 0; k < g->n_outputs; k++) {
    uint32_t v = g->outputs[k];
    const TfxValue *val = &g->values[v];
    bool first = true;
    for (uint32_t j = 0; j < k; j++)
      if (g->outputs[j] == v) first = false;
    if (first && !val->konst && val->producer != TFX_NONE) continue;
    size_t bytes = (size_t)tfx_numel(val->rank, val->dims) * tfx_dtype_bytes(val->dtype);
    if (bytes) fprintf(f, "  memcpy(%s, %s, %zu);\n", m->oparams[k], m->e.vars[v], bytes);
  }
}

static void print_run(Emitter *m, FILE *f) {
  print_signature(m, f, false);
  fputs(" {\n", f);
  print_checks(m, f);
  print_inner(m, f, m->e.buf);
  fprintf(f, "  return %s_OK;\n}\n", m->upper);
}

/* Copy each length-dependent constant's window out of its full-length table
 * (sizes printed for this sample; the lift turns them into expressions). */
static void print_windows(Emitter *m, TfxCEmit *e) {
  const TfxCLift *L = m->lift;
  int64_t P = L->spec.n_syms == 2 ? L->spec.sample[m->sample][1] : 0;
  for (uint32_t v = 0; v < m->g->n_values; v++) {
    if (m->win_off[v] < 0 || !m->e.referenced[v]) continue;
    const TfxValue *val = &m->g->values[v];
    const TfxTensor *full = L->window[v];
    const uint8_t *ax = L->win_axis + (size_t)v * TFX_MAX_RANK;
    int64_t fst[TFX_MAX_RANK], dst[TFX_MAX_RANK], s1 = 1, s2 = 1;
    for (int a = val->rank - 1; a >= 0; a--) {
      fst[a] = s1, dst[a] = s2;
      s1 *= full->dims[a];
      s2 *= val->dims[a];
    }
    int64_t base = 0;
    for (int a = 0; a < val->rank; a++)
      if (ax[a] == 1) base += P * fst[a];
    char di[512], si[512];
    tfx_c_line(e, "{ /* the rows of '%s' this call needs */", m->e.vars[v]);
    tfx_c_indent(e, 1);
    tfx_c_loops_begin(e, val->rank, val->dims);
    tfx_c_line(e, "%s[%s] = %s_full[%s];", m->e.vars[v], tfx_c_index(di, val->rank, dst, 0), m->e.vars[v],
               tfx_c_index(si, val->rank, fst, base));
    tfx_c_loops_end(e, val->rank);
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
}

/* ---- files --------------------------------------------------------------- */
static char *sibling(const char *c_path, const char *ext) {
  size_t n = strlen(c_path);
  char *p = malloc(n + strlen(ext) + 1);
  if (!p) abort();
  memcpy(p, c_path, n - 2);
  strcpy(p + n - 2, ext);
  return p;
}

/* The .bin's checksum (format 2): four FNV-1a lanes, each taking one of the
 * four little-endian 64-bit words of every 32 bytes, folded at the end.  The
 * data after the header is a whole number of 64-byte blocks, so the run-time
 * check (print_init) needs no tail; independent lanes and words instead of
 * bytes make it run at memory speed (a byte at a time took about 1 s per
 * 600 MB).  Streamed: the compiler hashes constants of any length. */
typedef struct {
  uint64_t lane[4];
  unsigned char carry[32];
  size_t nc;
} WHash;

static void whash_init(WHash *h) {
  for (int i = 0; i < 4; i++) h->lane[i] = 1469598103934665603ull + (uint64_t)i;
  h->nc = 0;
}

static void whash_block(WHash *h, const unsigned char *p) {
  for (int i = 0; i < 4; i++) {
    uint64_t x = 0;
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(&x, p + 8 * i, 8);
#else
    for (int b = 7; b >= 0; b--) x = x << 8 | p[8 * i + b];
#endif
    h->lane[i] = (h->lane[i] ^ x) * 1099511628211ull;
  }
}

static void whash_add(WHash *h, const unsigned char *p, size_t n) {
  while (n) {
    if (h->nc == 0 && n >= 32) {
      whash_block(h, p);
      p += 32, n -= 32;
      continue;
    }
    size_t t = 32 - h->nc < n ? 32 - h->nc : n;
    memcpy(h->carry + h->nc, p, t);
    h->nc += t, p += t, n -= t;
    if (h->nc == 32) {
      whash_block(h, h->carry);
      h->nc = 0;
    }
  }
}

static uint64_t whash_end(const WHash *h) {
  uint64_t x = h->lane[0];
  for (int i = 1; i < 4; i++) x = (x ^ h->lane[i]) * 1099511628211ull;
  return x;
}

/* n bytes to the .bin and into its checksum. */
static TfxStatus put(FILE *f, WHash *h, const void *p, size_t n) {
  whash_add(h, p, n);
  return n && fwrite(p, 1, n, f) != n ? TFX_ERR : TFX_OK;
}

/* Constant v as stored (prepacked panel by panel, or as it is), padded to 64 bytes. */
static TfxStatus put_const(const Emitter *m, uint32_t v, FILE *f, WHash *h) {
  static const unsigned char zeros[64];
  TfxStatus st = TFX_OK;
  if (m->pack[v]) {
    int64_t K, N;
    pack_dims(m, v, &K, &N);
    float *buf = malloc((size_t)(K ? K : 1) * 16 * sizeof(float));
    if (!buf) abort();
    for (int64_t p = 0; p < (N + 15) / 16 && !st; p++) {
      pack_panel(m, v, p, buf);
      st = put(f, h, buf, (size_t)K * 16 * sizeof(float));
    }
    free(buf);
  } else {
    const TfxTensor *t = const_of(m, v);
    st = put(f, h, t->data, tfx_tensor_bytes(t));
  }
  return st ? st : put(f, h, zeros, (size_t)((64 - stored_bytes(m, v) % 64) % 64));
}

/* Header (format 2, with the checksum of everything after it), then each constant
 * padded to 64 bytes in woff order, streamed (the weights are never copied into
 * one block) and hashed as they are written; the header is written again at
 * the end with the checksum. */
static TfxStatus write_bin(Emitter *m, FILE *f) {
  unsigned char hdr[WEIGHTS_HEADER] = {0};
  WHash wh;
  whash_init(&wh);
  memcpy(hdr, "TFXW", 4);
  hdr[4] = 2;
  for (int i = 0; i < 8; i++) hdr[8 + i] = (unsigned char)((uint64_t)m->weights_bytes >> (8 * i));
  if (fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr) return TFX_ERR;
  for (uint32_t v = 0; v < m->g->n_values; v++)
    if (m->woff[v] >= 0 && put_const(m, v, f, &wh)) return TFX_ERR;
  uint64_t h = whash_end(&wh);
  for (int i = 0; i < 8; i++) hdr[16 + i] = (unsigned char)(h >> (8 * i));
  if (fseek(f, 0, SEEK_SET) || fwrite(hdr, 1, sizeof hdr, f) != sizeof hdr) return TFX_ERR;
  return TFX_OK;
}

/* Print every live node of m->g into m->e (fresh), collecting failures. */
static TfxStatus print_nodes(Emitter *m) {
  TfxGraph *g = m->g;
  TfxStatus st = TFX_OK;
  char cm[512], ty[256];
  free(m->e.buf);
  m->e.buf = NULL;
  m->e.len = m->e.cap = 0;
  m->e.ntmp = 0;
  m->e.g = g;
  memset(m->e.referenced, 0, (g->n_values + 1) * sizeof *m->e.referenced);
  m->e.indent = 1;
  m->e.last_rows = m->lift && m->lift->decoder;
  m->e.last_row_out = m->e.last_rows ? g->outputs[0] : TFX_NONE;
  m->e.last_row_used = false;
  int live = 0; /* --profile: the node's index among the timed ones */
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    tfx_c_comment_text(cm, sizeof cm, n->name);
    const TfxValue *o0 = tfx_node_out(g, n, 0);
    tfx_c_line(&m->e, "/* %s: %s -> %s */", cm, n->op_type, o0 ? type_text(m, ty, sizeof ty, o0) : "()");
    tfx_c_line(&m->e, "{");
    tfx_c_indent(&m->e, 1);
    if (m->opt->profile) tfx_c_line(&m->e, "const double tfx_prof_t0 = tfx_prof_now();");
    if (tfx_ops[n->op].emit_c(&m->e, g, n)) st = TFX_ERR;
    if (m->opt->profile)
      tfx_c_line(&m->e, "ctx->prof_seconds[%d] += tfx_prof_now() - tfx_prof_t0, ctx->prof_runs[%d]++;", live, live);
    live++;
    tfx_c_indent(&m->e, -1);
    tfx_c_line(&m->e, "}");
  }
  if (m->e.oom) st = tfx_error(g->diag, "out of memory while printing C");
  return st;
}

/* The referenced flags of the node code, plus the outputs the final copies name. */
static void mark_final_copies(Emitter *m) {
  TfxGraph *g = m->g;
  memcpy(m->body_ref, m->e.referenced, g->n_values * sizeof *m->body_ref);
  for (uint32_t k = 0; k < g->n_outputs; k++) {
    const TfxValue *val = &g->values[g->outputs[k]];
    if (tfx_numel(val->rank, val->dims) > 0) m->e.referenced[g->outputs[k]] = true;
  }
}

/* Lifted: print the inner part of the run function at every sample and merge. */
static char *print_lifted_inner(Emitter *m, TfxStatus *st) {
  const TfxCLift *L = m->lift;
  TfxGraph *g0 = m->g;
  char *texts[TFX_LIFT_MAX_SAMPLES] = {0};
  bool *ref0 = malloc(g0->n_values + 1);
  if (!ref0) abort();
  memcpy(ref0, m->e.referenced, g0->n_values + 1);
  for (int i = 0; i < L->n_samples && !*st; i++) {
    m->g = L->g[i];
    m->sample = i;
    if (i > 0) { /* sample 0 was printed by the caller */
      if (print_nodes(m)) {
        *st = TFX_ERR;
        break;
      }
      mark_final_copies(m);
      if (memcmp(ref0, m->e.referenced, g0->n_values) != 0) {
        *st = tfx_error(g0->diag, "%s: --max %s: the generated code uses different values at different lengths",
                        g0->path, L->param);
        break;
      }
    }
    /* window copies go first, then the node code */
    char *nodes = m->e.buf;
    size_t nodes_len = m->e.len;
    m->e.buf = NULL;
    m->e.len = m->e.cap = 0;
    m->e.indent = 1;
    print_windows(m, &m->e);
    tfx_c_puts(&m->e, nodes ? nodes : "");
    free(nodes);
    (void)nodes_len;
    size_t len = 0;
    FILE *f = open_memstream(&texts[i], &len);
    if (!f) abort();
    print_inner(m, f, m->e.buf);
    if (fclose(f) || m->e.oom) *st = tfx_error(g0->diag, "out of memory while printing C");
  }
  m->g = g0;
  free(ref0);
  char *out = NULL;
  if (!*st) {
    char err[1024];
    out = tfx_lift(&L->spec, (const char *const *)texts, err, sizeof err);
    if (!out)
      *st = tfx_error(g0->diag, "%s: --max %s=%lld: the generated code is not the same at every length: %s",
                      g0->path, L->param, (long long)L->max, err);
  }
  for (int i = 0; i < L->n_samples; i++) free(texts[i]);
  return out;
}

static void print_lifted_run(Emitter *m, FILE *f, const char *inner) {
  const TfxCLift *L = m->lift;
  const char *nm = m->opt->name, *U = m->upper;
  char sym[64];
  sanitize(sym, sizeof sym, L->param);
  if (!L->decoder) {
    print_signature(m, f, false);
    fputs(" {\n", f);
    print_checks(m, f);
    fprintf(f, "  if (%s < 1 || %s > %lld) return %s_ERR_DIM;\n", sym, sym, (long long)L->max, U);
    fprintf(f, "  {\n  const int64_t tfx_S = %s;\n  (void)tfx_S;\n", sym);
    fputs(inner, f);
    fprintf(f, "  }\n  return %s_OK;\n}\n", U);
    return;
  }
  TfxGraph *g = m->g;
  const TfxValue *t = &g->values[g->inputs[0]], *l = &g->values[g->outputs[0]];
  fprintf(f, "/* One step over the cache: tfx_S new tokens at position tfx_P;\n");
  fprintf(f, " * tfx_last: the logits of the last token alone (those nodes that can). */\n");
  fprintf(f, "static int %s_step(%s_ctx *ctx, int64_t tfx_S, const %s *%s, %s *%s, int tfx_last) {\n", nm, nm,
          tfx_dtype_ctype(t->dtype), m->params[0], tfx_dtype_ctype(l->dtype), m->oparams[0]);
  fprintf(f, "  const int64_t tfx_P = ctx->pos;\n  float *tfx_kv = (float *)(void *)(ctx->ws + %lld);\n",
          (long long)m->kv_off);
  /* the callers check these; repeating it lets the C compiler see the bounds */
  fprintf(f, "  if (tfx_S < 1 || tfx_P < 0 || tfx_S > %lld - tfx_P) return %s_ERR_DIM;\n", (long long)L->max, U);
  fputs("  (void)tfx_kv;\n  (void)tfx_last;\n", f);
  fputs(inner, f);
  fprintf(f, "  return %s_OK;\n}\n\n", U);
  fprintf(f, "int %s_reset(%s_ctx *ctx) {\n  if (!ctx) return %s_ERR_NULL;\n  if (!ctx->ready) return %s_ERR_STATE;\n"
             "  ctx->pos = 0;\n  return %s_OK;\n}\n\n", nm, nm, U, U, U);
  fprintf(f, "/* prefill (last 0) and prefill_last (1) */\n");
  fprintf(f, "static int %s_append(%s_ctx *ctx, const int64_t *tokens, int64_t n, float *logits, int last) {\n", nm, nm);
  fprintf(f, "  int64_t i;\n  int st;\n  if (!ctx || !tokens || !logits) return %s_ERR_NULL;\n", U);
  fprintf(f, "  if (!ctx->ready) return %s_ERR_STATE;\n", U);
  fprintf(f, "  if (n < 1 || n > %lld - ctx->pos) return %s_ERR_DIM;\n", (long long)L->max, U);
  fprintf(f, "  for (i = 0; i < n; i++)\n    if (tokens[i] < 0 || tokens[i] >= %lld) return %s_ERR_INPUT;\n",
          (long long)L->token_limit, U);
  if (m->e.last_row_used) {
    fprintf(f, "  st = %s_step(ctx, n, tokens, logits, last);\n  if (st != %s_OK) return st;\n", nm, U);
    fprintf(f, "  ctx->pos += n;\n  return %s_OK;\n}\n\n", U);
  } else {
    /* the node writing the logits cannot leave rows out: one token a step */
    fprintf(f, "  if (!last) {\n    st = %s_step(ctx, n, tokens, logits, 0);\n    if (st != %s_OK) return st;\n"
               "    ctx->pos += n;\n    return %s_OK;\n  }\n", nm, U, U);
    fprintf(f, "  for (i = 0; i < n; i++) {\n    st = %s_step(ctx, 1, tokens + i, logits, 0);\n"
               "    if (st != %s_OK) return st;\n    ctx->pos++;\n  }\n  return %s_OK;\n}\n\n", nm, U, U);
  }
  fprintf(f, "int %s_prefill(%s_ctx *ctx, const int64_t *tokens, int64_t n, float *logits) {\n"
             "  return %s_append(ctx, tokens, n, logits, 0);\n}\n\n", nm, nm, nm);
  fprintf(f, "int %s_prefill_last(%s_ctx *ctx, const int64_t *tokens, int64_t n, float *logits) {\n"
             "  return %s_append(ctx, tokens, n, logits, 1);\n}\n\n", nm, nm, nm);
  fprintf(f, "int %s_decode(%s_ctx *ctx, int64_t token, float *logits) {\n  return %s_prefill(ctx, &token, 1, logits);\n}\n\n",
          nm, nm, nm);
  fprintf(f, "int64_t %s_position(const %s_ctx *ctx) {\n  return ctx && ctx->ready ? ctx->pos : -1;\n}\n\n", nm, nm);
  print_signature(m, f, false);
  fprintf(f, " {\n  int st = %s_reset(ctx);\n  if (st != %s_OK) return st;\n  return %s_prefill(ctx, %s, %s, %s);\n}\n",
          nm, U, nm, m->params[0], sym, m->oparams[0]);
}

TfxStatus tfx_emit_c(TfxGraph *g, const TfxCOptions *opt) {
  size_t plen = strlen(opt->out_c);
  if (plen < 3 || strcmp(opt->out_c + plen - 2, ".c") != 0)
    return tfx_error(g->diag, "%s: the output file must end in .c", opt->out_c);
  if (!is_identifier(opt->name))
    return tfx_error(g->diag, "--name '%s' is not a C identifier (letters, digits, '_')", opt->name);
  if (strlen(opt->name) > 64)
    return tfx_error(g->diag, "--name '%s' is longer than 64 characters", opt->name);
  for (uint32_t i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_outputs && !g->nodes[i].dead; k++)
      if (g->nodes[i].outputs[k] != TFX_NONE && g->values[g->nodes[i].outputs[k]].rank < 0)
        return tfx_error(g->diag, "internal: value '%s' reached the C backend without a shape",
                         g->values[g->nodes[i].outputs[k]].name);
  const TfxCLift *L = opt->lift;
  if (L && L->decoder) {
    if (g->n_inputs != 1 || g->n_outputs != 1 || g->values[g->inputs[0]].dtype != TFX_I64 ||
        g->values[g->outputs[0]].dtype != TFX_F32)
      return tfx_error(g->diag, "%s: a decoder needs one int64 token input and one float32 logits output", g->path);
  }

  Emitter m = {0};
  m.g = g;
  m.opt = opt;
  m.lift = L;
  m.threads = opt->threads > 1 ? opt->threads : 1;
  m.e.g = g;
  size_t ul = 0;
  for (const char *s = opt->name; *s && ul + 1 < sizeof m.upper; s++) m.upper[ul++] = (char)toupper((unsigned char)*s);
  TfxStatus st = tfx_plan_memory(g, L ? L->bytes : NULL, &m.plan);
  m.used = calloc(g->n_values + 1, sizeof *m.used);
  m.body_ref = calloc(g->n_values + 1, sizeof *m.body_ref);
  m.woff = malloc(sizeof *m.woff * (g->n_values + 1));
  m.win_off = malloc(sizeof *m.win_off * (g->n_values + 1));
  m.e.vars = calloc(g->n_values + 1, sizeof *m.e.vars);
  m.e.referenced = calloc(g->n_values + 1, sizeof *m.e.referenced);
  m.params = calloc(g->n_inputs + 1, sizeof *m.params);
  m.oparams = calloc(g->n_outputs + 1, sizeof *m.oparams);
  m.pack = calloc(g->n_values + 1, sizeof *m.pack);
  if (!m.used || !m.body_ref || !m.woff || !m.win_off || !m.e.vars || !m.e.referenced || !m.params || !m.oparams ||
      !m.pack)
    abort();
  find_packed(&m);
  m.e.pack = m.pack;
  m.e.offset = m.plan.offset;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] != TFX_NONE) m.used[n->inputs[k]] = true;
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k] != TFX_NONE) m.used[n->outputs[k]] = true;
  }
  for (uint32_t k = 0; k < g->n_outputs; k++) m.used[g->outputs[k]] = true;
  int64_t const_bytes = 0;
  for (uint32_t v = 0; v < g->n_values; v++)
    if (m.used[v] && g->values[v].konst) const_bytes += (int64_t)tfx_tensor_bytes(const_of(&m, v));
  m.file_weights = opt->weights == TFX_WEIGHTS_FILE || (opt->weights == TFX_WEIGHTS_AUTO && const_bytes > EMBED_LIMIT);
  name_vars(&m);

  /* the body: every live node prints itself; collect every failure */
  if (print_nodes(&m)) st = TFX_ERR;
  mark_final_copies(&m);
  /* only what the code names is declared, embedded or written to the .bin */
  for (uint32_t v = 0; v < g->n_values; v++) {
    m.used[v] = m.e.referenced[v];
    if (m.used[v] && L && L->varies[v])
      st = tfx_error(g->diag, "%s: value '%s': a constant that depends on the length in a way tfxc cannot "
                     "compute at run time: compile with --dim %s=V",
                     g->path, g->values[v].name, L->param);
  }
  m.weights_bytes = WEIGHTS_HEADER;
  for (uint32_t v = 0; v < g->n_values; v++) {
    m.woff[v] = -1;
    if (!m.file_weights || !m.used[v] || !g->values[v].konst) continue;
    m.woff[v] = m.weights_bytes;
    m.weights_bytes += (stored_bytes(&m, v) + 63) / 64 * 64;
  }
  /* workspace: the plan, then the windows of length-dependent constants, then the KV cache */
  m.ws_total = m.plan.total;
  for (uint32_t v = 0; v < g->n_values; v++) {
    m.win_off[v] = -1;
    if (!L || !L->window[v] || !m.used[v]) continue;
    m.win_off[v] = m.ws_total;
    m.ws_total += ((int64_t)tfx_tensor_bytes(L->window[v]) + TFX_PLAN_ALIGN - 1) / TFX_PLAN_ALIGN * TFX_PLAN_ALIGN;
  }
  m.kv_off = m.ws_total;
  if (L && L->decoder) m.ws_total += (L->kv_bytes + TFX_PLAN_ALIGN - 1) / TFX_PLAN_ALIGN * TFX_PLAN_ALIGN;
  m.pool_off = m.ws_total;
  m.ws_total += tfx_c_pool_bytes(m.threads);
  char *lifted = NULL;
  if (!st && L) lifted = print_lifted_inner(&m, &st);

  char *h_path = sibling(opt->out_c, ".h"), *b_path = sibling(opt->out_c, ".bin");
  char tmp_c[4096], tmp_h[4096], tmp_b[4096], cm[512];
  snprintf(tmp_c, sizeof tmp_c, "%s.tmp%d", opt->out_c, (int)getpid());
  snprintf(tmp_h, sizeof tmp_h, "%s.tmp%d", h_path, (int)getpid());
  snprintf(tmp_b, sizeof tmp_b, "%s.tmp%d", b_path, (int)getpid());
  FILE *fc = NULL, *fh = NULL, *fb = NULL;
  if (!st) {
    fc = fopen(tmp_c, "w");
    fh = fopen(tmp_h, "w");
    fb = m.file_weights ? fopen(tmp_b, "wb") : NULL;
    if (!fc || !fh || (m.file_weights && !fb))
      st = tfx_error(g->diag, "%s: cannot write: %s", opt->out_c, strerror(errno));
  }
  if (!st) {
    print_header(&m, fh);
    const char *base = strrchr(h_path, '/');
    base = base ? base + 1 : h_path;
    tfx_c_comment_text(cm, sizeof cm, path_base(g->path));
    fprintf(fc, "/* %s.c — generated by tfxc from %s.  Do not edit.\n * C99; needs only libc and libm%s%s. */\n",
            opt->name, cm, m.threads > 1 ? ", and pthreads (build with -pthread)" : "",
            opt->profile ? ", and POSIX clock_gettime (--profile)" : "");
    if (opt->profile) tfx_c_profile_prelude(fc);
    fprintf(fc, "#include <float.h>\n#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <string.h>\n\n#include \"%s\"\n\n", base);
    fprintf(fc, "/* what generated code returns for an index outside its axis */\n#define TFX_ERR_INPUT %s_ERR_INPUT\n\n",
            m.upper);
    tfx_c_print_target(fc, opt->cpu);
    tfx_c_print_target_switch(fc, opt->cpu, true);
    print_helpers(&m, fc);
    if (!m.file_weights)
      for (uint32_t v = 0; v < g->n_values; v++)
        if (m.used[v] && g->values[v].konst) {
          TfxTensor t;
          print_embedded(fc, opt->name, v, m.pack[v] ? pack_whole(&m, v, &t) : const_of(&m, v));
          if (m.pack[v]) free(t.data);
        }
    fputc('\n', fc);
    /* init asks the processor before anything compiled for the target runs */
    tfx_c_print_target_switch(fc, opt->cpu, false);
    print_init(&m, fc);
    tfx_c_print_target_switch(fc, opt->cpu, true);
    if (opt->profile) tfx_c_profile_code(fc, g, opt->name, m.upper);
    if (L) print_lifted_run(&m, fc, lifted);
    else print_run(&m, fc);
    tfx_c_print_target_switch(fc, opt->cpu, false);
    if (opt->emit_main) tfx_c_emit_main(fc, g, opt->name, m.file_weights);
    if (m.file_weights && write_bin(&m, fb)) st = tfx_error(g->diag, "%s: cannot write", b_path);
  }
  if (fc && fclose(fc)) st = tfx_error(g->diag, "%s: write failed", opt->out_c);
  if (fh && fclose(fh)) st = tfx_error(g->diag, "%s: write failed", h_path);
  if (fb && fclose(fb)) st = tfx_error(g->diag, "%s: write failed", b_path);
  if (!st && (rename(tmp_c, opt->out_c) || rename(tmp_h, h_path) ||
              (m.file_weights && rename(tmp_b, b_path))))
    st = tfx_error(g->diag, "%s: cannot rename into place: %s", opt->out_c, strerror(errno));
  if (st) {
    unlink(tmp_c);
    unlink(tmp_h);
    unlink(tmp_b);
  } else if (!m.file_weights) {
    unlink(b_path); /* a stale .bin from an earlier file-mode build would mislead */
  }
  free(lifted);
  free(h_path);
  free(b_path);
  free(m.e.buf);
  free(m.used);
  free(m.body_ref);
  free(m.woff);
  free(m.win_off);
  free(m.e.vars);
  free(m.e.referenced);
  free(m.params);
  free(m.oparams);
  free(m.pack);
  tfx_plan_free(&m.plan);
  return st;
}
