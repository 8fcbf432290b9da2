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
/* Identity nodes and Casts to the same dtype go: their readers read the
 * input; one writing a graph output instead has its input's producer write
 * that output (unless the input is a graph input, constant or output). */
TfxStatus tfx_pass_identity(TfxGraph *g, int *changed);
/* softmax(Q·Kᵀ·scale + mask)·V exporter patterns (4-D, float32/float64, GQA head
 * broadcasts included) into one Attention node; changed = fusions.  Re-sorts. */
TfxStatus tfx_pass_fuse_attention(TfxGraph *g, int *changed);
/* The elementwise spellings of GELU (erf and tanh forms) become Gelu nodes. */
TfxStatus tfx_pass_fuse_gelu(TfxGraph *g, int *changed);
/* MatMul/Gemm on a constant float32 weight, with the bias Add, Gelu and
 * residual Add after it, become Linear nodes (passes/fuse_linear.c). Run
 * after quantisation (which takes MatMul/Gemm) and the KV-cache pass. */
TfxStatus tfx_pass_fuse_linear(TfxGraph *g, int *changed);

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
 * input channel by its activation energy when it picks a scale, searches per
 * weight an activation-aware (AWQ) rescaling of the input channels, and
 * compensates rounding errors with GPTQ over the sampled rows.  The object
 * also remembers every weight it quantised, so that the several builds of one
 * compilation (calibration, lengths) quantise each weight once. */
typedef struct TfxQuantCalib TfxQuantCalib;
TfxQuantCalib *tfx_quant_calib_new(void);
void tfx_quant_calib_free(TfxQuantCalib *c);
/* Record rows [rows, K] of the activation x multiplying the float weight
 * value `weight` (all products that read it add up). */
void tfx_quant_calib_add(TfxQuantCalib *c, const char *weight, const float *x, int64_t rows, int64_t K);
/* `weight` multiplies the same activation as `with` (already recorded): it
 * shares with's statistics, so rows are recorded once for both. */
void tfx_quant_calib_share(TfxQuantCalib *c, const char *weight, const char *with);
/* The AWQ exponent chosen for `weight` (0: no rescaling), or -1 if it was not quantised. */
double tfx_quant_calib_alpha(const TfxQuantCalib *c, const char *weight);
/* 1 if GPTQ's quantisation was kept for `weight`, 0 if not, -1 if it was not quantised. */
int tfx_quant_calib_gptq(const TfxQuantCalib *c, const char *weight);
/* Mixed precision: the pass quantises `weight` to `bits` (8) instead of the
 * requested width, per output channel or with the requested --group. */
void tfx_quant_calib_set_bits(TfxQuantCalib *c, const char *weight, int bits);
/* The float weight that the pass would quantise for node n (MatMul or Gemm),
 * or TFX_NONE. */
uint32_t tfx_quant_weight_of(const TfxGraph *g, const TfxNode *n);

typedef struct {
  int weight_bits;  /* 0: float32 weights; 8: int8 per output channel; 4: int4 group-wise */
  int group;        /* int4 group size along K: 32 (default), 64 or 128 */
  bool no_gptq;     /* round to nearest only: no GPTQ error compensation */
  bool float_acts;  /* keep the products' activations float32 (no BlockQuantize) */
  bool asym;        /* int4: a per-group offset too (w = q * scale + offset) */
  bool embeddings;  /* also the token embedding table */
  bool lm_head;     /* also the final projection to the logits */
  bool kv_int8;     /* decoders: the KV cache in int8, a scale per token and head */
  double max_error; /* > 0: end-to-end budget (1 - cosine of the outputs); layers that
                       would break it go to int8 (from int4), then float32 */
  const char *calib;  /* calibration token file, or NULL for the default */
  const char *report; /* where the accuracy report goes, or NULL (stderr summary only) */
  TfxQuantCalib *stats; /* activation statistics and the quantised weights, or NULL */
} TfxQuantOptions;

/* Replace MatMul/Gemm (and, if asked, Gather) on float32 constant weights by
 * WeightQMatMul on quantised ones, their activations quantised per block by
 * BlockQuantize nodes unless q->float_acts; changed = weights quantised.  The n_keep
 * weight values named in keep stay float32 (mixed precision). */
TfxStatus tfx_pass_quantize_weights(TfxGraph *g, const TfxQuantOptions *q, const char *const *keep, int n_keep,
                                    int *changed);

/* The quantiser alone, without AWQ: w [N, K] into q [N, K] (one value a
 * byte) and scales [N, K / group] (group 0: [N], one per row), each scale
 * searched with the error of channel k weighted by mean x_k^2 over the rows
 * x [rows, K] (x NULL: unweighted); with gptq and x, GPTQ error compensation
 * over those rows. */
void tfx_quant_matrix(const float *w, int64_t N, int64_t K, int bits, int64_t group, const float *x, int64_t rows,
                      bool gptq, int8_t *q, float *scales);
/* GPTQ's factor: r [K, K] (row-major, upper triangle j >= i) gets R with
 * R R^T = X^T X + damp * mean(diag) * I, X the rows x [rows, K] with channel k
 * times scale[k] (scale NULL: 1).  R^-1 is the upper Cholesky factor of H^-1
 * in GPTQ's update, so quantising channel k with error t_k = w_k - Q_k moves
 * each later channel j by t_k R_kj / R_jj.  False when X^T X is zero or the
 * factorisation breaks down.  passes/gptq.c. */
bool tfx_gptq_factor(const float *x, int64_t rows, int64_t K, const float *scale, double damp, double *r);
/* The same factor in low-rank form, for rows < K (H is the damping plus a
 * rank-`rows` term): R_kk = diag[k] and, for m < j, R_mj = v_m . u_j, with
 * v [K, rank] the scaled channels (x^T) and u [K, rank]; O(rows^2 K) to build,
 * and a row's GPTQ costs O(rows K) instead of O(K^2).  tfx_gptq_factor uses
 * it when rows < K / 2.  False as tfx_gptq_factor (nothing to free then). */
typedef struct {
  int64_t K, rank;
  double *v, *u, *diag;
} TfxGptqLowRank;
bool tfx_gptq_lowrank(const float *x, int64_t rows, int64_t K, const float *scale, double damp, TfxGptqLowRank *lr);
void tfx_gptq_lowrank_free(TfxGptqLowRank *lr);

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
