/* hf_bert.c — BertModel (and BERT-family encoders such as MiniLM) from a
 * Hugging Face checkpoint, following transformers' modeling_bert in eager
 * mode: word + token-type + absolute position embeddings, LayerNorm, post-norm
 * encoder layers with the padding mask added to the scores as
 * (1 - mask) * finfo.min, and the tanh pooler over the first token when the
 * checkpoint has it.
 *
 *   input_ids, attention_mask, token_type_ids: int64 [batch, seq]
 *   -> last_hidden_state [batch, seq, hidden], pooler_output [batch, hidden] */
#include <math.h>
#include <string.h>

#include "frontend/hf_priv.h"

typedef struct {
  int64_t vocab, hidden, layers, heads, inter, max_pos, types;
  double eps;
  const char *act;
} BertConfig;

/* Fields of BertConfig with its defaults (save_pretrained leaves defaults out). */
static void read_config(HfCtx *c, BertConfig *k) {
  k->vocab = hf_cfg_pos(c, "vocab_size", 30522);
  k->hidden = hf_cfg_pos(c, "hidden_size", 768);
  k->layers = hf_cfg_pos(c, "num_hidden_layers", 12);
  k->heads = hf_cfg_pos(c, "num_attention_heads", 12);
  k->inter = hf_cfg_pos(c, "intermediate_size", 3072);
  k->max_pos = hf_cfg_pos(c, "max_position_embeddings", 512);
  tfx_graph_bound_symbol(c->g, "seq", k->max_pos);
  k->types = hf_cfg_pos(c, "type_vocab_size", 2);
  k->eps = hf_cfg_num(c, "layer_norm_eps", 1e-12);
  k->act = hf_cfg_str(c, "hidden_act", "gelu");
  hf_check_act(c, "hidden_act", k->act);
  if (k->hidden % k->heads)
    hf_unsupported(c, "hidden_size %lld is not a multiple of num_attention_heads %lld",
                   (long long)k->hidden, (long long)k->heads);
  const char *pe = hf_cfg_str(c, "position_embedding_type", "absolute");
  if (strcmp(pe, "absolute") != 0)
    hf_unsupported(c, "position_embedding_type \"%s\" (only \"absolute\")", pe);
  if (hf_cfg_bool(c, "is_decoder", false))
    hf_unsupported(c, "is_decoder true (encoders only)");
  if (hf_cfg_bool(c, "add_cross_attention", false))
    hf_unsupported(c, "add_cross_attention true (no encoder-decoder models)");
  if (!(k->eps > 0))
    hf_unsupported(c, "layer_norm_eps %g (must be > 0)", k->eps);
}

/* LayerNorm parameters are weight/bias, or gamma/beta in old checkpoints. */
static uint32_t layer_norm(HfCtx *c, const char *name, uint32_t x, const char *at, int64_t h,
                           double eps) {
  char probe[400];
  snprintf(probe, sizeof probe, "%s.gamma", at);
  bool old = !hf_has(c, hf_name(c, "%s.weight", at)) && hf_has(c, probe);
  uint32_t w = hf_weight(c, HF_DIMS(h), "%s.%s", at, old ? "gamma" : "weight");
  uint32_t b = hf_weight(c, HF_DIMS(h), "%s.%s", at, old ? "beta" : "bias");
  return hf_layernorm(c, name, x, w, b, eps);
}

/* nn.Linear at `at` (weight [out, in], bias [out]). */
static uint32_t linear(HfCtx *c, const char *name, uint32_t x, const char *at, int64_t in,
                       int64_t out) {
  uint32_t w = hf_weight(c, HF_DIMS(out, in), "%s.weight", at);
  uint32_t b = hf_weight(c, HF_DIMS(out), "%s.bias", at);
  return hf_linear(c, name, x, w, b, true);
}

static uint32_t heads(HfCtx *c, const char *name, uint32_t x, const BertConfig *k, bool for_keys) {
  const int64_t shape[4] = {0, 0, k->heads, k->hidden / k->heads};
  const int64_t perm_q[4] = {0, 2, 1, 3}, perm_k[4] = {0, 2, 3, 1};
  x = hf_reshape(c, hf_name(c, "%s.heads", name), x, 4, shape);
  return hf_transpose(c, hf_name(c, "%s.t", name), x, 4, for_keys ? perm_k : perm_q);
}

void tfx_hf_build_bert(HfCtx *c) {
  BertConfig k;
  read_config(c, &k);
  if (c->unsup || c->errors)
    return;
  /* BertModel saves bare names; the task heads (BertForXxx) prefix "bert.". */
  if (!hf_has(c, "embeddings.word_embeddings.weight") &&
      hf_has_raw(c, "bert.embeddings.word_embeddings.weight"))
    c->prefix = "bert.";
  const int64_t H = k.hidden, D = k.hidden / k.heads;
  const char *const bs[2] = {"batch", "seq"};
  uint32_t ids = hf_input(c, "input_ids", TFX_I64, 2, bs);
  uint32_t mask = hf_input(c, "attention_mask", TFX_I64, 2, bs);
  uint32_t types = hf_input(c, "token_type_ids", TFX_I64, 2, bs);

  /* embeddings: inputs_embeds + token_type_embeddings + position_embeddings */
  uint32_t we = hf_weight(c, HF_DIMS(k.vocab, H), "embeddings.word_embeddings.weight");
  uint32_t te = hf_weight(c, HF_DIMS(k.types, H), "embeddings.token_type_embeddings.weight");
  uint32_t pe = hf_weight(c, HF_DIMS(k.max_pos, H), "embeddings.position_embeddings.weight");
  uint32_t in_w[2] = {we, ids}, in_t[2] = {te, types};
  uint32_t x = hf_node(c, TFX_OP_Gather, "embeddings.words", 2, in_w, 0, NULL, 1, NULL);
  uint32_t t = hf_node(c, TFX_OP_Gather, "embeddings.token_types", 2, in_t, 0, NULL, 1, NULL);
  x = hf_op2(c, TFX_OP_Add, "embeddings.sum", x, t);
  const int64_t zero = 0;
  uint32_t in_p[4] = {pe, hf_const_i64(c, "embeddings.positions.starts", 1, &zero),
                      hf_seq_len(c, ids), hf_const_i64(c, "embeddings.positions.axes", 1, &zero)};
  uint32_t p = hf_node(c, TFX_OP_Slice, "embeddings.positions", 4, in_p, 0, NULL, 1, NULL);
  x = hf_op2(c, TFX_OP_Add, "embeddings.sum_pos", x, p);
  x = layer_norm(c, "embeddings", x, "embeddings.LayerNorm", H, k.eps);

  /* extended attention mask: (1 - mask) * finfo.min, [batch, 1, 1, seq] */
  uint32_t m = hf_cast(c, "mask.float", mask, TFX_F32);
  m = hf_op2(c, TFX_OP_Sub, "mask.inverted", hf_scalar_f32(c, "mask.one", 1.0f), m);
  m = hf_op2(c, TFX_OP_Mul, "mask.scaled", m, hf_scalar_f32(c, "mask.min", HF_MASK_MIN));
  const int64_t axes[2] = {1, 2};
  m = hf_unsqueeze(c, "mask.extended", m, 2, axes);

  for (int64_t i = 0; i < k.layers; i++) {
    const char *L = hf_name(c, "encoder.layer.%lld", (long long)i);
    const char *A = hf_name(c, "%s.attention", L);
    uint32_t q = linear(c, hf_name(c, "%s.q", L), x, hf_name(c, "%s.self.query", A), H, H);
    uint32_t kk = linear(c, hf_name(c, "%s.k", L), x, hf_name(c, "%s.self.key", A), H, H);
    uint32_t v = linear(c, hf_name(c, "%s.v", L), x, hf_name(c, "%s.self.value", A), H, H);
    q = heads(c, hf_name(c, "%s.q", L), q, &k, false);
    kk = heads(c, hf_name(c, "%s.k", L), kk, &k, true);
    v = heads(c, hf_name(c, "%s.v", L), v, &k, false);
    uint32_t a =
        hf_attention(c, hf_name(c, "%s.attn", L), q, kk, v, sqrt((double)D), 0, m, TFX_NONE, H);
    a = linear(c, hf_name(c, "%s.attn.out", L), a, hf_name(c, "%s.output.dense", A), H, H);
    a = hf_op2(c, TFX_OP_Add, hf_name(c, "%s.attn.residual", L), a, x);
    x = layer_norm(c, hf_name(c, "%s.attn.norm", L), a, hf_name(c, "%s.output.LayerNorm", A), H,
                   k.eps);
    uint32_t f = linear(c, hf_name(c, "%s.ffn.up", L), x, hf_name(c, "%s.intermediate.dense", L), H,
                        k.inter);
    f = hf_act(c, hf_name(c, "%s.ffn.act", L), f, k.act);
    f = linear(c, hf_name(c, "%s.ffn.down", L), f, hf_name(c, "%s.output.dense", L), k.inter, H);
    f = hf_op2(c, TFX_OP_Add, hf_name(c, "%s.ffn.residual", L), f, x);
    x = layer_norm(c, i + 1 == k.layers ? "last_hidden_state" : hf_name(c, "%s.out", L), f,
                   hf_name(c, "%s.output.LayerNorm", L), H, k.eps);
  }
  hf_output(c, x);

  /* pooler: tanh(dense(hidden[:, 0])) when the checkpoint has it */
  if (hf_has(c, "pooler.dense.weight") || hf_has(c, "pooler.dense.bias")) {
    uint32_t in_f[2] = {x, hf_scalar_i64(c, "pooler.first", 0)};
    TfxAttr ax = hf_attr_i("axis", 1);
    uint32_t f = hf_node(c, TFX_OP_Gather, "pooler.first_token", 2, in_f, 1, &ax, 1, NULL);
    f = linear(c, "pooler.dense", f, "pooler.dense", H, H);
    hf_output(c, hf_op1(c, TFX_OP_Tanh, "pooler_output", f));
  }
}
