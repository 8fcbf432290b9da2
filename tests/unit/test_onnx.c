/* test_onnx.c — the ONNX frontend: a good model imports with its ops,
 * attributes, constants (every data encoding), dims and symbols; model-local
 * functions inline; every broken file fails with one message naming what is
 * wrong; TensorProto files read and round-trip.  Run from the repository
 * root; the models come from tests/data/onnx/make_models.py. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "ir/ir.h"

#define DATA "tests/data/onnx/"

#include "tests/unit/check.h"

static const TfxNode *node(const TfxGraph *g, const char *name) {
  for (uint32_t i = 0; i < g->n_nodes; i++)
    if (strcmp(g->nodes[i].name, name) == 0) return &g->nodes[i];
  fprintf(stderr, "no node '%s'\n", name);
  failures++;
  return NULL;
}

static const TfxValue *value(const TfxGraph *g, const char *name) {
  uint32_t v = tfx_graph_find_value(g, name);
  if (v == TFX_NONE) {
    fprintf(stderr, "no value '%s'\n", name);
    failures++;
    return NULL;
  }
  return tfx_val(g, v);
}

static const TfxTensor *konst(const TfxGraph *g, const char *name, TfxDtype dt, int rank) {
  const TfxValue *v = value(g, name);
  if (!v) return NULL;
  CHECK(v->kind == TFX_VAL_CONST && v->konst);
  if (!v->konst) return NULL;
  CHECK(v->konst->dtype == dt && v->konst->rank == rank && v->konst->data);
  return v->konst->data ? v->konst : NULL;
}

/* The import of `file` fails with exactly one message containing each needle. */
static void expect_error(const char *file, const char *n1, const char *n2) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_onnx_import(file, &d);
  const char *text = d.text ? d.text : "";
  bool ok = !g && d.count == 1 && strstr(text, n1) && (!n2 || strstr(text, n2));
  if (!ok) {
    fprintf(stderr, "%s: expected one error with '%s'%s%s%s, got %s and %d message(s):\n%s", file,
            n1, n2 ? " and '" : "", n2 ? n2 : "", n2 ? "'" : "", g ? "a graph" : "NULL", d.count,
            text);
    failures++;
  }
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

static void test_good(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_onnx_import(DATA "good.onnx", &d);
  CHECK(g != NULL);
  if (!g) {
    fprintf(stderr, "%s", d.text ? d.text : "");
    tfx_diag_deinit(&d);
    return;
  }
  CHECK(d.count == 0);
  CHECK(g->opset == 17);
  CHECK(strcmp(g->name, "good_graph") == 0);

  /* inputs: W is an initialiser listed among the inputs, so not an input */
  CHECK(g->n_inputs == 2);
  const TfxValue *x = tfx_val(g, g->inputs[0]), *idx = tfx_val(g, g->inputs[1]);
  CHECK(strcmp(x->name, "x") == 0 && x->kind == TFX_VAL_INPUT && x->dtype == TFX_F32);
  CHECK(x->rank == 2 && x->dims[0] == -1 && x->dims[1] == 4 && x->dim_sym[1] == 0);
  CHECK(x->dim_sym[0] >= 1 && x->dim_sym[0] <= g->n_syms &&
        strcmp(g->syms[x->dim_sym[0] - 1].name, "batch") == 0);
  CHECK(strcmp(idx->name, "idx") == 0 && idx->dtype == TFX_I64 && idx->rank == 2);
  CHECK(idx->dims[0] == 2 && idx->dims[1] == -1 && idx->dim_sym[1] == 0);
  CHECK(value(g, "W") && value(g, "W")->kind == TFX_VAL_CONST);

  /* constants in every encoding */
  const TfxTensor *t;
  if ((t = konst(g, "W", TFX_F32, 2))) {
    CHECK(t->dims[0] == 4 && t->dims[1] == 3);
    CHECK(((const float *)t->data)[11] == 11.0f && ((const float *)t->data)[4] == 4.0f);
  }
  if ((t = konst(g, "B", TFX_F32, 1)))
    CHECK(((const float *)t->data)[0] == 0.5f && ((const float *)t->data)[2] == 2.0f);
  if ((t = konst(g, "H", TFX_F16, 1)))
    CHECK(tfx_f16_to_f32(((const uint16_t *)t->data)[1]) == -2.0f);
  if ((t = konst(g, "I", TFX_I64, 1))) CHECK(((const int64_t *)t->data)[1] == -7);
  if ((t = konst(g, "D", TFX_F64, 1))) CHECK(((const double *)t->data)[0] == 0.125);
  if ((t = konst(g, "U", TFX_U64, 1)))
    CHECK(((const uint64_t *)t->data)[0] == (UINT64_C(1) << 63) + 5);
  if ((t = konst(g, "BL", TFX_BOOL, 1))) {
    const uint8_t *b = t->data;
    CHECK(b[0] == 1 && b[1] == 0 && b[2] == 1);
  }
  if ((t = konst(g, "I8", TFX_I8, 1)))
    CHECK(((const int8_t *)t->data)[0] == -128 && ((const int8_t *)t->data)[1] == 127);

  /* nodes, with synthesised names, attributes and omitted slots */
  CHECK(g->n_nodes == 12);
  const TfxNode *n;
  if ((n = node(g, "mm"))) {
    CHECK(n->op == TFX_OP_MatMul && n->n_inputs == 2);
    CHECK(n->inputs[0] == g->inputs[0] && n->inputs[1] == tfx_graph_find_value(g, "W"));
  }
  if ((n = node(g, "Add_2"))) CHECK(n->op == TFX_OP_Add && strcmp(n->op_type, "Add") == 0);
  if ((n = node(g, "lrelu"))) {
    CHECK(n->op == TFX_OP_LeakyRelu && tfx_attr_float(n, "alpha", 0) == 0.25f);
    CHECK(tfx_val(g, n->outputs[0])->producer == (uint32_t)(n - g->nodes));
  }
  if ((n = node(g, "tr"))) {
    const int64_t *perm;
    CHECK(tfx_attr_ints(n, "perm", &perm) == 2 && perm[0] == 1 && perm[1] == 0);
  }
  if ((n = node(g, "clip"))) {
    CHECK(n->n_inputs == 3 && n->inputs[1] == TFX_NONE);
    CHECK(n->inputs[2] == tfx_graph_find_value(g, "cmax"));
  }
  if ((n = node(g, "pad"))) CHECK(strcmp(tfx_attr_string(n, "mode", ""), "reflect") == 0);
  if ((n = node(g, "id"))) {
    const TfxAttr *a = tfx_attr(n, "tags");
    CHECK(a && a->kind == TFX_ATTR_STRINGS && a->n == 2 && strcmp(a->strings[1], "bc") == 0);
    const float *fs;
    CHECK(tfx_attr_floats(n, "fs", &fs) == 2 && fs[0] == 1.5f && fs[1] == -2.0f);
  }
  if ((n = node(g, "drop"))) CHECK(n->n_outputs == 2 && n->outputs[1] == TFX_NONE);
  if ((n = node(g, "const"))) {
    const TfxAttr *a = tfx_attr(n, "value");
    CHECK(a && a->kind == TFX_ATTR_TENSOR && a->t && a->t->dtype == TFX_F32 && a->t->rank == 1);
    if (a && a->t) CHECK(a->t->dims[0] == 1 && ((const float *)a->t->data)[0] == 0.5f);
  }
  if ((n = node(g, "cmax_c"))) CHECK(tfx_attr_float(n, "value_float", 0) == 6.0f);

  /* outputs keep their declared dtype as a hint */
  CHECK(g->n_outputs == 3);
  if (g->n_outputs == 3) {
    const TfxValue *o = tfx_val(g, g->outputs[0]), *io = tfx_val(g, g->outputs[2]);
    CHECK(strcmp(o->name, "out") == 0 && o->is_output && o->dtype == TFX_F32);
    CHECK(strcmp(io->name, "idx_out") == 0 && io->dtype == TFX_I64 && io->rank == -1);
  }
  /* the file lists lrelu before its input's producer; sorting fixes that */
  CHECK(tfx_graph_toposort(g) == TFX_OK);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

static void test_functions(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_onnx_import(DATA "functions.onnx", &d);
  CHECK(g != NULL);
  if (!g) {
    fprintf(stderr, "%s", d.text ? d.text : "");
    tfx_diag_deinit(&d);
    return;
  }
  CHECK(g->n_nodes == 6);
  const TfxNode *n;
  if ((n = node(g, "call1/mul"))) {
    CHECK(n->op == TFX_OP_Mul && n->inputs[0] == g->inputs[0] && n->inputs[1] == g->inputs[0]);
    CHECK(strcmp(tfx_val(g, n->outputs[0])->name, "call1/t") == 0);
  }
  if ((n = node(g, "call1/act"))) {
    CHECK(n->op == TFX_OP_LeakyRelu && tfx_attr_float(n, "alpha", 0) == 0.1f);
    CHECK(strcmp(tfx_val(g, n->outputs[0])->name, "y") == 0);
  }
  if ((n = node(g, "call2/act"))) CHECK(tfx_attr_float(n, "alpha", 0) == 0.2f); /* default */
  if ((n = node(g, "call3/MyFn_0/act"))) { /* nested, renamed */
    CHECK(tfx_attr_float(n, "alpha", 0) == 0.3f);
    CHECK(strcmp(tfx_val(g, n->outputs[0])->name, "w") == 0 &&
          tfx_val(g, n->outputs[0])->is_output);
  }
  if ((n = node(g, "call3/MyFn_0/mul")))
    CHECK(n->inputs[0] == tfx_graph_find_value(g, "z") && n->inputs[1] == n->inputs[0]);
  CHECK(tfx_graph_toposort(g) == TFX_OK);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

static void test_external(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_onnx_import(DATA "ext_good.onnx", &d);
  CHECK(g != NULL);
  const TfxTensor *t;
  if (g && (t = konst(g, "E", TFX_F32, 2))) {
    CHECK(t->dims[0] == 2 && t->dims[1] == 3);
    for (int i = 0; i < 6; i++) CHECK(((const float *)t->data)[i] == (float)i);
  }
  if (!g) fprintf(stderr, "%s", d.text ? d.text : "");
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

static void test_unknown_ops(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_onnx_import(DATA "unknown_ops.onnx", &d);
  const char *s = d.text ? d.text : "";
  CHECK(g == NULL);
  CHECK(d.count == 3); /* one line per unsupported operator, all of them */
  CHECK(strstr(s, "'FooOp'") && strstr(s, "2 nodes: 'foo1', 'foo2'"));
  CHECK(strstr(s, "'BarOp'") && strstr(s, "'BarOp_3'"));
  CHECK(strstr(s, "'FusedGelu' of domain 'com.microsoft'") && strstr(s, "'ms'"));
  CHECK(!strstr(s, "Relu'"));
  if (failures) fprintf(stderr, "%s", s);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

static void test_errors(void) {
  expect_error(DATA "does_not_exist.onnx", "does_not_exist.onnx: cannot open", NULL);
  expect_error(DATA "empty.onnx", "empty.onnx: empty file", NULL);
  expect_error(DATA "truncated.onnx", "truncated.onnx: not a valid ONNX model", NULL);
  expect_error(DATA "garbage.onnx", "garbage.onnx: not a valid ONNX model", NULL);
  expect_error(DATA "bad_raw_size.onnx", "initializer 'W'", "raw_data holds 12 bytes, expected 16");
  expect_error(DATA "neg_dim.onnx", "initializer 'W'", "negative dim -1");
  expect_error(DATA "rank9.onnx", "graph input 'x'", "rank 9");
  expect_error(DATA "bad_dtype.onnx", "initializer 'W'", "dtype code 99");
  expect_error(DATA "string_init.onnx", "initializer 'S'", "dtype string");
  expect_error(DATA "ext_outside.onnx", "initializer 'E'", "lies outside 'ext_outside.bin'");
  expect_error(DATA "ext_escape.onnx", "initializer 'E'", "refused");
  expect_error(DATA "ext_abs.onnx", "'/etc/hostname'", "refused");
  expect_error(DATA "dup_output.onnx", "'y' is produced twice", "node 'r1' and node 'n2'");
  expect_error(DATA "undefined.onnx", "node 'add' (Add) uses value 'nope'", NULL);
  expect_error(DATA "opset_new.onnx", "opset 99", NULL);
  expect_error(DATA, "not a regular file", NULL);
}

/* ---- TensorProto files ---------------------------------------------------- */

static bool read_pb(const char *file, TfxTensor *t, char **name) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxStatus st = tfx_tensorproto_read(file, t, name, &d);
  if (st) fprintf(stderr, "%s", d.text ? d.text : "");
  CHECK(st == TFX_OK && d.count == 0);
  tfx_diag_deinit(&d);
  return st == TFX_OK;
}

static void test_tensorproto(void) {
  TfxTensor t;
  char *name;
  if (read_pb(DATA "f16_typed.pb", &t, &name)) {
    const uint16_t *h = t.data;
    CHECK(t.dtype == TFX_F16 && t.rank == 1 && t.dims[0] == 3 && strcmp(name, "h") == 0);
    CHECK(tfx_f16_to_f32(h[0]) == 1.0f && tfx_f16_to_f32(h[1]) == -0.5f &&
          tfx_f16_to_f32(h[2]) == 65504.0f);
    tfx_tensor_free_data(&t);
    free(name);
  }
  if (read_pb(DATA "bf16_typed.pb", &t, &name)) {
    CHECK(t.dtype == TFX_BF16 && tfx_bf16_to_f32(((const uint16_t *)t.data)[1]) == -3.0f);
    tfx_tensor_free_data(&t);
    free(name);
  }
  if (read_pb(DATA "u16_typed.pb", &t, &name)) {
    CHECK(t.dtype == TFX_U16 && ((const uint16_t *)t.data)[1] == 65535);
    tfx_tensor_free_data(&t);
    free(name);
  }
  if (read_pb(DATA "u32_typed.pb", &t, &name)) {
    CHECK(t.dtype == TFX_U32 && ((const uint32_t *)t.data)[1] == 4294967295u);
    tfx_tensor_free_data(&t);
    free(name);
  }
  if (read_pb(DATA "i64_raw.pb", &t, &name)) {
    CHECK(t.dtype == TFX_I64 && t.rank == 2 && t.dims[0] == 2 && t.dims[1] == 2);
    CHECK(((const int64_t *)t.data)[1] == -2 && ((const int64_t *)t.data)[3] == INT64_C(1) << 40);
    tfx_tensor_free_data(&t);
    free(name);
  }
  if (read_pb(DATA "scalar_typed.pb", &t, NULL)) {
    CHECK(t.dtype == TFX_F32 && t.rank == 0 && *(const float *)t.data == 3.25f);
    tfx_tensor_free_data(&t);
  }

  TfxDiag d;
  tfx_diag_init(&d);
  name = (char *)"unchanged";
  CHECK(tfx_tensorproto_read(DATA "short_typed.pb", &t, &name, &d) == TFX_ERR);
  CHECK(d.count == 1 && strstr(d.text, "float_data holds 2 values, expected 3"));
  CHECK(name == NULL && t.data == NULL);
  tfx_diag_deinit(&d);
  tfx_diag_init(&d);
  CHECK(tfx_tensorproto_read(DATA "nothing.pb", &t, &name, &d) == TFX_ERR && d.count == 1);
  tfx_diag_deinit(&d);
  tfx_diag_init(&d);
  CHECK(tfx_tensorproto_read(DATA "garbage.onnx", &t, &name, &d) == TFX_ERR && d.count == 1);
  tfx_diag_deinit(&d);

  /* write then read back, bit for bit */
  char path[] = "/tmp/tfx_test_onnx_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  if (fd < 0) return;
  close(fd);
  double vals[6] = {1.5, -0.0, 1e300, NAN, 2.0, -7.25};
  TfxTensor w = {.dtype = TFX_F64, .rank = 2, .dims = {3, 2}, .data = vals};
  tfx_diag_init(&d);
  CHECK(tfx_tensorproto_write(path, &w, "round", &d) == TFX_OK);
  if (read_pb(path, &t, &name)) {
    CHECK(t.dtype == TFX_F64 && t.rank == 2 && t.dims[0] == 3 && t.dims[1] == 2);
    CHECK(memcmp(t.data, vals, sizeof vals) == 0 && strcmp(name, "round") == 0);
    tfx_tensor_free_data(&t);
    free(name);
  }
  uint8_t flag = 1;
  TfxTensor b = {.dtype = TFX_BOOL, .rank = 0, .data = &flag};
  CHECK(tfx_tensorproto_write(path, &b, NULL, &d) == TFX_OK);
  if (read_pb(path, &t, &name)) {
    CHECK(t.dtype == TFX_BOOL && t.rank == 0 && *(uint8_t *)t.data == 1 && strcmp(name, "") == 0);
    tfx_tensor_free_data(&t);
    free(name);
  }
  TfxTensor q = {.dtype = TFX_Q8C, .rank = 1, .dims = {4}, .data = vals};
  CHECK(tfx_tensorproto_write(path, &q, "q", &d) == TFX_ERR && d.count == 1);
  tfx_diag_deinit(&d);
  unlink(path);
}

int main(void) {
  test_good();
  test_functions();
  test_external();
  test_unknown_ops();
  test_errors();
  test_tensorproto();
  if (failures) {
    fprintf(stderr, "test_onnx: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_onnx: ok\n");
  return 0;
}
