/* hf_llama.c — the Llama family (LlamaForCausalLM / LlamaModel, and the
 * Mistral and Qwen2 variants) from a Hugging Face checkpoint, following
 * transformers' eager attention: RMSNorm pre-norm blocks, rotary position
 * embeddings (rotate-half form, rope_theta, optional linear scaling),
 * grouped-query attention with keys and values repeated per query group, a
 * causal mask (Mistral: a sliding window), the SwiGLU MLP, and an LM head
 * that is its own tensor or tied to the token embeddings.
 *
 *   input_ids: int64 [batch, seq]
 *   -> logits [batch, seq, vocab] (...ForCausalLM)
 *   -> last_hidden_state [batch, seq, hidden] (...Model) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/hf_priv.h"

typedef enum { LLAMA, MISTRAL, QWEN2 } Family;

typedef struct {
  Family fam;
  int64_t vocab, hidden, inter, layers, heads, kv_heads, head_dim;
  double eps, theta, rope_linear; /* rope_linear: positions are divided by it (1 = none) */
  const char *act;
  bool tied, attn_bias, qkv_bias, o_bias, mlp_bias;
  int64_t window; /* sliding window (keys i - window .. i), 0 = none */
} LlamaConfig;

static void read_rope_scaling(HfCtx *c, LlamaConfig *k) {
  k->rope_linear = 1;
  if (!hf_cfg_set(c, "rope_scaling"))
    return;
  json_t *rs = json_object_get(c->cfg, "rope_scaling");
  json_t *type = json_object_get(rs, "rope_type");
  if (!type)
    type = json_object_get(rs, "type");
  json_t *factor = json_object_get(rs, "factor");
  const char *t = json_is_string(type) ? json_string_value(type) : NULL;
  if (t && strcmp(t, "default") == 0)
    return;
  if (t && strcmp(t, "linear") == 0 && json_is_number(factor) && json_number_value(factor) > 0) {
    k->rope_linear = json_number_value(factor);
    return;
  }
  char *text = hf_cfg_text(c, "rope_scaling");
  hf_unsupported(c, "rope_scaling %s (only none or {\"type\": \"linear\", \"factor\": F})", text);
  free(text);
}

/* Fields of LlamaConfig / MistralConfig / Qwen2Config with their defaults
 * (save_pretrained leaves defaults out). */
static void read_config(HfCtx *c, LlamaConfig *k) {
  k->fam = strncmp(c->arch, "Mistral", 7) == 0 ? MISTRAL
           : strncmp(c->arch, "Qwen2", 5) == 0 ? QWEN2
                                               : LLAMA;
  k->vocab = hf_cfg_pos(c, "vocab_size", k->fam == QWEN2 ? 151936 : 32000);
  k->hidden = hf_cfg_pos(c, "hidden_size", 4096);
  k->inter = hf_cfg_pos(c, "intermediate_size",
                        k->fam == MISTRAL ? 14336
                        : k->fam == QWEN2 ? 22016
                                          : 11008);
  k->layers = hf_cfg_pos(c, "num_hidden_layers", 32);
  k->heads = hf_cfg_pos(c, "num_attention_heads", 32);
  k->kv_heads = hf_cfg_pos(c, "num_key_value_heads", k->fam == MISTRAL ? 8 : k->heads);
  k->head_dim = hf_cfg_set(c, "head_dim") ? hf_cfg_pos(c, "head_dim", 0) : k->hidden / k->heads;
  k->eps = hf_cfg_num(c, "rms_norm_eps", 1e-6);
  k->theta = hf_cfg_num(c, "rope_theta", 10000.0);
  k->act = hf_cfg_str(c, "hidden_act", "silu");
  k->tied = hf_cfg_bool(c, "tie_word_embeddings", false);
  k->attn_bias = hf_cfg_bool(c, "attention_bias", false);
  k->mlp_bias = hf_cfg_bool(c, "mlp_bias", false);
  k->qkv_bias = k->fam == QWEN2 || (k->fam == LLAMA && k->attn_bias);
  k->o_bias = k->fam == LLAMA && k->attn_bias;
  k->window = 0;
  if (k->fam == MISTRAL) { /* absent: MistralConfig's 4096; null: none */
    json_t *sw = json_object_get(c->cfg, "sliding_window");
    k->window = !sw ? 4096 : json_is_null(sw) ? 0 : hf_cfg_pos(c, "sliding_window", 4096);
  }
  if (k->fam == QWEN2 && hf_cfg_bool(c, "use_sliding_window", false))
    hf_unsupported(c, "use_sliding_window true");
  read_rope_scaling(c, k);
  /* pretraining_tp > 1 splits the same products into slices: same result. */
  (void)hf_cfg_int(c, "pretraining_tp", 1);
  hf_check_act(c, "hidden_act", k->act);
  if (hf_cfg_set(c, "partial_rotary_factor") && hf_cfg_num(c, "partial_rotary_factor", 1) != 1)
    hf_unsupported(c, "partial_rotary_factor %g (only 1)",
                   hf_cfg_num(c, "partial_rotary_factor", 1));
  if (!hf_cfg_set(c, "head_dim") && k->hidden % k->heads)
    hf_unsupported(c, "hidden_size %lld is not a multiple of num_attention_heads %lld",
                   (long long)k->hidden, (long long)k->heads);
  if (k->head_dim % 2)
    hf_unsupported(c, "head_dim %lld is odd (rotary embeddings rotate halves)",
                   (long long)k->head_dim);
  if (k->heads % k->kv_heads)
    hf_unsupported(c, "num_attention_heads %lld is not a multiple of num_key_value_heads %lld",
                   (long long)k->heads, (long long)k->kv_heads);
  if (!(k->eps > 0))
    hf_unsupported(c, "rms_norm_eps %g (must be > 0)", k->eps);
  if (!(k->theta > 0))
    hf_unsupported(c, "rope_theta %g (must be > 0)", k->theta);
}

static uint32_t linear(HfCtx *c, const char *name, uint32_t x, const char *at, int64_t in,
                       int64_t out, bool bias) {
  uint32_t w = hf_weight(c, HF_DIMS(out, in), "%s.weight", at);
  uint32_t b = bias ? hf_weight(c, HF_DIMS(out), "%s.bias", at) : TFX_NONE;
  return hf_linear(c, name, x, w, b, true);
}

/* [B, S, n*D] -> [B, n, S, D] */
static uint32_t heads(HfCtx *c, const char *name, uint32_t x, int64_t n, int64_t d) {
  const int64_t shape[4] = {0, 0, n, d}, perm[4] = {0, 2, 1, 3};
  x = hf_reshape(c, hf_name(c, "%s.heads", name), x, 4, shape);
  return hf_transpose(c, hf_name(c, "%s.t", name), x, 4, perm);
}

/* x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1). */
static uint32_t rope(HfCtx *c, const char *name, uint32_t x, uint32_t cos, uint32_t sin,
                     int64_t d) {
  const int64_t halves[2] = {d / 2, d / 2};
  uint32_t h[2];
  hf_split(c, hf_name(c, "%s.halves", name), x, 3, 2, halves, h);
  uint32_t cat[2] = {hf_op1(c, TFX_OP_Neg, hf_name(c, "%s.neg", name), h[1]), h[0]};
  TfxAttr axis = hf_attr_i("axis", 3);
  uint32_t rot =
      hf_node(c, TFX_OP_Concat, hf_name(c, "%s.rotated", name), 2, cat, 1, &axis, 1, NULL);
  uint32_t a = hf_op2(c, TFX_OP_Mul, hf_name(c, "%s.cos", name), x, cos);
  uint32_t b = hf_op2(c, TFX_OP_Mul, hf_name(c, "%s.sin", name), rot, sin);
  return hf_op2(c, TFX_OP_Add, name, a, b);
}

/* [B, kv, S, D] -> [B, kv * rep, S, D], each head repeated rep times in place. */
static uint32_t repeat_kv(HfCtx *c, const char *name, uint32_t x, int64_t rep, int64_t heads,
                          int64_t d) {
  if (rep == 1)
    return x;
  const int64_t axis = 2, expand[5] = {1, 1, rep, 1, 1}, shape[4] = {0, heads, -1, d};
  x = hf_unsqueeze(c, hf_name(c, "%s.unsqueeze", name), x, 1, &axis);
  uint32_t in[2] = {x, hf_const_i64(c, hf_name(c, "%s.expand.shape", name), 5, expand)};
  x = hf_node(c, TFX_OP_Expand, hf_name(c, "%s.expand", name), 2, in, 0, NULL, 1, NULL);
  return hf_reshape(c, name, x, 4, shape);
}

/* cos and sin of position * inv_freq, [seq, head_dim], as HF's rotary module
 * computes them (float32 inverse frequencies, duplicated for both halves). */
static void rope_tables(HfCtx *c, const LlamaConfig *k, uint32_t seq, uint32_t *cos,
                        uint32_t *sin) {
  int64_t d = k->head_dim;
  float *inv = malloc(sizeof(float) * (size_t)d);
  if (!inv)
    abort();
  for (int64_t i = 0; i < d / 2; i++) {
    float e = (float)(2 * i) / (float)d;
    inv[i] = inv[i + d / 2] = (float)(1.0 / (double)(float)pow(k->theta, (double)e));
  }
  uint32_t freq = hf_const_f32(c, "rope.inv_freq", (int)d, inv);
  free(inv);
  const int64_t zero = 0, one = 1;
  uint32_t in_sq[2] = {seq, hf_const_i64(c, "rope.seq.axes", 1, &zero)};
  uint32_t s = hf_node(c, TFX_OP_Squeeze, "rope.seq", 2, in_sq, 0, NULL, 1, NULL);
  s = hf_cast(c, "rope.seq.float", s, TFX_F32);
  uint32_t in_r[3] = {hf_scalar_f32(c, "rope.start", 0.0f), s, hf_scalar_f32(c, "rope.step", 1.0f)};
  uint32_t pos = hf_node(c, TFX_OP_Range, "rope.positions", 3, in_r, 0, NULL, 1, NULL);
  if (k->rope_linear != 1)
    pos = hf_op2(c, TFX_OP_Div, "rope.positions.scaled", pos,
                 hf_scalar_f32(c, "rope.scaling", (float)k->rope_linear));
  pos = hf_unsqueeze(c, "rope.positions.column", pos, 1, &one);
  uint32_t f = hf_op2(c, TFX_OP_Mul, "rope.freqs", pos, freq);
  *cos = hf_op1(c, TFX_OP_Cos, "rope.cos", f);
  *sin = hf_op1(c, TFX_OP_Sin, "rope.sin", f);
}

void tfx_hf_build_llama(HfCtx *c) {
  LlamaConfig k;
  read_config(c, &k);
  if (c->unsup || c->errors)
    return;
  size_t al = strlen(c->arch), sl = strlen("ForCausalLM");
  bool lm = al > sl && strcmp(c->arch + al - sl, "ForCausalLM") == 0;
  if (hf_has_raw(c, "model.embed_tokens.weight"))
    c->prefix = "model.";
  const int64_t H = k.hidden, D = k.head_dim, NH = k.heads, NKV = k.kv_heads;
  const char *const bs[2] = {"batch", "seq"};
  uint32_t ids = hf_input(c, "input_ids", TFX_I64, 2, bs);

  uint32_t emb = hf_weight(c, HF_DIMS(k.vocab, H), "embed_tokens.weight");
  uint32_t in_e[2] = {emb, ids};
  uint32_t x = hf_node(c, TFX_OP_Gather, "embed_tokens", 2, in_e, 0, NULL, 1, NULL);
  uint32_t seq = hf_seq_len(c, ids), cos, sin;
  rope_tables(c, &k, seq, &cos, &sin);
  uint32_t causal = hf_causal_mask(c, seq, k.window);

  for (int64_t i = 0; i < k.layers; i++) {
    const char *L = hf_name(c, "layers.%lld", (long long)i);
    const char *A = hf_name(c, "%s.self_attn", L), *M = hf_name(c, "%s.mlp", L);
    uint32_t w = hf_weight(c, HF_DIMS(H), "%s.input_layernorm.weight", L);
    uint32_t a = hf_rmsnorm(c, hf_name(c, "%s.input_layernorm", L), x, w, k.eps);
    uint32_t q =
        linear(c, hf_name(c, "%s.q", A), a, hf_name(c, "%s.q_proj", A), H, NH * D, k.qkv_bias);
    uint32_t kk =
        linear(c, hf_name(c, "%s.k", A), a, hf_name(c, "%s.k_proj", A), H, NKV * D, k.qkv_bias);
    uint32_t v =
        linear(c, hf_name(c, "%s.v", A), a, hf_name(c, "%s.v_proj", A), H, NKV * D, k.qkv_bias);
    q = heads(c, hf_name(c, "%s.q", A), q, NH, D);
    kk = heads(c, hf_name(c, "%s.k", A), kk, NKV, D);
    v = heads(c, hf_name(c, "%s.v", A), v, NKV, D);
    q = rope(c, hf_name(c, "%s.q.rope", A), q, cos, sin, D);
    kk = rope(c, hf_name(c, "%s.k.rope", A), kk, cos, sin, D);
    kk = repeat_kv(c, hf_name(c, "%s.k.repeat", A), kk, NH / NKV, NH, D);
    v = repeat_kv(c, hf_name(c, "%s.v.repeat", A), v, NH / NKV, NH, D);
    const int64_t perm[4] = {0, 1, 3, 2};
    kk = hf_transpose(c, hf_name(c, "%s.k.t2", A), kk, 4, perm);
    a = hf_attention(c, A, q, kk, v, sqrt((double)D), 0, TFX_NONE, causal, NH * D);
    a = linear(c, hf_name(c, "%s.out", A), a, hf_name(c, "%s.o_proj", A), NH * D, H, k.o_bias);
    x = hf_op2(c, TFX_OP_Add, hf_name(c, "%s.attn_residual", L), x, a);

    w = hf_weight(c, HF_DIMS(H), "%s.post_attention_layernorm.weight", L);
    uint32_t m = hf_rmsnorm(c, hf_name(c, "%s.post_attention_layernorm", L), x, w, k.eps);
    uint32_t gate = linear(c, hf_name(c, "%s.gate", M), m, hf_name(c, "%s.gate_proj", M), H,
                           k.inter, k.mlp_bias);
    uint32_t up =
        linear(c, hf_name(c, "%s.up", M), m, hf_name(c, "%s.up_proj", M), H, k.inter, k.mlp_bias);
    gate = hf_act(c, hf_name(c, "%s.act", M), gate, k.act);
    m = hf_op2(c, TFX_OP_Mul, hf_name(c, "%s.gated", M), gate, up);
    m = linear(c, hf_name(c, "%s.down", M), m, hf_name(c, "%s.down_proj", M), k.inter, H,
               k.mlp_bias);
    x = hf_op2(c, TFX_OP_Add, hf_name(c, "%s.mlp_residual", L), x, m);
  }
  uint32_t w = hf_weight(c, HF_DIMS(H), "norm.weight");
  x = hf_rmsnorm(c, lm ? "norm" : "last_hidden_state", x, w, k.eps);
  if (!lm) {
    hf_output(c, x);
    return;
  }
  hf_lm_head(c, x, emb, k.tied, k.vocab, H);
}
