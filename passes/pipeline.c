/* pipeline.c — the passes run at each optimisation level, in order, with
 * the verifier between them and --dump-after hooks. */
#include <string.h>

#include "passes/passes.h"

typedef struct {
  const char *name;
  TfxPassFn fn;
  int min_level;
} PassEntry;

static TfxStatus pass_toposort(TfxGraph *g, int *changed) {
  (void)changed;
  return tfx_graph_toposort(g);
}

/* Folding is not optional: shape inference lives in the same sweep, and the
 * backends need every shape.  -O0 keeps DCE out so the dump shows the graph
 * as imported. */
static const PassEntry pipeline[] = {
    {"toposort", pass_toposort, 0},
    {"fold", tfx_pass_fold, 0},
    {"dce", tfx_pass_dce, 0},
    {"identity", tfx_pass_identity, 2},
    {"fuse-attention", tfx_pass_fuse_attention, 2},
    {"fuse-gelu", tfx_pass_fuse_gelu, 2},
    {"dce", tfx_pass_dce, 2},
};

TfxStatus tfx_run_pipeline(TfxGraph *g, const TfxPipelineOptions *o) {
  for (size_t i = 0; i < sizeof pipeline / sizeof pipeline[0]; i++) {
    const PassEntry *p = &pipeline[i];
    if (o->opt_level < p->min_level) continue;
    int changed = 0;
    TfxStatus st = p->fn(g, &changed);
    if (st) return st;
    if ((st = tfx_graph_verify(g)))
      return tfx_error(g->diag, "internal: the graph fails verification after pass '%s'", p->name);
    if (o->dump_after && o->dump_file &&
        (strcmp(o->dump_after, p->name) == 0 || strcmp(o->dump_after, "all") == 0)) {
      fprintf(o->dump_file, "# after %s (%d changed)\n", p->name, changed);
      tfx_graph_dump(g, o->dump_file);
    }
  }
  return TFX_OK;
}

bool tfx_pass_known(const char *name) {
  for (size_t i = 0; i < sizeof pipeline / sizeof pipeline[0]; i++)
    if (strcmp(pipeline[i].name, name) == 0) return true;
  return strcmp(name, "all") == 0;
}
