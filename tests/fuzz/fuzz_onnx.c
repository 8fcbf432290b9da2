/* fuzz_onnx — the ONNX importer, then shape inference and constant folding
 * (tfx_run_pipeline) up to the first error, with every symbolic or unknown
 * input dim set to 2; when that succeeds and the inputs are small, the
 * reference evaluator runs the graph on deterministic input values. */
#include "frontend/frontend.h"
#include "passes/passes.h"
#include "tests/fuzz/fuzz_common.h"

/* Run the reference evaluator with small, deterministic inputs (non-negative
 * small integers so that index inputs are mostly valid). */
static void eval_graph(TfxGraph *g) {
  /* Keep each run small: skip graphs whose values need more than 64 MiB. */
  uint64_t need = 0;
  for (uint32_t v = 0; v < g->n_values; v++) {
    const TfxValue *val = &g->values[v];
    if (val->rank < 0 || val->konst) continue;
    TfxTensor t = {.dtype = val->dtype, .rank = val->rank};
    memcpy(t.dims, val->dims, sizeof(int64_t) * (size_t)val->rank);
    size_t b = tfx_tensor_bytes(&t);
    need += b > ((size_t)1 << 40) ? ((size_t)1 << 40) : b;
  }
  if (need > ((uint64_t)64 << 20)) return;
  TfxTensor *in = calloc(g->n_inputs + 1, sizeof *in);
  TfxTensor *out = calloc(g->n_outputs + 1, sizeof *out);
  if (!in || !out) abort();
  int64_t total = 0;
  bool ok = true;
  for (uint32_t k = 0; k < g->n_inputs && ok; k++) {
    const TfxValue *v = &g->values[g->inputs[k]];
    in[k].dtype = v->dtype;
    in[k].rank = v->rank;
    memcpy(in[k].dims, v->dims, sizeof(int64_t) * (size_t)v->rank);
    int64_t ne = tfx_tensor_numel(&in[k]);
    total += ne;
    if (ne < 0 || total > 4096 || !tfx_dtype_bytes(v->dtype)) {
      ok = false;
      break;
    }
    in[k].data = calloc(1, tfx_tensor_bytes(&in[k]) + 1);
    if (!in[k].data) abort();
    for (int64_t i = 0; i < ne; i++) {
      if (tfx_dtype_is_float(v->dtype))
        tfx_tensor_set_f64(&in[k], i, (double)((i * 7) % 11 - 5) * 0.25);
      else
        tfx_tensor_set_i64(&in[k], i, v->dtype == TFX_BOOL ? (i & 1) : i % 3);
    }
  }
  if (ok) (void)tfx_eval_graph(g, in, out);
  for (uint32_t k = 0; k < g->n_outputs; k++) tfx_tensor_free_data(&out[k]);
  for (uint32_t k = 0; k < g->n_inputs; k++) free(in[k].data);
  free(in);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = tfx_fuzz_write("model.onnx", data, size);
  TfxDiag d;
  tfx_diag_init(&d);
  TfxGraph *g = tfx_onnx_import(path, &d);
  if (g) {
    TfxDimBinding b[64];
    int nb = 0;
    for (uint32_t s = 0; s < g->n_syms && nb < 64; s++) {
      int64_t v = 2;
      if (g->syms[s].max >= 0 && g->syms[s].max < v) v = g->syms[s].max;
      b[nb++] = (TfxDimBinding){g->syms[s].name, v};
    }
    /* Unknown dims (no symbol) get 2 as well so inference goes deeper. */
    for (uint32_t k = 0; k < g->n_inputs; k++) {
      TfxValue *v = &g->values[g->inputs[k]];
      for (int i = 0; i < v->rank; i++)
        if (!v->dim_sym[i] && v->dims[i] < 0) v->dims[i] = 2;
    }
    if (!tfx_bind_dims(g, b, nb)) {
      TfxPipelineOptions po = {.opt_level = 2, .dump_after = NULL, .dump_file = NULL};
      if (tfx_run_pipeline(g, &po) == TFX_OK) eval_graph(g);
    }
  }
#ifdef TFX_FUZZ_REPLAY
  if (getenv("TFX_FUZZ_VERBOSE") && d.text) fprintf(stderr, "%s\n", d.text);
#endif
  tfx_graph_free(g);
  tfx_diag_deinit(&d);
  return 0;
}
