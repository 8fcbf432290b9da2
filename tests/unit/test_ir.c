/* test_ir.c — the IR core: dtype conversions, broadcasting, graph building,
 * topological order and its errors, folding of exporter shape chains, DCE,
 * graph clones, and the memory plan's no-overlap invariant and its views. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "passes/passes.h"

#include "tests/unit/check.h"
#include "tests/unit/graph_build.h"

static void test_dtypes(void) {
  CHECK(tfx_f32_to_f16(1.0f) == 0x3c00);
  CHECK(tfx_f32_to_f16(65504.0f) == 0x7bff);
  CHECK(tfx_f32_to_f16(65520.0f) == 0x7c00);           /* rounds to inf */
  CHECK(tfx_f32_to_f16(ldexpf(1, -24)) == 0x0001);     /* smallest subnormal */
  CHECK(tfx_f32_to_f16(1.0f + ldexpf(1, -11)) == 0x3c00); /* tie: to even */
  CHECK(tfx_f32_to_f16(1.0f + 3 * ldexpf(1, -11)) == 0x3c02);
  CHECK(tfx_f16_to_f32(0xc000) == -2.0f);
  CHECK(isnan(tfx_f16_to_f32(tfx_f32_to_f16(NAN))));
  for (uint32_t h = 0; h < 0x7c00; h++) CHECK(tfx_f32_to_f16(tfx_f16_to_f32((uint16_t)h)) == h);
  CHECK(tfx_f32_to_bf16(1.0f) == 0x3f80);
  CHECK(tfx_bf16_to_f32(0x4049) == 3.140625f);
  CHECK(tfx_dtype_from_onnx(1) == TFX_F32 && tfx_dtype_from_onnx(16) == TFX_BF16);
  CHECK(tfx_dtype_from_onnx(8) == TFX_UNDEF); /* string */
}

static void test_broadcast(void) {
  int64_t a[] = {2, 1, 4}, b[] = {3, 1}, out[8], st[8];
  int r;
  CHECK(tfx_bcast_shape(3, a, 2, b, &r, out) && r == 3 && out[0] == 2 && out[1] == 3 && out[2] == 4);
  tfx_bcast_strides(3, out, 2, b, st);
  CHECK(st[0] == 0 && st[1] == 1 && st[2] == 0);
  int64_t c[] = {2, 5};
  CHECK(!tfx_bcast_shape(3, a, 2, c, &r, out));
}

static uint32_t constant_i64(TfxGraph *g, const char *name, int n, const int64_t *vals, int rank) {
  int64_t dims[1] = {n};
  TfxTensor *t = tfx_graph_new_tensor(g, TFX_I64, rank, dims);
  memcpy(t->data, vals, sizeof(int64_t) * (size_t)n);
  uint32_t v = tfx_graph_add_value(g, name);
  tfx_value_set_const(g, v, t);
  return v;
}

static void test_toposort_errors(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_graph_new(&d, "cycle.onnx");
  int64_t dims[] = {2};
  uint32_t x = input(g, "x", TFX_F32, 1, dims);
  uint32_t a = tfx_graph_add_value(g, "a"), b = tfx_graph_add_value(g, "b");
  uint32_t in1[] = {x, b}, in2[] = {a, x};
  tfx_graph_add_node(g, TFX_OP_Add, NULL, "first", in1, 2, &a, 1);
  tfx_graph_add_node(g, TFX_OP_Add, NULL, "second", in2, 2, &b, 1);
  output(g, b);
  CHECK(tfx_graph_toposort(g) != TFX_OK);
  CHECK(d.text && strstr(d.text, "cycle") && strstr(d.text, "cycle.onnx"));
  tfx_graph_free(g);
  tfx_diag_deinit(&d);

  tfx_diag_init(&d);
  g = tfx_graph_new(&d, "undef.onnx");
  x = input(g, "x", TFX_F32, 1, dims);
  uint32_t ghost = tfx_graph_add_value(g, "ghost");
  uint32_t in3[] = {x, ghost};
  output(g, node(g, TFX_OP_Add, "uses_ghost", 2, in3, "y"));
  CHECK(tfx_graph_toposort(g) != TFX_OK);
  CHECK(d.text && strstr(d.text, "uses_ghost") && strstr(d.text, "ghost"));
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* Shape -> Gather -> Unsqueeze -> Concat -> Reshape, as torch writes a
 * flatten: everything but the Reshape folds away, and the Reshape's shape
 * operand becomes the constant [2, 12]. */
/* x -> Shape -> Gather -> Unsqueeze -> Concat(-1) -> Reshape(x): *shape is
 * the Concat's output, *y the Reshape's. */
static TfxGraph *shape_chain(TfxDiag *d, uint32_t *shape_out, uint32_t *y_out) {
  TfxGraph *g = tfx_graph_new(d, "chain.onnx");
  g->opset = 17;
  int64_t dims[] = {2, 3, 4}, zero = 0, axes0 = 0, minus1 = -1;
  uint32_t x = input(g, "x", TFX_F32, 3, dims);
  uint32_t s = node(g, TFX_OP_Shape, "shape", 1, &x, "s");
  uint32_t i0 = constant_i64(g, "i0", 1, &zero, 0);
  uint32_t gin[] = {s, i0};
  uint32_t batch = node(g, TFX_OP_Gather, "gather", 2, gin, "batch");
  uint32_t ax = constant_i64(g, "axes", 1, &axes0, 1);
  uint32_t uin[] = {batch, ax};
  uint32_t b1 = node(g, TFX_OP_Unsqueeze, "unsqueeze", 2, uin, "b1");
  uint32_t m1 = constant_i64(g, "m1", 1, &minus1, 1);
  uint32_t cin[] = {b1, m1};
  uint32_t shape = tfx_graph_add_value(g, "shape2");
  tfx_graph_add_node(g, TFX_OP_Concat, NULL, "concat", cin, 2, &shape, 1);
  TfxAttr *attr = tfx_graph_alloc(g, sizeof *attr);
  attr->name = "axis";
  attr->kind = TFX_ATTR_INT;
  attr->i = 0;
  g->nodes[g->n_nodes - 1].attrs = attr;
  g->nodes[g->n_nodes - 1].n_attrs = 1;
  uint32_t rin[] = {x, shape};
  uint32_t y = node(g, TFX_OP_Reshape, "reshape", 2, rin, "y");
  output(g, y);
  *shape_out = shape;
  *y_out = y;
  return g;
}

static void test_fold_shape_chain(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  uint32_t shape, y;
  TfxGraph *g = shape_chain(&d, &shape, &y);
  TfxPipelineOptions po = {.opt_level = 2};
  TfxStatus st = tfx_run_pipeline(g, &po);
  if (st && d.text) fprintf(stderr, "%s", d.text);
  CHECK(st == TFX_OK);
  int live = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++)
    if (!g->nodes[i].dead) {
      live++;
      CHECK(g->nodes[i].op == TFX_OP_Reshape);
    }
  CHECK(live == 1);
  const TfxTensor *k = g->values[shape].konst;
  CHECK(k && k->rank == 1 && k->dims[0] == 2);
  if (k) CHECK(((int64_t *)k->data)[0] == 2 && ((int64_t *)k->data)[1] == -1);
  CHECK(g->values[y].rank == 2 && g->values[y].dims[0] == 2 && g->values[y].dims[1] == 12);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* A clone folds on its own: the original keeps its nodes and unknown
 * shapes, the weights are shared, and the two are freed independently. */
static void test_clone(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  uint32_t shape, y;
  TfxGraph *g = shape_chain(&d, &shape, &y);
  uint32_t i0 = tfx_graph_find_value(g, "i0");
  TfxGraph *c = tfx_graph_clone(g);
  TfxPipelineOptions po = {.opt_level = 2};
  CHECK(tfx_run_pipeline(c, &po) == TFX_OK);
  CHECK(c->values[shape].konst && !g->values[shape].konst);
  CHECK(c->values[y].rank == 2 && g->values[y].rank == -1);
  CHECK(c->values[i0].konst == g->values[i0].konst);
  int dead = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++) dead += g->nodes[i].dead;
  CHECK(dead == 0);
  uint32_t extra = tfx_graph_add_value(c, "only_in_clone");
  CHECK(tfx_graph_find_value(c, "only_in_clone") == extra);
  CHECK(tfx_graph_find_value(g, "only_in_clone") == TFX_NONE && g->n_values == extra);
  tfx_graph_free(c);
  CHECK(tfx_run_pipeline(g, &po) == TFX_OK && g->values[y].rank == 2);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* x -> a -> b -> c -> d -> y: a value dies at its last reader, so a and c
 * share bytes, b and d share bytes, and neighbours never overlap. */
static void test_memory_plan(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_graph_new(&d, "plan.onnx");
  g->opset = 17;
  int64_t dims[] = {100};
  uint32_t x = input(g, "x", TFX_F32, 1, dims);
  uint32_t a = node(g, TFX_OP_Relu, "r1", 1, &x, "a");
  uint32_t b = node(g, TFX_OP_Relu, "r2", 1, &a, "b");
  uint32_t c = node(g, TFX_OP_Relu, "r3", 1, &b, "c");
  uint32_t e = node(g, TFX_OP_Relu, "r4", 1, &c, "e");
  uint32_t y = node(g, TFX_OP_Relu, "r5", 1, &e, "y");
  output(g, y);
  TfxPipelineOptions po = {.opt_level = 2};
  CHECK(tfx_run_pipeline(g, &po) == TFX_OK);
  TfxMemPlan p;
  CHECK(tfx_plan_memory(g, NULL, &p) == TFX_OK);
  int64_t sz = 448; /* 400 bytes rounded up to 64 */
  CHECK(p.offset[x] == -1 && p.offset[y] == -1);
  CHECK(p.offset[a] != p.offset[b] && p.offset[b] != p.offset[c] && p.offset[c] != p.offset[e]);
  CHECK(p.offset[a] == p.offset[c] && p.offset[b] == p.offset[e]);
  CHECK(p.total == 2 * sz);
  tfx_plan_free(&p);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* a = Relu(x); r = Reshape(a) is a view, a's bytes, and r2 = Reshape(r) a
 * view of that view, a's bytes too; b = Relu(r), c = Relu(b), c2 = Reshape(c),
 * y = c2 + r2: a's bytes stay live until the Add (the last reader of a view
 * of a view), so b and c never take them.  A Reshape that is a graph output,
 * or of a graph input, copies (no offset shared). */
static void test_memory_plan_views(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_graph_new(&d, "views.onnx");
  g->opset = 17;
  int64_t dims[] = {4, 25}, shape[] = {100}, shape2[] = {2, 50};
  uint32_t x = input(g, "x", TFX_F32, 2, dims);
  uint32_t a = node(g, TFX_OP_Relu, "r1", 1, &x, "a");
  uint32_t ra[] = {a, constant_i64(g, "s", 1, shape, 1)};
  uint32_t r = node(g, TFX_OP_Reshape, "view", 2, ra, "r");
  uint32_t s2 = constant_i64(g, "s2", 2, shape2, 1);
  uint32_t rr[] = {r, s2};
  uint32_t r2 = node(g, TFX_OP_Reshape, "view_of_view", 2, rr, "r2");
  uint32_t b = node(g, TFX_OP_Relu, "r2", 1, &r, "b");
  uint32_t c = node(g, TFX_OP_Relu, "r3", 1, &b, "c");
  uint32_t cc[] = {c, s2};
  uint32_t c2 = node(g, TFX_OP_Reshape, "view_c", 2, cc, "c2");
  uint32_t cr[] = {c2, r2};
  uint32_t y = node(g, TFX_OP_Add, "add", 2, cr, "y");
  uint32_t ro[] = {r, s2};
  uint32_t o = node(g, TFX_OP_Reshape, "view_out", 2, ro, "o");
  uint32_t xi[] = {x, constant_i64(g, "s3", 1, shape, 1)};
  uint32_t xr = node(g, TFX_OP_Reshape, "of_input", 2, xi, "xr");
  uint32_t z = node(g, TFX_OP_Relu, "r4", 1, &xr, "z");
  output(g, y);
  output(g, o);
  output(g, z);
  TfxPipelineOptions po = {.opt_level = 2};
  CHECK(tfx_run_pipeline(g, &po) == TFX_OK);
  TfxMemPlan p;
  CHECK(tfx_plan_memory(g, NULL, &p) == TFX_OK);
  CHECK(p.offset[a] >= 0 && p.offset[r] == p.offset[a] && p.offset[r2] == p.offset[a]);
  CHECK(p.offset[c] >= 0 && p.offset[c2] == p.offset[c]);
  CHECK(p.offset[b] >= 0 && p.offset[b] != p.offset[a] && p.offset[c] != p.offset[a]);
  CHECK(p.offset[b] != p.offset[c]);
  CHECK(p.offset[o] == -1);                      /* a graph output: written to the caller */
  CHECK(p.offset[xr] >= 0 && p.offset[z] == -1); /* x is the caller's: xr is a copy in the workspace */
  tfx_plan_free(&p);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

int main(void) {
  test_dtypes();
  test_broadcast();
  test_toposort_errors();
  test_fold_shape_chain();
  test_clone();
  test_memory_plan();
  test_memory_plan_views();
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  else printf("test_ir: all checks passed\n");
  return failures != 0;
}
