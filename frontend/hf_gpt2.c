/* hf_gpt2.c — GPT2Model / GPT2LMHeadModel from a Hugging Face checkpoint,
 * following transformers' modeling_gpt2 in eager mode: learned positions,
 * pre-norm blocks, Conv1D weights stored [in, out], the fused c_attn split
 * three ways, the causal mask applied with where(mask, scores, finfo.min),
 * and the LM head tied to the token embeddings unless the config unties it.
 *
 *   input_ids: int64 [batch, seq]
 *   -> logits [batch, seq, vocab] (GPT2LMHeadModel)
 *   -> last_hidden_state [batch, seq, n_embd] (GPT2Model) */
#include <math.h>
#include <string.h>

#include "frontend/hf_priv.h"

typedef struct {
  int64_t vocab, positions, hidden, layers, heads, inner;
  double eps;
  const char *act;
  bool scale, scale_by_layer, tied;
} Gpt2Config;

/* Fields of GPT2Config with its defaults (save_pretrained leaves defaults out). */
static void read_config(HfCtx *c, Gpt2Config *k) {
  k->vocab = hf_cfg_pos(c, "vocab_size", 50257);
  k->positions = hf_cfg_pos(c, "n_positions", 1024);
  tfx_graph_bound_symbol(c->g, "seq", k->positions);
  k->hidden = hf_cfg_pos(c, "n_embd", 768);
  k->layers = hf_cfg_pos(c, "n_layer", 12);
  k->heads = hf_cfg_pos(c, "n_head", 12);
  k->inner = hf_cfg_set(c, "n_inner") ? hf_cfg_pos(c, "n_inner", 0) : 4 * k->hidden;
  k->eps = hf_cfg_num(c, "layer_norm_epsilon", 1e-5);
  k->act = hf_cfg_str(c, "activation_function", "gelu_new");
  k->scale = hf_cfg_bool(c, "scale_attn_weights", true);
  k->scale_by_layer = hf_cfg_bool(c, "scale_attn_by_inverse_layer_idx", false);
  k->tied = hf_cfg_bool(c, "tie_word_embeddings", true);
  /* reorder_and_upcast_attn only changes the precision of a half-precision
   * model's scores; tfxc computes them in float32 anyway. */
  (void)hf_cfg_bool(c, "reorder_and_upcast_attn", false);
  hf_check_act(c, "activation_function", k->act);
  if (k->hidden % k->heads)
    hf_unsupported(c, "n_embd %lld is not a multiple of n_head %lld", (long long)k->hidden,
                   (long long)k->heads);
  if (hf_cfg_bool(c, "add_cross_attention", false))
    hf_unsupported(c, "add_cross_attention true (no encoder-decoder models)");
  if (!(k->eps > 0))
    hf_unsupported(c, "layer_norm_epsilon %g (must be > 0)", k->eps);
}

static uint32_t layer_norm(HfCtx *c, const char *name, uint32_t x, const char *at, int64_t h,
                           double eps) {
  uint32_t w = hf_weight(c, HF_DIMS(h), "%s.weight", at);
  uint32_t b = hf_weight(c, HF_DIMS(h), "%s.bias", at);
  return hf_layernorm(c, name, x, w, b, eps);
}

/* Conv1D at `at`: weight [in, out], bias [out]. */
static uint32_t conv1d(HfCtx *c, const char *name, uint32_t x, const char *at, int64_t in,
                       int64_t out) {
  uint32_t w = hf_weight(c, HF_DIMS(in, out), "%s.weight", at);
  uint32_t b = hf_weight(c, HF_DIMS(out), "%s.bias", at);
  return hf_linear(c, name, x, w, b, false);
}

void tfx_hf_build_gpt2(HfCtx *c) {
  Gpt2Config k;
  read_config(c, &k);
  if (c->unsup || c->errors)
    return;
  bool lm = strcmp(c->arch, "GPT2LMHeadModel") == 0;
  /* GPT2LMHeadModel saves "transformer."-prefixed names; GPT2Model and the
   * original hub checkpoints bare ones. */
  if (!hf_has(c, "wte.weight") && hf_has_raw(c, "transformer.wte.weight"))
    c->prefix = "transformer.";
  const int64_t H = k.hidden, D = k.hidden / k.heads;
  const char *const bs[2] = {"batch", "seq"};
  uint32_t ids = hf_input(c, "input_ids", TFX_I64, 2, bs);

  uint32_t wte = hf_weight(c, HF_DIMS(k.vocab, H), "wte.weight");
  uint32_t wpe = hf_weight(c, HF_DIMS(k.positions, H), "wpe.weight");
  uint32_t in_w[2] = {wte, ids};
  uint32_t x = hf_node(c, TFX_OP_Gather, "embed.tokens", 2, in_w, 0, NULL, 1, NULL);
  const int64_t zero = 0;
  uint32_t seq = hf_seq_len(c, ids);
  uint32_t in_p[4] = {wpe, hf_const_i64(c, "embed.positions.starts", 1, &zero), seq,
                      hf_const_i64(c, "embed.positions.axes", 1, &zero)};
  uint32_t p = hf_node(c, TFX_OP_Slice, "embed.positions", 4, in_p, 0, NULL, 1, NULL);
  x = hf_op2(c, TFX_OP_Add, "embed", x, p);
  uint32_t causal = hf_causal_mask(c, seq, 0);

  const int64_t split[3] = {H, H, H}, shape[4] = {0, 0, k.heads, D};
  const int64_t perm_q[4] = {0, 2, 1, 3}, perm_k[4] = {0, 2, 3, 1};
  for (int64_t i = 0; i < k.layers; i++) {
    const char *L = hf_name(c, "h.%lld", (long long)i);
    uint32_t a = layer_norm(c, hf_name(c, "%s.ln_1", L), x, hf_name(c, "%s.ln_1", L), H, k.eps);
    a = conv1d(c, hf_name(c, "%s.attn.qkv", L), a, hf_name(c, "%s.attn.c_attn", L), H, 3 * H);
    uint32_t qkv[3];
    hf_split(c, hf_name(c, "%s.attn.split", L), a, 2, 3, split, qkv);
    uint32_t q = hf_reshape(c, hf_name(c, "%s.attn.q.heads", L), qkv[0], 4, shape);
    uint32_t kk = hf_reshape(c, hf_name(c, "%s.attn.k.heads", L), qkv[1], 4, shape);
    uint32_t v = hf_reshape(c, hf_name(c, "%s.attn.v.heads", L), qkv[2], 4, shape);
    q = hf_transpose(c, hf_name(c, "%s.attn.q.t", L), q, 4, perm_q);
    kk = hf_transpose(c, hf_name(c, "%s.attn.k.t", L), kk, 4, perm_k);
    v = hf_transpose(c, hf_name(c, "%s.attn.v.t", L), v, 4, perm_q);
    a = hf_attention(c, hf_name(c, "%s.attn", L), q, kk, v, k.scale ? sqrt((double)D) : 0,
                     k.scale_by_layer ? (double)(i + 1) : 0, TFX_NONE, causal, H);
    a = conv1d(c, hf_name(c, "%s.attn.out", L), a, hf_name(c, "%s.attn.c_proj", L), H, H);
    x = hf_op2(c, TFX_OP_Add, hf_name(c, "%s.attn.residual", L), a, x);
    uint32_t f = layer_norm(c, hf_name(c, "%s.ln_2", L), x, hf_name(c, "%s.ln_2", L), H, k.eps);
    f = conv1d(c, hf_name(c, "%s.mlp.up", L), f, hf_name(c, "%s.mlp.c_fc", L), H, k.inner);
    f = hf_act(c, hf_name(c, "%s.mlp.act", L), f, k.act);
    f = conv1d(c, hf_name(c, "%s.mlp.down", L), f, hf_name(c, "%s.mlp.c_proj", L), k.inner, H);
    x = hf_op2(c, TFX_OP_Add, hf_name(c, "%s.mlp.residual", L), x, f);
  }
  x = layer_norm(c, lm ? "ln_f" : "last_hidden_state", x, "ln_f", H, k.eps);
  if (!lm) {
    hf_output(c, x);
    return;
  }
  hf_lm_head(c, x, wte, k.tied, k.vocab, H);
}
