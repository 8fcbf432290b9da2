/* graph.c — building and inspecting the graph: the arena, values and nodes
 * in flat arrays addressed by 32-bit ids, attributes, topological order, the
 * verifier run between passes, and the text dump. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

/* ---- the operator table -------------------------------------------------- */
#define TFX_OP(op, family, cmask)                                                            \
  TfxStatus tfx_##family##_infer(TfxGraph *g, TfxNode *n);                                   \
  TfxStatus tfx_##family##_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,   \
                                TfxTensor *out);                                             \
  TfxStatus tfx_##family##_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n);
TFX_OPS(TFX_OP)
#undef TFX_OP

const TfxOpDef tfx_ops[TFX_OP_COUNT] = {
#define TFX_OP(op, family, cmask) \
  {#op, tfx_##family##_infer, tfx_##family##_eval, tfx_##family##_emit_c, cmask},
    TFX_OPS(TFX_OP)
#undef TFX_OP
};

TfxOp tfx_op_lookup(const char *op_type) {
  for (int i = 0; i < TFX_OP_COUNT; i++)
    if (strcmp(tfx_ops[i].name, op_type) == 0) return (TfxOp)i;
  return TFX_OP_COUNT;
}

/* ---- arena --------------------------------------------------------------- */
struct TfxArena {
  struct TfxArena *next;
  size_t used, cap;
  _Alignas(64) unsigned char data[];
};

enum { ARENA_BLOCK = 1 << 20 };

static void *arena_alloc(TfxArena **head, size_t bytes) {
  bytes = (bytes + 63) & ~(size_t)63;
  TfxArena *a = *head;
  if (!a || a->used + bytes > a->cap) {
    size_t cap = bytes > ARENA_BLOCK ? bytes : ARENA_BLOCK;
    TfxArena *b = aligned_alloc(64, (sizeof(TfxArena) + cap + 63) & ~(size_t)63);
    if (!b) {
      fprintf(stderr, "tfxc: out of memory (%zu bytes)\n", bytes);
      abort();
    }
    b->used = 0;
    b->cap = cap;
    if (a && bytes > ARENA_BLOCK) { /* keep filling the current small block */
      b->next = a->next;
      a->next = b;
    } else {
      b->next = a;
      *head = b;
    }
    a = b;
  }
  void *p = a->data + a->used;
  a->used += bytes;
  memset(p, 0, bytes);
  return p;
}

void *tfx_graph_alloc(TfxGraph *g, size_t bytes) { return arena_alloc(&g->arena, bytes ? bytes : 1); }

const char *tfx_graph_strdup(TfxGraph *g, const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *p = tfx_graph_alloc(g, n);
  memcpy(p, s, n);
  return p;
}

/* ---- graph --------------------------------------------------------------- */
TfxGraph *tfx_graph_new(TfxDiag *diag, const char *path) {
  TfxGraph *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->diag = diag;
  g->path = tfx_graph_strdup(g, path ? path : "<memory>");
  g->name = "model";
  g->opset = 0;
  return g;
}

void tfx_graph_free(TfxGraph *g) {
  if (!g) return;
  if (g->cleanup) g->cleanup(g->cleanup_arg);
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    free(g->nodes[i].inputs);
    free(g->nodes[i].outputs);
  }
  free(g->nodes);
  free(g->values);
  free(g->inputs);
  free(g->outputs);
  free(g->syms);
  free(g->name_index);
  for (TfxArena *a = g->arena, *next; a; a = next) {
    next = a->next;
    free(a);
  }
  free(g);
}

static void *grow(void *p, uint32_t *cap, uint32_t need, size_t elem) {
  if (need <= *cap) return p;
  uint32_t c = *cap ? *cap * 2 : 16;
  while (c < need) c *= 2;
  void *q = realloc(p, (size_t)c * elem);
  if (!q) {
    fprintf(stderr, "tfxc: out of memory\n");
    abort();
  }
  memset((char *)q + (size_t)*cap * elem, 0, (size_t)(c - *cap) * elem);
  *cap = c;
  return q;
}

static uint32_t hash_name(const char *s) {
  uint32_t h = 2166136261u;
  while (*s) h = (h ^ (unsigned char)*s++) * 16777619u;
  return h;
}

static void index_insert(TfxGraph *g, uint32_t id) {
  uint32_t mask = g->name_index_cap - 1, h = hash_name(g->values[id].name) & mask;
  while (g->name_index[h] != TFX_NONE) h = (h + 1) & mask;
  g->name_index[h] = id;
}

uint32_t tfx_graph_find_value(const TfxGraph *g, const char *name) {
  if (!g->name_index_cap || !name) return TFX_NONE;
  uint32_t mask = g->name_index_cap - 1, h = hash_name(name) & mask;
  for (uint32_t id; (id = g->name_index[h]) != TFX_NONE; h = (h + 1) & mask)
    if (strcmp(g->values[id].name, name) == 0) return id;
  return TFX_NONE;
}

uint32_t tfx_graph_add_value(TfxGraph *g, const char *name) {
  uint32_t id = g->n_values;
  g->values = grow(g->values, &g->cap_values, id + 1, sizeof *g->values);
  TfxValue *v = &g->values[id];
  memset(v, 0, sizeof *v);
  char tmp[32];
  if (!name || !*name) {
    snprintf(tmp, sizeof tmp, "_v%u", id);
    name = tmp;
  }
  v->name = tfx_graph_strdup(g, name);
  v->rank = -1;
  v->producer = TFX_NONE;
  g->n_values++;
  if (g->n_values * 2 > g->name_index_cap) {
    free(g->name_index);
    g->name_index_cap = g->name_index_cap ? g->name_index_cap * 2 : 64;
    while (g->n_values * 2 > g->name_index_cap) g->name_index_cap *= 2;
    g->name_index = malloc(sizeof(uint32_t) * g->name_index_cap);
    if (!g->name_index) abort();
    memset(g->name_index, 0xff, sizeof(uint32_t) * g->name_index_cap);
    for (uint32_t i = 0; i < g->n_values; i++) index_insert(g, i);
  } else {
    index_insert(g, id);
  }
  return id;
}

uint32_t tfx_graph_add_node(TfxGraph *g, TfxOp op, const char *op_type, const char *name,
                            const uint32_t *inputs, int n_inputs, const uint32_t *outputs,
                            int n_outputs) {
  uint32_t id = g->n_nodes;
  g->nodes = grow(g->nodes, &g->cap_nodes, id + 1, sizeof *g->nodes);
  TfxNode *n = &g->nodes[id];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->op_type = tfx_graph_strdup(g, op_type ? op_type : (op < TFX_OP_COUNT ? tfx_ops[op].name : "?"));
  char tmp[96];
  if (!name || !*name) {
    snprintf(tmp, sizeof tmp, "%s_%u", n->op_type, id);
    name = tmp;
  }
  n->name = tfx_graph_strdup(g, name);
  n->n_inputs = n_inputs;
  n->n_outputs = n_outputs;
  n->inputs = malloc(sizeof(uint32_t) * (size_t)(n_inputs + 1));
  n->outputs = malloc(sizeof(uint32_t) * (size_t)(n_outputs + 1));
  if (!n->inputs || !n->outputs) abort();
  if (n_inputs) memcpy(n->inputs, inputs, sizeof(uint32_t) * (size_t)n_inputs);
  if (n_outputs) memcpy(n->outputs, outputs, sizeof(uint32_t) * (size_t)n_outputs);
  for (int k = 0; k < n_outputs; k++)
    if (outputs[k] != TFX_NONE && g->values[outputs[k]].producer == TFX_NONE)
      g->values[outputs[k]].producer = id;
  g->n_nodes++;
  return id;
}

uint32_t tfx_graph_add_symbol(TfxGraph *g, const char *name) {
  for (uint32_t i = 0; i < g->n_syms; i++)
    if (strcmp(g->syms[i].name, name) == 0) return i;
  g->syms = grow(g->syms, &g->cap_syms, g->n_syms + 1, sizeof *g->syms);
  g->syms[g->n_syms].name = tfx_graph_strdup(g, name);
  g->syms[g->n_syms].value = -1;
  g->syms[g->n_syms].max = -1;
  return g->n_syms++;
}

void tfx_graph_bound_symbol(TfxGraph *g, const char *name, int64_t max) {
  uint32_t id = tfx_graph_add_symbol(g, name); /* may move g->syms */
  TfxSymbol *s = &g->syms[id];
  if (s->max < 0 || max < s->max) s->max = max;
}

void tfx_value_set_const(TfxGraph *g, uint32_t v, TfxTensor *t) {
  TfxValue *val = &g->values[v];
  val->kind = TFX_VAL_CONST;
  val->konst = t;
  val->dtype = t->dtype;
  val->rank = t->rank;
  for (int i = 0; i < t->rank; i++) val->dims[i] = t->dims[i];
}

TfxTensor *tfx_graph_new_tensor(TfxGraph *g, TfxDtype dt, int rank, const int64_t *dims) {
  TfxTensor *t = tfx_graph_alloc(g, sizeof *t);
  t->dtype = dt;
  t->rank = rank;
  for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
  t->data = tfx_graph_alloc(g, tfx_tensor_bytes(t));
  return t;
}

/* ---- node helpers -------------------------------------------------------- */
TfxValue *tfx_node_in(const TfxGraph *g, const TfxNode *n, int k) {
  if (k < 0 || k >= n->n_inputs || n->inputs[k] == TFX_NONE) return NULL;
  return &g->values[n->inputs[k]];
}

TfxValue *tfx_node_out(const TfxGraph *g, const TfxNode *n, int k) {
  if (k < 0 || k >= n->n_outputs || n->outputs[k] == TFX_NONE) return NULL;
  return &g->values[n->outputs[k]];
}

const TfxTensor *tfx_node_const_in(const TfxGraph *g, const TfxNode *n, int k) {
  TfxValue *v = tfx_node_in(g, n, k);
  return v && v->konst ? v->konst : NULL;
}

void tfx_node_set_out(TfxGraph *g, const TfxNode *n, int k, TfxDtype dt, int rank,
                      const int64_t *dims) {
  TfxValue *v = tfx_node_out(g, n, k);
  if (!v) return;
  assert(rank >= 0 && rank <= TFX_MAX_RANK);
  v->dtype = dt;
  v->rank = rank;
  for (int i = 0; i < rank; i++) v->dims[i] = dims[i];
}

TfxStatus tfx_node_error(TfxGraph *g, const TfxNode *n, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tfx_error(g->diag, "%s: node '%s' (%s): %s", g->path, n->name, n->op_type, msg);
}

TfxStatus tfx_node_axis(TfxGraph *g, const TfxNode *n, const char *name, int64_t dflt, int rank,
                        int *axis) {
  int64_t a = tfx_attr_int(n, name, dflt);
  *axis = 0;
  if (a < -rank || a >= rank)
    return tfx_node_error(g, n, "%s %lld is out of range for rank %d", name, (long long)a, rank);
  *axis = tfx_axis(a, rank);
  return TFX_OK;
}

/* ---- attributes ---------------------------------------------------------- */
const TfxAttr *tfx_attr(const TfxNode *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++)
    if (strcmp(n->attrs[i].name, name) == 0) return &n->attrs[i];
  return NULL;
}

int64_t tfx_attr_int(const TfxNode *n, const char *name, int64_t dflt) {
  const TfxAttr *a = tfx_attr(n, name);
  return a && a->kind == TFX_ATTR_INT ? a->i : dflt;
}

float tfx_attr_float(const TfxNode *n, const char *name, float dflt) {
  const TfxAttr *a = tfx_attr(n, name);
  if (a && a->kind == TFX_ATTR_FLOAT) return a->f;
  if (a && a->kind == TFX_ATTR_INT) return (float)a->i;
  return dflt;
}

const char *tfx_attr_string(const TfxNode *n, const char *name, const char *dflt) {
  const TfxAttr *a = tfx_attr(n, name);
  return a && a->kind == TFX_ATTR_STRING ? a->s : dflt;
}

int tfx_attr_ints(const TfxNode *n, const char *name, const int64_t **vals) {
  const TfxAttr *a = tfx_attr(n, name);
  if (!a || a->kind != TFX_ATTR_INTS) return -1;
  *vals = a->ints;
  return a->n;
}

int tfx_attr_floats(const TfxNode *n, const char *name, const float **vals) {
  const TfxAttr *a = tfx_attr(n, name);
  if (!a || a->kind != TFX_ATTR_FLOATS) return -1;
  *vals = a->floats;
  return a->n;
}

/* ---- topological order --------------------------------------------------- */
TfxStatus tfx_graph_toposort(TfxGraph *g) {
  uint32_t nn = g->n_nodes, nv = g->n_values;
  TfxStatus st = TFX_OK;
  /* producers, recomputed: a value may be produced once only */
  for (uint32_t v = 0; v < nv; v++) g->values[v].producer = TFX_NONE;
  for (uint32_t i = 0; i < nn; i++) {
    TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_outputs; k++) {
      uint32_t o = n->outputs[k];
      if (o == TFX_NONE) continue;
      TfxValue *v = &g->values[o];
      if (v->producer != TFX_NONE || v->kind != TFX_VAL_INTERMEDIATE)
        st = tfx_error(g->diag, "%s: value '%s' is defined more than once (again by node '%s')",
                       g->path, v->name, n->name);
      else
        v->producer = i;
    }
  }
  for (uint32_t i = 0; i < nn; i++) {
    TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++) {
      uint32_t in = n->inputs[k];
      if (in == TFX_NONE) continue;
      TfxValue *v = &g->values[in];
      if (v->producer == TFX_NONE && v->kind == TFX_VAL_INTERMEDIATE)
        st = tfx_error(g->diag, "%s: node '%s' (%s) uses value '%s', which nothing defines",
                       g->path, n->name, n->op_type, v->name);
    }
  }
  for (uint32_t k = 0; k < g->n_outputs; k++) {
    TfxValue *v = &g->values[g->outputs[k]];
    if (v->producer == TFX_NONE && v->kind == TFX_VAL_INTERMEDIATE)
      st = tfx_error(g->diag, "%s: graph output '%s' is not defined by any node", g->path, v->name);
  }
  if (st) return st;

  /* Kahn's algorithm, stable: among ready nodes the earliest in file order */
  uint32_t *pending = calloc(nn + 1, sizeof *pending), *order = malloc(sizeof *order * (nn + 1));
  uint32_t *nusers = calloc(nv + 1, sizeof *nusers), *ustart = calloc(nv + 2, sizeof *ustart);
  uint32_t *users = NULL, *ready = malloc(sizeof *ready * (nn + 1));
  if (!pending || !order || !nusers || !ustart || !ready) abort();
  size_t nedges = 0;
  for (uint32_t i = 0; i < nn; i++)
    for (int k = 0; k < g->nodes[i].n_inputs; k++)
      if (!g->nodes[i].dead && g->nodes[i].inputs[k] != TFX_NONE) nusers[g->nodes[i].inputs[k]]++, nedges++;
  for (uint32_t v = 0; v < nv; v++) ustart[v + 1] = ustart[v] + nusers[v];
  users = malloc(sizeof *users * (nedges + 1));
  if (!users) abort();
  memset(nusers, 0, sizeof *nusers * nv);
  for (uint32_t i = 0; i < nn; i++) {
    TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    for (int k = 0; k < n->n_inputs; k++) {
      uint32_t in = n->inputs[k];
      if (in == TFX_NONE) continue;
      users[ustart[in] + nusers[in]++] = i;
      if (g->values[in].producer != TFX_NONE) pending[i]++;
    }
  }
  /* a min-heap would keep file order exactly; a simple ready stack processed
   * in index order per wave is enough for determinism */
  uint32_t nready = 0, nout = 0, live = 0;
  for (uint32_t i = 0; i < nn; i++) {
    if (g->nodes[i].dead) continue;
    live++;
    if (!pending[i]) ready[nready++] = i;
  }
  for (uint32_t head = 0; head < nready; head++) {
    uint32_t i = ready[head];
    order[nout++] = i;
    TfxNode *n = &g->nodes[i];
    for (int k = 0; k < n->n_outputs; k++) {
      uint32_t o = n->outputs[k];
      if (o == TFX_NONE) continue;
      for (uint32_t u = ustart[o]; u < ustart[o] + nusers[o]; u++)
        if (--pending[users[u]] == 0) ready[nready++] = users[u];
    }
  }
  if (nout != live) {
    for (uint32_t i = 0; i < nn; i++)
      if (!g->nodes[i].dead && pending[i]) {
        st = tfx_error(g->diag, "%s: the graph has a cycle through node '%s' (%s)", g->path,
                       g->nodes[i].name, g->nodes[i].op_type);
        break;
      }
  } else {
    TfxNode *sorted = malloc(sizeof *sorted * (nn + 1));
    if (!sorted) abort();
    uint32_t m = 0;
    for (uint32_t j = 0; j < nout; j++) sorted[m++] = g->nodes[order[j]];
    for (uint32_t i = 0; i < nn; i++)
      if (g->nodes[i].dead) {
        free(g->nodes[i].inputs);
        free(g->nodes[i].outputs);
      }
    free(g->nodes);
    g->nodes = sorted;
    g->n_nodes = m;
    g->cap_nodes = nn + 1;
    for (uint32_t v = 0; v < nv; v++) g->values[v].producer = TFX_NONE;
    for (uint32_t i = 0; i < m; i++)
      for (int k = 0; k < sorted[i].n_outputs; k++)
        if (sorted[i].outputs[k] != TFX_NONE) g->values[sorted[i].outputs[k]].producer = i;
  }
  free(pending);
  free(order);
  free(nusers);
  free(ustart);
  free(users);
  free(ready);
  return st;
}

/* ---- verifier ------------------------------------------------------------ */
/* Bugs in tfxc, not user errors: reported through the diag so a failing pass
 * is named, but phrased as internal. */
TfxStatus tfx_graph_verify(TfxGraph *g) {
  TfxStatus st = TFX_OK;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    if (n->op >= TFX_OP_COUNT)
      st = tfx_error(g->diag, "internal: node '%s' has no operator", n->name);
    for (int k = 0; k < n->n_inputs; k++) {
      uint32_t v = n->inputs[k];
      if (v == TFX_NONE) continue;
      if (v >= g->n_values) {
        st = tfx_error(g->diag, "internal: node '%s' input %d out of range", n->name, k);
        continue;
      }
      uint32_t p = g->values[v].producer;
      if (p != TFX_NONE && (p >= i || g->nodes[p].dead) && !g->values[v].konst)
        st = tfx_error(g->diag, "internal: node '%s' uses '%s' before (or without) its producer",
                       n->name, g->values[v].name);
    }
    for (int k = 0; k < n->n_outputs; k++) {
      uint32_t v = n->outputs[k];
      if (v == TFX_NONE) continue;
      if (v >= g->n_values || g->values[v].producer != i) {
        st = tfx_error(g->diag, "internal: node '%s' output %d has a wrong producer", n->name, k);
        continue;
      }
      const TfxValue *val = &g->values[v];
      if (val->rank >= 0)
        for (int d = 0; d < val->rank; d++)
          if (val->dims[d] < 0 && !val->dim_sym[d])
            st = tfx_error(g->diag, "internal: value '%s' has dim %d unknown", val->name, d);
    }
  }
  return st;
}

/* ---- dump ---------------------------------------------------------------- */
static void dump_type(const TfxGraph *g, const TfxValue *v, FILE *f) {
  fprintf(f, "%s", tfx_dtype_name(v->dtype));
  if (v->rank < 0) {
    fprintf(f, "[?]");
    return;
  }
  fputc('[', f);
  for (int i = 0; i < v->rank; i++) {
    if (i) fputc(',', f);
    if (v->dim_sym[i]) {
      const TfxSymbol *s = &g->syms[v->dim_sym[i] - 1];
      if (v->dims[i] >= 0) fprintf(f, "%s=%lld", s->name, (long long)v->dims[i]);
      else fprintf(f, "%s", s->name);
    } else if (v->dims[i] < 0) {
      fputc('?', f);
    } else {
      fprintf(f, "%lld", (long long)v->dims[i]);
    }
  }
  fputc(']', f);
}

static void dump_attr(const TfxAttr *a, FILE *f) {
  fprintf(f, "%s=", a->name);
  switch (a->kind) {
  case TFX_ATTR_INT: fprintf(f, "%lld", (long long)a->i); break;
  case TFX_ATTR_FLOAT: fprintf(f, "%.9g", a->f); break;
  case TFX_ATTR_STRING: fprintf(f, "\"%s\"", a->s); break;
  case TFX_ATTR_INTS:
    fputc('[', f);
    for (int i = 0; i < a->n; i++) fprintf(f, "%s%lld", i ? "," : "", (long long)a->ints[i]);
    fputc(']', f);
    break;
  case TFX_ATTR_FLOATS:
    fputc('[', f);
    for (int i = 0; i < a->n; i++) fprintf(f, "%s%.9g", i ? "," : "", a->floats[i]);
    fputc(']', f);
    break;
  case TFX_ATTR_STRINGS: fprintf(f, "<%d strings>", a->n); break;
  case TFX_ATTR_TENSOR: fprintf(f, "<tensor %s>", a->t ? tfx_dtype_name(a->t->dtype) : "?"); break;
  case TFX_ATTR_GRAPH: fprintf(f, "<graph>"); break;
  }
}

void tfx_graph_dump(const TfxGraph *g, void *file) {
  FILE *f = file;
  fprintf(f, "graph %s (opset %d)\n", g->name, g->opset);
  for (uint32_t k = 0; k < g->n_inputs; k++) {
    const TfxValue *v = &g->values[g->inputs[k]];
    fprintf(f, "  input  %%%s: ", v->name);
    dump_type(g, v, f);
    fputc('\n', f);
  }
  for (uint32_t i = 0; i < g->n_values; i++) {
    const TfxValue *v = &g->values[i];
    if (!v->konst || (v->producer != TFX_NONE && !g->nodes[v->producer].dead)) continue;
    int used = v->is_output;
    for (uint32_t j = 0; j < g->n_nodes && !used; j++)
      for (int k = 0; k < g->nodes[j].n_inputs; k++)
        if (!g->nodes[j].dead && g->nodes[j].inputs[k] == i) used = 1;
    if (!used) continue;
    fprintf(f, "  const  %%%s: ", v->name);
    dump_type(g, v, f);
    fputc('\n', f);
  }
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    if (n->dead) continue;
    fprintf(f, "  ");
    for (int k = 0; k < n->n_outputs; k++) {
      if (k) fprintf(f, ", ");
      if (n->outputs[k] == TFX_NONE) {
        fprintf(f, "_");
        continue;
      }
      const TfxValue *v = &g->values[n->outputs[k]];
      fprintf(f, "%%%s: ", v->name);
      dump_type(g, v, f);
      if (v->konst) fprintf(f, " (const)");
    }
    fprintf(f, " = %s(", n->op_type);
    for (int k = 0; k < n->n_inputs; k++)
      fprintf(f, "%s%s%s", k ? ", " : "", n->inputs[k] == TFX_NONE ? "" : "%",
              n->inputs[k] == TFX_NONE ? "_" : g->values[n->inputs[k]].name);
    fputc(')', f);
    if (n->n_attrs) {
      fprintf(f, " {");
      for (int a = 0; a < n->n_attrs; a++) {
        if (a) fprintf(f, ", ");
        dump_attr(&n->attrs[a], f);
      }
      fputc('}', f);
    }
    fprintf(f, "  # %s\n", n->name);
  }
  for (uint32_t k = 0; k < g->n_outputs; k++)
    fprintf(f, "  output %%%s\n", g->values[g->outputs[k]].name);
}
