/* hf_config.c — Hugging Face checkpoint folders: config.json (read with
 * jansson, each config class's defaults applied by the builders) picks an
 * architecture builder; this file holds what the builders share: config
 * fields, checkpoint tensors checked against the shapes the config implies,
 * and small constructors for graph ops.  Weights stay views into the mapped
 * checkpoint, which the graph closes through its cleanup hook. */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "frontend/hf_priv.h"

#define HF_OPSET 23 /* RMSNormalization and Attention are opset 23 */

/* ---- messages --------------------------------------------------------------- */

void hf_error(HfCtx *c, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tfx_verror(c->d, fmt, ap);
  va_end(ap);
  c->errors++;
}

void hf_unsupported(HfCtx *c, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  size_t len = strlen(buf), need = c->unsup_len + len + 3;
  char *p = realloc(c->unsup, need);
  if (!p)
    abort();
  c->unsup = p;
  if (c->unsup_len) {
    memcpy(c->unsup + c->unsup_len, "; ", 2);
    c->unsup_len += 2;
  }
  memcpy(c->unsup + c->unsup_len, buf, len + 1);
  c->unsup_len += len;
}

static void shape_text(char *buf, size_t len, int rank, const int64_t *dims) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, len - k, "[");
  for (int i = 0; i < rank && k < len; i++)
    k += (size_t)snprintf(buf + k, len - k, "%s%lld", i ? ", " : "", (long long)dims[i]);
  if (k < len)
    snprintf(buf + k, len - k, "]");
}

/* ---- config.json ------------------------------------------------------------ */

static json_t *cfg_get(HfCtx *c, const char *key) {
  json_t *v = json_object_get(c->cfg, key);
  return v && !json_is_null(v) ? v : NULL;
}

bool hf_cfg_set(HfCtx *c, const char *key) { return cfg_get(c, key) != NULL; }

char *hf_cfg_text(HfCtx *c, const char *key) {
  json_t *v = json_object_get(c->cfg, key);
  char *s = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
  if (!s) {
    s = malloc(5);
    if (!s)
      abort();
    memcpy(s, "null", 5);
  }
  return s;
}

static void type_error(HfCtx *c, const char *key, const char *want) {
  char *t = hf_cfg_text(c, key);
  hf_error(c, "%s: field '%s' must be %s, not %s", c->cfg_path, key, want, t);
  free(t);
}

int64_t hf_cfg_int(HfCtx *c, const char *key, int64_t dflt) {
  json_t *v = cfg_get(c, key);
  if (!v)
    return dflt;
  if (json_is_integer(v))
    return json_integer_value(v);
  if (json_is_real(v)) { /* 4.0 written by some exporters */
    double r = json_real_value(v);
    if (r == floor(r) && fabs(r) < 9e15)
      return (int64_t)r;
  }
  type_error(c, key, "an integer");
  return dflt;
}

/* A size the config gives cannot exceed what the checkpoint holds: a layer
 * count its number of tensors (each layer has weights), any other size
 * (vocabulary, widths, heads, positions) its number of elements (each is a
 * dim of some weight), except a sliding window, which is no weight's dim.
 * Checked before a builder loops over layers or sizes a table, so that
 * "n_layer": 2000000000 is refused at once instead of attempted.  0 when v
 * fits (or no checkpoint is open). */
static int64_t cfg_exceeds_checkpoint(HfCtx *c, const char *key, int64_t v, const char **what) {
  if (!c->ck || strcmp(key, "sliding_window") == 0)
    return 0;
  int n = tfx_checkpoint_count(c->ck);
  if (strcmp(key, "n_layer") == 0 || strcmp(key, "num_hidden_layers") == 0) {
    *what = "tensors";
    return v > n ? (n ? n : -1) : 0;
  }
  int64_t elems = 0;
  for (int i = 0; i < n && elems < v; i++) {
    const TfxTensor *t = tfx_checkpoint_get(c->ck, tfx_checkpoint_name(c->ck, i));
    int64_t e = t ? tfx_tensor_numel(t) : 0;
    elems = e > INT64_MAX - elems ? INT64_MAX : elems + e;
  }
  *what = "elements";
  return v > elems ? (elems ? elems : -1) : 0;
}

int64_t hf_cfg_pos(HfCtx *c, const char *key, int64_t dflt) {
  int errors = c->errors;
  int64_t v = hf_cfg_int(c, key, dflt);
  if (c->errors != errors)
    return v; /* the wrong type, reported; v is the default */
  if (v < 1 || v > INT32_MAX) {
    hf_error(c, "%s: field '%s' is %lld; it must be between 1 and %d", c->cfg_path, key,
             (long long)v, INT32_MAX);
    return dflt;
  }
  const char *what = "";
  int64_t have = hf_cfg_set(c, key) ? cfg_exceeds_checkpoint(c, key, v, &what) : 0;
  if (have) {
    hf_error(c, "%s: field '%s' is %lld, but the checkpoint %s holds only %lld %s", c->cfg_path,
             key, (long long)v, c->ck_path, (long long)(have < 0 ? 0 : have), what);
    return dflt;
  }
  return v;
}

double hf_cfg_num(HfCtx *c, const char *key, double dflt) {
  json_t *v = cfg_get(c, key);
  if (!v)
    return dflt;
  if (json_is_number(v))
    return json_number_value(v);
  type_error(c, key, "a number");
  return dflt;
}

const char *hf_cfg_str(HfCtx *c, const char *key, const char *dflt) {
  json_t *v = cfg_get(c, key);
  if (!v)
    return dflt;
  if (json_is_string(v))
    return tfx_graph_strdup(c->g, json_string_value(v));
  type_error(c, key, "a string");
  return dflt;
}

bool hf_cfg_bool(HfCtx *c, const char *key, bool dflt) {
  json_t *v = cfg_get(c, key);
  if (!v)
    return dflt;
  if (json_is_boolean(v))
    return json_is_true(v);
  type_error(c, key, "true or false");
  return dflt;
}

/* ---- checkpoint tensors ----------------------------------------------------- */

bool hf_has_raw(HfCtx *c, const char *name) { return tfx_checkpoint_get(c->ck, name) != NULL; }

bool hf_has(HfCtx *c, const char *name) {
  char full[512];
  snprintf(full, sizeof full, "%s%s", c->prefix, name);
  return hf_has_raw(c, full);
}

static uint32_t weight(HfCtx *c, int rank, const int64_t *dims, const char *fmt, va_list ap) {
  char name[448], full[512], want[256], have[256];
  vsnprintf(name, sizeof name, fmt, ap);
  snprintf(full, sizeof full, "%s%s", c->prefix, name);
  shape_text(want, sizeof want, rank, dims);
  const TfxTensor *t = tfx_checkpoint_get(c->ck, full);
  if (!t) {
    hf_error(c, "%s: tensor '%s' is missing (%s in %s implies it, shape %s)", c->ck_path, full,
             c->arch, c->cfg_path, want);
    return TFX_NONE;
  }
  const char *file = tfx_checkpoint_file_of(c->ck, full);
  bool same = t->rank == rank;
  for (int i = 0; same && i < rank; i++)
    same = t->dims[i] == dims[i];
  if (!same) {
    shape_text(have, sizeof have, t->rank, t->dims);
    hf_error(c, "%s: tensor '%s' has shape %s; %s implies %s", file ? file : c->ck_path, full, have,
             c->cfg_path, want);
    return TFX_NONE;
  }
  if (t->dtype != TFX_F32 && t->dtype != TFX_F16 && t->dtype != TFX_BF16 && t->dtype != TFX_F64) {
    hf_error(c,
             "%s: tensor '%s' has dtype %s; a weight must be floating point (F32, F16, BF16, F64)",
             file ? file : c->ck_path, full, tfx_dtype_name(t->dtype));
    return TFX_NONE;
  }
  /* A weight used twice (tied embeddings) is one value. */
  uint32_t v = tfx_graph_find_value(c->g, full);
  if (v == TFX_NONE) {
    TfxTensor *view = tfx_graph_alloc(c->g, sizeof *view);
    *view = *t; /* data stays in the mapping */
    v = tfx_graph_add_value(c->g, full);
    tfx_value_set_const(c->g, v, view);
  }
  if (t->dtype == TFX_F32)
    return v;
  char cast[600];
  snprintf(cast, sizeof cast, "%s.f32", full);
  uint32_t f = tfx_graph_find_value(c->g, cast);
  return f != TFX_NONE ? f : hf_cast(c, cast, v, TFX_F32);
}

uint32_t hf_weight(HfCtx *c, int rank, const int64_t *dims, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  uint32_t v = weight(c, rank, dims, fmt, ap);
  va_end(ap);
  return v;
}

/* ---- graph building --------------------------------------------------------- */

const char *hf_name(HfCtx *c, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return tfx_graph_strdup(c->g, buf);
}

/* name, or name_2, name_3, ... when a value is already called so. */
static const char *unique(HfCtx *c, const char *name) {
  if (tfx_graph_find_value(c->g, name) == TFX_NONE)
    return name;
  char buf[560];
  for (int k = 2;; k++) {
    snprintf(buf, sizeof buf, "%s_%d", name, k);
    if (tfx_graph_find_value(c->g, buf) == TFX_NONE)
      return tfx_graph_strdup(c->g, buf);
  }
}

static void push_id(uint32_t **arr, uint32_t *n, uint32_t id) {
  uint32_t *p = realloc(*arr, sizeof(uint32_t) * (*n + 1));
  if (!p)
    abort();
  p[(*n)++] = id;
  *arr = p;
}

uint32_t hf_input(HfCtx *c, const char *name, TfxDtype dt, int rank, const char *const *syms) {
  uint32_t id = tfx_graph_add_value(c->g, name);
  TfxValue *v = tfx_val(c->g, id);
  v->kind = TFX_VAL_INPUT;
  v->dtype = dt;
  v->rank = rank;
  for (int i = 0; i < rank; i++) {
    v->dims[i] = -1;
    v->dim_sym[i] = tfx_graph_add_symbol(c->g, syms[i]) + 1;
  }
  push_id(&c->g->inputs, &c->g->n_inputs, id);
  return id;
}

void hf_output(HfCtx *c, uint32_t v) {
  if (v == TFX_NONE)
    return;
  tfx_val(c->g, v)->is_output = true;
  push_id(&c->g->outputs, &c->g->n_outputs, v);
}

TfxAttr hf_attr_i(const char *name, int64_t v) {
  return (TfxAttr){.name = name, .kind = TFX_ATTR_INT, .i = v};
}
TfxAttr hf_attr_f(const char *name, float v) {
  return (TfxAttr){.name = name, .kind = TFX_ATTR_FLOAT, .f = v};
}
TfxAttr hf_attr_s(const char *name, const char *s) {
  return (TfxAttr){.name = name, .kind = TFX_ATTR_STRING, .s = s};
}
TfxAttr hf_attr_t(const char *name, TfxTensor *t) {
  return (TfxAttr){.name = name, .kind = TFX_ATTR_TENSOR, .t = t};
}
TfxAttr hf_attr_ints(HfCtx *c, const char *name, int n, const int64_t *v) {
  int64_t *p = tfx_graph_alloc(c->g, sizeof(int64_t) * ((size_t)n + 1));
  memcpy(p, v, sizeof(int64_t) * (size_t)n);
  return (TfxAttr){.name = name, .kind = TFX_ATTR_INTS, .n = n, .ints = p};
}

uint32_t hf_node(HfCtx *c, TfxOp op, const char *name, int n_in, const uint32_t *in, int n_attr,
                 const TfxAttr *attrs, int n_out, uint32_t *outs) {
  uint32_t ids[8];
  /* An input may be TFX_NONE after an error already reported: building goes
   * on to find more problems, and the graph is freed at the end. */
  if (n_out < 1 || n_out > 8)
    abort(); /* a builder bug */
  /* the node and its single output share a name; outputs of a multi-output
   * node are name_0, name_1, ... */
  const char *node_name = unique(c, name);
  for (int k = 0; k < n_out; k++)
    ids[k] = tfx_graph_add_value(c->g, n_out == 1 ? node_name
                                                  : unique(c, hf_name(c, "%s_%d", node_name, k)));
  uint32_t id = tfx_graph_add_node(c->g, op, NULL, node_name, in, n_in, ids, n_out);
  TfxNode *n = &c->g->nodes[id];
  if (n_attr) {
    n->attrs = tfx_graph_alloc(c->g, sizeof(TfxAttr) * (size_t)n_attr);
    memcpy(n->attrs, attrs, sizeof(TfxAttr) * (size_t)n_attr);
    for (int k = 0; k < n_attr; k++)
      n->attrs[k].name = tfx_graph_strdup(c->g, attrs[k].name);
    n->n_attrs = n_attr;
  }
  if (outs)
    memcpy(outs, ids, sizeof(uint32_t) * (size_t)n_out);
  return ids[0];
}

static uint32_t add_const(HfCtx *c, const char *name, TfxTensor *t) {
  uint32_t v = tfx_graph_add_value(c->g, unique(c, name));
  tfx_value_set_const(c->g, v, t);
  return v;
}

uint32_t hf_const_i64(HfCtx *c, const char *name, int n, const int64_t *v) {
  int64_t dims[1] = {n};
  TfxTensor *t = tfx_graph_new_tensor(c->g, TFX_I64, 1, dims);
  memcpy(t->data, v, sizeof(int64_t) * (size_t)n);
  return add_const(c, name, t);
}

uint32_t hf_scalar_i64(HfCtx *c, const char *name, int64_t v) {
  TfxTensor *t = tfx_graph_new_tensor(c->g, TFX_I64, 0, NULL);
  *(int64_t *)t->data = v;
  return add_const(c, name, t);
}

uint32_t hf_scalar_f32(HfCtx *c, const char *name, float v) {
  TfxTensor *t = tfx_graph_new_tensor(c->g, TFX_F32, 0, NULL);
  *(float *)t->data = v;
  return add_const(c, name, t);
}

uint32_t hf_const_f32(HfCtx *c, const char *name, int n, const float *v) {
  int64_t dims[1] = {n};
  TfxTensor *t = tfx_graph_new_tensor(c->g, TFX_F32, 1, dims);
  memcpy(t->data, v, sizeof(float) * (size_t)n);
  return add_const(c, name, t);
}

uint32_t hf_op1(HfCtx *c, TfxOp op, const char *name, uint32_t x) {
  return hf_node(c, op, name, 1, &x, 0, NULL, 1, NULL);
}

uint32_t hf_op2(HfCtx *c, TfxOp op, const char *name, uint32_t a, uint32_t b) {
  uint32_t in[2] = {a, b};
  return hf_node(c, op, name, 2, in, 0, NULL, 1, NULL);
}

uint32_t hf_reshape(HfCtx *c, const char *name, uint32_t x, int n, const int64_t *shape) {
  uint32_t in[2] = {x, hf_const_i64(c, hf_name(c, "%s.shape", name), n, shape)};
  return hf_node(c, TFX_OP_Reshape, name, 2, in, 0, NULL, 1, NULL);
}

uint32_t hf_transpose(HfCtx *c, const char *name, uint32_t x, int n, const int64_t *perm) {
  TfxAttr a = hf_attr_ints(c, "perm", n, perm);
  return hf_node(c, TFX_OP_Transpose, name, 1, &x, 1, &a, 1, NULL);
}

uint32_t hf_unsqueeze(HfCtx *c, const char *name, uint32_t x, int n, const int64_t *axes) {
  uint32_t in[2] = {x, hf_const_i64(c, hf_name(c, "%s.axes", name), n, axes)};
  return hf_node(c, TFX_OP_Unsqueeze, name, 2, in, 0, NULL, 1, NULL);
}

uint32_t hf_softmax(HfCtx *c, const char *name, uint32_t x) {
  TfxAttr a = hf_attr_i("axis", -1);
  return hf_node(c, TFX_OP_Softmax, name, 1, &x, 1, &a, 1, NULL);
}

uint32_t hf_layernorm(HfCtx *c, const char *name, uint32_t x, uint32_t w, uint32_t b, double eps) {
  uint32_t in[3] = {x, w, b};
  TfxAttr a[2] = {hf_attr_i("axis", -1), hf_attr_f("epsilon", (float)eps)};
  return hf_node(c, TFX_OP_LayerNormalization, name, 3, in, 2, a, 1, NULL);
}

uint32_t hf_rmsnorm(HfCtx *c, const char *name, uint32_t x, uint32_t w, double eps) {
  uint32_t in[2] = {x, w};
  TfxAttr a[2] = {hf_attr_i("axis", -1), hf_attr_f("epsilon", (float)eps)};
  return hf_node(c, TFX_OP_RMSNormalization, name, 2, in, 2, a, 1, NULL);
}

uint32_t hf_cast(HfCtx *c, const char *name, uint32_t x, TfxDtype to) {
  TfxAttr a = hf_attr_i("to", tfx_dtype_to_onnx(to));
  return hf_node(c, TFX_OP_Cast, name, 1, &x, 1, &a, 1, NULL);
}

void hf_split(HfCtx *c, const char *name, uint32_t x, int axis, int n, const int64_t *sizes,
              uint32_t *outs) {
  uint32_t in[2] = {x, hf_const_i64(c, hf_name(c, "%s.sizes", name), n, sizes)};
  TfxAttr a = hf_attr_i("axis", axis);
  hf_node(c, TFX_OP_Split, name, 2, in, 1, &a, n, outs);
}

uint32_t hf_linear(HfCtx *c, const char *name, uint32_t x, uint32_t w, uint32_t b, bool w_out_in) {
  if (w_out_in) {
    const int64_t perm[2] = {1, 0};
    w = hf_transpose(c, hf_name(c, "%s.wT", name), w, 2, perm);
  }
  uint32_t y = hf_op2(c, TFX_OP_MatMul, b == TFX_NONE ? name : hf_name(c, "%s.mm", name), x, w);
  return b == TFX_NONE ? y : hf_op2(c, TFX_OP_Add, name, y, b);
}

/* ---- activations ------------------------------------------------------------ */

static const char *const known_acts[] = {"gelu",      "gelu_new", "gelu_pytorch_tanh",
                                         "gelu_fast", "relu",     "silu",
                                         "swish",     "tanh",     "quick_gelu"};

bool hf_act_known(const char *act) {
  for (size_t i = 0; i < sizeof known_acts / sizeof *known_acts; i++)
    if (strcmp(act, known_acts[i]) == 0)
      return true;
  return false;
}

void hf_check_act(HfCtx *c, const char *key, const char *act) {
  if (hf_act_known(act))
    return;
  char list[256] = "";
  for (size_t i = 0; i < sizeof known_acts / sizeof *known_acts; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", known_acts[i]);
  hf_unsupported(c, "%s \"%s\" (supported: %s)", key, act, list);
}

uint32_t hf_act(HfCtx *c, const char *name, uint32_t x, const char *act) {
  if (strcmp(act, "gelu") == 0) {
    TfxAttr a = hf_attr_s("approximate", "none");
    return hf_node(c, TFX_OP_Gelu, name, 1, &x, 1, &a, 1, NULL);
  }
  if (strcmp(act, "gelu_new") == 0 || strcmp(act, "gelu_pytorch_tanh") == 0 ||
      strcmp(act, "gelu_fast") == 0) {
    TfxAttr a = hf_attr_s("approximate", "tanh");
    return hf_node(c, TFX_OP_Gelu, name, 1, &x, 1, &a, 1, NULL);
  }
  if (strcmp(act, "relu") == 0)
    return hf_op1(c, TFX_OP_Relu, name, x);
  if (strcmp(act, "tanh") == 0)
    return hf_op1(c, TFX_OP_Tanh, name, x);
  if (strcmp(act, "silu") == 0 || strcmp(act, "swish") == 0) {
    uint32_t s = hf_op1(c, TFX_OP_Sigmoid, hf_name(c, "%s.sigmoid", name), x);
    return hf_op2(c, TFX_OP_Mul, name, x, s);
  }
  if (strcmp(act, "quick_gelu") == 0) { /* x * sigmoid(1.702 x) */
    uint32_t k = hf_scalar_f32(c, hf_name(c, "%s.k", name), 1.702f);
    uint32_t s = hf_op1(c, TFX_OP_Sigmoid, hf_name(c, "%s.sigmoid", name),
                        hf_op2(c, TFX_OP_Mul, hf_name(c, "%s.kx", name), x, k));
    return hf_op2(c, TFX_OP_Mul, name, x, s);
  }
  abort(); /* builders check hf_act_known first */
}

/* ---- sequence helpers ------------------------------------------------------- */

uint32_t hf_seq_len(HfCtx *c, uint32_t ids) {
  TfxAttr a[2] = {hf_attr_i("start", 1), hf_attr_i("end", 2)};
  return hf_node(c, TFX_OP_Shape, "seq_len", 1, &ids, 2, a, 1, NULL);
}

uint32_t hf_causal_mask(HfCtx *c, uint32_t seq1, int64_t window) {
  uint32_t in[2] = {seq1, seq1};
  TfxAttr axis = hf_attr_i("axis", 0);
  uint32_t shape = hf_node(c, TFX_OP_Concat, "causal_mask.shape", 2, in, 1, &axis, 1, NULL);
  int64_t one = 1;
  TfxTensor *t = tfx_graph_new_tensor(c->g, TFX_BOOL, 1, &one);
  *(uint8_t *)t->data = 1;
  TfxAttr val = hf_attr_t("value", t);
  uint32_t ones =
      hf_node(c, TFX_OP_ConstantOfShape, "causal_mask.ones", 1, &shape, 1, &val, 1, NULL);
  TfxAttr lower = hf_attr_i("upper", 0);
  if (window <= 0)
    return hf_node(c, TFX_OP_Trilu, "causal_mask", 1, &ones, 1, &lower, 1, NULL);
  uint32_t tri = hf_node(c, TFX_OP_Trilu, "causal_mask.tril", 1, &ones, 1, &lower, 1, NULL);
  /* keep j >= i - window: the upper triangle from diagonal -window */
  uint32_t in2[2] = {tri, hf_scalar_i64(c, "causal_mask.window", -window)};
  TfxAttr upper = hf_attr_i("upper", 1);
  return hf_node(c, TFX_OP_Trilu, "causal_mask", 2, in2, 1, &upper, 1, NULL);
}

uint32_t hf_attention(HfCtx *c, const char *pfx, uint32_t q, uint32_t kt, uint32_t v, double div1,
                      double div2, uint32_t add_mask, uint32_t bool_mask, int64_t hidden) {
  uint32_t s = hf_op2(c, TFX_OP_MatMul, hf_name(c, "%s.scores", pfx), q, kt);
  if (div1 != 0)
    s = hf_op2(c, TFX_OP_Div, hf_name(c, "%s.scaled", pfx), s,
               hf_scalar_f32(c, hf_name(c, "%s.scale", pfx), (float)div1));
  if (div2 != 0)
    s = hf_op2(c, TFX_OP_Div, hf_name(c, "%s.scaled_layer", pfx), s,
               hf_scalar_f32(c, hf_name(c, "%s.layer_scale", pfx), (float)div2));
  if (add_mask != TFX_NONE)
    s = hf_op2(c, TFX_OP_Add, hf_name(c, "%s.masked", pfx), s, add_mask);
  if (bool_mask != TFX_NONE) {
    uint32_t in[3] = {bool_mask, s,
                      hf_scalar_f32(c, hf_name(c, "%s.mask_value", pfx), HF_MASK_MIN)};
    s = hf_node(c, TFX_OP_Where, hf_name(c, "%s.causal", pfx), 3, in, 0, NULL, 1, NULL);
  }
  uint32_t p = hf_softmax(c, hf_name(c, "%s.probs", pfx), s);
  uint32_t o = hf_op2(c, TFX_OP_MatMul, hf_name(c, "%s.context", pfx), p, v);
  const int64_t perm[4] = {0, 2, 1, 3}, shape[3] = {0, 0, hidden};
  o = hf_transpose(c, hf_name(c, "%s.context_t", pfx), o, 4, perm);
  return hf_reshape(c, hf_name(c, "%s.merged", pfx), o, 3, shape);
}

/* ---- the import ------------------------------------------------------------- */

typedef struct {
  const char *arch;
  HfBuilder build;
} HfArch;

static const HfArch archs[] = {
    {"BertModel", tfx_hf_build_bert},     {"GPT2LMHeadModel", tfx_hf_build_gpt2},
    {"GPT2Model", tfx_hf_build_gpt2},     {"LlamaForCausalLM", tfx_hf_build_llama},
    {"LlamaModel", tfx_hf_build_llama},   {"MistralForCausalLM", tfx_hf_build_llama},
    {"MistralModel", tfx_hf_build_llama}, {"Qwen2ForCausalLM", tfx_hf_build_llama},
    {"Qwen2Model", tfx_hf_build_llama},
};

/* Without "architectures", model_type names the base model. */
static const char *arch_of_model_type(const char *mt) {
  static const char *const map[][2] = {{"bert", "BertModel"},
                                       {"gpt2", "GPT2Model"},
                                       {"llama", "LlamaModel"},
                                       {"mistral", "MistralModel"},
                                       {"qwen2", "Qwen2Model"}};
  for (size_t i = 0; i < sizeof map / sizeof *map; i++)
    if (strcmp(mt, map[i][0]) == 0)
      return map[i][1];
  return NULL;
}

static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 1;
  char *s = malloc(n + 1);
  if (!s)
    abort();
  if (slash) {
    memcpy(s, path, n ? n : 1);
    s[n ? n : 1] = 0;
  } else {
    memcpy(s, ".", 2);
  }
  return s;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void close_checkpoint(void *arg) { tfx_checkpoint_close(arg); }

/* The builder for config.json's architecture, or NULL (reported). */
static HfBuilder pick_builder(HfCtx *c) {
  json_t *archs_j = json_object_get(c->cfg, "architectures");
  const char *arch = NULL;
  if (archs_j && !json_is_null(archs_j)) {
    if (!json_is_array(archs_j) || json_array_size(archs_j) == 0 ||
        !json_is_string(json_array_get(archs_j, 0))) {
      char *t = hf_cfg_text(c, "architectures");
      hf_error(c, "%s: field 'architectures' must be a non-empty list of names, not %s",
               c->cfg_path, t);
      free(t);
      return NULL;
    }
    arch = json_string_value(json_array_get(archs_j, 0));
  } else {
    const char *mt = hf_cfg_str(c, "model_type", NULL);
    arch = mt ? arch_of_model_type(mt) : NULL;
    if (!arch) {
      hf_error(c, "%s: no 'architectures' field%s%s%s; tfxc cannot tell which model to build",
               c->cfg_path, mt ? " and model_type '" : "", mt ? mt : "",
               mt ? "' is not known" : "");
      return NULL;
    }
  }
  c->arch = tfx_graph_strdup(c->g, arch);
  for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
    if (strcmp(arch, archs[i].arch) == 0)
      return archs[i].build;
  char list[512] = "";
  for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", archs[i].arch);
  hf_error(c, "%s: architecture '%s' is not supported (tfxc builds %s)", c->cfg_path, arch, list);
  return NULL;
}

TfxGraph *tfx_hf_import(const char *path, TfxDiag *d) {
  struct stat st;
  if (stat(path, &st) != 0) {
    tfx_error(d, "%s: no such file or folder", path);
    return NULL;
  }
  /* config.json sits in the folder; the weights are the folder (one file or
   * an index) or the file given. */
  char *cfg_dir = S_ISDIR(st.st_mode) ? strdup(path) : dir_of(path);
  if (!cfg_dir)
    abort();
  size_t n = strlen(cfg_dir) + sizeof "/config.json";
  char *cfg_path = malloc(n);
  if (!cfg_path)
    abort();
  snprintf(cfg_path, n, "%s/config.json", cfg_dir);
  const char *weights = S_ISDIR(st.st_mode) || ends_with(path, "config.json") ? cfg_dir : path;

  TfxGraph *g = NULL;
  json_error_t je;
  json_t *cfg = json_load_file(cfg_path, JSON_REJECT_DUPLICATES, &je);
  if (!cfg) {
    if (je.line < 1)
      tfx_error(d, "%s: cannot read the model's config: %s", cfg_path, je.text);
    else
      tfx_error(d, "%s:%d:%d: config.json is not valid JSON: %s", cfg_path, je.line, je.column,
                je.text);
    goto out;
  }
  if (!json_is_object(cfg)) {
    tfx_error(d, "%s: config.json must hold a JSON object", cfg_path);
    goto out;
  }
  g = tfx_graph_new(d, path);
  if (!g)
    abort();
  HfCtx c = {.g = g, .d = d, .cfg = cfg, .prefix = ""};
  c.cfg_path = tfx_graph_strdup(g, cfg_path);
  c.ck_path = tfx_graph_strdup(g, weights);
  g->opset = HF_OPSET;
  HfBuilder build = pick_builder(&c);
  if (build) {
    c.ck = tfx_checkpoint_open(weights, d);
    if (!c.ck) {
      c.errors++;
    } else {
      g->cleanup = close_checkpoint;
      g->cleanup_arg = c.ck;
      g->name = c.arch;
      build(&c);
    }
  }
  /* After a field of the wrong type or range, the builder went on with that
   * field's default, and a check derived from it ("n_embd 4 is not a multiple
   * of n_head 12") would name a value the file does not hold: the errors are
   * reported alone. */
  if (c.unsup && !c.errors)
    tfx_error(d, "%s: %s: tfxc cannot honour these config fields: %s", cfg_path,
              c.arch ? c.arch : "model", c.unsup);
  if (c.unsup) {
    c.errors++;
    free(c.unsup);
  }
  if (c.errors) {
    tfx_graph_free(g);
    g = NULL;
  }
out:
  json_decref(cfg);
  free(cfg_path);
  free(cfg_dir);
  return g;
}

void hf_lm_head(HfCtx *c, uint32_t x, uint32_t emb, bool tied, int64_t vocab, int64_t hidden) {
  uint32_t head = emb;
  if (!tied) {
    const char *saved = c->prefix;
    c->prefix = "";
    head = hf_weight(c, HF_DIMS(vocab, hidden), "lm_head.weight");
    c->prefix = saved;
  }
  hf_output(c, hf_linear(c, "logits", x, head, TFX_NONE, true));
}
