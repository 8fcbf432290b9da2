/* hf_priv.h — what the Hugging Face architecture builders share: reading
 * config.json (with each config class's defaults), finding checkpoint tensors
 * with the shapes the config implies, and emitting graph ops.  Builders keep
 * going after a problem so that one import reports every missing tensor and
 * every config field it cannot honour; the caller frees the graph when
 * anything was reported. */
#ifndef TFX_HF_PRIV_H
#define TFX_HF_PRIV_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "frontend/frontend.h"
#include "ir/ir.h"

typedef struct {
  TfxGraph *g;
  TfxDiag *d;
  TfxCheckpoint *ck;
  const char *ck_path;  /* what was opened for the weights (messages) */
  const char *cfg_path; /* config.json (messages) */
  json_t *cfg;
  const char *arch;   /* architectures[0] */
  const char *prefix; /* weight-name prefix: "", "bert.", "transformer.", "model." */
  int errors;         /* problems reported so far */
  char *unsup;        /* config fields not honoured, "; "-separated (malloc'd) */
  size_t unsup_len;
} HfCtx;

/* One architecture: builds inputs, nodes and outputs into c->g. */
typedef void (*HfBuilder)(HfCtx *c);
void tfx_hf_build_bert(HfCtx *c);
void tfx_hf_build_gpt2(HfCtx *c);
void tfx_hf_build_llama(HfCtx *c);

/* ---- config.json ---------------------------------------------------------- */
/* A field of the wrong JSON type is reported and the default returned.  A
 * JSON null reads as the default (HF treats null as "not set"). */
int64_t hf_cfg_int(HfCtx *c, const char *key, int64_t dflt);
/* Same, and the value must be >= 1. */
int64_t hf_cfg_pos(HfCtx *c, const char *key, int64_t dflt);
double hf_cfg_num(HfCtx *c, const char *key, double dflt);
const char *hf_cfg_str(HfCtx *c, const char *key, const char *dflt);
bool hf_cfg_bool(HfCtx *c, const char *key, bool dflt);
/* The field is present and not null. */
bool hf_cfg_set(HfCtx *c, const char *key);
/* The field's JSON text (for messages), malloc'd. */
char *hf_cfg_text(HfCtx *c, const char *key);
/* Record a config field tfxc cannot honour; all are reported together. */
void hf_unsupported(HfCtx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Report a problem (one line, prefixed by nothing: give the file yourself). */
void hf_error(HfCtx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- checkpoint tensors --------------------------------------------------- */
/* The tensor c->prefix + name as an F32 graph value, checked to have the
 * given shape; F16/BF16/F64 weights get a Cast that constant folding turns
 * into F32.  A missing tensor or a shape mismatch is reported (naming the
 * tensor and the file) and gives TFX_NONE. */
uint32_t hf_weight(HfCtx *c, int rank, const int64_t *dims, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Whether the checkpoint holds prefix + name / name exactly. */
bool hf_has(HfCtx *c, const char *name);
bool hf_has_raw(HfCtx *c, const char *name);
#define HF_DIMS(...)                                                                               \
  (sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]) { __VA_ARGS__ }

/* ---- graph building ------------------------------------------------------- */
/* A graph input of dtype dt whose dims are all symbols (names). */
uint32_t hf_input(HfCtx *c, const char *name, TfxDtype dt, int rank, const char *const *syms);
void hf_output(HfCtx *c, uint32_t v);

TfxAttr hf_attr_i(const char *name, int64_t v);
TfxAttr hf_attr_f(const char *name, float v);
TfxAttr hf_attr_s(const char *name, const char *s);
TfxAttr hf_attr_ints(HfCtx *c, const char *name, int n, const int64_t *v);
TfxAttr hf_attr_t(const char *name, TfxTensor *t);

/* A node whose outputs are named after it (name made unique when taken);
 * returns output 0.  outs (may be NULL) receives all n_out output ids. */
uint32_t hf_node(HfCtx *c, TfxOp op, const char *name, int n_in, const uint32_t *in, int n_attr,
                 const TfxAttr *attrs, int n_out, uint32_t *outs);
/* A name in the arena from a format. */
const char *hf_name(HfCtx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Constants (named after name). */
uint32_t hf_const_i64(HfCtx *c, const char *name, int n, const int64_t *v); /* rank 1 */
uint32_t hf_scalar_i64(HfCtx *c, const char *name, int64_t v);              /* rank 0 */
uint32_t hf_scalar_f32(HfCtx *c, const char *name, float v);                /* rank 0 */
uint32_t hf_const_f32(HfCtx *c, const char *name, int n, const float *v);   /* rank 1 */

/* Shorthands over hf_node. */
uint32_t hf_op1(HfCtx *c, TfxOp op, const char *name, uint32_t x);
uint32_t hf_op2(HfCtx *c, TfxOp op, const char *name, uint32_t a, uint32_t b);
uint32_t hf_reshape(HfCtx *c, const char *name, uint32_t x, int n, const int64_t *shape);
uint32_t hf_transpose(HfCtx *c, const char *name, uint32_t x, int n, const int64_t *perm);
uint32_t hf_unsqueeze(HfCtx *c, const char *name, uint32_t x, int n, const int64_t *axes);
uint32_t hf_softmax(HfCtx *c, const char *name, uint32_t x); /* last axis */
uint32_t hf_layernorm(HfCtx *c, const char *name, uint32_t x, uint32_t w, uint32_t b, double eps);
uint32_t hf_rmsnorm(HfCtx *c, const char *name, uint32_t x, uint32_t w, double eps);
uint32_t hf_cast(HfCtx *c, const char *name, uint32_t x, TfxDtype to);
/* Split x along axis into n parts of the given sizes; outs gets n ids. */
void hf_split(HfCtx *c, const char *name, uint32_t x, int axis, int n, const int64_t *sizes,
              uint32_t *outs);
/* x @ w (+ b): w is [in, out] (GPT-2's Conv1D), or [out, in] (nn.Linear,
 * transposed here; folding turns the Transpose into a constant).  b may be
 * TFX_NONE. */
uint32_t hf_linear(HfCtx *c, const char *name, uint32_t x, uint32_t w, uint32_t b, bool w_out_in);
/* The causal-LM head as output "logits": x [.., hidden] times lm_head.weight
 * [vocab, hidden], which lives outside the transformer prefix, or times the
 * token embeddings `emb` when the head is tied. */
void hf_lm_head(HfCtx *c, uint32_t x, uint32_t emb, bool tied, int64_t vocab, int64_t hidden);

/* The activation called act in HF (hidden_act / activation_function). */
bool hf_act_known(const char *act);
uint32_t hf_act(HfCtx *c, const char *name, uint32_t x, const char *act);
/* Record act as unsupported (under key) unless hf_act_known. */
void hf_check_act(HfCtx *c, const char *key, const char *act);

/* Sequence-shaped helpers for inputs [batch, seq]: seq as a [1] int64 tensor
 * (folds to a constant once dims are bound), and the causal mask [seq, seq]
 * (bool, true where key j <= query i; with window > 0 also i - j <= window). */
uint32_t hf_seq_len(HfCtx *c, uint32_t ids);
uint32_t hf_causal_mask(HfCtx *c, uint32_t seq1, int64_t window);
/* The lowest float (torch.finfo(float32).min), the masked-score value HF uses. */
#define HF_MASK_MIN (-3.4028234663852886e38f)

/* Multi-head attention core shared by the builders.  q: [B, nh, S, D];
 * kt: [B, nh, D, S]; v: [B, nh, S, D].  The scores are divided by div1, then
 * by div2 (each skipped when 0), as the HF modules do it;
 * add_mask (TFX_NONE or broadcastable to [B, nh, S, S]) is added;
 * bool_mask (TFX_NONE or [S, S]) keeps scores where true and puts
 * HF_MASK_MIN elsewhere.  Returns [B, S, nh * D]. */
uint32_t hf_attention(HfCtx *c, const char *pfx, uint32_t q, uint32_t kt, uint32_t v, double div1,
                      double div2, uint32_t add_mask, uint32_t bool_mask, int64_t hidden);

#endif
