/* check.c — `tfxc check CASE_DIR`: for every test_data_set_* of an ONNX
 * backend-test case folder, compile the model to C (or evaluate it with the
 * reference evaluator), build and run it on the set's inputs and compare the
 * outputs with the expected ones.  Case inputs that feed shape operands are
 * frozen into constants, every other input's dims are bound from its data, so
 * each set is compiled for its own shapes.
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

int tfx_check_main(int argc, char **argv);

enum { CHECK_PASS = 0, CHECK_FAIL = 1, CHECK_USAGE = 2, CHECK_UNSUPPORTED = 77 };

typedef struct {
  double rtol, atol;
  bool rtol_set, atol_set; /* given on the command line: applies to every dtype */
  bool reference, verbose;
  const char *keep; /* folder to keep the generated files in, or NULL */
  const char *cc;   /* compiler command (may hold flags), or NULL for $CC / cc */
  const char *name; /* C name of the generated model */
  int timeout;      /* seconds the compiled program may run */
} CheckOptions;

/* Largest errors seen over all compared float elements. */
typedef struct {
  double max_abs, max_rel;
} CheckErr;

/* A data set's tensors: inputs in file order, expected outputs likewise. */
typedef struct {
  TfxTensor *t;
  char **names;
  char **paths;
  int n;
} TensorList;

static const char usage_text[] =
    "usage: tfxc check CASE_DIR [--rtol R] [--atol A] [--reference] [--keep DIR] [--cc CC]\n"
    "                  [--name N] [--timeout S] [-v]\n"
    "  Compiles CASE_DIR/model.onnx to C, builds it with CC (default $CC or cc), runs it on\n"
    "  every CASE_DIR/test_data_set_*/input_K.pb and compares with output_K.pb.\n"
    "  --rtol R, --atol A  float tolerance |got-exp| <= A + R*|exp| (defaults 1e-3, 1e-6;\n"
    "                      float16/bfloat16 outputs: two units in the last place)\n"
    "  --reference         run the reference evaluator instead of generated code\n"
    "  --keep DIR          keep the generated files in DIR (default: a removed temp folder)\n"
    "  --name N            C name of the generated model (default model)\n"
    "  --timeout S         seconds the compiled program may run (default 120)\n"
    "  -v                  print the steps\n"
    "Exit status: 0 match, 1 mismatch or error, 2 usage, 77 the model needs something\n"
    "tfxc does not support.\n";

/* ---- small helpers ----------------------------------------------------- */

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) {
    fprintf(stderr, "tfxc check: out of memory\n");
    abort();
  }
  va_end(ap);
  return s;
}

static bool is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Messages that mean "tfxc cannot do this" rather than "tfxc got it wrong". */
static bool diag_unsupported(const TfxDiag *d) {
  if (!d->text) return false;
  for (const char *p = d->text; *p; p++) {
    static const char *const keys[] = {"unsupported", "not supported", "does not support",
                                       "supports dense tensors only", "unknown op"};
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
      if (strncasecmp(p, keys[k], strlen(keys[k])) == 0) return true;
  }
  return false;
}

/* First line of the diag, for the one-line summary. */
static void diag_first_line(const TfxDiag *d, char *buf, size_t size) {
  const char *t = d->text ? d->text : "(no message)";
  size_t n = strcspn(t, "\n");
  if (n >= size) n = size - 1;
  memcpy(buf, t, n);
  buf[n] = 0;
}

static void shape_text(char *buf, size_t size, int rank, const int64_t *dims) {
  size_t n = (size_t)snprintf(buf, size, "[");
  for (int k = 0; k < rank && n < size; k++)
    n += (size_t)snprintf(buf + n, size - n, "%s%lld", k ? "," : "", (long long)dims[k]);
  if (n < size) snprintf(buf + n, size - n, "]");
}

/* A graph input's declared shape, symbols by name ("[batch,3]"), "?" unknown. */
static void declared_shape_text(char *buf, size_t size, const TfxGraph *g, const TfxValue *v) {
  size_t n = (size_t)snprintf(buf, size, "[");
  for (int k = 0; k < v->rank && n < size; k++) {
    const char *sep = k ? "," : "";
    if (v->dim_sym[k])
      n += (size_t)snprintf(buf + n, size - n, "%s%s", sep, g->syms[v->dim_sym[k] - 1].name);
    else if (v->dims[k] < 0)
      n += (size_t)snprintf(buf + n, size - n, "%s?", sep);
    else
      n += (size_t)snprintf(buf + n, size - n, "%s%lld", sep, (long long)v->dims[k]);
  }
  if (n < size) snprintf(buf + n, size - n, "]");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static void remove_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static int mkdir_p(const char *path) {
  char *p = xasprintf("%s", path);
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, 0777) != 0 && errno != EEXIST) break;
    *s = '/';
  }
  int rc = mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
  free(p);
  return rc;
}

/* Print a file's text (a compiler's or program's messages) to stderr, up to
 * a limit so a flood of errors stays readable. */
static void dump_log(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char buf[4096];
  size_t n, total = 0;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0 && total < 64 * 1024) {
    fwrite(buf, 1, n, stderr);
    total += n;
  }
  if (n > 0) fprintf(stderr, "... (%s truncated)\n", path);
  fclose(f);
}

/* Run argv in dir with stdout and stderr going to log.  Returns the exit
 * status, 128+N when killed by signal N (SIGALRM when over timeout_s), 127
 * when the program could not be started. */
static int run_cmd(char *const *argv, const char *dir, const char *log, int timeout_s) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return 127;
  if (pid == 0) {
    setpgid(0, 0); /* its own group, so a timeout also ends what it started */
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    if (dir && chdir(dir) != 0) _exit(127);
    if (timeout_s > 0) alarm((unsigned)timeout_s); /* survives exec */
    execvp(argv[0], argv);
    fprintf(stderr, "cannot run '%s': %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 127;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) {
    kill(-pid, SIGKILL);
    return 128 + WTERMSIG(status);
  }
  return 127;
}

/* ---- case data ----------------------------------------------------------- */

static int ds_number(const char *name) { return atoi(name + strlen("test_data_set_")); }

static int ds_cmp(const void *a, const void *b) {
  const char *x = *(const char *const *)a, *y = *(const char *const *)b;
  int nx = ds_number(x), ny = ds_number(y);
  return nx != ny ? (nx < ny ? -1 : 1) : strcmp(x, y);
}

/* test_data_set_* folder names under dir, sorted by number. */
static char **list_datasets(const char *dir, int *count) {
  DIR *d = opendir(dir);
  char **names = NULL;
  int n = 0, cap = 0;
  *count = 0;
  if (!d) return NULL;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strncmp(e->d_name, "test_data_set_", 14) != 0) continue;
    char *p = xasprintf("%s/%s", dir, e->d_name);
    bool ok = is_dir(p);
    free(p);
    if (!ok) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      names = realloc(names, sizeof *names * (size_t)cap);
      if (!names) abort();
    }
    names[n++] = xasprintf("%s", e->d_name);
  }
  closedir(d);
  if (n) qsort(names, (size_t)n, sizeof *names, ds_cmp);
  *count = n;
  return names;
}

static void tensors_free(TensorList *l) {
  for (int k = 0; k < l->n; k++) {
    tfx_tensor_free_data(&l->t[k]);
    free(l->names[k]);
    free(l->paths[k]);
  }
  free(l->t);
  free(l->names);
  free(l->paths);
  memset(l, 0, sizeof *l);
}

/* Read dir/<prefix>_0.pb, _1.pb ... up to the first missing one. */
static TfxStatus tensors_read(const char *dir, const char *prefix, TensorList *l, TfxDiag *d) {
  memset(l, 0, sizeof *l);
  for (int k = 0;; k++) {
    char *path = xasprintf("%s/%s_%d.pb", dir, prefix, k);
    if (!is_file(path)) {
      free(path);
      return TFX_OK;
    }
    l->t = realloc(l->t, sizeof *l->t * (size_t)(k + 1));
    l->names = realloc(l->names, sizeof *l->names * (size_t)(k + 1));
    l->paths = realloc(l->paths, sizeof *l->paths * (size_t)(k + 1));
    if (!l->t || !l->names || !l->paths) abort();
    memset(&l->t[k], 0, sizeof l->t[k]);
    l->names[k] = NULL;
    l->paths[k] = path;
    l->n = k + 1;
    if (tfx_tensorproto_read(path, &l->t[k], &l->names[k], d)) return TFX_ERR;
    if (!l->names[k]) l->names[k] = xasprintf("%s", "");
  }
}

/* ---- comparison ---------------------------------------------------------- */

static void index_text(char *buf, size_t size, const TfxTensor *t, int64_t flat) {
  int64_t idx[TFX_MAX_RANK];
  tfx_unravel(flat, t->rank, t->dims, idx);
  shape_text(buf, size, t->rank, idx);
}

static void elem_text(char *buf, size_t size, const TfxTensor *t, int64_t i) {
  if (tfx_dtype_is_float(t->dtype))
    snprintf(buf, size, t->dtype == TFX_F64 ? "%.17g" : "%.9g", tfx_tensor_get_f64(t, i));
  else if (t->dtype == TFX_U64)
    snprintf(buf, size, "%llu", (unsigned long long)((const uint64_t *)t->data)[i]);
  else
    snprintf(buf, size, "%lld", (long long)tfx_tensor_get_i64(t, i));
}

/* Compare got with exp; on mismatch write the reason into why. */
static bool compare(const TfxTensor *got, const TfxTensor *exp, const char *what,
                    const CheckOptions *o, CheckErr *err, char *why, size_t whylen) {
  char a[256], b[256];
  if (got->dtype != exp->dtype) {
    snprintf(why, whylen, "%s: dtype %s, expected %s", what, tfx_dtype_name(got->dtype),
             tfx_dtype_name(exp->dtype));
    return false;
  }
  bool same = got->rank == exp->rank;
  for (int k = 0; same && k < got->rank; k++) same = got->dims[k] == exp->dims[k];
  if (!same) {
    shape_text(a, sizeof a, got->rank, got->dims);
    shape_text(b, sizeof b, exp->rank, exp->dims);
    snprintf(why, whylen, "%s: shape %s, expected %s", what, a, b);
    return false;
  }
  int64_t n = tfx_tensor_numel(exp), bad = 0, worst = -1;
  double worst_excess = -1;
  bool is_float = tfx_dtype_is_float(exp->dtype);
  /* The float32 defaults are finer than a half-precision step: for float16
   * and bfloat16 outputs the default allows two units in the last place. */
  double rtol = o->rtol, atol = o->atol;
  if (!o->rtol_set && exp->dtype == TFX_F16) rtol = 0x1p-9;
  if (!o->rtol_set && exp->dtype == TFX_BF16) rtol = 0x1p-6;
  if (!o->atol_set && (exp->dtype == TFX_F16 || exp->dtype == TFX_BF16)) atol = 1e-5;
  size_t es = tfx_dtype_bytes(exp->dtype);
  for (int64_t i = 0; i < n; i++) {
    double excess;
    if (is_float) {
      double e = tfx_tensor_get_f64(exp, i), g = tfx_tensor_get_f64(got, i);
      if (isnan(e) || isinf(e)) {
        if ((isnan(e) && isnan(g)) || g == e) continue;
        excess = INFINITY;
      } else if (!isfinite(g)) {
        excess = INFINITY;
      } else {
        double d = fabs(g - e);
        if (d > err->max_abs) err->max_abs = d;
        if (e != 0 && d / fabs(e) > err->max_rel) err->max_rel = d / fabs(e);
        excess = d - (atol + rtol * fabs(e));
        if (excess <= 0) continue;
      }
    } else {
      if (memcmp((const char *)got->data + (size_t)i * es, (const char *)exp->data + (size_t)i * es,
                 es) == 0)
        continue;
      excess = INFINITY;
    }
    bad++;
    if (excess > worst_excess) {
      worst_excess = excess;
      worst = i;
    }
  }
  if (!bad) return true;
  char idx[256];
  index_text(idx, sizeof idx, exp, worst);
  elem_text(a, sizeof a, got, worst);
  elem_text(b, sizeof b, exp, worst);
  snprintf(why, whylen, "%s: %lld of %lld elements differ, worst at %s (flat %lld): got %s, expected %s",
           what, (long long)bad, (long long)n, idx, (long long)worst, a, b);
  return false;
}

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

/* Bind the case's input tensors to the graph: match by name where the .pb
 * has one, else by position; freeze inputs that feed shape operands; bind
 * every other input's dims.  bind[k] receives the value id of input file k. */
static TfxStatus bind_inputs(TfxGraph *g, const TensorList *in, uint32_t *bind, char *why,
                             size_t whylen) {
  uint32_t n_in = g->n_inputs;
  bool *taken = calloc(g->n_values + 1, 1);
  if (!taken) abort();
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
    free(taken);
    return TFX_ERR;
  }
  for (uint32_t j = 0; j < n_in; j++)
    if (!taken[g->inputs[j]]) {
      snprintf(why, whylen, "model input '%s' gets no input_K.pb (the data set has %d inputs)",
               g->values[g->inputs[j]].name, in->n);
      free(taken);
      return TFX_ERR;
    }
  free(taken);

  /* dtypes and declared dims */
  for (int k = 0; k < in->n; k++) {
    const TfxValue *v = &g->values[bind[k]];
    const TfxTensor *t = &in->t[k];
    char a[256], b[256];
    if (v->dtype != TFX_UNDEF && v->dtype != t->dtype) {
      snprintf(why, whylen, "input '%s': the model declares %s, %s holds %s", v->name,
               tfx_dtype_name(v->dtype), in->paths[k], tfx_dtype_name(t->dtype));
      return TFX_ERR;
    }
    bool ok = v->rank < 0 || v->rank == t->rank;
    for (int d = 0; ok && v->rank >= 0 && d < v->rank; d++)
      ok = v->dim_sym[d] || v->dims[d] < 0 || v->dims[d] == t->dims[d];
    if (!ok) {
      declared_shape_text(a, sizeof a, g, v);
      shape_text(b, sizeof b, t->rank, t->dims);
      snprintf(why, whylen, "input '%s': the model declares shape %s, %s holds %s", v->name, a,
               in->paths[k], b);
      return TFX_ERR;
    }
  }

  /* inputs that feed shape operands become constants */
  bool *freeze = shape_operand_inputs(g);
  for (int k = 0; k < in->n; k++) {
    uint32_t v = bind[k];
    TfxValue *val = &g->values[v];
    const TfxTensor *t = &in->t[k];
    if (freeze[v] || val->kind == TFX_VAL_CONST) {
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
  free(freeze);
  return TFX_OK;
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

/* Print a command line (for -v). */
static void print_cmd(char *const *argv) {
  fprintf(stderr, "  $");
  for (int i = 0; argv[i]; i++) fprintf(stderr, " %s", argv[i]);
  fprintf(stderr, "\n");
}

/* Emit, compile and run the generated program in work; outputs land in
 * got[] in graph output order. */
static int run_generated(TfxGraph *g, const CheckOptions *o, const char *work, const TensorList *in,
                         const uint32_t *bind, TfxTensor *got, TfxDiag *d, char *why, size_t whylen) {
  int rc = CHECK_FAIL;
  char *c_path = xasprintf("%s/%s.c", work, o->name);
  char *bin_path = xasprintf("%s/%s.bin", work, o->name);
  char *prog = xasprintf("%s/prog", work);
  char *cc_log = xasprintf("%s/cc.log", work);
  char *run_log = xasprintf("%s/run.log", work);
  char *c_file = xasprintf("%s.c", o->name);
  char *cc_copy = NULL;
  char **argv = NULL;
  char **outs = calloc(g->n_outputs + 1, sizeof *outs);
  if (!outs) abort();

  TfxCOptions copt = {.name = o->name, .out_c = c_path, .weights = TFX_WEIGHTS_AUTO, .emit_main = true};
  if (tfx_emit_c(g, &copt)) {
    char first[512];
    diag_first_line(d, first, sizeof first);
    snprintf(why, whylen, "C emission failed: %s", first);
    rc = diag_unsupported(d) ? CHECK_UNSUPPORTED : CHECK_FAIL;
    goto done;
  }

  /* cc: $CC may carry flags ("ccache gcc", "clang -m32"): split on spaces */
  const char *cc = o->cc ? o->cc : getenv("CC");
  if (!cc || !*cc) cc = "cc";
  cc_copy = xasprintf("%s", cc);
  size_t cap = 16 + strlen(cc_copy) + 2 * (g->n_inputs + g->n_outputs);
  argv = calloc(cap, sizeof *argv);
  if (!argv) abort();
  int ac = 0;
  for (char *tok = strtok(cc_copy, " \t"); tok; tok = strtok(NULL, " \t")) argv[ac++] = tok;
  static const char *const flags[] = {"-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", "-o", "prog"};
  for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) argv[ac++] = (char *)flags[i];
  argv[ac++] = c_file;
  argv[ac++] = "-lm";
  argv[ac] = NULL;
  if (o->verbose) print_cmd(argv);
  int st = run_cmd(argv, work, cc_log, 600);
  if (st != 0) {
    fprintf(stderr, "tfxc check: the generated C failed to compile%s:\n",
            o->keep ? "" : " (rerun with --keep DIR to keep it)");
    dump_log(cc_log);
    snprintf(why, whylen, st == 127 ? "cannot run the C compiler '%s'"
                                    : "the generated C does not compile with '%s'", cc);
    goto done;
  }

  /* ./prog [--weights model.bin] IN.. OUT.. */
  ac = 0;
  argv[ac++] = prog;
  if (is_file(bin_path)) {
    argv[ac++] = "--weights";
    argv[ac++] = bin_path;
  }
  for (uint32_t j = 0; j < g->n_inputs; j++) {
    int k = 0;
    while (k < in->n && bind[k] != g->inputs[j]) k++;
    if (k == in->n) {
      snprintf(why, whylen, "internal: graph input '%s' has no data", g->values[g->inputs[j]].name);
      goto done;
    }
    argv[ac++] = in->paths[k];
  }
  for (uint32_t j = 0; j < g->n_outputs; j++) {
    outs[j] = xasprintf("%s/out_%u.pb", work, j);
    argv[ac++] = outs[j];
  }
  argv[ac] = NULL;
  if (o->verbose) print_cmd(argv);
  st = run_cmd(argv, NULL, run_log, o->timeout);
  if (st != 0) {
    fprintf(stderr, "tfxc check: the generated program failed:\n");
    dump_log(run_log);
    if (st == 128 + SIGALRM)
      snprintf(why, whylen, "the generated program ran over %d s", o->timeout);
    else if (st > 128)
      snprintf(why, whylen, "the generated program died with signal %d", st - 128);
    else
      snprintf(why, whylen, "the generated program exited with status %d", st);
    goto done;
  }
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
  free(cc_copy);
  free(c_file);
  free(run_log);
  free(cc_log);
  free(prog);
  free(bin_path);
  free(c_path);
  return rc;
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

static int check_dataset(const CheckOptions *o, const char *case_dir, const char *ds,
                         const char *work, CheckErr *err, char *why, size_t whylen) {
  char *model = case_model(case_dir);
  char *ds_dir = xasprintf("%s/%s", case_dir, ds);
  TfxDiag d;
  tfx_diag_init(&d);
  TensorList in = {0}, exp = {0};
  TfxGraph *g = NULL;
  TfxTensor *got = NULL;
  uint32_t *bind = NULL;
  int *order = NULL;
  int rc = CHECK_FAIL;
  char first[512];

  /* the model first: an unsupported op says more than an input it cannot read */
  if (!(g = tfx_import(model, &d)) || tensors_read(ds_dir, "input", &in, &d) ||
      tensors_read(ds_dir, "output", &exp, &d)) {
    diag_first_line(&d, first, sizeof first);
    snprintf(why, whylen, "%s", first);
    rc = diag_unsupported(&d) ? CHECK_UNSUPPORTED : CHECK_FAIL;
    goto done;
  }
  if (o->verbose) fprintf(stderr, "tfxc check: %s: %d inputs, %d outputs\n", ds, in.n, exp.n);
  bind = calloc((size_t)in.n + 1, sizeof *bind);
  order = calloc(g->n_outputs + 1, sizeof *order);
  got = calloc(g->n_outputs + 1, sizeof *got);
  if (!bind || !order || !got) abort();
  if (bind_inputs(g, &in, bind, why, whylen)) goto done;

  TfxPipelineOptions popt = {.opt_level = 2};
  if (tfx_run_pipeline(g, &popt)) {
    diag_first_line(&d, first, sizeof first);
    snprintf(why, whylen, "%s", first);
    rc = diag_unsupported(&d) ? CHECK_UNSUPPORTED : CHECK_FAIL;
    goto done;
  }
  if (match_outputs(g, &exp, order, why, whylen)) goto done;

  if (o->reference) {
    TfxTensor *args = calloc(g->n_inputs + 1, sizeof *args);
    if (!args) abort();
    for (uint32_t j = 0; j < g->n_inputs; j++)
      for (int k = 0; k < in.n; k++)
        if (bind[k] == g->inputs[j]) args[j] = in.t[k];
    TfxStatus st = tfx_eval_graph(g, args, got);
    free(args);
    if (st) {
      diag_first_line(&d, first, sizeof first);
      snprintf(why, whylen, "reference evaluation failed: %s", first);
      rc = diag_unsupported(&d) ? CHECK_UNSUPPORTED : CHECK_FAIL;
      goto done;
    }
  } else {
    rc = run_generated(g, o, work, &in, bind, got, &d, why, whylen);
    if (rc != CHECK_PASS) goto done;
    rc = CHECK_FAIL;
  }

  bool all = true;
  for (uint32_t j = 0; j < g->n_outputs && all; j++) {
    char what[512];
    snprintf(what, sizeof what, "%s: output %u '%s'", ds, j, g->values[g->outputs[j]].name);
    all = compare(&got[j], &exp.t[order[j]], what, o, err, why, whylen);
  }
  rc = all ? CHECK_PASS : CHECK_FAIL;
done:
  if (rc != CHECK_PASS && d.text) /* every message: an unsupported model is reported whole */
    fprintf(stderr, "%s%s", d.text, d.text[0] && d.text[strlen(d.text) - 1] == '\n' ? "" : "\n");
  if (got)
    for (uint32_t j = 0; g && j < g->n_outputs; j++) tfx_tensor_free_data(&got[j]);
  free(got);
  free(order);
  free(bind);
  if (g) tfx_graph_free(g);
  tensors_free(&in);
  tensors_free(&exp);
  tfx_diag_deinit(&d);
  free(ds_dir);
  free(model);
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
  CheckOptions o = {.rtol = 1e-3, .atol = 1e-6, .name = "model", .timeout = 120};
  static const struct option longopts[] = {
      {"rtol", required_argument, NULL, 'r'},    {"atol", required_argument, NULL, 'a'},
      {"reference", no_argument, NULL, 'R'},     {"keep", required_argument, NULL, 'k'},
      {"cc", required_argument, NULL, 'c'},      {"name", required_argument, NULL, 'n'},
      {"timeout", required_argument, NULL, 't'}, {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
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
