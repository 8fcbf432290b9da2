/* profile.c — --profile: the generated code times each node of its run (or
 * decoder step) on the calling thread's monotonic clock and offers
 * <name>_profile (node i's name, operator, seconds and runs),
 * <name>_profile_reset and <name>_profile_print (the time per operator,
 * largest first).  The clock is POSIX clock_gettime, two reads per node. */
#include <stdlib.h>
#include <string.h>

#include "codegen/c/cemit.h"

int tfx_c_profile_nodes(const TfxGraph *g) {
  int n = 0;
  for (uint32_t i = 0; i < g->n_nodes; i++) n += !g->nodes[i].dead;
  return n;
}

void tfx_c_profile_prelude(FILE *f) {
  fputs("/* --profile reads clock_gettime (POSIX) */\n"
        "#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 199309L\n"
        "#undef _POSIX_C_SOURCE\n#define _POSIX_C_SOURCE 199309L\n#endif\n#include <time.h>\n",
        f);
}

void tfx_c_profile_header(FILE *f, const TfxGraph *g, const char *nm, const char *U) {
  fprintf(f, "/* --profile: the time of each of the %d nodes a run executes, on the calling\n"
             " * thread's clock, summed since %s_init or %s_profile_reset.  %s_profile gives\n"
             " * node i's name, operator, seconds and runs (any output pointer may be NULL;\n"
             " * %s_ERR_DIM for i outside 0..%s_PROFILE_NODES - 1); %s_profile_print writes\n"
             " * the seconds per operator, largest first. */\n",
          tfx_c_profile_nodes(g), nm, nm, nm, U, U, nm);
  fprintf(f, "int %s_profile(const %s_ctx *ctx, int i, const char **node, const char **op, double *seconds,\n"
             "    int64_t *runs);\n", nm, nm);
  fprintf(f, "int %s_profile_reset(%s_ctx *ctx);\nint %s_profile_print(const %s_ctx *ctx, FILE *f);\n", nm, nm, nm,
          nm);
}

/* The operator kinds of g's live nodes: kind[i] for live node i, names in ops. */
static int op_kinds(const TfxGraph *g, int *kind, const char **ops) {
  int nk = 0, i = 0;
  for (uint32_t j = 0; j < g->n_nodes; j++) {
    const TfxNode *n = &g->nodes[j];
    if (n->dead) continue;
    int k = 0;
    while (k < nk && strcmp(ops[k], n->op_type) != 0) k++;
    if (k == nk) ops[nk++] = n->op_type;
    kind[i++] = k;
  }
  return nk;
}

void tfx_c_profile_code(FILE *f, const TfxGraph *g, const char *nm, const char *U) {
  const int n = tfx_c_profile_nodes(g);
  int *kind = malloc(sizeof *kind * (size_t)(n + 1));
  const char **ops = malloc(sizeof *ops * (size_t)(n + 1));
  if (!kind || !ops) abort();
  const int nk = op_kinds(g, kind, ops);
  fputs("/* ---- --profile ---- */\nstatic double tfx_prof_now(void) {\n  struct timespec t;\n"
        "  clock_gettime(CLOCK_MONOTONIC, &t);\n  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;\n}\n", f);
  fprintf(f, "/* per node: its name and its operator's index in tfx_prof_ops */\nstatic const char *const tfx_prof_node[%d] = {",
          n + 1);
  for (uint32_t j = 0; j < g->n_nodes; j++)
    if (!g->nodes[j].dead) tfx_c_put_string(f, g->nodes[j].name), fputs(", ", f);
  fprintf(f, "NULL};\nstatic const int tfx_prof_kind[%d] = {", n + 1);
  for (int i = 0; i < n; i++) fprintf(f, "%d, ", kind[i]);
  fprintf(f, "0};\n#define TFX_PROF_OPS %d\nstatic const char *const tfx_prof_ops[TFX_PROF_OPS + 1] = {", nk);
  for (int k = 0; k < nk; k++) tfx_c_put_string(f, ops[k]), fputs(", ", f);
  fputs("NULL};\n\n", f);
  fprintf(f, "int %s_profile(const %s_ctx *ctx, int i, const char **node, const char **op, double *seconds,\n"
             "    int64_t *runs) {\n", nm, nm);
  fprintf(f, "  if (!ctx) return %s_ERR_NULL;\n  if (!ctx->ready) return %s_ERR_STATE;\n"
             "  if (i < 0 || i >= %s_PROFILE_NODES) return %s_ERR_DIM;\n", U, U, U, U);
  fputs("  if (node) *node = tfx_prof_node[i];\n  if (op) *op = tfx_prof_ops[tfx_prof_kind[i]];\n"
        "  if (seconds) *seconds = ctx->prof_seconds[i];\n  if (runs) *runs = ctx->prof_runs[i];\n", f);
  fprintf(f, "  return %s_OK;\n}\n\n", U);
  fprintf(f, "int %s_profile_reset(%s_ctx *ctx) {\n  if (!ctx) return %s_ERR_NULL;\n"
             "  memset(ctx->prof_seconds, 0, sizeof ctx->prof_seconds);\n"
             "  memset(ctx->prof_runs, 0, sizeof ctx->prof_runs);\n  return %s_OK;\n}\n\n", nm, nm, U, U);
  fprintf(f, "int %s_profile_print(const %s_ctx *ctx, FILE *f) {\n", nm, nm);
  fputs("  double t[TFX_PROF_OPS + 1] = {0}, all = 0;\n  int nodes[TFX_PROF_OPS + 1] = {0}, order[TFX_PROF_OPS + 1];\n"
        "  int64_t runs = 0;\n  int i, j;\n", f);
  fprintf(f, "  if (!ctx || !f) return %s_ERR_NULL;\n  if (!ctx->ready) return %s_ERR_STATE;\n", U, U);
  fprintf(f, "  for (i = 0; i < %s_PROFILE_NODES; i++) {\n", U);
  fputs("    t[tfx_prof_kind[i]] += ctx->prof_seconds[i], nodes[tfx_prof_kind[i]]++, all += ctx->prof_seconds[i];\n"
        "    if (ctx->prof_runs[i] > runs) runs = ctx->prof_runs[i];\n  }\n"
        "  for (i = 0; i < TFX_PROF_OPS; i++) { /* by time, largest first */\n"
        "    for (j = i; j > 0 && t[order[j - 1]] < t[i]; j--) order[j] = order[j - 1];\n"
        "    order[j] = i;\n  }\n"
        "  fprintf(f, \"%-24s %6s %12s %12s %7s   (%lld runs)\\n\", \"operator\", \"nodes\", \"ms\", \"ms/run\", \"share\",\n"
        "          (long long)runs);\n"
        "  for (i = 0; i < TFX_PROF_OPS; i++) {\n    j = order[i];\n"
        "    fprintf(f, \"%-24s %6d %12.3f %12.4f %6.1f%%\\n\", tfx_prof_ops[j], nodes[j], 1e3 * t[j],\n"
        "            runs ? 1e3 * t[j] / (double)runs : 0.0, all > 0 ? 100.0 * t[j] / all : 0.0);\n  }\n", f);
  fprintf(f, "  fprintf(f, \"%%-24s %%6d %%12.3f %%12.4f %%6.1f%%%%\\n\", \"all\", %s_PROFILE_NODES, 1e3 * all,\n"
             "          runs ? 1e3 * all / (double)runs : 0.0, all > 0 ? 100.0 : 0.0);\n", U);
  fprintf(f, "  return %s_OK;\n}\n\n", U);
  free(kind);
  free(ops);
}
