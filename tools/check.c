/* check.c — `tfxc check CASE_DIR`: for every test_data_set_* of an ONNX
 * backend-test case folder, compile the model to C (or evaluate it with the
 * reference evaluator), build and run it on the set's inputs and compare the
 * outputs with the expected ones.  Case inputs that feed shape operands are
 * frozen into constants, every other input's dims are bound from its data, so
 * by default each set is compiled for its own shapes.  With --max SYM=N one
 * variable-length artefact serves every set that agrees on the other dims;
 * with --decode a causal LM is compiled as a decoder over its KV cache and
 * each set's tokens are prefilled, then decoded one at a time.  The program
 * that drives the generated code is written here (tfxc's --emit-main is for
 * fixed shapes only).
 *
 * Exit status: 0 every set matched; 1 mismatch, compile or run error, bad
 * case data; 2 usage error; 77 the case needs something tfxc does not
 * support (an unknown op, a string/float8/int4 tensor ...), so CTest can
 * report it as skipped (SKIP_RETURN_CODE 77). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen/codegen.h"
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "tools/check_priv.h"
#include "tools/compile.h"

int tfx_check_main(int argc, char **argv);

enum { CHECK_PASS = 0, CHECK_FAIL = 1, CHECK_USAGE = 2, CHECK_UNSUPPORTED = 77 };
/* A data set --max or --decode cannot use (printed as a note, not a failure). */
enum { CHECK_SKIPPED = -1 };
/* The decoder driver needs room for the KV-cache pass's sample points. */
enum { DECODE_MIN_MAX = 9 };

static const char usage_text[] =
    "usage: tfxc check CASE_DIR [--rtol R] [--atol A] [--reference] [--keep DIR] [--cc CC]\n"
    "                  [--name N] [--timeout S] [--max SYM=N] [--decode] [--threads N] [--cpu T] [-v]\n"
    "  Compiles CASE_DIR/model.onnx to C, builds it with CC (default $CC or cc), runs it on\n"
    "  every CASE_DIR/test_data_set_*/input_K.pb and compares with output_K.pb.\n"
    "  --rtol R, --atol A  float tolerance |got-exp| <= A + R*|exp| (defaults 1e-3, 1e-6;\n"
    "                      float16/bfloat16 outputs: two units in the last place)\n"
    "  --reference         run the reference evaluator instead of generated code\n"
    "  --keep DIR          keep the generated files in DIR (default: a removed temp folder)\n"
    "  --name N            C name of the generated model (default model)\n"
    "  --timeout S         seconds the compiled program may run (default 120)\n"
    "  --max SYM=N         compile once for every length SYM = 1..N (once per distinct value\n"
    "                      of the other dims) and run each data set at its own length, passed\n"
    "                      to <name>_run at run time; sets longer than N are skipped\n"
    "  --decode            for causal LMs (input_ids [1,seq] -> logits [1,seq,V], past inputs\n"
    "                      empty): compile as a decoder over the KV cache, prefill the first\n"
    "                      half of each batch-1 set's tokens, decode the rest one at a time and\n"
    "                      compare every step's logits; also checks that a full cache and an\n"
    "                      out-of-vocabulary token are refused.  --max N (or seq=N) sets the\n"
    "                      cache bound (default: the longest set, at least 9)\n"
    "  --threads N         compile with --threads N, build with -pthread, run on N threads\n"
    "  --cpu T             compile with --cpu T (default auto: the instruction set CC targets)\n"
    "  -v                  print the steps\n"
    "Exit status: 0 match, 1 mismatch or error, 2 usage, 77 the model needs something\n"
    "tfxc does not support (or, with --max/--decode, no data set fits).\n";
/* ---- one data set -------------------------------------------------------- */

/* Graph inputs whose data a shape operand (an op input in its const_inputs
 * mask) depends on, directly or through other nodes: tfxc compiles static
 * shapes, so a case that computes a shape from input data is compiled for
 * that data.  The walk stops at ops that read only their input's shape or
 * dtype (Shape, Size, EyeLike, CastLike's second input), so exporter patterns
 * like Shape->Gather->Reshape keep their input live.  Returns a calloc'd flag
 * per value id. */
static bool *shape_operand_inputs(const TfxGraph *g) {
  bool *freeze = calloc(g->n_values + 1, 1), *seen = calloc(g->n_values + 1, 1);
  uint32_t *stack = calloc(g->n_values + 1, sizeof *stack), sp = 0;
  if (!freeze || !seen || !stack) abort();
  for (uint32_t i = 0; i < g->n_nodes; i++) {
    const TfxNode *n = &g->nodes[i];
    uint32_t mask = tfx_ops[n->op].const_inputs;
    if (n->dead || !mask) continue;
    for (int k = 0; k < n->n_inputs && k < 32; k++) {
      uint32_t v = n->inputs[k];
      if ((mask >> k & 1) && v != TFX_NONE && !seen[v]) {
        seen[v] = true;
        stack[sp++] = v;
      }
    }
  }
  while (sp) {
    const TfxValue *val = &g->values[stack[--sp]];
    if (val->kind == TFX_VAL_INPUT) freeze[val - g->values] = true;
    if (val->producer == TFX_NONE || val->kind == TFX_VAL_CONST) continue;
    const TfxNode *n = &g->nodes[val->producer];
    if (n->op == TFX_OP_Shape || n->op == TFX_OP_Size || n->op == TFX_OP_EyeLike) continue;
    for (int k = 0; k < n->n_inputs; k++) {
      uint32_t v = n->inputs[k];
      if (v == TFX_NONE || seen[v] || (n->op == TFX_OP_CastLike && k == 1)) continue;
      seen[v] = true;
      stack[sp++] = v;
    }
  }
  free(stack);
  free(seen);
  return freeze;
}

/* Match the case's input files to the graph: by name where the .pb has one,
 * else by position.  bind[k] receives the value id of input file k.  Each
 * file must agree with the model's declaration (dtype, rank, fixed dims) and
 * a symbolic dim must have one value across the files; every message names
 * the input and the file. */
static TfxStatus match_inputs(const TfxGraph *g, const char *ds_dir, const TensorList *in,
                              uint32_t *bind, char *why, size_t whylen) {
  uint32_t n_in = g->n_inputs;
  bool *taken = calloc(g->n_values + 1, 1);
  int64_t *sym_val = malloc(sizeof *sym_val * (g->n_syms + 1));
  int *sym_file = malloc(sizeof *sym_file * (g->n_syms + 1));
  if (!taken || !sym_val || !sym_file) abort();
  TfxStatus st = TFX_ERR;
  for (int k = 0; k < in->n; k++) {
    bind[k] = TFX_NONE;
    const char *nm = in->names[k];
    if (!nm[0]) continue;
    uint32_t v = tfx_graph_find_value(g, nm);
    if (v == TFX_NONE || taken[v]) continue;
    /* A graph input, or an initialiser the case overrides (ONNX lets a graph
     * input have an initialiser as its default). */
    bool is_input = false;
    for (uint32_t j = 0; j < n_in; j++) is_input |= g->inputs[j] == v;
    if (is_input || (g->values[v].kind == TFX_VAL_CONST && g->values[v].producer == TFX_NONE)) {
      bind[k] = v;
      taken[v] = true;
    }
  }
  for (int k = 0; k < in->n; k++) {
    if (bind[k] != TFX_NONE) continue;
    if ((uint32_t)k < n_in && !taken[g->inputs[k]]) {
      bind[k] = g->inputs[k];
      taken[bind[k]] = true;
      continue;
    }
    snprintf(why, whylen, "%s ('%s') matches no model input (the model has %u inputs)",
             in->paths[k], in->names[k], n_in);
    goto done;
  }
  for (uint32_t j = 0; j < n_in; j++)
    if (!taken[g->inputs[j]]) {
      snprintf(why, whylen, "model input '%s' gets no input_K.pb: %s holds %d input file%s, the model has %u inputs",
               g->values[g->inputs[j]].name, ds_dir, in->n, in->n == 1 ? "" : "s", n_in);
      goto done;
    }

  /* dtypes, declared dims, one value per symbol */
  for (uint32_t s = 0; s < g->n_syms; s++) sym_val[s] = -1;
  for (int k = 0; k < in->n; k++) {
    const TfxValue *v = &g->values[bind[k]];
    const TfxTensor *t = &in->t[k];
    char a[256], b[256];
    if (v->dtype != TFX_UNDEF && v->dtype != t->dtype) {
      snprintf(why, whylen, "input '%s': the model declares %s, %s holds %s", v->name,
               tfx_dtype_name(v->dtype), in->paths[k], tfx_dtype_name(t->dtype));
      goto done;
    }
    bool ok = v->rank < 0 || v->rank == t->rank;
    for (int d = 0; ok && v->rank >= 0 && d < v->rank; d++)
      ok = v->dim_sym[d] || v->dims[d] < 0 || v->dims[d] == t->dims[d];
    if (!ok) {
      declared_shape_text(a, sizeof a, g, v);
      shape_text(b, sizeof b, t->rank, t->dims);
      snprintf(why, whylen, "input '%s': the model declares shape %s, %s holds %s", v->name, a,
               in->paths[k], b);
      goto done;
    }
    for (int d = 0; v->rank >= 0 && d < v->rank; d++) {
      if (!v->dim_sym[d]) continue;
      uint32_t s = v->dim_sym[d] - 1;
      if (sym_val[s] < 0) {
        sym_val[s] = t->dims[d];
        sym_file[s] = k;
      } else if (sym_val[s] != t->dims[d]) {
        snprintf(why, whylen, "input '%s': dim %d is '%s' = %lld in %s, but '%s' = %lld in %s (input '%s')",
                 v->name, d, g->syms[s].name, (long long)t->dims[d], in->paths[k], g->syms[s].name,
                 (long long)sym_val[s], in->paths[sym_file[s]], g->values[bind[sym_file[s]]].name);
        goto done;
      }
    }
  }
  st = TFX_OK;
done:
  free(sym_file);
  free(sym_val);
  free(taken);
  return st;
}

/* What a data set does to a freshly imported graph: each input file binds the
 * graph value of that name; frozen ones (shape operands, overridden
 * initialisers) become constants, the others get the file's dtype and dims.
 * It is tfx_compile's `prepare` hook, and is applied to check's own graph. */
typedef struct {
  const TensorList *in;
  const char **names; /* per input file */
  bool *frozen;       /* per input file */
} InputPlan;

static TfxStatus apply_inputs(TfxGraph *g, void *arg) {
  const InputPlan *p = arg;
  for (int k = 0; k < p->in->n; k++) {
    uint32_t v = tfx_graph_find_value(g, p->names[k]);
    if (v == TFX_NONE)
      return tfx_error(g->diag, "internal: tfxc check: the model has no value '%s'", p->names[k]);
    TfxValue *val = &g->values[v];
    const TfxTensor *t = &p->in->t[k];
    if (p->frozen[k] || val->kind == TFX_VAL_CONST) {
      TfxTensor *c = tfx_graph_new_tensor(g, t->dtype, t->rank, t->dims);
      size_t bytes = tfx_tensor_bytes(t);
      if (bytes) memcpy(c->data, t->data, bytes);
      tfx_value_set_const(g, v, c);
      uint32_t m = 0;
      for (uint32_t j = 0; j < g->n_inputs; j++)
        if (g->inputs[j] != v) g->inputs[m++] = g->inputs[j];
      g->n_inputs = m;
      continue;
    }
    val->dtype = t->dtype;
    val->rank = t->rank;
    for (int d = 0; d < t->rank; d++) {
      val->dims[d] = t->dims[d];
      if (val->dim_sym[d] && g->syms[val->dim_sym[d] - 1].value < 0)
        g->syms[val->dim_sym[d] - 1].value = t->dims[d];
    }
  }
  return TFX_OK;
}

/* Plan a data set (after match_inputs): which files are frozen.  Arrays are
 * malloc'd; free with plan_free. */
static void plan_inputs(const TfxGraph *g, const TensorList *in, const uint32_t *bind, InputPlan *p) {
  bool *freeze = shape_operand_inputs(g);
  p->in = in;
  p->names = calloc((size_t)in->n + 1, sizeof *p->names);
  p->frozen = calloc((size_t)in->n + 1, sizeof *p->frozen);
  if (!p->names || !p->frozen) abort();
  for (int k = 0; k < in->n; k++) {
    p->names[k] = g->values[bind[k]].name;
    p->frozen[k] = freeze[bind[k]] || g->values[bind[k]].kind == TFX_VAL_CONST;
  }
  free(freeze);
}

static void plan_free(InputPlan *p) {
  free(p->names);
  free(p->frozen);
  memset(p, 0, sizeof *p);
}

/* The --dim bindings a data set implies: every symbol of a non-frozen input
 * with the value its file gives it (names live in g).  Returns the count. */
static int data_bindings(const TfxGraph *g, const InputPlan *p, const uint32_t *bind,
                         TfxDimBinding *b) {
  int n = 0;
  for (int k = 0; k < p->in->n; k++) {
    const TfxValue *v = &g->values[bind[k]];
    const TfxTensor *t = &p->in->t[k];
    if (p->frozen[k] || v->rank != t->rank) continue;
    for (int d = 0; d < v->rank; d++) {
      if (!v->dim_sym[d]) continue;
      const char *name = g->syms[v->dim_sym[d] - 1].name;
      bool seen = false;
      for (int i = 0; i < n && !seen; i++) seen = strcmp(b[i].name, name) == 0;
      if (!seen && n < TFX_MAX_BINDINGS) b[n++] = (TfxDimBinding){name, t->dims[d]};
    }
  }
  return n;
}

/* Match the expected outputs to the graph outputs (by name, else position):
 * order[j] receives the expected tensor index for g->outputs[j]. */
static TfxStatus match_outputs(const TfxGraph *g, const TensorList *exp, int *order, char *why,
                               size_t whylen) {
  if ((uint32_t)exp->n != g->n_outputs) {
    snprintf(why, whylen, "the model has %u outputs, the data set %d output_K.pb files",
             g->n_outputs, exp->n);
    return TFX_ERR;
  }
  bool *used = calloc((size_t)exp->n + 1, sizeof *used);
  if (!used) abort();
  for (uint32_t j = 0; j < g->n_outputs; j++) {
    order[j] = -1;
    for (int k = 0; k < exp->n; k++)
      if (!used[k] && exp->names[k][0] && strcmp(exp->names[k], g->values[g->outputs[j]].name) == 0) {
        order[j] = k;
        used[k] = true;
        break;
      }
  }
  for (uint32_t j = 0; j < g->n_outputs; j++)
    if (order[j] < 0) {
      if (used[j]) {
        snprintf(why, whylen, "cannot match output '%s' to an output_K.pb",
                 g->values[g->outputs[j]].name);
        free(used);
        return TFX_ERR;
      }
      order[j] = (int)j;
      used[j] = true;
    }
  free(used);
  return TFX_OK;
}

/* ---- building and running generated code ----------------------------------- */

/* Compile with tfx_compile; on failure why gets the first message and the
 * result tells unsupported (77) from failed (1). */
static int compile_model(const TfxCompileRequest *r, TfxDiag *d, TfxGenKind *kind, char *why,
                         size_t whylen) {
  if (!tfx_compile(r, d, kind)) return CHECK_PASS;
  char first[512];
  diag_first_line(d, first, sizeof first);
  snprintf(why, whylen, "%s", first);
  return diag_unsupported(d) ? CHECK_UNSUPPORTED : CHECK_FAIL;
}

/* cc the sources (names relative to work) into work/prog. */
static int cc_build(const CheckOptions *o, const char *work, const char *const *srcs, int n_srcs,
                    char *why, size_t whylen) {
  /* cc: $CC may carry flags ("ccache gcc", "clang -m32"): split on spaces */
  const char *cc = o->cc ? o->cc : getenv("CC");
  if (!cc || !*cc) cc = "cc";
  char *cc_copy = xasprintf("%s", cc), *cc_log = xasprintf("%s/cc.log", work);
  char **argv = calloc(16 + strlen(cc_copy) + (size_t)n_srcs, sizeof *argv);
  if (!argv) abort();
  int ac = 0;
  for (char *tok = strtok(cc_copy, " \t"); tok; tok = strtok(NULL, " \t")) argv[ac++] = tok;
  static const char *const flags[] = {"-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-o", "prog"};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) argv[ac++] = (char *)flags[i];
  for (int i = 0; i < n_srcs; i++) argv[ac++] = (char *)srcs[i];
  if (o->threads > 1) argv[ac++] = "-pthread";
  argv[ac++] = "-lm";
  argv[ac] = NULL;
  if (o->verbose) print_cmd(argv);
  int st = run_cmd(argv, work, cc_log, 600), rc = CHECK_PASS;
  if (st != 0) {
    fprintf(stderr, "tfxc check: the generated C failed to compile%s:\n",
            o->keep ? "" : " (rerun with --keep DIR to keep it)");
    dump_log(cc_log);
    snprintf(why, whylen, st == 127 ? "cannot run the C compiler '%s'"
                                    : "the generated C does not compile with '%s'", cc);
    rc = CHECK_FAIL;
  }
  free(argv);
  free(cc_log);
  free(cc_copy);
  return rc;
}

/* Run a built program with its messages going to log.  Returns its exit
 * status; on a non-zero one the log is printed and why says what happened. */
static int run_program(const CheckOptions *o, char *const *argv, const char *log, char *why,
                       size_t whylen) {
  if (o->verbose) print_cmd(argv);
  int st = run_cmd(argv, NULL, log, o->timeout);
  if (st == 0) return 0;
  fprintf(stderr, "tfxc check: the generated program failed:\n");
  dump_log(log);
  char err[512];
  if (st == 128 + SIGALRM)
    snprintf(why, whylen, "the generated program ran over %d s", o->timeout);
  else if (st > 128)
    snprintf(why, whylen, "the generated program died with signal %d", st - 128);
  else if (log_error_line(log, err, sizeof err))
    snprintf(why, whylen, "the generated program exited with status %d: %s", st, err);
  else
    snprintf(why, whylen, "the generated program exited with status %d", st);
  return st;
}

/* The model of a case folder: model.onnx, or the folder itself when it holds a
 * Hugging Face checkpoint (config.json + model.safetensors or its index).
 * NULL when there is neither. */
static char *case_model(const char *case_dir) {
  char *onnx = xasprintf("%s/model.onnx", case_dir);
  if (is_file(onnx)) return onnx;
  free(onnx);
  char *cfg = xasprintf("%s/config.json", case_dir), *st = xasprintf("%s/model.safetensors", case_dir),
       *idx = xasprintf("%s/model.safetensors.index.json", case_dir);
  bool hf = is_file(cfg) && (is_file(st) || is_file(idx));
  free(cfg);
  free(st);
  free(idx);
  return hf ? xasprintf("%s", case_dir) : NULL;
}

/* ---- fixed shapes: one compilation per data set -------------------------------- */

/* Compile for this data set's dims with tfxc's own main() (--emit-main), run
 * it on the .pb files; outputs land in got[] in graph output order.  g is
 * check's graph with the plan applied: its inputs are the program's. */
static int run_fixed(const CheckOptions *o, const char *model, const TfxGraph *g, const InputPlan *plan,
                     const uint32_t *bind, const char *work, TfxTensor *got, TfxDiag *d, char *why,
                     size_t whylen) {
  char *c_path = xasprintf("%s/%s.c", work, o->name);
  char *bin_path = xasprintf("%s/%s.bin", work, o->name);
  char *prog = xasprintf("%s/prog", work);
  char *run_log = xasprintf("%s/run.log", work);
  char *c_file = xasprintf("%s.c", o->name);
  char **argv = calloc(8 + (size_t)g->n_inputs + g->n_outputs, sizeof *argv);
  char **outs = calloc(g->n_outputs + 1, sizeof *outs);
  if (!argv || !outs) abort();

  TfxCompileRequest r = {.model = model,
                         .opt_level = 2,
                         .c = {.name = o->name, .out_c = c_path, .weights = TFX_WEIGHTS_AUTO, .emit_main = true,
                               .threads = o->threads,
                               .cpu = o->cpu},
                         .prepare = apply_inputs,
                         .prepare_arg = (void *)plan};
  r.n_dims = data_bindings(g, plan, bind, r.dims);
  int rc = compile_model(&r, d, NULL, why, whylen);
  const char *srcs[] = {c_file};
  if (rc != CHECK_PASS || (rc = cc_build(o, work, srcs, 1, why, whylen)) != CHECK_PASS) goto done;
  rc = CHECK_FAIL;

  /* ./prog [--weights model.bin] [--threads N] IN.. OUT.. */
  int ac = 0;
  char threads_text[16];
  snprintf(threads_text, sizeof threads_text, "%d", o->threads);
  argv[ac++] = prog;
  if (o->threads > 1) {
    argv[ac++] = "--threads";
    argv[ac++] = threads_text;
  }
  if (is_file(bin_path)) {
    argv[ac++] = "--weights";
    argv[ac++] = bin_path;
  }
  for (uint32_t j = 0; j < g->n_inputs; j++) {
    int k = 0;
    while (k < plan->in->n && bind[k] != g->inputs[j]) k++;
    if (k == plan->in->n) {
      snprintf(why, whylen, "internal: graph input '%s' has no data", g->values[g->inputs[j]].name);
      goto done;
    }
    argv[ac++] = plan->in->paths[k];
  }
  for (uint32_t j = 0; j < g->n_outputs; j++) {
    outs[j] = xasprintf("%s/out_%u.pb", work, j);
    argv[ac++] = outs[j];
  }
  argv[ac] = NULL;
  if (run_program(o, argv, run_log, why, whylen) != 0) goto done;
  for (uint32_t j = 0; j < g->n_outputs; j++) {
    char *name = NULL;
    if (tfx_tensorproto_read(outs[j], &got[j], &name, d)) {
      char first[512];
      diag_first_line(d, first, sizeof first);
      snprintf(why, whylen, "cannot read the program's output: %s", first);
      free(name);
      goto done;
    }
    free(name);
  }
  rc = CHECK_PASS;
done:
  for (uint32_t j = 0; j < g->n_outputs; j++) free(outs[j]);
  free(outs);
  free(argv);
  free(c_file);
  free(run_log);
  free(prog);
  free(bin_path);
  free(c_path);
  return rc;
}

/* Why the diag says a step failed, and whether that means "unsupported". */
static int diag_result(const TfxDiag *d, const char *prefix, char *why, size_t whylen) {
  char first[512];
  diag_first_line(d, first, sizeof first);
  snprintf(why, whylen, "%s%s", prefix, first);
  return diag_unsupported(d) ? CHECK_UNSUPPORTED : CHECK_FAIL;
}

/* Print every message of a failed data set (an unsupported model is
 * reported whole). */
static void print_diag(const TfxDiag *d) {
  if (d->text)
    fprintf(stderr, "%s%s", d->text, d->text[0] && d->text[strlen(d->text) - 1] == '\n' ? "" : "\n");
}

/* A data set's model, inputs and expected outputs, matched to each other and
 * with its input plan applied to g. */
typedef struct {
  char *model, *ds_dir;
  TfxGraph *g;
  TensorList in, exp;
  uint32_t *bind; /* per input file: value id */
  int *order;     /* per graph output: expected tensor index */
  TfxTensor *got; /* per graph output */
  InputPlan plan;
} DataSet;

/* Import, read, match and plan (not yet applied).  On failure why is set
 * and the result is the exit status. */
static int dataset_open(DataSet *s, const char *case_dir, const char *ds, TfxDiag *d, char *why,
                        size_t whylen) {
  memset(s, 0, sizeof *s);
  s->model = case_model(case_dir);
  s->ds_dir = xasprintf("%s/%s", case_dir, ds);
  /* the model first: an unsupported op says more than an input it cannot read */
  if (!(s->g = tfx_import(s->model, d)) || tensors_read(s->ds_dir, "input", &s->in, d) ||
      tensors_read(s->ds_dir, "output", &s->exp, d))
    return diag_result(d, "", why, whylen);
  s->bind = calloc((size_t)s->in.n + 1, sizeof *s->bind);
  s->order = calloc(s->g->n_outputs + 1, sizeof *s->order);
  s->got = calloc(s->g->n_outputs + 1, sizeof *s->got);
  if (!s->bind || !s->order || !s->got) abort();
  if (match_inputs(s->g, s->ds_dir, &s->in, s->bind, why, whylen)) return CHECK_FAIL;
  plan_inputs(s->g, &s->in, s->bind, &s->plan);
  return CHECK_PASS;
}

static void dataset_close(DataSet *s) {
  if (s->got)
    for (uint32_t j = 0; s->g && j < s->g->n_outputs; j++) tfx_tensor_free_data(&s->got[j]);
  free(s->got);
  free(s->order);
  free(s->bind);
  plan_free(&s->plan);
  if (s->g) tfx_graph_free(s->g);
  tensors_free(&s->in);
  tensors_free(&s->exp);
  free(s->ds_dir);
  free(s->model);
  memset(s, 0, sizeof *s);
}

/* Apply the plan to check's own graph and infer every shape. */
static int dataset_infer(DataSet *s, int opt_level, TfxDiag *d, char *why, size_t whylen) {
  TfxPipelineOptions popt = {.opt_level = opt_level};
  if (apply_inputs(s->g, &s->plan) || tfx_run_pipeline(s->g, &popt)) return diag_result(d, "", why, whylen);
  return CHECK_PASS;
}

/* Compare every output of a data set. */
static bool dataset_compare(const DataSet *s, const char *ds, const CheckOptions *o, CheckErr *err,
                            char *why, size_t whylen) {
  for (uint32_t j = 0; j < s->g->n_outputs; j++) {
    char what[512];
    snprintf(what, sizeof what, "%s: output %u '%s'", ds, j, s->g->values[s->g->outputs[j]].name);
    if (!compare(&s->got[j], &s->exp.t[s->order[j]], what, o, err, why, whylen)) return false;
  }
  return true;
}

static int check_dataset(const CheckOptions *o, const char *case_dir, const char *ds,
                         const char *work, CheckErr *err, char *why, size_t whylen) {
  TfxDiag d;
  tfx_diag_init(&d);
  DataSet s;
  int rc = dataset_open(&s, case_dir, ds, &d, why, whylen);
  if (rc != CHECK_PASS) goto done;
  if (o->verbose) fprintf(stderr, "tfxc check: %s: %d inputs, %d outputs\n", ds, s.in.n, s.exp.n);
  rc = CHECK_FAIL;

  if (o->reference) {
    if ((rc = dataset_infer(&s, 2, &d, why, whylen)) != CHECK_PASS) goto done;
    rc = CHECK_FAIL;
    if (match_outputs(s.g, &s.exp, s.order, why, whylen)) goto done;
    TfxTensor *args = calloc(s.g->n_inputs + 1, sizeof *args);
    if (!args) abort();
    for (uint32_t j = 0; j < s.g->n_inputs; j++)
      for (int k = 0; k < s.in.n; k++)
        if (s.bind[k] == s.g->inputs[j]) args[j] = s.in.t[k];
    TfxStatus st = tfx_eval_graph(s.g, args, s.got);
    free(args);
    if (st) {
      rc = diag_result(&d, "reference evaluation failed: ", why, whylen);
      goto done;
    }
  } else {
    if (apply_inputs(s.g, &s.plan)) {
      rc = diag_result(&d, "", why, whylen);
      goto done;
    }
    if (match_outputs(s.g, &s.exp, s.order, why, whylen)) goto done;
    rc = run_fixed(o, s.model, s.g, &s.plan, s.bind, work, s.got, &d, why, whylen);
    if (rc != CHECK_PASS) goto done;
  }
  rc = dataset_compare(&s, ds, o, err, why, whylen) ? CHECK_PASS : CHECK_FAIL;
done:
  if (rc != CHECK_PASS) print_diag(&d);
  dataset_close(&s);
  tfx_diag_deinit(&d);
  return rc;
}

/* ---- --max SYM=N: one variable-length artefact per distinct other dims ------ */

typedef struct {
  char *key; /* the inputs' dims (SYM masked) and frozen contents it was built for */
  char *dir; /* <name>.c, the driver and prog */
} Artefact;

typedef struct {
  Artefact *a;
  int n;
} ArtefactList;

static void artefacts_free(ArtefactList *l) {
  for (int i = 0; i < l->n; i++) {
    free(l->a[i].key);
    free(l->a[i].dir);
  }
  free(l->a);
  memset(l, 0, sizeof *l);
}

/* What an artefact depends on: each input's name, dtype and dims with the
 * symbol sym (an id + 1) masked, and a hash of every frozen input's bytes. */
static char *dataset_key(const TfxGraph *g, const InputPlan *p, const uint32_t *bind, uint32_t sym) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) abort();
  for (int k = 0; k < p->in->n; k++) {
    const TfxTensor *t = &p->in->t[k];
    const TfxValue *v = &g->values[bind[k]];
    fprintf(f, "%s:%s:%d", p->names[k], tfx_dtype_name(t->dtype), p->frozen[k]);
    for (int d = 0; d < t->rank; d++) {
      if (!p->frozen[k] && v->rank == t->rank && v->dim_sym[d] == sym) fputs(",*", f);
      else fprintf(f, ",%lld", (long long)t->dims[d]);
    }
    if (p->frozen[k]) {
      uint64_t h = 1469598103934665603ull; /* FNV-1a */
      const unsigned char *b = t->data;
      for (size_t i = 0, n = tfx_tensor_bytes(t); i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
      fprintf(f, "#%016llx", (unsigned long long)h);
    }
    fputc(';', f);
  }
  if (fclose(f) != 0 || !buf) abort();
  return buf;
}

/* Compile s for every length up to --max into dir and build it with the
 * driver. */
static int build_max_artefact(const CheckOptions *o, const DataSet *s, const char *dir, TfxDiag *d,
                              char *why, size_t whylen) {
  char *c_path = xasprintf("%s/%s.c", dir, o->name), *c_file = xasprintf("%s.c", o->name);
  char *drv_file = xasprintf("%s_check_driver.c", o->name), *drv_path = xasprintf("%s/%s", dir, drv_file);
  TfxCompileRequest r = {.model = s->model,
                         .opt_level = 2,
                         .max = {o->max_sym, o->max_n},
                         .no_kv_cache = true,
                         .c = {.name = o->name, .out_c = c_path, .weights = TFX_WEIGHTS_AUTO,
                               .threads = o->threads,
                               .cpu = o->cpu},
                         .prepare = apply_inputs,
                         .prepare_arg = (void *)&s->plan};
  r.n_dims = data_bindings(s->g, &s->plan, s->bind, r.dims);
  TfxGenKind kind = TFX_GEN_FIXED;
  int rc = compile_model(&r, d, &kind, why, whylen);
  if (rc != CHECK_PASS) goto done;
  rc = CHECK_FAIL;
  if (kind != TFX_GEN_VARIABLE) {
    snprintf(why, whylen, "internal: --max %s=%lld did not give a variable-length artefact", o->max_sym,
             (long long)o->max_n);
    goto done;
  }
  if (!write_max_driver(drv_path, o->name, o->threads, s->g, o->max_sym, o->max_n)) {
    snprintf(why, whylen, "cannot write %s: %s", drv_path, strerror(errno));
    goto done;
  }
  const char *srcs[] = {c_file, drv_file};
  rc = cc_build(o, dir, srcs, 2, why, whylen);
done:
  free(drv_path);
  free(drv_file);
  free(c_file);
  free(c_path);
  return rc;
}

static int check_dataset_max(const CheckOptions *o, const char *case_dir, const char *ds,
                             const char *work_root, ArtefactList *arts, CheckErr *err, char *why,
                             size_t whylen) {
  TfxDiag d;
  tfx_diag_init(&d);
  DataSet s;
  char *key = NULL, *work = NULL, *prog = NULL, *bin = NULL, *run_log = NULL, *len_text = NULL;
  char **files = NULL, **argv = NULL;
  int n_files = 0;
  int rc = dataset_open(&s, case_dir, ds, &d, why, whylen);
  if (rc != CHECK_PASS) goto done;
  rc = CHECK_FAIL;

  /* the run-time length: the symbol's value in this set's files */
  uint32_t sym = 0;
  for (uint32_t i = 0; i < s.g->n_syms && !sym; i++)
    if (strcmp(s.g->syms[i].name, o->max_sym) == 0) sym = i + 1;
  if (!sym) {
    snprintf(why, whylen, "--max %s=%lld: the model has no dimension named '%s'", o->max_sym,
             (long long)o->max_n, o->max_sym);
    goto done;
  }
  int64_t len = -1;
  for (int k = 0; k < s.in.n && len < 0; k++) {
    const TfxValue *v = &s.g->values[s.bind[k]];
    for (int a = 0; !s.plan.frozen[k] && v->rank == s.in.t[k].rank && a < v->rank; a++)
      if (v->dim_sym[a] == sym) len = s.in.t[k].dims[a];
  }
  if (len < 0) {
    snprintf(why, whylen, "--max %s: no input of the model has a dim '%s' that varies at run time",
             o->max_sym, o->max_sym);
    goto done;
  }
  if (len < 1 || len > o->max_n) {
    printf("  %s: %s=%lld is outside 1..%lld: skipped\n", ds, o->max_sym, (long long)len,
           (long long)o->max_n);
    fflush(stdout);
    rc = CHECK_SKIPPED;
    goto done;
  }
  key = dataset_key(s.g, &s.plan, s.bind, sym);
  /* check's graph at this set's dims: the program's inputs, output shapes */
  if ((rc = dataset_infer(&s, 0, &d, why, whylen)) != CHECK_PASS) goto done;
  rc = CHECK_FAIL;
  if (match_outputs(s.g, &s.exp, s.order, why, whylen)) goto done;

  int a = 0;
  while (a < arts->n && strcmp(arts->a[a].key, key) != 0) a++;
  if (a == arts->n) {
    char *dir = xasprintf("%s/artefact_%d", work_root, a);
    if (mkdir_p(dir) != 0) {
      snprintf(why, whylen, "cannot create %s: %s", dir, strerror(errno));
      free(dir);
      goto done;
    }
    if (o->verbose)
      fprintf(stderr, "tfxc check: %s: compiling for %s=1..%lld in %s\n", ds, o->max_sym,
              (long long)o->max_n, dir);
    if ((rc = build_max_artefact(o, &s, dir, &d, why, whylen)) != CHECK_PASS) {
      free(dir);
      goto done;
    }
    rc = CHECK_FAIL;
    arts->a = realloc(arts->a, sizeof *arts->a * (size_t)(arts->n + 1));
    if (!arts->a) abort();
    arts->a[arts->n++] = (Artefact){key, dir};
    key = NULL;
  }
  const Artefact *art = &arts->a[a];

  /* ./prog WEIGHTS|- LEN IN.raw.. OUT.raw.. OUT_BYTES.. */
  work = xasprintf("%s/%s", work_root, ds);
  if (mkdir_p(work) != 0) {
    snprintf(why, whylen, "cannot create %s: %s", work, strerror(errno));
    goto done;
  }
  uint32_t nin = s.g->n_inputs, nout = s.g->n_outputs;
  files = calloc(nin + 2 * (size_t)nout + 1, sizeof *files);
  argv = calloc(nin + 2 * (size_t)nout + 4, sizeof *argv);
  if (!files || !argv) abort();
  prog = xasprintf("%s/prog", art->dir);
  bin = xasprintf("%s/%s.bin", art->dir, o->name);
  run_log = xasprintf("%s/run.log", work);
  len_text = xasprintf("%lld", (long long)len);
  int ac = 0;
  argv[ac++] = prog;
  argv[ac++] = is_file(bin) ? bin : "-";
  argv[ac++] = len_text;
  for (uint32_t j = 0; j < nin; j++) {
    int k = 0;
    while (k < s.in.n && s.bind[k] != s.g->inputs[j]) k++;
    if (k == s.in.n) {
      snprintf(why, whylen, "internal: graph input '%s' has no data", s.g->values[s.g->inputs[j]].name);
      goto done;
    }
    files[n_files] = xasprintf("%s/in_%u.raw", work, j);
    if (!write_raw(files[n_files], s.in.t[k].data, tfx_tensor_bytes(&s.in.t[k]))) {
      snprintf(why, whylen, "cannot write %s: %s", files[n_files], strerror(errno));
      n_files++;
      goto done;
    }
    argv[ac++] = files[n_files++];
  }
  for (uint32_t j = 0; j < nout; j++) {
    files[n_files] = xasprintf("%s/out_%u.raw", work, j);
    argv[ac++] = files[n_files++];
  }
  for (uint32_t j = 0; j < nout; j++) {
    const TfxValue *v = &s.g->values[s.g->outputs[j]];
    TfxTensor *t = &s.got[j];
    t->dtype = v->dtype;
    t->rank = v->rank;
    memcpy(t->dims, v->dims, sizeof t->dims);
    files[n_files] = xasprintf("%zu", tfx_tensor_bytes(t));
    argv[ac++] = files[n_files++];
  }
  argv[ac] = NULL;
  char bounds[1024] = "";
  int st = run_program(o, argv, run_log, why, whylen);
  if (st == DRIVER_BOUNDS) snprintf(bounds, sizeof bounds, "%s", why);
  else if (st != 0) goto done;
  for (uint32_t j = 0; j < nout; j++)
    if (!read_raw(argv[3 + nin + j], &s.got[j], why, whylen)) goto done;

  CheckErr e = {0, 0};
  bool same = dataset_compare(&s, ds, o, &e, why, whylen);
  printf("  %s: %s=%lld: max abs err %.3g, max rel err %.3g\n", ds, o->max_sym, (long long)len, e.max_abs,
         e.max_rel);
  fflush(stdout); /* in order with the programs' messages */
  if (e.max_abs > err->max_abs) err->max_abs = e.max_abs;
  if (e.max_rel > err->max_rel) err->max_rel = e.max_rel;
  if (!same) goto done;
  if (bounds[0]) {
    snprintf(why, whylen, "%s: %s", ds, bounds);
    goto done;
  }
  rc = CHECK_PASS;
done:
  if (rc != CHECK_PASS && rc != CHECK_SKIPPED) print_diag(&d);
  for (int i = 0; i < n_files; i++) free(files[i]);
  free(files);
  free(argv);
  free(len_text);
  free(run_log);
  free(bin);
  free(prog);
  free(work);
  free(key);
  dataset_close(&s);
  tfx_diag_deinit(&d);
  return rc;
}

/* ---- --decode: prefill, then one token at a time, over the KV cache ------------ */

typedef struct {
  const char *ds;
  TensorList in, exp;
  int tokens;    /* input file of the token ids */
  int logits;    /* expected tensor of the logits */
  int64_t T;     /* tokens */
} DecodeSet;

/* Row (token) of the largest |got - exp| of a [1,T,V] pair; a non-finite
 * mismatch counts as infinite. */
static int64_t worst_row(const TfxTensor *got, const TfxTensor *exp) {
  int64_t n = tfx_tensor_numel(exp), V = exp->dims[2], row = 0;
  double worst = -1;
  for (int64_t i = 0; i < n; i++) {
    double e = tfx_tensor_get_f64(exp, i), g = tfx_tensor_get_f64(got, i), d;
    if ((isnan(e) && isnan(g)) || e == g) d = 0;
    else if (!isfinite(e) || !isfinite(g)) d = INFINITY;
    else d = fabs(g - e);
    if (d > worst) {
      worst = d;
      row = V ? i / V : 0;
    }
  }
  return row;
}

static void step_text(char *buf, size_t size, int64_t row, int64_t K) {
  if (row < K) snprintf(buf, size, "token %lld, prefill", (long long)row);
  else snprintf(buf, size, "token %lld, decode step %lld", (long long)row, (long long)(row - K + 1));
}

/* Is data set s one --decode can run?  Else note says why not. */
static bool decode_usable(const CheckOptions *o, const TfxGraph *g, const uint32_t *bind, DecodeSet *s,
                          char *note, size_t notelen) {
  s->tokens = -1;
  for (int k = 0; k < s->in.n; k++) {
    if (tfx_tensor_numel(&s->in.t[k]) == 0) continue; /* an empty past */
    if (s->tokens >= 0) {
      snprintf(note, notelen, "inputs '%s' and '%s' both hold data (--decode starts from an empty past)",
               g->values[bind[s->tokens]].name, g->values[bind[k]].name);
      return false;
    }
    s->tokens = k;
  }
  if (s->tokens < 0) {
    snprintf(note, notelen, "no input holds token ids");
    return false;
  }
  const TfxTensor *t = &s->in.t[s->tokens];
  char shape[256];
  shape_text(shape, sizeof shape, t->rank, t->dims);
  if ((t->dtype != TFX_I64 && t->dtype != TFX_I32) || t->rank != 2) {
    snprintf(note, notelen, "input '%s' holds %s%s, not token ids [batch, seq]",
             g->values[bind[s->tokens]].name, tfx_dtype_name(t->dtype), shape);
    return false;
  }
  if (t->dims[0] != 1) {
    snprintf(note, notelen, "batch %lld (--decode runs batch 1)", (long long)t->dims[0]);
    return false;
  }
  s->T = t->dims[1];
  if (o->max_n >= 0 && s->T > o->max_n) {
    snprintf(note, notelen, "%lld tokens, over --max %lld", (long long)s->T, (long long)o->max_n);
    return false;
  }
  return true;
}

/* The logits of set s: the expected tensor named like the first graph output,
 * else output_0.pb; it must be [1,T,V]. */
static bool decode_logits(const TfxGraph *g, DecodeSet *s, const char *ds_dir, char *why, size_t whylen) {
  const char *name = g->values[g->outputs[0]].name;
  s->logits = -1;
  for (int k = 0; k < s->exp.n && s->logits < 0; k++)
    if (strcmp(s->exp.names[k], name) == 0) s->logits = k;
  if (s->logits < 0 && s->exp.n > 0) s->logits = 0;
  if (s->logits < 0) {
    snprintf(why, whylen, "%s: no output_0.pb with the reference logits", ds_dir);
    return false;
  }
  const TfxTensor *e = &s->exp.t[s->logits];
  if (e->rank != 3 || e->dims[0] != 1 || e->dims[1] != s->T || !tfx_dtype_is_float(e->dtype)) {
    char shape[256];
    shape_text(shape, sizeof shape, e->rank, e->dims);
    snprintf(why, whylen, "%s holds %s%s; --decode compares it with logits [1,%lld,V]", s->exp.paths[s->logits],
             tfx_dtype_name(e->dtype), shape, (long long)s->T);
    return false;
  }
  return true;
}

/* Run one set through the decoder program; compares its logits. */
static int decode_run(const CheckOptions *o, const char *work_root, const char *dir, DecodeSet *s,
                      bool bounds, CheckErr *err, char *why, size_t whylen) {
  const TfxTensor *tok = &s->in.t[s->tokens], *exp = &s->exp.t[s->logits];
  int64_t T = s->T, V = exp->dims[2], K = T / 2 > 1 ? T / 2 : 1;
  char *work = xasprintf("%s/%s", work_root, s->ds), *prog = xasprintf("%s/prog", dir);
  char *bin = xasprintf("%s/%s.bin", dir, o->name), *tok_path = xasprintf("%s/tokens.raw", work);
  char *log_path = xasprintf("%s/logits.raw", work), *run_log = xasprintf("%s/run.log", work);
  char *k_text = xasprintf("%lld", (long long)K);
  int64_t *ids = malloc(sizeof *ids * (size_t)T);
  TfxTensor got = {.dtype = TFX_F32, .rank = 3, .dims = {1, T, V}}, conv = {0};
  int rc = CHECK_FAIL;
  if (!ids) abort();
  for (int64_t i = 0; i < T; i++) ids[i] = tfx_tensor_get_i64(tok, i);
  if (mkdir_p(work) != 0 || !write_raw(tok_path, ids, sizeof *ids * (size_t)T)) {
    snprintf(why, whylen, "cannot write %s: %s", tok_path, strerror(errno));
    goto done;
  }
  char *argv[] = {prog, is_file(bin) ? bin : "-", tok_path, k_text, log_path, bounds ? "1" : "0", NULL};
  char bounds_why[1024] = "";
  int st = run_program(o, argv, run_log, why, whylen);
  if (st == DRIVER_BOUNDS) snprintf(bounds_why, sizeof bounds_why, "%s", why);
  else if (st != 0) goto done;
  if (!read_raw(log_path, &got, why, whylen)) goto done;
  const TfxTensor *cmp = &got;
  if (exp->dtype != TFX_F32) { /* compare in the reference's precision */
    conv = (TfxTensor){.dtype = exp->dtype, .rank = 3, .dims = {1, T, V}};
    conv.data = malloc(tfx_tensor_bytes(&conv) + 1);
    if (!conv.data) abort();
    for (int64_t i = 0; i < T * V; i++) tfx_tensor_set_f64(&conv, i, tfx_tensor_get_f64(&got, i));
    cmp = &conv;
  }
  CheckErr e = {0, 0};
  char what[512], step[128];
  snprintf(what, sizeof what, "%s: logits", s->ds);
  bool same = compare(cmp, exp, what, o, &e, why, whylen);
  step_text(step, sizeof step, worst_row(cmp, exp), K);
  printf("  %s: %lld tokens (prefill %lld, decode %lld): max abs err %.3g (%s), max rel err %.3g\n", s->ds,
         (long long)T, (long long)K, (long long)(T - K), e.max_abs, step, e.max_rel);
  fflush(stdout); /* in order with the programs' messages */
  if (e.max_abs > err->max_abs) err->max_abs = e.max_abs;
  if (e.max_rel > err->max_rel) err->max_rel = e.max_rel;
  if (!same) {
    size_t n = strlen(why);
    snprintf(why + n, whylen - n, " (%s)", step);
    goto done;
  }
  if (bounds_why[0]) {
    snprintf(why, whylen, "decoder entry points: %s", bounds_why);
    goto done;
  }
  rc = CHECK_PASS;
done:
  tfx_tensor_free_data(&conv);
  tfx_tensor_free_data(&got);
  free(ids);
  free(k_text);
  free(run_log);
  free(log_path);
  free(tok_path);
  free(bin);
  free(prog);
  free(work);
  return rc;
}

static int check_decode(const CheckOptions *o, const char *case_dir, char **ds, int n_ds,
                        const char *work_root, CheckErr *err, char *why, size_t whylen) {
  TfxDiag d;
  tfx_diag_init(&d);
  char *model = case_model(case_dir), *dir = NULL, *c_path = NULL, *c_file = NULL;
  char *drv_file = xasprintf("%s_check_driver.c", o->name), *drv_path = NULL;
  DecodeSet *sets = calloc((size_t)n_ds + 1, sizeof *sets);
  int n_sel = 0, rc = CHECK_FAIL;
  TfxDimBinding dims[TFX_MAX_BINDINGS];
  int n_dims = 0;
  const char *seq_sym = NULL, *tok_name = NULL;
  int64_t longest = 0;
  if (!sets) abort();
  TfxGraph *g = tfx_import(model, &d);
  if (!g) {
    rc = diag_result(&d, "", why, whylen);
    goto done;
  }

  /* the batch-1 sets with token ids only (and empty pasts) */
  for (int i = 0; i < n_ds; i++) {
    DecodeSet *s = &sets[n_sel];
    char *ds_dir = xasprintf("%s/%s", case_dir, ds[i]), note[512];
    uint32_t *bind = NULL;
    s->ds = ds[i];
    if (tensors_read(ds_dir, "input", &s->in, &d) || tensors_read(ds_dir, "output", &s->exp, &d)) {
      rc = diag_result(&d, "", why, whylen);
      free(ds_dir);
      goto done;
    }
    bind = calloc((size_t)s->in.n + 1, sizeof *bind);
    if (!bind) abort();
    bool bad = match_inputs(g, ds_dir, &s->in, bind, why, whylen);
    bool use = !bad && decode_usable(o, g, bind, s, note, sizeof note);
    if (use) bad = !decode_logits(g, s, ds_dir, why, whylen);
    if (use && !bad && n_sel > 0 && s->exp.t[s->logits].dims[2] != sets[0].exp.t[sets[0].logits].dims[2]) {
      snprintf(why, whylen, "%s: the logits have %lld columns, %s's %lld", ds[i],
               (long long)s->exp.t[s->logits].dims[2], sets[0].ds,
               (long long)sets[0].exp.t[sets[0].logits].dims[2]);
      bad = true;
    }
    if (use && !bad && n_sel == 0) {
      /* batch = 1, the past's length = 0, and the length symbol to vary */
      for (int k = 0; k < s->in.n; k++) {
        const TfxValue *v = &g->values[bind[k]];
        for (int a = 0; v->rank == s->in.t[k].rank && a < v->rank; a++) {
          if (!v->dim_sym[a]) continue;
          const char *name = g->syms[v->dim_sym[a] - 1].name;
          int64_t val = s->in.t[k].dims[a];
          if (k == s->tokens && a == 1) {
            seq_sym = name;
            continue;
          }
          bool seen = false;
          for (int j = 0; j < n_dims && !seen; j++) seen = strcmp(dims[j].name, name) == 0;
          if (!seen && n_dims < TFX_MAX_BINDINGS && (val == 0 || (k == s->tokens && a == 0)))
            dims[n_dims++] = (TfxDimBinding){name, val};
        }
      }
      tok_name = g->values[bind[s->tokens]].name;
    }
    free(bind);
    free(ds_dir);
    if (bad) goto done;
    if (!use) {
      printf("  %s: skipped: %s\n", ds[i], note);
      fflush(stdout);
      tensors_free(&s->in);
      tensors_free(&s->exp);
      continue;
    }
    if (s->T > longest) longest = s->T;
    n_sel++;
  }
  if (!n_sel) {
    snprintf(why, whylen, "no batch-1 data set with an empty past");
    rc = CHECK_UNSUPPORTED;
    goto done;
  }
  const char *sym = o->max_sym ? o->max_sym : seq_sym;
  if (!sym) {
    snprintf(why, whylen, "input '%s' has no symbolic length: --decode needs one (or --max SYM=N)", tok_name);
    goto done;
  }
  int64_t N = o->max_n >= 0 ? o->max_n : longest > DECODE_MIN_MAX ? longest : DECODE_MIN_MAX;

  /* one decoder for every set */
  dir = xasprintf("%s/decoder", work_root);
  c_path = xasprintf("%s/%s.c", dir, o->name);
  c_file = xasprintf("%s.c", o->name);
  drv_path = xasprintf("%s/%s", dir, drv_file);
  if (mkdir_p(dir) != 0) {
    snprintf(why, whylen, "cannot create %s: %s", dir, strerror(errno));
    goto done;
  }
  TfxCompileRequest r = {.model = model,
                         .n_dims = n_dims,
                         .max = {sym, N},
                         .opt_level = 2,
                         .c = {.name = o->name, .out_c = c_path, .weights = TFX_WEIGHTS_AUTO,
                               .threads = o->threads,
                               .cpu = o->cpu}};
  memcpy(r.dims, dims, sizeof *dims * (size_t)n_dims);
  if (o->verbose) fprintf(stderr, "tfxc check: compiling a decoder for %s=1..%lld in %s\n", sym, (long long)N, dir);
  TfxGenKind kind = TFX_GEN_FIXED;
  char not_decoder[256] = "";
  r.why_not_decoder = not_decoder;
  r.why_size = sizeof not_decoder;
  if ((rc = compile_model(&r, &d, &kind, why, whylen)) != CHECK_PASS) goto done;
  rc = CHECK_FAIL;
  if (kind != TFX_GEN_DECODER) {
    char first[512];
    if (d.text) diag_first_line(&d, first, sizeof first);
    else if (not_decoder[0]) snprintf(first, sizeof first, "%s", not_decoder);
    else snprintf(first, sizeof first, "tfxc did not recognise %s as a causal LM over a KV cache", model);
    snprintf(why, whylen, "not compiled as a decoder: %s", first);
    goto done;
  }
  if (!write_decode_driver(drv_path, o->name, o->threads, N, sets[0].exp.t[sets[0].logits].dims[2])) {
    snprintf(why, whylen, "cannot write %s: %s", drv_path, strerror(errno));
    goto done;
  }
  const char *srcs[] = {c_file, drv_file};
  if ((rc = cc_build(o, dir, srcs, 2, why, whylen)) != CHECK_PASS) goto done;
  for (int i = 0; i < n_sel; i++)
    if ((rc = decode_run(o, work_root, dir, &sets[i], i == 0, err, why, whylen)) != CHECK_PASS) break;
done:
  if (rc != CHECK_PASS) print_diag(&d);
  for (int i = 0; i <= n_sel && i < n_ds; i++) {
    tensors_free(&sets[i].in);
    tensors_free(&sets[i].exp);
  }
  free(sets);
  if (g) tfx_graph_free(g);
  free(drv_path);
  free(drv_file);
  free(c_file);
  free(c_path);
  free(dir);
  free(model);
  tfx_diag_deinit(&d);
  return rc;
}
/* ---- the command --------------------------------------------------------- */

static bool parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || end == s || *end || !(v >= 0)) return false;
  *out = v;
  return true;
}

static bool c_identifier(const char *s) {
  if (!(isalpha((unsigned char)*s) || *s == '_')) return false;
  for (; *s; s++)
    if (!(isalnum((unsigned char)*s) || *s == '_')) return false;
  return true;
}

int tfx_check_main(int argc, char **argv) {
  CheckOptions o = {.rtol = 1e-3, .atol = 1e-6, .name = "model", .timeout = 120, .max_n = -1, .threads = 1};
  char max_sym[128];
  static const struct option longopts[] = {
      {"rtol", required_argument, NULL, 'r'},    {"atol", required_argument, NULL, 'a'},
      {"reference", no_argument, NULL, 'R'},     {"keep", required_argument, NULL, 'k'},
      {"cc", required_argument, NULL, 'c'},      {"name", required_argument, NULL, 'n'},
      {"timeout", required_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
      {"max", required_argument, NULL, 'm'},     {"decode", no_argument, NULL, 'D'},
      {"threads", required_argument, NULL, 'T'}, {"help", no_argument, NULL, 'h'},
      {"cpu", required_argument, NULL, 'C'},
      {NULL, 0, NULL, 0}};
  optind = 0; /* the caller may have used getopt already: reinitialise */
  int c;
  while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
    switch (c) {
    case 'r':
      if (!parse_double(optarg, &o.rtol)) goto bad_number;
      o.rtol_set = true;
      break;
    case 'a':
      if (!parse_double(optarg, &o.atol)) goto bad_number;
      o.atol_set = true;
      break;
    case 'R': o.reference = true; break;
    case 'k': o.keep = optarg; break;
    case 'c': o.cc = optarg; break;
    case 'n': o.name = optarg; break;
    case 't': o.timeout = atoi(optarg); break;
    case 'v': o.verbose = true; break;
    case 'D': o.decode = true; break;
    case 'C':
      if (!tfx_cpu_parse(optarg, &o.cpu)) {
        fprintf(stderr, "tfxc check: --cpu must be native, avx512vnni, avx512, avxvnni, avx2, avx, generic or auto, not '%s'\n", optarg);
        return CHECK_USAGE;
      }
      break;
    case 'T':
      o.threads = atoi(optarg);
      if (o.threads < 1 || o.threads > 256) {
        fprintf(stderr, "tfxc check: --threads expects 1 to 256, got '%s'\n", optarg);
        return CHECK_USAGE;
      }
      break;
    case 'm': {
      const char *eq = strchr(optarg, '='), *num = eq ? eq + 1 : optarg;
      char *end = NULL;
      errno = 0;
      long long v = strtoll(num, &end, 10);
      size_t sl = eq ? (size_t)(eq - optarg) : 0;
      if (!*num || *end || errno || v < 1 || (eq && (sl == 0 || sl >= sizeof max_sym))) {
        fprintf(stderr, "tfxc check: --max expects SYM=N with N >= 1 (or N alone with --decode), got '%s'\n",
                optarg);
        return CHECK_USAGE;
      }
      o.max_sym = NULL;
      if (eq) {
        memcpy(max_sym, optarg, sl);
        max_sym[sl] = 0;
        o.max_sym = max_sym;
      }
      o.max_n = v;
      break;
    }
    case 'h': fputs(usage_text, stdout); return CHECK_PASS;
    default: fputs(usage_text, stderr); return CHECK_USAGE;
    }
  }
  if (optind + 1 != argc) {
    fputs(optind >= argc ? "tfxc check: no CASE_DIR given\n" : "tfxc check: give one CASE_DIR\n", stderr);
    fputs(usage_text, stderr);
    return CHECK_USAGE;
  }
  if (!c_identifier(o.name)) {
    fprintf(stderr, "tfxc check: --name %s: not a C identifier\n", o.name);
    return CHECK_USAGE;
  }
  if (o.timeout <= 0) {
    fprintf(stderr, "tfxc check: --timeout must be a positive number of seconds\n");
    return CHECK_USAGE;
  }
  if (o.max_n >= 0 && !o.max_sym && !o.decode) {
    fprintf(stderr, "tfxc check: --max expects SYM=N (N alone only with --decode)\n");
    return CHECK_USAGE;
  }
  if ((o.max_n >= 0 || o.decode) && o.reference) {
    fprintf(stderr, "tfxc check: --max and --decode check generated code: they do not combine with --reference\n");
    return CHECK_USAGE;
  }
  if (o.decode && o.max_n >= 0 && o.max_n < DECODE_MIN_MAX) {
    fprintf(stderr, "tfxc check: --decode needs --max %d or more (the KV cache is compiled at sample lengths up to %d)\n",
            DECODE_MIN_MAX, DECODE_MIN_MAX);
    return CHECK_USAGE;
  }

  /* The case name is the folder's last component. */
  char *case_dir = xasprintf("%s", argv[optind]);
  size_t len = strlen(case_dir);
  while (len > 1 && case_dir[len - 1] == '/') case_dir[--len] = 0;
  const char *case_name = strrchr(case_dir, '/') ? strrchr(case_dir, '/') + 1 : case_dir;
  char *model = is_dir(case_dir) ? case_model(case_dir) : NULL;
  bool have_model = model != NULL;
  free(model);
  if (!have_model) {
    fprintf(stderr, "tfxc check: %s: not a case folder (model.onnx or config.json + model.safetensors, and test_data_set_*/)\n", case_dir);
    free(case_dir);
    return CHECK_USAGE;
  }
  int n_ds = 0;
  char **ds = list_datasets(case_dir, &n_ds);
  if (n_ds == 0) {
    printf("FAIL %s: no test_data_set_* folders\n", case_name);
    free(case_dir);
    return CHECK_FAIL;
  }

  char *work_root = NULL;
  if (!o.reference) {
    if (o.keep) {
      if (mkdir_p(o.keep) != 0) {
        fprintf(stderr, "tfxc check: --keep %s: %s\n", o.keep, strerror(errno));
        for (int i = 0; i < n_ds; i++) free(ds[i]);
        free(ds);
        free(case_dir);
        return CHECK_USAGE;
      }
      work_root = xasprintf("%s", o.keep);
    } else {
      const char *tmp = getenv("TMPDIR");
      work_root = xasprintf("%s/tfxc-check-XXXXXX", tmp && *tmp ? tmp : "/tmp");
      if (!mkdtemp(work_root)) {
        fprintf(stderr, "tfxc check: cannot create a temporary folder %s: %s\n", work_root,
                strerror(errno));
        for (int i = 0; i < n_ds; i++) free(ds[i]);
        free(ds);
        free(work_root);
        free(case_dir);
        return CHECK_FAIL;
      }
    }
  }

  CheckErr err = {0, 0};
  int rc = CHECK_PASS;
  char why[2048] = "";
  if (o.decode) {
    rc = check_decode(&o, case_dir, ds, n_ds, work_root, &err, why, sizeof why);
  } else if (o.max_sym) {
    /* one artefact per distinct binding of the other dims, every set through it */
    ArtefactList arts = {0};
    int n_run = 0;
    for (int i = 0; i < n_ds && rc == CHECK_PASS; i++) {
      rc = check_dataset_max(&o, case_dir, ds[i], work_root, &arts, &err, why, sizeof why);
      if (rc == CHECK_SKIPPED) rc = CHECK_PASS;
      else if (rc == CHECK_PASS) n_run++;
    }
    if (rc == CHECK_PASS && n_run == 0) {
      snprintf(why, sizeof why, "no data set has %s within 1..%lld", o.max_sym, (long long)o.max_n);
      rc = CHECK_UNSUPPORTED;
    }
    if (o.verbose) fprintf(stderr, "tfxc check: %d data set(s) through %d artefact(s)\n", n_run, arts.n);
    artefacts_free(&arts);
  } else {
    for (int i = 0; i < n_ds && rc == CHECK_PASS; i++) {
      char *work = NULL;
      if (work_root) {
        /* one folder per data set (frozen inputs may differ between sets) */
        work = n_ds == 1 ? xasprintf("%s", work_root) : xasprintf("%s/%s", work_root, ds[i]);
        if (mkdir_p(work) != 0) {
          snprintf(why, sizeof why, "cannot create %s: %s", work, strerror(errno));
          rc = CHECK_FAIL;
          free(work);
          break;
        }
      }
      rc = check_dataset(&o, case_dir, ds[i], work, &err, why, sizeof why);
      if (o.verbose && rc == CHECK_PASS) fprintf(stderr, "tfxc check: %s matched\n", ds[i]);
      free(work);
    }
  }
  if (rc == CHECK_PASS)
    printf("PASS %s (max abs err %.3g, max rel err %.3g)\n", case_name, err.max_abs, err.max_rel);
  else if (rc == CHECK_UNSUPPORTED)
    printf("UNSUPPORTED %s: %s\n", case_name, why);
  else
    printf("FAIL %s: %s\n", case_name, why);
  if (o.keep)
    fprintf(stderr, "tfxc check: generated files kept in %s\n", o.keep);
  else if (work_root)
    remove_tree(work_root);

  for (int i = 0; i < n_ds; i++) free(ds[i]);
  free(ds);
  free(work_root);
  free(case_dir);
  return rc;

bad_number:
  fprintf(stderr, "tfxc check: --rtol/--atol expect a non-negative number, got '%s'\n", optarg);
  return CHECK_USAGE;
}
