/* test_hf.c — the Hugging Face frontend: every fixture under tests/models/hf
 * imports with the inputs, symbols, outputs and weights its config implies,
 * and the reference evaluator reproduces transformers' outputs on it; the
 * import dispatcher picks the right frontend by path; and broken checkpoints
 * (unknown architecture, config fields tfxc cannot honour, tensors missing or
 * of the wrong shape, bad JSON) fail with one message naming what is wrong.
 * Run from the repository root; the fixtures come from
 * tests/models/hf/make_fixtures.py. */
#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frontend/frontend.h"
#include "ir/ir.h"
#include "passes/passes.h"

#define FIXTURES "tests/models/hf/"

#include "tests/unit/check.h"

static TfxGraph *import_ok(const char *path, TfxDiag *d) {
  TfxGraph *g = tfx_import(path, d);
  if (!g) {
    fprintf(stderr, "%s: import failed:\n%s", path, d->text ? d->text : "");
    failures++;
  }
  return g;
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

static const char *sym(const TfxGraph *g, const TfxValue *v, int axis) {
  return v->dim_sym[axis] ? g->syms[v->dim_sym[axis] - 1].name : "";
}

/* ---- the BERT fixture's structure ------------------------------------------ */

static void test_bert_structure(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = import_ok(FIXTURES "bert_tiny", &d);
  if (!g) {
    tfx_diag_deinit(&d);
    return;
  }
  CHECK(d.count == 0);
  CHECK(g->opset == 23);
  CHECK(strcmp(g->name, "BertModel") == 0);
  static const char *const in_names[3] = {"input_ids", "attention_mask", "token_type_ids"};
  CHECK(g->n_inputs == 3);
  for (uint32_t i = 0; i < g->n_inputs && i < 3; i++) {
    const TfxValue *v = tfx_val(g, g->inputs[i]);
    CHECK(strcmp(v->name, in_names[i]) == 0);
    CHECK(v->kind == TFX_VAL_INPUT && v->dtype == TFX_I64 && v->rank == 2);
    CHECK(v->dims[0] == -1 && v->dims[1] == -1);
    CHECK(strcmp(sym(g, v, 0), "batch") == 0 && strcmp(sym(g, v, 1), "seq") == 0);
  }
  CHECK(g->n_outputs == 2);
  if (g->n_outputs == 2) {
    CHECK(strcmp(tfx_val(g, g->outputs[0])->name, "last_hidden_state") == 0);
    CHECK(strcmp(tfx_val(g, g->outputs[1])->name, "pooler_output") == 0);
    CHECK(tfx_val(g, g->outputs[0])->is_output);
  }
  /* weights are constants under their checkpoint names, viewed in place */
  const TfxValue *w = value(g, "embeddings.word_embeddings.weight");
  if (w) {
    CHECK(w->kind == TFX_VAL_CONST && w->konst && w->konst->dtype == TFX_F32);
    CHECK(w->rank == 2 && w->dims[0] == 64 && w->dims[1] == 32);
  }
  w = value(g, "encoder.layer.1.output.LayerNorm.bias");
  if (w)
    CHECK(w->kind == TFX_VAL_CONST && w->rank == 1 && w->dims[0] == 32);
  /* only ops of the table, each with a name */
  int layernorms = 0, softmaxes = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    CHECK(g->nodes[i].op < TFX_OP_COUNT && g->nodes[i].name[0]);
    layernorms += g->nodes[i].op == TFX_OP_LayerNormalization;
    softmaxes += g->nodes[i].op == TFX_OP_Softmax;
  }
  CHECK(layernorms == 1 + 2 * 2 && softmaxes == 2);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

/* ---- every fixture through the reference evaluator ---------------------------- */

typedef struct {
  TfxTensor t[8];
  char *names[8];
  int n;
} Tensors;

static void tensors_free(Tensors *ts) {
  for (int i = 0; i < ts->n; i++) {
    tfx_tensor_free_data(&ts->t[i]);
    free(ts->names[i]);
  }
  ts->n = 0;
}

static bool tensors_read(const char *dir, const char *kind, Tensors *ts, TfxDiag *d) {
  ts->n = 0;
  for (int k = 0; k < 8; k++) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/test_data_set_0/%s_%d.pb", dir, kind, k);
    if (access(path, R_OK) != 0)
      break;
    if (tfx_tensorproto_read(path, &ts->t[k], &ts->names[k], d)) {
      fprintf(stderr, "%s: %s", path, d->text ? d->text : "");
      failures++;
      return false;
    }
    ts->n++;
  }
  return ts->n > 0;
}

/* The graph, bound to the case's input dims and run by the evaluator,
 * gives the case's outputs within 1e-4 x max|reference|. */
static void check_case(const char *dir) {
  TfxDiag d;
  tfx_diag_init(&d);
  Tensors in = {0}, exp = {0};
  TfxTensor got[8] = {0};
  TfxTensor args[8] = {0};
  TfxGraph *g = import_ok(dir, &d);
  if (!g || !tensors_read(dir, "input", &in, &d) || !tensors_read(dir, "output", &exp, &d))
    goto done;
  CHECK(g->n_inputs == (uint32_t)in.n && g->n_outputs == (uint32_t)exp.n);
  if (g->n_inputs != (uint32_t)in.n || g->n_outputs != (uint32_t)exp.n)
    goto done;
  for (uint32_t j = 0; j < g->n_inputs; j++) {
    const TfxValue *v = tfx_val(g, g->inputs[j]);
    int k = 0;
    while (k < in.n && strcmp(in.names[k], v->name) != 0)
      k++;
    CHECK(k < in.n);
    if (k == in.n)
      goto done;
    args[j] = in.t[k];
  }
  TfxDimBinding b[2] = {{"batch", args[0].dims[0]}, {"seq", args[0].dims[1]}};
  TfxPipelineOptions po = {.opt_level = 2};
  if (tfx_bind_dims(g, b, 2) || tfx_run_pipeline(g, &po) || tfx_eval_graph(g, args, got)) {
    fprintf(stderr, "%s: %s", dir, d.text ? d.text : "");
    failures++;
    goto done;
  }
  for (uint32_t j = 0; j < g->n_outputs; j++) {
    const char *name = tfx_val(g, g->outputs[j])->name;
    int k = 0;
    while (k < exp.n && strcmp(exp.names[k], name) != 0)
      k++;
    CHECK(k < exp.n);
    if (k == exp.n)
      continue;
    const TfxTensor *e = &exp.t[k];
    bool same = got[j].dtype == e->dtype && got[j].rank == e->rank;
    for (int a = 0; same && a < e->rank; a++)
      same = got[j].dims[a] == e->dims[a];
    CHECK(same);
    if (!same)
      continue;
    double peak = 0, err = 0;
    for (int64_t i = 0; i < tfx_tensor_numel(e); i++) {
      double x = tfx_tensor_get_f64(e, i), y = tfx_tensor_get_f64(&got[j], i);
      peak = fmax(peak, fabs(x));
      err = fmax(err, isfinite(y) ? fabs(x - y) : INFINITY);
    }
    if (!(err <= 1e-4 * peak)) {
      fprintf(stderr, "%s: output '%s': max abs error %g over 1e-4 x max|ref| %g\n", dir, name, err,
              peak);
      failures++;
    }
  }
done:
  for (uint32_t j = 0; g && j < g->n_outputs && j < 8; j++)
    tfx_tensor_free_data(&got[j]);
  tfx_graph_free(g);
  tensors_free(&in);
  tensors_free(&exp);
  tfx_diag_deinit(&d);
}

static void test_fixtures(void) {
  DIR *dir = opendir(FIXTURES);
  CHECK(dir != NULL);
  if (!dir)
    return;
  int cases = 0;
  struct dirent *de;
  while ((de = readdir(dir))) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, FIXTURES "%s/config.json", de->d_name);
    if (de->d_name[0] == '.' || access(path, R_OK) != 0)
      continue;
    snprintf(path, sizeof path, FIXTURES "%s", de->d_name);
    check_case(path);
    cases++;
  }
  closedir(dir);
  CHECK(cases >= 5);
}

/* ---- which frontend ------------------------------------------------------------ */

/* Import of path fails with messages (exactly one unless many) containing
 * each needle. */
static void expect_errors(const char *path, bool many, const char *n1, const char *n2,
                          const char *n3) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_import(path, &d);
  const char *text = d.text ? d.text : "";
  bool ok = !g && (many ? d.count >= 1 : d.count == 1) && strstr(text, n1) &&
            (!n2 || strstr(text, n2)) && (!n3 || strstr(text, n3));
  if (!ok) {
    fprintf(stderr, "%s: expected one error with '%s' '%s' '%s', got %s and %d message(s):\n%s",
            path, n1, n2 ? n2 : "", n3 ? n3 : "", g ? "a graph" : "NULL", d.count, text);
    failures++;
  }
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
}

static void expect_error(const char *path, const char *n1, const char *n2, const char *n3) {
  expect_errors(path, false, n1, n2, n3);
}

static void test_dispatch(void) {
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = import_ok("examples/tiny_encoder/model.onnx", &d);
  CHECK(g && g->opset != 23 && g->n_inputs >= 1);
  tfx_graph_free(g);
  /* a .safetensors file with config.json beside it, and the folder */
  g = import_ok(FIXTURES "gpt2_tiny/model.safetensors", &d);
  CHECK(g && g->n_outputs == 1 && strcmp(tfx_val(g, g->outputs[0])->name, "logits") == 0);
  tfx_graph_free(g);
  g = tfx_hf_import(FIXTURES "llama_gqa", &d);
  CHECK(g && g->n_inputs == 1 && strcmp(g->name, "LlamaForCausalLM") == 0);
  tfx_graph_free(g);
  tfx_diag_deinit(&d);

  expect_error("tests/no/such/model", "no such file", NULL, NULL);
  expect_error(FIXTURES "make_fixtures.py", "not a model tfxc reads", NULL, NULL);
  expect_error("tests/unit", "no config.json", NULL, NULL);
}

/* ---- broken checkpoints --------------------------------------------------------- */

static char tmp_root[PATH_MAX];

/* A checkpoint folder: the weights of fixture `from` (linked) and its
 * config.json with `edit` applied (a JSON object merged over it), or the
 * literal text raw.  Returns the folder. */
static const char *make_case(const char *name, const char *from, const char *edit,
                             const char *raw) {
  static char dir[PATH_MAX];
  char src[PATH_MAX], path[PATH_MAX], abs_st[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/%s", tmp_root, name);
  mkdir(dir, 0755);
  snprintf(src, sizeof src, FIXTURES "%s/model.safetensors", from);
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  if (!realpath(src, abs_st) || symlink(abs_st, path) != 0) {
    fprintf(stderr, "cannot link %s into %s\n", src, dir);
    failures++;
  }
  snprintf(path, sizeof path, "%s/config.json", dir);
  if (raw) {
    FILE *f = fopen(path, "w");
    if (f) {
      fputs(raw, f);
      fclose(f);
    }
    return dir;
  }
  snprintf(src, sizeof src, FIXTURES "%s/config.json", from);
  json_error_t je;
  json_t *cfg = json_load_file(src, 0, &je), *patch = json_loads(edit, 0, &je);
  if (!cfg || !patch) {
    fprintf(stderr, "bad test config edit: %s\n", edit);
    failures++;
  } else {
    json_object_update(cfg, patch);
    json_dump_file(cfg, path, JSON_INDENT(2));
  }
  json_decref(cfg);
  json_decref(patch);
  return dir;
}

static void remove_tree(const char *root) {
  DIR *dir = opendir(root);
  if (!dir)
    return;
  struct dirent *de;
  while ((de = readdir(dir))) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
      continue;
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", root, de->d_name);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
      remove_tree(path);
    else
      unlink(path);
  }
  closedir(dir);
  rmdir(root);
}

static void test_errors(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(tmp_root, sizeof tmp_root, "%s/test_hf-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(tmp_root)) {
    fprintf(stderr, "cannot create a temporary folder\n");
    failures++;
    return;
  }
  expect_error(make_case("arch", "bert_tiny", "{\"architectures\": [\"T5Model\"]}", NULL),
               "architecture 'T5Model' is not supported", "BertModel", NULL);
  expect_error(make_case("no_arch", "bert_tiny", NULL, "{\"model_type\": \"t5\"}"),
               "no 'architectures' field", "'t5'", NULL);
  /* every field tfxc cannot honour, in one message */
  expect_error(make_case("unsup", "llama_gqa",
                         "{\"hidden_act\": \"gelu_xyz\", \"rope_scaling\": {\"type\": \"dynamic\", "
                         "\"factor\": 2.0}}",
                         NULL),
               "cannot honour", "hidden_act \"gelu_xyz\"", "rope_scaling {\"type\":\"dynamic\"");
  expect_error(
      make_case("unsup_bert", "bert_tiny", "{\"position_embedding_type\": \"relative_key\"}", NULL),
      "cannot honour", "position_embedding_type \"relative_key\"", NULL);
  /* a tensor of the wrong shape names the tensor, its file and both shapes;
   * every such tensor is reported */
  expect_errors(make_case("shape", "gpt2_model_gelu", "{\"n_inner\": 64}", NULL), true,
                "tensor 'h.0.mlp.c_fc.weight' has shape [32, 48]", "implies [32, 64]",
                "shape/model.safetensors");
  /* a missing tensor names the tensor and what implies it */
  expect_errors(make_case("missing", "llama_gqa", "{\"num_hidden_layers\": 3}", NULL), true,
                "tensor 'model.layers.2.input_layernorm.weight' is missing", "LlamaForCausalLM",
                NULL);
  expect_error(make_case("untied", "qwen2_mqa_tied", "{\"tie_word_embeddings\": false}", NULL),
               "tensor 'lm_head.weight' is missing", NULL, NULL);
  expect_error(make_case("type", "bert_tiny", "{\"hidden_size\": \"32\"}", NULL),
               "field 'hidden_size' must be an integer", "\"32\"", NULL);
  expect_error(make_case("json", "bert_tiny", NULL, "{\"architectures\": [\"BertModel\"],\n"),
               "config.json:", "not valid JSON", NULL);
  expect_error(make_case("kv", "llama_gqa", "{\"num_key_value_heads\": 3}", NULL), "cannot honour",
               "num_key_value_heads 3", NULL);
  remove_tree(tmp_root);
}

int main(void) {
  test_bert_structure();
  test_fixtures();
  test_dispatch();
  test_errors();
  if (failures) {
    fprintf(stderr, "test_hf: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_hf: ok\n");
  return 0;
}
