/* passes.h — graph-to-graph transformations.  Every pass has one signature,
 * reports how many things it changed, and leaves the graph passing
 * tfx_graph_verify.  The pipeline per -O level is spelled out in pipeline.c. */
#ifndef TFX_PASSES_H
#define TFX_PASSES_H

#include <stdio.h>

#include "ir/ir.h"

typedef TfxStatus (*TfxPassFn)(TfxGraph *g, int *changed);

typedef struct {
  const char *name;
  int64_t value;
} TfxDimBinding;

/* Give every symbolic dim of the graph inputs a value (--dim SYM=V); an
 * unbound symbol or unknown dim is an error naming the input. */
TfxStatus tfx_bind_dims(TfxGraph *g, const TfxDimBinding *b, int n);

/* Shape inference in topological order, folding every node whose inputs are
 * all constant (and Shape/Size of known dims) with the reference evaluator. */
TfxStatus tfx_pass_fold(TfxGraph *g, int *changed);
/* Mark nodes dead whose outputs are unused or constant. */
TfxStatus tfx_pass_dce(TfxGraph *g, int *changed);
/* softmax(Q·Kᵀ·scale + mask)·V exporter patterns (4-D, float32/float64, GQA head
 * broadcasts included) into one Attention node; changed = fusions.  Re-sorts. */
TfxStatus tfx_pass_fuse_attention(TfxGraph *g, int *changed);

/* ---- the KV cache (decoders) ---------------------------------------------- */
typedef struct {
  int64_t past;    /* P: tokens already in the cache at this compilation sample */
  int64_t max_seq; /* N: cache rows per layer and head */
  int64_t window;  /* > 0: the sliding window found at a longer sample (a short one
                      cannot show it); 0: detect from the masks */
  bool kv_int8;    /* store the cache as int8 with a scale per token and head */
} TfxKvOptions;

typedef struct {
  bool ok;             /* the graph is now a decoder step */
  char why[256];       /* when !ok: why it is not a decoder, one sentence */
  uint32_t tokens;     /* value id of the token-id input (the only graph input left) */
  uint32_t logits;     /* value id of the logits output (the only graph output left) */
  int64_t vocab;       /* logits' last dim */
  int64_t token_limit; /* token ids must be below this (embedding rows, else vocab) */
  int64_t kv_floats;   /* floats of the whole cache (all layers) */
  int64_t kv_bytes;    /* bytes of the whole cache (set it when the cache is not float32) */
  int n_layers;        /* KvAttention nodes made */
} TfxKvInfo;

/* Turn a causal LM (input_ids -> logits, optionally with past_key_values.* /
 * present.*) into one decoder step over the compiler-owned KV cache: every
 * fused causal Attention becomes KvAttention.  When the graph is not such a
 * decoder, info->ok is false with the reason and the graph is unchanged. */
TfxStatus tfx_pass_kv_cache(TfxGraph *g, const TfxKvOptions *o, TfxKvInfo *info);

/* ---- quantisation --------------------------------------------------------- */
/* Calibration statistics of the activations that multiply each weight (mean
 * x_k^2 and mean |x_k| per input channel, and a sample of rows), gathered by
 * the caller with the reference evaluator; with them the pass weighs each
 * input channel by its activation energy when it picks a scale, and searches
 * per weight an activation-aware (AWQ) rescaling of the input channels.  The
 * object also remembers every weight it quantised, so that the several builds
 * of one compilation (calibration, lengths) quantise each weight once. */
typedef struct TfxQuantCalib TfxQuantCalib;
TfxQuantCalib *tfx_quant_calib_new(void);
void tfx_quant_calib_free(TfxQuantCalib *c);
/* Record rows [rows, K] of the activation x multiplying the float weight
 * value `weight` (all products that read it add up). */
void tfx_quant_calib_add(TfxQuantCalib *c, const char *weight, const float *x, int64_t rows, int64_t K);
/* The AWQ exponent chosen for `weight` (0: no rescaling), or -1 if it was not quantised. */
double tfx_quant_calib_alpha(const TfxQuantCalib *c, const char *weight);
/* The float weight that the pass would quantise for node n (MatMul or Gemm),
 * or TFX_NONE. */
uint32_t tfx_quant_weight_of(const TfxGraph *g, const TfxNode *n);

typedef struct {
  int weight_bits;  /* 0: float32 weights; 8: int8 per output channel; 4: int4 group-wise */
  int group;        /* int4 group size along K: 32 (default), 64 or 128 */
  bool embeddings;  /* also the token embedding table */
  bool lm_head;     /* also the final projection to the logits */
  bool kv_int8;     /* decoders: the KV cache in int8, a scale per token and head */
  double max_error; /* > 0: end-to-end budget (1 - cosine of the outputs); layers that
                       would break it stay float32 */
  const char *calib;  /* calibration token file, or NULL for the default */
  const char *report; /* where the accuracy report goes, or NULL (stderr summary only) */
  TfxQuantCalib *stats; /* activation statistics and the quantised weights, or NULL */
} TfxQuantOptions;

/* Replace MatMul/Gemm (and, if asked, Gather) on float32 constant weights by
 * WeightQMatMul on quantised ones; changed = weights quantised.  The n_keep
 * weight values named in keep stay float32 (mixed precision). */
TfxStatus tfx_pass_quantize_weights(TfxGraph *g, const TfxQuantOptions *q, const char *const *keep, int n_keep,
                                    int *changed);

typedef struct {
  int opt_level;          /* 0..3 */
  const char *dump_after; /* pass name, "all", or NULL */
  FILE *dump_file;
} TfxPipelineOptions;

/* toposort, fold, dce (and later passes by level), verifying after each. */
TfxStatus tfx_run_pipeline(TfxGraph *g, const TfxPipelineOptions *o);
/* Whether name is a pass of the pipeline (or "all"), for --dump-after. */
bool tfx_pass_known(const char *name);

#endif
