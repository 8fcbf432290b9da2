/* onnx.c — ONNX ModelProto -> TfxGraph.  The file is mapped and unpacked with
 * protobuf-c; everything read is validated and every problem is reported,
 * all unsupported operators at once.  Model-local functions are inlined, the
 * names of their internal values and nodes prefixed with the calling node's
 * name.  Initialisers stay views into the mapped model file (or, where the
 * file cannot be unpacked in parts, into the unpacked message) and mapped
 * external files, which the graph releases through its cleanup hook. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/frontend.h"
#include "frontend/onnx_priv.h"

#define ONNX_MAX_OPSET 28 /* newest default-domain opset of the onnx package we build against */
#define MAX_FUNC_DEPTH 32
/* Limits on inlining functions: a few kilobytes of functions calling each
 * other twice per level would otherwise expand to billions of nodes, or to
 * gigabytes of names (each inlined name carries its callers' as a prefix).
 * The largest real exports have tens of thousands of nodes. */
#define ONNX_MAX_NODES (1 << 18)
#define ONNX_MAX_INLINE_BYTES ((size_t)128 << 20)

/* An attribute of a node after function inlining: the message it comes from
 * and the name it has at the node (a reference may rename it). */
typedef struct {
  const char *name;
  const Onnx__AttributeProto *a;
} FlatAttr;

/* A node after function inlining; all strings live in the graph arena, ""
 * is an omitted optional input or output. */
typedef struct {
  const char *op_type, *domain, *overload, *name;
  const char **in, **out;
  int n_in, n_out;
  FlatAttr *attrs;
  int n_attrs;
} FlatNode;

typedef struct {
  TfxGraph *g;
  TfxDiag *d;
  const char *path;
  Onnx__ModelProto *model;
  TfxOnnxLoad *load; /* the graph's Keep owns it */
  FlatNode *nodes;
  int n_nodes, cap_nodes;
  struct FnCost *fn_cost; /* per model function, see function_cost */
  int errors;
} Ctx;

/* What inlining a model function costs: its nodes once inlined, and the
 * memory it takes as alpha + beta * (length of the calling node's name),
 * since every inlined name carries its caller's as a prefix. */
typedef struct FnCost {
  enum { FN_UNSEEN, FN_OPEN, FN_DONE, FN_BAD } state;
  int64_t nodes;
  double alpha, beta;
} FnCost;

/* What the graph keeps alive and releases in tfx_graph_free. */
typedef struct {
  Onnx__ModelProto *model;
  bool views;  /* model from tfx_onnx_unpack_views: its raw_data views map */
  void *map;   /* the model file */
  size_t map_size;
  TfxOnnxLoad load;
} Keep;

static void keep_free(void *arg) {
  Keep *k = arg;
  if (k->views)
    tfx_onnx_free_views(k->model);
  else if (k->model)
    onnx__model_proto__free_unpacked(k->model, NULL);
  tfx_onnx_unmap(k->map, k->map_size);
  tfx_onnx_load_deinit(&k->load);
  free(k);
}

/* The model in the mapped file, its weights left in the mapping when the
 * file allows (k keeps the mapping then); otherwise copied out by
 * protobuf-c, and the mapping can go. */
static void unpack_model(Keep *k, void *base, size_t size) {
  k->model = tfx_onnx_unpack_views(base, size);
  k->views = k->model != NULL;
  if (k->views) {
    k->map = base;
    k->map_size = size;
    return;
  }
  k->model = onnx__model_proto__unpack(NULL, size, base);
  tfx_onnx_unmap(base, size);
}

static void *graph_alloc(void *arg, size_t bytes) { return tfx_graph_alloc(arg, bytes); }

static const char *arena_printf(TfxGraph *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *arena_printf(TfxGraph *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = tfx_graph_alloc(g, (size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

static const char *arena_str(Ctx *c, const char *s) {
  return tfx_graph_strdup(c->g, tfx_onnx_str(s));
}

static bool is_default_domain(const char *dom) {
  return !dom || !*dom || strcmp(dom, "ai.onnx") == 0;
}

/* ---- model-local functions ---------------------------------------------- */

/* Index of the model function a node (domain, op_type, overload) calls, or -1. */
static int function_index(const Ctx *c, const char *domain, const char *op_type,
                          const char *overload) {
  domain = tfx_onnx_str(domain);
  op_type = tfx_onnx_str(op_type);
  overload = tfx_onnx_str(overload);
  for (size_t i = 0; i < c->model->n_functions && i < INT_MAX; i++) {
    const Onnx__FunctionProto *f = c->model->functions[i];
    const char *fd = tfx_onnx_str(f->domain);
    bool same_domain =
        strcmp(fd, domain) == 0 || (is_default_domain(fd) && is_default_domain(domain));
    if (same_domain && strcmp(tfx_onnx_str(f->name), op_type) == 0 &&
        strcmp(tfx_onnx_str(f->overload), overload) == 0)
      return (int)i;
  }
  return -1;
}

static const Onnx__FunctionProto *find_function(const Ctx *c, const FlatNode *n) {
  int i = function_index(c, n->domain, n->op_type, n->overload);
  return i < 0 ? NULL : c->model->functions[i];
}

/* Memory an inlined node takes beyond its caller's name (arena strings and
 * arrays, FlatNode), and how many strings carry that name as a prefix. */
static double node_cost(const Onnx__NodeProto *p, double *prefixed) {
  double cost = (double)sizeof(FlatNode) + 24 + (double)strlen(tfx_onnx_str(p->name)) +
                (double)strlen(tfx_onnx_str(p->op_type)) + (double)strlen(tfx_onnx_str(p->domain)) +
                (double)strlen(tfx_onnx_str(p->overload));
  for (size_t i = 0; i < p->n_input; i++)
    cost += sizeof(char *) + (double)strlen(tfx_onnx_str(p->input[i]));
  for (size_t i = 0; i < p->n_output; i++)
    cost += sizeof(char *) + (double)strlen(tfx_onnx_str(p->output[i]));
  for (size_t i = 0; i < p->n_attribute; i++)
    cost += sizeof(FlatAttr) + (double)strlen(tfx_onnx_str(p->attribute[i]->name)) + 1;
  *prefixed = 1 + (double)p->n_input + (double)p->n_output; /* its name, values it renames */
  return cost;
}

/* The cost of inlining function fi (see FnCost), or NULL when it is recursive
 * or nests too deeply, which is reported once, naming the top-level node that
 * led to it.  Counts saturate (doubles), so that nothing is attempted that
 * would overflow. */
static const FnCost *function_cost(Ctx *c, int fi, const char *root_name, const char *root_op,
                                   int depth) {
  FnCost *fc = &c->fn_cost[fi];
  if (fc->state == FN_DONE) return fc;
  if (fc->state == FN_BAD) return NULL;
  const Onnx__FunctionProto *f = c->model->functions[fi];
  if (fc->state == FN_OPEN || depth >= MAX_FUNC_DEPTH) {
    if (fc->state == FN_OPEN)
      tfx_error(c->d,
                "%s: node '%s' (%s): function '%s' calls itself; ONNX functions may not recurse",
                c->path, root_name, root_op, tfx_onnx_str(f->name));
    else
      tfx_error(c->d,
                "%s: node '%s' (%s): function '%s' is reached through more than %d nested calls",
                c->path, root_name, root_op, tfx_onnx_str(f->name), MAX_FUNC_DEPTH);
    c->errors++;
    fc->state = FN_BAD;
    return NULL;
  }
  fc->state = FN_OPEN;
  double nodes = 0, alpha = 0, beta = 0;
  for (size_t k = 0; k < f->n_node; k++) {
    const Onnx__NodeProto *p = f->node[k];
    double prefixed, own = node_cost(p, &prefixed);
    /* the node's own name: caller + "/" + its name, or op_type + "_" + k */
    double seg = (double)strlen(tfx_onnx_str(p->name));
    if (seg == 0) seg = (double)strlen(tfx_onnx_str(p->op_type)) + 1 + snprintf(NULL, 0, "%zu", k);
    alpha += own + 2 * prefixed;
    beta += prefixed;
    int callee = function_index(c, p->domain, p->op_type, p->overload);
    if (callee < 0) {
      nodes += 1;
      continue;
    }
    const FnCost *g = function_cost(c, callee, root_name, root_op, depth + 1);
    if (!g) { /* reported where it was found */
      fc->state = FN_BAD;
      return NULL;
    }
    nodes += (double)g->nodes;
    alpha += g->alpha + g->beta * (1 + seg);
    beta += g->beta;
  }
  fc->state = FN_DONE;
  fc->nodes = nodes > ONNX_MAX_NODES ? ONNX_MAX_NODES + 1 : (int64_t)nodes;
  fc->alpha = alpha;
  fc->beta = beta;
  return fc;
}

/* Name of an inner function value at the call site: formal parameters become
 * the caller's arguments, everything else gets the caller's name as prefix. */
static const char *fn_rename(Ctx *c, const Onnx__FunctionProto *f, const FlatNode *call,
                             const char *inner) {
  if (!inner || !*inner) return "";
  for (size_t i = 0; i < f->n_input; i++)
    if (strcmp(tfx_onnx_str(f->input[i]), inner) == 0)
      return (int)i < call->n_in ? call->in[i] : "";
  for (size_t i = 0; i < f->n_output; i++)
    if (strcmp(tfx_onnx_str(f->output[i]), inner) == 0 && (int)i < call->n_out && call->out[i][0])
      return call->out[i];
  return arena_printf(c->g, "%s/%s", call->name, inner);
}

static void push_node(Ctx *c, const FlatNode *n) {
  if (c->n_nodes == c->cap_nodes) {
    int cap = c->cap_nodes ? 2 * c->cap_nodes : 64;
    FlatNode *p = realloc(c->nodes, (size_t)cap * sizeof *p);
    if (!p) abort(); /* like the graph's own arrays */
    c->nodes = p;
    c->cap_nodes = cap;
  }
  c->nodes[c->n_nodes++] = *n;
}

static void expand(Ctx *c, const FlatNode *n, int depth);

static void inline_function(Ctx *c, const Onnx__FunctionProto *f, const FlatNode *call, int depth) {
  if (depth >= MAX_FUNC_DEPTH) {
    tfx_error(c->d, "%s: node '%s': function '%s' nests deeper than %d calls (recursive?)", c->path,
              call->name, call->op_type, MAX_FUNC_DEPTH);
    c->errors++;
    return;
  }
  if ((size_t)call->n_in > f->n_input || (size_t)call->n_out > f->n_output) {
    tfx_error(
        c->d,
        "%s: node '%s' calls function '%s' with %d inputs and %d outputs; it takes %zu and %zu",
        c->path, call->name, call->op_type, call->n_in, call->n_out, f->n_input, f->n_output);
    c->errors++;
    return;
  }
  for (size_t k = 0; k < f->n_node; k++) {
    const Onnx__NodeProto *p = f->node[k];
    FlatNode n = {0};
    n.op_type = arena_str(c, p->op_type);
    n.domain = arena_str(c, p->domain);
    n.overload = arena_str(c, p->overload);
    n.name = p->name && *p->name ? arena_printf(c->g, "%s/%s", call->name, p->name)
                                 : arena_printf(c->g, "%s/%s_%zu", call->name, n.op_type, k);
    n.n_in = (int)p->n_input;
    n.n_out = (int)p->n_output;
    n.in = tfx_graph_alloc(c->g, sizeof(char *) * (p->n_input + 1));
    n.out = tfx_graph_alloc(c->g, sizeof(char *) * (p->n_output + 1));
    for (size_t i = 0; i < p->n_input; i++) n.in[i] = fn_rename(c, f, call, p->input[i]);
    for (size_t i = 0; i < p->n_output; i++) n.out[i] = fn_rename(c, f, call, p->output[i]);
    n.attrs = tfx_graph_alloc(c->g, sizeof(FlatAttr) * (p->n_attribute + 1));
    for (size_t i = 0; i < p->n_attribute; i++) {
      const Onnx__AttributeProto *a = p->attribute[i];
      const char *ref = tfx_onnx_str(a->ref_attr_name);
      const Onnx__AttributeProto *src = a;
      if (*ref) { /* the caller's value, else the function's default, else absent */
        src = NULL;
        for (int j = 0; j < call->n_attrs && !src; j++)
          if (strcmp(call->attrs[j].name, ref) == 0) src = call->attrs[j].a;
        for (size_t j = 0; j < f->n_attribute_proto && !src; j++)
          if (strcmp(tfx_onnx_str(f->attribute_proto[j]->name), ref) == 0)
            src = f->attribute_proto[j];
        if (!src) continue;
      }
      n.attrs[n.n_attrs].name = arena_str(c, a->name);
      n.attrs[n.n_attrs].a = src;
      n.n_attrs++;
    }
    expand(c, &n, depth + 1);
  }
}

static void expand(Ctx *c, const FlatNode *n, int depth) {
  const Onnx__FunctionProto *f = find_function(c, n);
  if (f)
    inline_function(c, f, n, depth);
  else
    push_node(c, n);
}

/* ---- attributes ----------------------------------------------------------- */

static const char *arena_bytes(Ctx *c, ProtobufCBinaryData b) {
  char *s = tfx_graph_alloc(c->g, b.len + 1);
  if (b.len) memcpy(s, b.data, b.len);
  return s;
}

static TfxStatus convert_attr(Ctx *c, const FlatNode *n, const FlatAttr *fa, TfxAttr *out) {
  const Onnx__AttributeProto *a = fa->a;
  out->name = fa->name;
  int type = a->has_type ? (int)a->type : 0;
  if (type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED) { /* very old exporters */
    if (a->t)
      type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    else if (a->g)
      type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    else if (a->n_floats)
      type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    else if (a->n_ints)
      type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    else if (a->n_strings)
      type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    else if (a->has_f)
      type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    else if (a->has_i)
      type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    else if (a->has_s)
      type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    else
      return tfx_error(c->d, "%s: node '%s' (%s): attribute '%s' has no type and no value", c->path,
                       n->name, n->op_type, fa->name);
  }
  size_t count = 0;
  switch (type) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: count = a->n_floats; break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: count = a->n_ints; break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: count = a->n_strings; break;
  default: break;
  }
  if (count > INT_MAX)
    return tfx_error(c->d, "%s: node '%s' (%s): attribute '%s' has too many values", c->path,
                     n->name, n->op_type, fa->name);
  out->n = (int)count;
  switch (type) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
    out->kind = TFX_ATTR_FLOAT;
    out->f = a->f;
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
    out->kind = TFX_ATTR_INT;
    out->i = a->i;
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
    out->kind = TFX_ATTR_STRING;
    out->s = arena_bytes(c, a->s);
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
    out->kind = TFX_ATTR_TENSOR;
    if (!a->t)
      return tfx_error(c->d, "%s: node '%s' (%s): tensor attribute '%s' holds no tensor", c->path,
                       n->name, n->op_type, fa->name);
    char what[512];
    snprintf(what, sizeof what, "node '%s' (%s): attribute '%s'", n->name, n->op_type, fa->name);
    out->t = tfx_graph_alloc(c->g, sizeof *out->t);
    if (tfx_onnx_tensor(c->load, a->t, what, out->t)) return TFX_ERR;
    break;
  }
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
    out->kind = TFX_ATTR_FLOATS;
    out->floats = tfx_graph_alloc(c->g, sizeof(float) * (count + 1));
    if (count) memcpy(out->floats, a->floats, sizeof(float) * count);
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
    out->kind = TFX_ATTR_INTS;
    out->ints = tfx_graph_alloc(c->g, sizeof(int64_t) * (count + 1));
    if (count) memcpy(out->ints, a->ints, sizeof(int64_t) * count);
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
    out->kind = TFX_ATTR_STRINGS;
    out->strings = tfx_graph_alloc(c->g, sizeof(char *) * (count + 1));
    for (size_t i = 0; i < count; i++) out->strings[i] = arena_bytes(c, a->strings[i]);
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO:
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS:
    out->kind = TFX_ATTR_GRAPH; /* the op refuses it if it must */
    out->n = 0;
    break;
  default:
    return tfx_error(c->d, "%s: node '%s' (%s): attribute '%s' has unknown type %d", c->path,
                     n->name, n->op_type, fa->name, type);
  }
  return TFX_OK;
}

/* ---- graph inputs and outputs --------------------------------------------- */

/* Read a ValueInfo's tensor type into v.  Inputs must be typed tensors;
 * outputs may leave the type out (inference fills it in). */
static TfxStatus value_type(Ctx *c, const Onnx__ValueInfoProto *vi, const char *kind, bool required,
                            TfxValue *v, bool with_shape) {
  const char *name = tfx_onnx_str(vi->name);
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET) {
    if (!required) return TFX_OK;
    return tfx_error(c->d, "%s: %s '%s' has no type", c->path, kind, name);
  }
  if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
    const char *what = tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE   ? "a sequence"
                       : tp->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE      ? "a map"
                       : tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE ? "an optional"
                       : tp->value_case == ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE
                           ? "a sparse tensor"
                           : "not a dense tensor";
    return tfx_error(c->d, "%s: %s '%s' is %s; tfxc supports dense tensors only", c->path, kind,
                     name, what);
  }
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  int code = tt->has_elem_type ? tt->elem_type : 0;
  if (code == 0) {
    if (!required) return TFX_OK;
    return tfx_error(c->d, "%s: %s '%s' has no element type", c->path, kind, name);
  }
  TfxDtype dt = code > 0 ? tfx_dtype_from_onnx(code) : TFX_UNDEF;
  if (dt == TFX_UNDEF || tfx_dtype_bytes(dt) == 0) {
    char buf[32];
    return tfx_error(c->d, "%s: %s '%s' has dtype %s, which tfxc does not support", c->path, kind,
                     name, tfx_onnx_dtype_desc(code, buf, sizeof buf));
  }
  v->dtype = dt;
  if (!with_shape || !tt->shape) return TFX_OK; /* rank unknown */
  const Onnx__TensorShapeProto *sh = tt->shape;
  if (sh->n_dim > TFX_MAX_RANK)
    return tfx_error(c->d, "%s: %s '%s' has rank %zu; tfxc supports at most %d", c->path, kind,
                     name, sh->n_dim, TFX_MAX_RANK);
  v->rank = (int)sh->n_dim;
  for (size_t i = 0; i < sh->n_dim; i++) {
    const Onnx__TensorShapeProto__Dimension *dim = sh->dim[i];
    v->dims[i] = -1;
    v->dim_sym[i] = 0;
    if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      if (dim->dim_value < 0)
        return tfx_error(c->d, "%s: %s '%s' has negative dim %lld at axis %zu", c->path, kind, name,
                         (long long)dim->dim_value, i);
      v->dims[i] = dim->dim_value;
    } else if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
               dim->dim_param && *dim->dim_param) {
      v->dim_sym[i] = tfx_graph_add_symbol(c->g, dim->dim_param) + 1;
    }
  }
  return TFX_OK;
}

/* ---- the model ------------------------------------------------------------ */

/* The default-domain opset; 0 when the model imports none (an error only if
 * a node of the default domain remains after inlining, see check_opset). */
static TfxStatus read_opset(Ctx *c) {
  int64_t opset = -1;
  for (size_t i = 0; i < c->model->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = c->model->opset_import[i];
    if (!is_default_domain(o->domain)) continue;
    int64_t v = o->has_version ? o->version : 0;
    if (opset >= 0 && v != opset)
      return tfx_error(c->d,
                       "%s: the model imports the default domain twice (opsets %lld and %lld)",
                       c->path, (long long)opset, (long long)v);
    opset = v;
  }
  if (opset >= 0 && (opset < 1 || opset > ONNX_MAX_OPSET))
    return tfx_error(c->d, "%s: default-domain opset %lld is not supported (1..%d)", c->path,
                     (long long)opset, ONNX_MAX_OPSET);
  c->g->opset = opset < 0 ? 0 : (int)opset;
  return TFX_OK;
}

static TfxStatus check_opset(Ctx *c) {
  if (c->g->opset) return TFX_OK;
  for (int i = 0; i < c->n_nodes; i++)
    if (is_default_domain(c->nodes[i].domain))
      return tfx_error(c->d,
                       "%s: node '%s' (%s) is in the default domain, but the model imports no "
                       "default-domain ('' or 'ai.onnx') opset",
                       c->path, c->nodes[i].name, c->nodes[i].op_type);
  c->g->opset = ONNX_MAX_OPSET; /* no default-domain node: any opset reads the same */
  return TFX_OK;
}

static void add_initializers(Ctx *c, const Onnx__GraphProto *gp) {
  for (size_t i = 0; i < gp->n_sparse_initializer; i++) {
    const Onnx__SparseTensorProto *sp = gp->sparse_initializer[i];
    const char *name = sp->values ? tfx_onnx_str(sp->values->name) : "";
    tfx_error(c->d, "%s: sparse initializer '%s' is not supported", c->path, name);
    c->errors++;
  }
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    const char *name = tfx_onnx_str(tp->name);
    if (!*name) {
      tfx_error(c->d, "%s: initializer #%zu has no name", c->path, i);
      c->errors++;
      continue;
    }
    if (tfx_graph_find_value(c->g, name) != TFX_NONE) {
      tfx_error(c->d, "%s: initializer '%s' is defined twice", c->path, name);
      c->errors++;
      continue;
    }
    char what[512];
    snprintf(what, sizeof what, "initializer '%s'", name);
    TfxTensor *t = tfx_graph_alloc(c->g, sizeof *t);
    if (tfx_onnx_tensor(c->load, tp, what, t)) {
      c->errors++;
      continue;
    }
    uint32_t v = tfx_graph_add_value(c->g, name);
    tfx_value_set_const(c->g, v, t);
  }
}

static void add_inputs(Ctx *c, const Onnx__GraphProto *gp) {
  c->g->inputs = malloc(sizeof(uint32_t) * (gp->n_input + 1));
  if (!c->g->inputs) abort();
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    const char *name = tfx_onnx_str(vi->name);
    if (!*name) {
      tfx_error(c->d, "%s: graph input #%zu has no name", c->path, i);
      c->errors++;
      continue;
    }
    /* Old exporters list initialisers among the inputs: they stay constants. */
    uint32_t old = tfx_graph_find_value(c->g, name);
    if (old != TFX_NONE && tfx_val(c->g, old)->kind == TFX_VAL_CONST) continue;
    if (old != TFX_NONE) {
      tfx_error(c->d, "%s: graph input '%s' is declared twice", c->path, name);
      c->errors++;
      continue;
    }
    TfxValue tmp = {.rank = -1};
    if (value_type(c, vi, "graph input", true, &tmp, true)) {
      c->errors++;
      continue;
    }
    uint32_t id = tfx_graph_add_value(c->g, name);
    TfxValue *v = tfx_val(c->g, id);
    v->kind = TFX_VAL_INPUT;
    v->dtype = tmp.dtype;
    v->rank = tmp.rank;
    memcpy(v->dims, tmp.dims, sizeof v->dims);
    memcpy(v->dim_sym, tmp.dim_sym, sizeof v->dim_sym);
    c->g->inputs[c->g->n_inputs++] = id;
  }
}

static void flatten_nodes(Ctx *c, const Onnx__GraphProto *gp) {
  c->fn_cost = calloc(c->model->n_functions + 1, sizeof *c->fn_cost); /* FN_UNSEEN */
  if (!c->fn_cost) abort();
  double nodes = 0, bytes = 0; /* what inlining will take, summed before it starts */
  for (size_t k = 0; k < gp->n_node; k++) {
    const Onnx__NodeProto *p = gp->node[k];
    FlatNode n = {0};
    n.op_type = arena_str(c, p->op_type);
    n.domain = arena_str(c, p->domain);
    n.overload = arena_str(c, p->overload);
    n.name = p->name && *p->name ? arena_str(c, p->name)
                                 : arena_printf(c->g, "%s_%zu", *n.op_type ? n.op_type : "node", k);
    if (!*n.op_type) {
      tfx_error(c->d, "%s: node '%s' has no op_type", c->path, n.name);
      c->errors++;
      continue;
    }
    if (p->n_input > INT_MAX / 2 || p->n_output > INT_MAX / 2 || p->n_attribute > INT_MAX / 2) {
      tfx_error(c->d, "%s: node '%s' (%s) has too many inputs, outputs or attributes", c->path,
                n.name, n.op_type);
      c->errors++;
      continue;
    }
    n.n_in = (int)p->n_input;
    n.n_out = (int)p->n_output;
    n.in = tfx_graph_alloc(c->g, sizeof(char *) * (p->n_input + 1));
    n.out = tfx_graph_alloc(c->g, sizeof(char *) * (p->n_output + 1));
    for (size_t i = 0; i < p->n_input; i++) n.in[i] = arena_str(c, p->input[i]);
    for (size_t i = 0; i < p->n_output; i++) n.out[i] = arena_str(c, p->output[i]);
    n.attrs = tfx_graph_alloc(c->g, sizeof(FlatAttr) * (p->n_attribute + 1));
    bool bad = false;
    for (size_t i = 0; i < p->n_attribute; i++) {
      const Onnx__AttributeProto *a = p->attribute[i];
      const char *an = arena_str(c, a->name);
      if (!*an) {
        tfx_error(c->d, "%s: node '%s' (%s): attribute #%zu has no name", c->path, n.name,
                  n.op_type, i);
        bad = true;
      } else if (a->ref_attr_name && *a->ref_attr_name) {
        tfx_error(c->d, "%s: node '%s' (%s): attribute '%s' refers to '%s' outside a function",
                  c->path, n.name, n.op_type, an, a->ref_attr_name);
        bad = true;
      }
      for (int j = 0; j < n.n_attrs && !bad; j++)
        if (strcmp(n.attrs[j].name, an) == 0) {
          tfx_error(c->d, "%s: node '%s' (%s): attribute '%s' is given twice", c->path, n.name,
                    n.op_type, an);
          bad = true;
        }
      n.attrs[n.n_attrs].name = an;
      n.attrs[n.n_attrs].a = a;
      n.n_attrs++;
    }
    if (bad) {
      c->errors++;
      continue;
    }
    /* Count what the node becomes before inlining anything: recursion and
     * exponential nesting are refused instead of attempted. */
    int fi = function_index(c, p->domain, p->op_type, p->overload);
    if (fi >= 0) {
      const FnCost *fc = function_cost(c, fi, n.name, n.op_type, 0);
      if (!fc) {
        c->errors++;
        continue;
      }
      nodes += (double)fc->nodes;
      bytes += fc->alpha + fc->beta * (double)strlen(n.name);
    } else {
      nodes += 1;
    }
    if (nodes > ONNX_MAX_NODES || bytes > (double)ONNX_MAX_INLINE_BYTES) {
      if (nodes > ONNX_MAX_NODES)
        tfx_error(c->d,
                  "%s: node '%s' (%s): the model has more than %d nodes once its functions are "
                  "inlined; refused",
                  c->path, n.name, n.op_type, ONNX_MAX_NODES);
      else
        tfx_error(c->d,
                  "%s: node '%s' (%s): inlining its functions would take more than %zu MiB (names "
                  "and nodes); refused",
                  c->path, n.name, n.op_type, ONNX_MAX_INLINE_BYTES >> 20);
      c->errors++;
      return;
    }
    expand(c, &n, 0);
  }
}

/* Every unsupported operator, once, with the nodes that use it. */
static void report_unknown_ops(Ctx *c, const TfxOp *ops) {
  bool *done = calloc((size_t)c->n_nodes + 1, 1);
  if (!done) abort();
  for (int i = 0; i < c->n_nodes; i++) {
    if (ops[i] != TFX_OP_COUNT || done[i]) continue;
    const FlatNode *n = &c->nodes[i];
    char list[512];
    size_t len = 0;
    int count = 0, shown = 0;
    list[0] = '\0';
    for (int j = i; j < c->n_nodes; j++) {
      const FlatNode *m = &c->nodes[j];
      if (ops[j] != TFX_OP_COUNT || done[j] || strcmp(m->op_type, n->op_type) != 0 ||
          strcmp(m->domain, n->domain) != 0)
        continue;
      done[j] = true;
      count++;
      if (len < sizeof list - 80) {
        int w = snprintf(list + len, sizeof list - len, "%s'%s'", shown ? ", " : "", m->name);
        if (w > 0) len += (size_t)w < sizeof list - len ? (size_t)w : sizeof list - len - 1;
        shown++;
      }
    }
    if (is_default_domain(n->domain))
      tfx_error(c->d, "%s: unsupported operator '%s' (%d node%s: %s%s)", c->path, n->op_type, count,
                count == 1 ? "" : "s", list, shown < count ? ", ..." : "");
    else
      tfx_error(c->d, "%s: unsupported operator '%s' of domain '%s' (%d node%s: %s%s)", c->path,
                n->op_type, n->domain, count, count == 1 ? "" : "s", list,
                shown < count ? ", ..." : "");
    c->errors++;
  }
  free(done);
}

static void build_nodes(Ctx *c) {
  TfxGraph *g = c->g;
  TfxOp *ops = malloc(sizeof(TfxOp) * ((size_t)c->n_nodes + 1));
  size_t n_outs = 0;
  for (int i = 0; i < c->n_nodes; i++) n_outs += (size_t)c->nodes[i].n_out;
  int *producer = malloc(sizeof(int) * (n_outs + 1)); /* flat node index per new value */
  if (!ops || !producer) abort();
  bool unknown = false;
  for (int i = 0; i < c->n_nodes; i++) {
    const FlatNode *n = &c->nodes[i];
    ops[i] = is_default_domain(n->domain) ? tfx_op_lookup(n->op_type) : TFX_OP_COUNT;
    unknown |= ops[i] == TFX_OP_COUNT;
  }
  if (unknown) report_unknown_ops(c, ops);

  /* Outputs first (the model need not be sorted), each defined once. */
  uint32_t base = g->n_values;
  uint32_t **outs = calloc((size_t)c->n_nodes + 1, sizeof *outs);
  if (!outs) abort();
  for (int i = 0; i < c->n_nodes; i++) {
    const FlatNode *n = &c->nodes[i];
    outs[i] = malloc(sizeof(uint32_t) * ((size_t)n->n_out + 1));
    if (!outs[i]) abort();
    /* Every op's evaluator writes output 0; only the recurrent ops may omit it. */
    bool out0_optional = ops[i] == TFX_OP_RNN || ops[i] == TFX_OP_GRU || ops[i] == TFX_OP_LSTM;
    if (ops[i] != TFX_OP_COUNT && (n->n_out == 0 || (!*n->out[0] && !out0_optional))) {
      tfx_error(c->d, "%s: node '%s' (%s) has no first output", c->path, n->name, n->op_type);
      c->errors++;
    }
    for (int k = 0; k < n->n_out; k++) {
      outs[i][k] = TFX_NONE;
      if (!*n->out[k]) continue;
      uint32_t v = tfx_graph_find_value(g, n->out[k]);
      if (v == TFX_NONE) {
        v = tfx_graph_add_value(g, n->out[k]);
        producer[v - base] = i;
        outs[i][k] = v;
        continue;
      }
      const TfxValue *val = tfx_val(g, v);
      if (val->kind == TFX_VAL_CONST)
        tfx_error(c->d, "%s: node '%s' (%s) produces '%s', which is also an initializer", c->path,
                  n->name, n->op_type, n->out[k]);
      else if (val->kind == TFX_VAL_INPUT)
        tfx_error(c->d, "%s: node '%s' (%s) produces '%s', which is also a graph input", c->path,
                  n->name, n->op_type, n->out[k]);
      else
        tfx_error(c->d, "%s: value '%s' is produced twice, by node '%s' and node '%s'", c->path,
                  n->out[k], c->nodes[producer[v - base]].name, n->name);
      c->errors++;
    }
  }

  /* Inputs: every name must be defined somewhere in the graph. */
  uint32_t **ins = calloc((size_t)c->n_nodes + 1, sizeof *ins);
  if (!ins) abort();
  for (int i = 0; i < c->n_nodes; i++) {
    const FlatNode *n = &c->nodes[i];
    ins[i] = malloc(sizeof(uint32_t) * ((size_t)n->n_in + 1));
    if (!ins[i]) abort();
    for (int k = 0; k < n->n_in; k++) {
      ins[i][k] = TFX_NONE;
      if (!*n->in[k]) continue;
      uint32_t v = tfx_graph_find_value(g, n->in[k]);
      if (v == TFX_NONE) {
        tfx_error(c->d,
                  "%s: node '%s' (%s) uses value '%s', which no node, graph input or initializer "
                  "defines",
                  c->path, n->name, n->op_type, n->in[k]);
        c->errors++;
      }
      ins[i][k] = v;
    }
  }

  if (!c->errors) {
    for (int i = 0; i < c->n_nodes && !c->errors; i++) {
      const FlatNode *n = &c->nodes[i];
      uint32_t id =
          tfx_graph_add_node(g, ops[i], n->op_type, n->name, ins[i], n->n_in, outs[i], n->n_out);
      TfxAttr *attrs = tfx_graph_alloc(g, sizeof(TfxAttr) * ((size_t)n->n_attrs + 1));
      for (int k = 0; k < n->n_attrs; k++)
        if (convert_attr(c, n, &n->attrs[k], &attrs[k])) c->errors++;
      g->nodes[id].attrs = attrs;
      g->nodes[id].n_attrs = n->n_attrs;
    }
  }
  for (int i = 0; i < c->n_nodes; i++) {
    free(ins[i]);
    free(outs[i]);
  }
  free(ins);
  free(outs);
  free(producer);
  free(ops);
}

static void add_outputs(Ctx *c, const Onnx__GraphProto *gp) {
  TfxGraph *g = c->g;
  g->outputs = malloc(sizeof(uint32_t) * (gp->n_output + 1));
  if (!g->outputs) abort();
  for (size_t i = 0; i < gp->n_output; i++) {
    const Onnx__ValueInfoProto *vi = gp->output[i];
    const char *name = tfx_onnx_str(vi->name);
    uint32_t v = *name ? tfx_graph_find_value(g, name) : TFX_NONE;
    if (v == TFX_NONE) {
      tfx_error(c->d, "%s: graph output '%s' is not defined by any node, input or initializer",
                c->path, name);
      c->errors++;
      continue;
    }
    TfxValue tmp = {.rank = -1};
    if (value_type(c, vi, "graph output", false, &tmp, false)) {
      c->errors++;
      continue;
    }
    TfxValue *val = tfx_val(g, v);
    if (val->dtype == TFX_UNDEF) val->dtype = tmp.dtype; /* a hint; inference decides */
    val->is_output = true;
    g->outputs[g->n_outputs++] = v;
  }
}

TfxGraph *tfx_onnx_import(const char *path, TfxDiag *d) {
  void *base;
  size_t size;
  if (tfx_onnx_map_file(d, path, &base, &size)) return NULL;
  if (size == 0) {
    tfx_error(d, "%s: empty file, expected an ONNX model", path);
    return NULL;
  }
  Keep *keep = calloc(1, sizeof *keep);
  if (!keep) abort();
  unpack_model(keep, base, size);
  if (!keep->model) {
    tfx_error(d, "%s: not a valid ONNX model (protobuf parse failed: truncated or corrupt file)",
              path);
    keep_free(keep);
    return NULL;
  }
  if (!keep->model->graph) {
    tfx_error(d, "%s: the model has no graph", path);
    keep_free(keep);
    return NULL;
  }
  TfxGraph *g = tfx_graph_new(d, path);
  if (!g) {
    tfx_error(d, "%s: out of memory", path);
    keep_free(keep);
    return NULL;
  }
  /* From here on the graph owns the message and the mappings. */
  Onnx__ModelProto *model = keep->model;
  g->cleanup = keep_free;
  g->cleanup_arg = keep;
  Ctx c = {.g = g, .d = d, .path = g->path, .model = model, .load = &keep->load};
  if (tfx_onnx_load_init(&keep->load, d, path)) {
    tfx_graph_free(g);
    return NULL;
  }
  keep->load.alloc = graph_alloc;
  keep->load.alloc_arg = g;
  keep->load.view = true;
  keep->load.map_base = keep->map;
  keep->load.map_size = keep->map_size;
  keep->load.path = g->path;

  const Onnx__GraphProto *gp = model->graph;
  if (gp->name && *gp->name) g->name = tfx_graph_strdup(g, gp->name);
  if (read_opset(&c) == TFX_OK) {
    add_initializers(&c, gp);
    add_inputs(&c, gp);
    flatten_nodes(&c, gp);
    if (!c.errors && check_opset(&c)) c.errors++;
    if (!c.errors) build_nodes(&c);
    if (!c.errors) add_outputs(&c, gp);
  } else {
    c.errors++;
  }
  free(c.nodes);
  free(c.fn_cost);
  if (c.errors) {
    tfx_graph_free(g);
    return NULL;
  }
  return g;
}
