/* attention.c — transformer blocks and quantisation ops: Attention (opsets 23-25),
 * RotaryEmbedding, SwiGLU, QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
 * MatMulInteger and QLinearMatMul.  Semantics follow the ONNX spec and its reference
 * implementation, including where the reference rounds intermediates to the input type
 * (float16/bfloat16): the evaluator and the generated code round at the same points so
 * both agree with the reference to within the type's precision.  Softmax is max-subtracted;
 * a query row whose additive bias is -inf everywhere yields zeros, never NaN. */
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

#define LL(x) ((long long)(x))

/* ---- shared helpers ----------------------------------------------------- */

static bool is_fp(TfxDtype t) { return t == TFX_F32 || t == TFX_F16 || t == TFX_BF16 || t == TFX_F64; }

/* x rounded to dtype t and widened back (identity for F64 and non-float types). */
static double rnd(TfxDtype t, double x) {
  switch (t) {
  case TFX_F32: return (float)x;
  case TFX_F16: return tfx_f16_to_f32(tfx_f32_to_f16((float)x));
  case TFX_BF16: return tfx_bf16_to_f32(tfx_f32_to_bf16((float)x));
  default: return x;
  }
}

/* printf into a string that lives as long as the graph: emitters compose C expressions
 * with it instead of fixed buffers. */
static const char *fmt(TfxGraph *g, const char *f, ...) __attribute__((format(printf, 2, 3)));
static const char *fmt(TfxGraph *g, const char *f, ...) {
  va_list ap, aq;
  va_start(ap, f);
  va_copy(aq, ap);
  int len = vsnprintf(NULL, 0, f, ap);
  va_end(ap);
  char *s = tfx_graph_alloc(g, (size_t)(len > 0 ? len : 0) + 1);
  vsnprintf(s, (size_t)(len > 0 ? len : 0) + 1, f, aq);
  va_end(aq);
  return s;
}

/* Generated-code form of rnd: expr rounded to t. */
static const char *c_rnd(TfxCEmit *e, TfxGraph *g, TfxDtype t, const char *expr) {
  switch (t) {
  case TFX_F16: tfx_c_need(e, TFX_HELP_F16); return fmt(g, "tfx_h2f(tfx_f2h(%s))", expr);
  case TFX_BF16: tfx_c_need(e, TFX_HELP_BF16); return fmt(g, "tfx_b2f(tfx_f2b(%s))", expr);
  case TFX_F32: return fmt(g, "(float)(%s)", expr);
  default: return fmt(g, "(%s)", expr);
  }
}

/* tfx_c_load into a graph-lived string. */
static const char *c_ld(TfxCEmit *e, TfxGraph *g, TfxDtype t, const char *expr) {
  char buf[1024];
  return fmt(g, "%s", tfx_c_load(e, t, expr, buf));
}

static const char *ct(TfxDtype t) { return tfx_dtype_ctype(t); }

/* Literal of value v in the accumulation type (double when dbl). */
static const char *c_lit(TfxGraph *g, bool dbl, double v) {
  char buf[128];
  return fmt(g, "%s", dbl ? tfx_c_double(buf, v) : tfx_c_float(buf, (float)v));
}

static int64_t numel_v(const TfxValue *v) { return tfx_numel(v->rank, v->dims); }

static const char *dname(TfxDtype t) { return tfx_dtype_name(t); }

/* Input k of an eval call, NULL when omitted or beyond the node's inputs. */
static const TfxTensor *in_k(const TfxNode *n, const TfxTensor *const *in, int k) {
  return k < n->n_inputs ? in[k] : NULL;
}

/* Output k of an eval call, NULL when omitted. */
static TfxTensor *out_k(const TfxNode *n, TfxTensor *out, int k) {
  return k < n->n_outputs && n->outputs[k] != TFX_NONE && out[k].data ? &out[k] : NULL;
}

/* ======================================================================== */
/* Attention                                                                 */
/* ======================================================================== */
/* Q (B,Hq,S,Dk) | (B,S,Hq*Dk); K (B,Hkv,L,Dk) | (B,L,Hkv*Dk); V likewise with Dv.
 * past_key/past_value (B,Hkv,P,D) are prepended to K/V (T = P + L keys).  Query head h
 * reads KV head h / (Hq/Hkv).  Per query row the scores are
 *   s_j = softcap(Q.K_j * scale) + bias_j,   bias = mask + causal + window + padding
 * with -inf for disallowed keys; Y = softmax(s) V.  qk_matmul_output follows the spec and
 * its function body: mode 0 the scaled product, 1 after softcap, 2 after the bias, 3 the
 * probabilities (the Python reference returns the softcapped value for mode 0, and for
 * bfloat16 with softcap it promotes to float32 by accident of numpy; we follow the body). */

typedef struct {
  int rank; /* 3 or 4, shared by Q, K, V and Y */
  int64_t B, Hq, Hkv, S, L, P, T, Dk, Dv;
  int64_t qs[3], ks[3], vs[3], ys[3]; /* element strides of (batch, head, seq); head_size is contiguous */
  TfxDtype t1, kt, vt;                /* Q/Y, K, V dtypes */
  TfxDtype pt;                        /* softmax precision (t1 when not given) */
  bool dbl;                           /* accumulate in double */
  bool has_mask, mask_bool, has_past, has_nonpad, causal;
  TfxDtype mt;
  int64_t mst[3], Tm; /* mask strides over (batch, head, q) (0 on broadcast); its last dim */
  int mode;
  double softcap; /* 0: none */
  double sq;      /* sqrt(scale) rounded to T1: the reference scales Q and K by it */
  double scale;   /* sq * sq */
  bool qscale;    /* scale_exact: Q is multiplied by scale (rounded to T1) before Q.K */
  int64_t left, right;
} AttnP;

static void attn_strides(int rank, int64_t B, int64_t H, int64_t S, int64_t D, int64_t *st) {
  (void)B;
  if (rank == 4) {
    st[0] = H * S * D, st[1] = S * D, st[2] = D;
  } else {
    st[0] = S * H * D, st[1] = D, st[2] = H * D;
  }
}

static TfxStatus attn_params(TfxGraph *g, const TfxNode *n, AttnP *p) {
  TfxNode *nn = (TfxNode *)n;
  memset(p, 0, sizeof *p);
  const TfxValue *q = tfx_node_in(g, n, 0), *k = tfx_node_in(g, n, 1), *v = tfx_node_in(g, n, 2);
  if (!q || !k || !v) return tfx_node_error(g, nn, "inputs Q, K and V are required");
  if (q->rank != k->rank || q->rank != v->rank || (q->rank != 3 && q->rank != 4))
    return tfx_node_error(g, nn, "Q, K and V must all be 3-D or all 4-D (got ranks %d, %d, %d)", q->rank,
                          k->rank, v->rank);
  p->rank = q->rank;
  p->t1 = q->dtype, p->kt = k->dtype, p->vt = v->dtype;
  if (!is_fp(p->t1) || !is_fp(p->kt) || !is_fp(p->vt))
    return tfx_node_error(g, nn, "Q, K and V must be float, float16, bfloat16 or double (got %s, %s, %s)",
                          dname(p->t1), dname(p->kt), dname(p->vt));
  if (p->kt != p->t1) return tfx_node_error(g, nn, "K must have the dtype of Q (%s, got %s)", dname(p->t1), dname(p->kt));
  int64_t qh = tfx_attr_int(n, "q_num_heads", 0), kvh = tfx_attr_int(n, "kv_num_heads", 0);
  p->B = q->dims[0];
  if (k->dims[0] != p->B || v->dims[0] != p->B) return tfx_node_error(g, nn, "Q, K and V batch sizes differ");
  if (p->rank == 4) {
    p->Hq = q->dims[1], p->S = q->dims[2], p->Dk = q->dims[3];
    p->Hkv = k->dims[1], p->L = k->dims[2], p->Dv = v->dims[3];
    if (k->dims[3] != p->Dk) return tfx_node_error(g, nn, "K head size %lld differs from Q head size %lld", LL(k->dims[3]), LL(p->Dk));
    if (v->dims[1] != p->Hkv || v->dims[2] != p->L)
      return tfx_node_error(g, nn, "V heads/sequence (%lld, %lld) differ from K (%lld, %lld)", LL(v->dims[1]),
                            LL(v->dims[2]), LL(p->Hkv), LL(p->L));
    if ((qh && qh != p->Hq) || (kvh && kvh != p->Hkv))
      return tfx_node_error(g, nn, "q_num_heads/kv_num_heads (%lld, %lld) contradict the 4-D shapes (%lld, %lld)",
                            LL(qh), LL(kvh), LL(p->Hq), LL(p->Hkv));
  } else {
    if (qh <= 0 || kvh <= 0)
      return tfx_node_error(g, nn, "3-D inputs need positive q_num_heads and kv_num_heads attributes");
    p->Hq = qh, p->Hkv = kvh, p->S = q->dims[1], p->L = k->dims[1];
    if (v->dims[1] != p->L) return tfx_node_error(g, nn, "K and V sequence lengths differ (%lld, %lld)", LL(p->L), LL(v->dims[1]));
    if (q->dims[2] % qh || k->dims[2] % kvh || v->dims[2] % kvh)
      return tfx_node_error(g, nn, "hidden sizes (%lld, %lld, %lld) are not multiples of the head counts (%lld, %lld)",
                            LL(q->dims[2]), LL(k->dims[2]), LL(v->dims[2]), LL(qh), LL(kvh));
    p->Dk = q->dims[2] / qh, p->Dv = v->dims[2] / kvh;
    if (k->dims[2] / kvh != p->Dk)
      return tfx_node_error(g, nn, "K head size %lld differs from Q head size %lld", LL(k->dims[2] / kvh), LL(p->Dk));
  }
  if (p->Hkv <= 0 || p->Hq % p->Hkv)
    return tfx_node_error(g, nn, "q_num_heads (%lld) must be a multiple of kv_num_heads (%lld)", LL(p->Hq), LL(p->Hkv));

  const TfxValue *pk = tfx_node_in(g, n, 4), *pv = tfx_node_in(g, n, 5), *np = tfx_node_in(g, n, 6);
  if (!pk != !pv) return tfx_node_error(g, nn, "past_key and past_value must be given together");
  if (pk) {
    if (pk->rank != 4 || pv->rank != 4 || pk->dims[0] != p->B || pk->dims[1] != p->Hkv || pk->dims[3] != p->Dk ||
        pv->dims[0] != p->B || pv->dims[1] != p->Hkv || pv->dims[3] != p->Dv || pv->dims[2] != pk->dims[2])
      return tfx_node_error(g, nn, "past_key/past_value must be (%lld, %lld, P, %lld) and (%lld, %lld, P, %lld)",
                            LL(p->B), LL(p->Hkv), LL(p->Dk), LL(p->B), LL(p->Hkv), LL(p->Dv));
    if (pk->dtype != p->kt || pv->dtype != p->vt)
      return tfx_node_error(g, nn, "past_key/past_value must have the dtypes of K/V");
    p->has_past = true, p->P = pk->dims[2];
  }
  p->T = p->P + p->L;
  if (np) {
    if (pk) return tfx_node_error(g, nn, "nonpad_kv_seqlen cannot be combined with past_key/past_value");
    if (np->dtype != TFX_I64 || np->rank != 1 || np->dims[0] != p->B)
      return tfx_node_error(g, nn, "nonpad_kv_seqlen must be an int64 vector of length %lld", LL(p->B));
    p->has_nonpad = true;
  }
  const TfxValue *m = tfx_node_in(g, n, 3);
  if (m) {
    p->has_mask = true, p->mt = m->dtype, p->mask_bool = m->dtype == TFX_BOOL;
    if (!p->mask_bool && !is_fp(m->dtype) && !tfx_dtype_is_int(m->dtype))
      return tfx_node_error(g, nn, "attn_mask dtype %s is not supported", dname(m->dtype));
    if (m->rank < 1 || m->rank > 4)
      return tfx_node_error(g, nn, "attn_mask must have rank 1 to 4 (got %d)", m->rank);
    p->Tm = m->dims[m->rank - 1];
    if (p->Tm > p->T)
      return tfx_node_error(g, nn, "attn_mask last dim %lld exceeds the total sequence length %lld", LL(p->Tm), LL(p->T));
    /* Right-aligned broadcast of the leading dims against (B, Hq, S). */
    const int64_t tgt[3] = {p->B, p->Hq, p->S};
    int64_t stride = p->Tm;
    for (int a = 2; a >= 0; a--) {
      int md = m->rank - 1 - (3 - a);
      int64_t d = md >= 0 ? m->dims[md] : 1;
      if (d != 1 && d != tgt[a])
        return tfx_node_error(g, nn, "attn_mask dim %d (%lld) does not broadcast to %lld", md, LL(d), LL(tgt[a]));
      p->mst[a] = d == 1 ? 0 : stride;
      stride *= d;
    }
  }
  p->causal = tfx_attr_int(n, "is_causal", 0) != 0;
  p->mode = (int)tfx_attr_int(n, "qk_matmul_output_mode", 0);
  if (p->mode < 0 || p->mode > 3)
    return tfx_node_error(g, nn, "qk_matmul_output_mode must be 0..3 (got %d)", p->mode);
  float cap = tfx_attr_float(n, "softcap", 0.0f);
  p->softcap = cap > 0 ? cap : 0;
  p->left = tfx_attr_int(n, "left_window_size", -1), p->right = tfx_attr_int(n, "right_window_size", -1);
  if (p->left < -1 || p->right < -1)
    return tfx_node_error(g, nn, "left_window_size/right_window_size must be -1 or nonnegative");
  p->pt = p->t1;
  if (tfx_attr(n, "softmax_precision")) {
    int64_t sp = tfx_attr_int(n, "softmax_precision", 0);
    TfxDtype t = tfx_dtype_from_onnx((int)sp);
    if (!is_fp(t)) return tfx_node_error(g, nn, "softmax_precision %lld is not a float type", LL(sp));
    p->pt = t;
  }
  p->dbl = p->t1 == TFX_F64 || p->pt == TFX_F64;
  double sc = tfx_attr(n, "scale") ? (double)tfx_attr_float(n, "scale", 1.0f) : 1.0 / sqrt((double)p->Dk);
  p->sq = rnd(p->t1, sqrt(sc));
  p->scale = p->sq * p->sq;
  /* scale_exact (tfxc's own, set by passes/fuse_attention.c where it folds a scalar Mul
   * that the sqrt rounding would move): Q is scaled by the float32 scale as given and
   * rounded, exactly as the Mul did, and Q.K is not scaled again */
  if (tfx_attr_int(n, "scale_exact", 0)) p->qscale = true, p->sq = sqrt(sc), p->scale = sc;
  attn_strides(p->rank, p->B, p->Hq, p->S, p->Dk, p->qs);
  attn_strides(p->rank, p->B, p->Hkv, p->L, p->Dk, p->ks);
  attn_strides(p->rank, p->B, p->Hkv, p->L, p->Dv, p->vs);
  attn_strides(p->rank, p->B, p->Hq, p->S, p->Dv, p->ys);
  return TFX_OK;
}

/* float16/bfloat16 inputs: the reference rounds Q*sq and K*sq to T1 before the product. */
static bool is_half(TfxDtype t) { return t == TFX_F16 || t == TFX_BF16; }

static bool attn_has_bias(const AttnP *p) {
  return p->has_mask || p->causal || p->has_nonpad || p->left >= 0 || p->right >= 0;
}

static TfxStatus attn_infer(TfxGraph *g, TfxNode *n) {
  AttnP p;
  if (attn_params(g, n, &p)) return TFX_ERR;
  int64_t yd[4];
  if (p.rank == 4) {
    yd[0] = p.B, yd[1] = p.Hq, yd[2] = p.S, yd[3] = p.Dv;
  } else {
    yd[0] = p.B, yd[1] = p.S, yd[2] = p.Hq * p.Dv;
  }
  tfx_node_set_out(g, n, 0, p.t1, p.rank, yd);
  const int64_t kd[4] = {p.B, p.Hkv, p.T, p.Dk}, vd[4] = {p.B, p.Hkv, p.T, p.Dv}, qd[4] = {p.B, p.Hq, p.S, p.T};
  tfx_node_set_out(g, n, 1, p.kt, 4, kd);
  tfx_node_set_out(g, n, 2, p.vt, 4, vd);
  tfx_node_set_out(g, n, 3, p.t1, 4, qd);
  return TFX_OK;
}

/* Reference: one query row at a time, in double, rounding where the reference rounds. */
static TfxStatus attn_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  AttnP p;
  if (attn_params(g, n, &p)) return TFX_ERR;
  const TfxTensor *Q = in[0], *K = in[1], *V = in[2], *M = in_k(n, in, 3), *PK = in_k(n, in, 4),
                  *PV = in_k(n, in, 5), *NP = in_k(n, in, 6);
  TfxTensor *Y = out_k(n, out, 0), *PRK = out_k(n, out, 1), *PRV = out_k(n, out, 2), *QK = out_k(n, out, 3);
  int64_t R = p.Hq / p.Hkv, T = p.T;
  double *sc = malloc(sizeof(double) * (size_t)(T + 1)), *ya = malloc(sizeof(double) * (size_t)(p.Dv + 1));
  if (!sc || !ya) {
    free(sc), free(ya);
    return tfx_node_error(g, (TfxNode *)n, "out of memory");
  }
  for (int64_t b = 0; b < p.B; b++)
    for (int64_t kh = 0; kh < p.Hkv; kh++)
      for (int64_t j = 0; j < T; j++) {
        for (int64_t d = 0; d < p.Dk && PRK; d++) {
          double x = j < p.P ? tfx_tensor_get_f64(PK, ((b * p.Hkv + kh) * p.P + j) * p.Dk + d)
                             : tfx_tensor_get_f64(K, b * p.ks[0] + kh * p.ks[1] + (j - p.P) * p.ks[2] + d);
          tfx_tensor_set_f64(PRK, ((b * p.Hkv + kh) * T + j) * p.Dk + d, x);
        }
        for (int64_t d = 0; d < p.Dv && PRV; d++) {
          double x = j < p.P ? tfx_tensor_get_f64(PV, ((b * p.Hkv + kh) * p.P + j) * p.Dv + d)
                             : tfx_tensor_get_f64(V, b * p.vs[0] + kh * p.vs[1] + (j - p.P) * p.vs[2] + d);
          tfx_tensor_set_f64(PRV, ((b * p.Hkv + kh) * T + j) * p.Dv + d, x);
        }
      }
  for (int64_t b = 0; b < p.B; b++) {
    int64_t nkv = p.has_nonpad ? tfx_tensor_get_i64(NP, b) : T;
    int64_t off = p.has_past ? p.P : p.has_nonpad ? nkv - p.S : 0;
    for (int64_t h = 0; h < p.Hq; h++) {
      int64_t kh = h / R;
      for (int64_t i = 0; i < p.S; i++) {
        int64_t qo = b * p.qs[0] + h * p.qs[1] + i * p.qs[2];
        int64_t qko = ((b * p.Hq + h) * p.S + i) * T;
        double mx = -INFINITY;
        bool live = !attn_has_bias(&p);
        for (int64_t j = 0; j < T; j++) {
          double acc = 0;
          for (int64_t d = 0; d < p.Dk; d++) {
            double kv = j < p.P ? tfx_tensor_get_f64(PK, ((b * p.Hkv + kh) * p.P + j) * p.Dk + d)
                                : tfx_tensor_get_f64(K, b * p.ks[0] + kh * p.ks[1] + (j - p.P) * p.ks[2] + d);
            double qv = tfx_tensor_get_f64(Q, qo + d);
            acc += is_half(p.t1) ? rnd(p.t1, qv * p.sq) * rnd(p.t1, kv * p.sq)
                   : p.qscale   ? rnd(p.t1, qv * p.scale) * kv
                                : qv * kv;
          }
          double s = rnd(p.t1, is_half(p.t1) || p.qscale ? acc : acc * p.scale);
          if (QK && p.mode == 0) tfx_tensor_set_f64(QK, qko + j, s);
          if (p.softcap > 0) s = rnd(p.t1, p.softcap * rnd(p.t1, tanh(rnd(p.t1, s / p.softcap))));
          if (QK && p.mode == 1) tfx_tensor_set_f64(QK, qko + j, s);
          if (attn_has_bias(&p)) {
            double bias = 0;
            if (M) {
              if (j >= p.Tm) {
                bias = -INFINITY;
              } else {
                int64_t mi = b * p.mst[0] + h * p.mst[1] + i * p.mst[2] + j;
                bias = p.mask_bool ? (tfx_tensor_get_i64(M, mi) ? 0 : -INFINITY) : tfx_tensor_get_f64(M, mi);
              }
            }
            if (p.causal && j > i + off) bias += -INFINITY;
            if (p.left >= 0 && i + off - j > p.left) bias += -INFINITY;
            if (p.right >= 0 && j - (i + off) > p.right) bias += -INFINITY;
            if (p.has_nonpad && j >= nkv) bias += -INFINITY;
            if (bias != -INFINITY) live = true;
            s = rnd(p.t1, s + bias);
          }
          if (QK && p.mode == 2) tfx_tensor_set_f64(QK, qko + j, s);
          s = rnd(p.pt, s);
          sc[j] = s;
          if (s > mx) mx = s;
        }
        if (mx == -INFINITY) mx = 0;
        /* softmax in the precision pt; numpy sums bfloat16 sequentially in bfloat16 */
        double sum = 0;
        for (int64_t j = 0; j < T; j++) {
          sc[j] = rnd(p.pt, exp(rnd(p.pt, sc[j] - mx)));
          sum = p.pt == TFX_BF16 ? rnd(p.pt, sum + sc[j]) : sum + sc[j];
        }
        sum = rnd(p.pt, sum);
        if (sum == 0) sum = 1;
        for (int64_t j = 0; j < T; j++) sc[j] = live ? rnd(p.t1, rnd(p.pt, sc[j] / sum)) : 0;
        if (QK && p.mode == 3)
          for (int64_t j = 0; j < T; j++) tfx_tensor_set_f64(QK, qko + j, sc[j]);
        for (int64_t d = 0; d < p.Dv; d++) ya[d] = 0;
        for (int64_t j = 0; j < T; j++)
          for (int64_t d = 0; d < p.Dv; d++) {
            double vv = j < p.P ? tfx_tensor_get_f64(PV, ((b * p.Hkv + kh) * p.P + j) * p.Dv + d)
                                : tfx_tensor_get_f64(V, b * p.vs[0] + kh * p.vs[1] + (j - p.P) * p.vs[2] + d);
            ya[d] += sc[j] * vv;
          }
        for (int64_t d = 0; d < p.Dv && Y; d++)
          tfx_tensor_set_f64(Y, b * p.ys[0] + h * p.ys[1] + i * p.ys[2] + d, ya[d]);
      }
    }
  }
  free(sc), free(ya);
  return TFX_OK;
}

/* The fused kernel tfx_attn (codegen/c/kernels_attn.c) covers float32 attention
 * without past, padding lengths, softcap or a qk_matmul output, with no mask or a
 * float32 / bool one; the rest keeps the per-row loops below.  The choice depends on
 * dtypes and attributes only, never on a length. */
enum { ATTN_DMAX = 128, ATTN_DKMAX = 256 }; /* TFX_ATTN_DMAX, TFX_ATTN_DKMAX of the kernel */

static bool attn_fusable(const TfxGraph *g, const TfxNode *n, const AttnP *p) {
  return p->t1 == TFX_F32 && p->vt == TFX_F32 && p->pt == TFX_F32 && p->softcap == 0 && !p->has_past &&
         !p->has_nonpad && !tfx_node_out(g, n, 3) && p->Dv <= ATTN_DMAX && p->Dk <= ATTN_DKMAX &&
         (!p->has_mask || p->mt == TFX_F32 || p->mask_bool);
}

static const char *c_strides(TfxGraph *g, const int64_t *s) {
  return fmt(g, "{%lld, %lld, %lld}", LL(s[0]), LL(s[1]), LL(s[2]));
}

static void attn_emit_fused(TfxCEmit *e, TfxGraph *g, const TfxNode *n, const AttnP *p) {
  const char *M = p->has_mask ? tfx_c_var(e, n->inputs[3]) : "NULL";
  char sbuf[64];
  tfx_c_need(e, TFX_HELP_ATTN);
  tfx_c_line(e, "const tfx_attn_args a = {%s, %s, %s, %s, %s, %s,", tfx_c_var(e, n->inputs[0]),
             tfx_c_var(e, n->inputs[1]), tfx_c_var(e, n->inputs[2]), p->mask_bool ? "NULL" : M,
             p->mask_bool ? M : "NULL", tfx_c_var(e, n->outputs[0]));
  tfx_c_line(e, "  %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, 0,", LL(p->B), LL(p->Hq), LL(p->Hkv),
             LL(p->S), LL(p->T), LL(p->Dk), LL(p->Dv), LL(p->has_mask ? p->Tm : p->T), LL(p->left), LL(p->right));
  tfx_c_line(e, "  %s, %s, %s, %s, %s,", c_strides(g, p->qs), c_strides(g, p->ks), c_strides(g, p->vs),
             c_strides(g, p->ys), c_strides(g, p->mst));
  tfx_c_line(e, "  %d, %d, %s, NULL, NULL, NULL, NULL, {0, 0}};", p->causal ? 1 : 0, p->qscale ? 1 : 0,
             tfx_c_float(sbuf, (float)p->scale));
  tfx_c_line(e, "tfx_attn(tfx_pp, &a);");
}

static TfxStatus attn_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  AttnP p;
  if (attn_params(g, n, &p)) return TFX_ERR;
  const char *Q = tfx_c_var(e, n->inputs[0]), *K = tfx_c_var(e, n->inputs[1]), *V = tfx_c_var(e, n->inputs[2]);
  const char *M = p.has_mask ? tfx_c_var(e, n->inputs[3]) : NULL;
  const char *PK = p.has_past ? tfx_c_var(e, n->inputs[4]) : NULL, *PV = p.has_past ? tfx_c_var(e, n->inputs[5]) : NULL;
  const char *NP = p.has_nonpad ? tfx_c_var(e, n->inputs[6]) : NULL;
  const char *Y = tfx_c_var(e, n->outputs[0]);
  const char *PRK = tfx_node_out(g, n, 1) ? tfx_c_var(e, n->outputs[1]) : NULL;
  const char *PRV = tfx_node_out(g, n, 2) ? tfx_c_var(e, n->outputs[2]) : NULL;
  const char *QK = tfx_node_out(g, n, 3) ? tfx_c_var(e, n->outputs[3]) : NULL;
  const char *A = p.dbl ? "double" : "float", *fs = p.dbl ? "" : "f";
  const int64_t R = p.Hq / p.Hkv, T = p.T, Tb = T > 0 ? T : 1, Dvb = p.Dv > 0 ? p.Dv : 1;
  const bool bias = attn_has_bias(&p);

  tfx_c_line(e, "{ /* Attention %s: B=%lld Hq=%lld Hkv=%lld S=%lld past=%lld T=%lld Dk=%lld Dv=%lld */", n->name,
             LL(p.B), LL(p.Hq), LL(p.Hkv), LL(p.S), LL(p.P), LL(T), LL(p.Dk), LL(p.Dv));
  tfx_c_indent(e, 1);
  /* present_key / present_value: past rows, then the new rows (transposed from 3-D). */
  for (int w = 0; w < 2; w++) {
    const char *dst = w ? PRV : PRK, *past = w ? PV : PK, *cur = w ? V : K;
    const int64_t D = w ? p.Dv : p.Dk, *cs = w ? p.vs : p.ks;
    TfxDtype dt = w ? p.vt : p.kt;
    if (!dst) continue;
    tfx_c_line(e, "for (int64_t b = 0; b < %lld; b++)", LL(p.B));
    tfx_c_line(e, "  for (int64_t kh = 0; kh < %lld; kh++) {", LL(p.Hkv));
    tfx_c_indent(e, 2);
    if (past && p.P > 0)
      tfx_c_line(e, "memcpy(%s + (b * %lld + kh) * %lld, %s + (b * %lld + kh) * %lld, sizeof(%s) * %lld);", dst,
                 LL(p.Hkv), LL(T * D), past, LL(p.Hkv), LL(p.P * D), ct(dt), LL(p.P * D));
    tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++)", LL(p.L));
    tfx_c_line(e, "  memcpy(%s + ((b * %lld + kh) * %lld + %lld + j) * %lld, %s + b * %lld + kh * %lld + j * %lld, sizeof(%s) * %lld);",
               dst, LL(p.Hkv), LL(T), LL(p.P), LL(D), cur, LL(cs[0]), LL(cs[1]), LL(cs[2]), ct(dt), LL(D));
    tfx_c_indent(e, -2);
    tfx_c_line(e, "  }");
  }
  if (T <= 0 || p.B * p.Hq * p.S * p.Dv == 0) {
    if (p.B * p.Hq * p.S * p.Dv > 0) /* no keys: zero output */
      tfx_c_line(e, "memset(%s, 0, sizeof(%s) * %lld);", Y, ct(p.t1), LL(p.B * p.Hq * p.S * p.Dv));
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
    return TFX_OK;
  }
  if (attn_fusable(g, n, &p)) {
    attn_emit_fused(e, g, n, &p);
    tfx_c_close(e, 1);
    return TFX_OK;
  }
  /* causal / window frontier offset: past length, or nonpad_kv_seqlen - S per batch */
  const char *off = p.has_past ? fmt(g, "%lld", LL(p.P)) : p.has_nonpad ? fmt(g, "(nkv - %lld)", LL(p.S)) : "0";

  tfx_c_line(e, "for (int64_t b = 0; b < %lld; b++) {", LL(p.B));
  tfx_c_indent(e, 1);
  if (NP) tfx_c_line(e, "const int64_t nkv = %s[b];", NP);
  tfx_c_line(e, "for (int64_t h = 0; h < %lld; h++) {", LL(p.Hq));
  tfx_c_indent(e, 1);
  if (R == 1) tfx_c_line(e, "const int64_t kh = h;");
  else tfx_c_line(e, "const int64_t kh = h / %lld;", LL(R));
  tfx_c_line(e, "for (int64_t i = 0; i < %lld; i++) {", LL(p.S));
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const %s *qr = %s + b * %lld + h * %lld + i * %lld;", ct(p.t1), Q, LL(p.qs[0]), LL(p.qs[1]), LL(p.qs[2]));
  tfx_c_line(e, "%s sc[%lld], ya[%lld], mx = -INFINITY, sum = 0;", A, LL(Tb), LL(Dvb));
  if (bias) tfx_c_line(e, "int live = 0;");
  if (is_half(p.t1)) { /* Q row scaled by sqrt(scale) and rounded to T1 once */
    tfx_c_line(e, "%s qv[%lld];", A, LL(p.Dk > 0 ? p.Dk : 1));
    const char *x = fmt(g, "%s * %s", c_ld(e, g, p.t1, "qr[d]"), c_lit(g, p.dbl, p.sq));
    tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) qv[d] = %s;", LL(p.Dk), c_rnd(e, g, p.t1, x));
  }
  tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++) {", LL(T));
  tfx_c_indent(e, 1);
  if (p.P > 0)
    tfx_c_line(e, "const %s *kr = j < %lld ? %s + ((b * %lld + kh) * %lld + j) * %lld : %s + b * %lld + kh * %lld + (j - %lld) * %lld;",
               ct(p.kt), LL(p.P), PK, LL(p.Hkv), LL(p.P), LL(p.Dk), K, LL(p.ks[0]), LL(p.ks[1]), LL(p.P), LL(p.ks[2]));
  else
    tfx_c_line(e, "const %s *kr = %s + b * %lld + kh * %lld + j * %lld;", ct(p.kt), K, LL(p.ks[0]), LL(p.ks[1]), LL(p.ks[2]));
  tfx_c_line(e, "%s acc = 0, s;", A);
  if (is_half(p.t1)) {
    const char *x = fmt(g, "%s * %s", c_ld(e, g, p.kt, "kr[d]"), c_lit(g, p.dbl, p.sq));
    tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) acc += qv[d] * %s;", LL(p.Dk), c_rnd(e, g, p.t1, x));
    tfx_c_line(e, "s = %s;", c_rnd(e, g, p.t1, "acc"));
  } else {
    const char *qx = c_ld(e, g, p.t1, "qr[d]");
    if (p.qscale) qx = c_rnd(e, g, p.t1, fmt(g, "%s * %s", qx, c_lit(g, p.dbl, p.scale)));
    tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) acc += (%s)%s * (%s)%s;", LL(p.Dk), A, qx, A,
               c_ld(e, g, p.kt, "kr[d]"));
    tfx_c_line(e, "s = %s;", c_rnd(e, g, p.t1, p.qscale ? "acc" : fmt(g, "acc * %s", c_lit(g, p.dbl, p.scale))));
  }
  const char *qko = QK ? fmt(g, "%s[((b * %lld + h) * %lld + i) * %lld + j]", QK, LL(p.Hq), LL(p.S), LL(T)) : NULL;
  if (QK && p.mode == 0) tfx_c_store(e, p.t1, qko, "s");
  if (p.softcap > 0) {
    const char *cap = c_lit(g, p.dbl, p.softcap);
    const char *th = fmt(g, "tanh%s(%s)", fs, c_rnd(e, g, p.t1, fmt(g, "s / %s", cap)));
    tfx_c_line(e, "s = %s;", c_rnd(e, g, p.t1, fmt(g, "%s * %s", cap, c_rnd(e, g, p.t1, th))));
  }
  if (QK && p.mode == 1) tfx_c_store(e, p.t1, qko, "s");
  if (bias) {
    if (M) {
      static const char *const nm[3] = {"b", "h", "i"};
      const char *ix = "";
      for (int a = 0; a < 3; a++)
        if (p.mst[a]) ix = fmt(g, "%s%s * %lld + ", ix, nm[a], LL(p.mst[a]));
      const char *mi = fmt(g, "%s[%sj]", M, ix);
      const char *mexpr = p.mask_bool ? fmt(g, "(%s ? (%s)0 : (%s)-INFINITY)", mi, A, A)
                                      : fmt(g, "(%s)%s", A, c_ld(e, g, p.mt, mi));
      if (p.Tm < T) tfx_c_line(e, "%s bias = j < %lld ? %s : -INFINITY;", A, LL(p.Tm), mexpr);
      else tfx_c_line(e, "%s bias = %s;", A, mexpr);
    } else {
      tfx_c_line(e, "%s bias = 0;", A);
    }
    if (p.causal) tfx_c_line(e, "if (j > i + %s) bias += -INFINITY;", off);
    if (p.left >= 0) tfx_c_line(e, "if (i + %s - j > %lld) bias += -INFINITY;", off, LL(p.left));
    if (p.right >= 0) tfx_c_line(e, "if (j - (i + %s) > %lld) bias += -INFINITY;", off, LL(p.right));
    if (NP) tfx_c_line(e, "if (j >= nkv) bias += -INFINITY;");
    tfx_c_line(e, "if (bias != -INFINITY) live = 1;");
    tfx_c_line(e, "s = %s;", c_rnd(e, g, p.t1, "s + bias"));
  }
  if (QK && p.mode == 2) tfx_c_store(e, p.t1, qko, "s");
  if (p.pt != p.t1 && p.pt != TFX_F64) tfx_c_line(e, "s = %s;", c_rnd(e, g, p.pt, "s"));
  tfx_c_line(e, "sc[j] = s;");
  tfx_c_line(e, "if (s > mx) mx = s;");
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  tfx_c_line(e, "if (mx == -INFINITY) mx = 0;");
  /* softmax in the precision pt, rounding as numpy does (bfloat16 sums sequentially) */
  tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++) {", LL(T));
  tfx_c_indent(e, 1);
  tfx_c_line(e, "sc[j] = %s;", c_rnd(e, g, p.pt, fmt(g, "exp%s(%s)", fs, c_rnd(e, g, p.pt, "sc[j] - mx"))));
  if (p.pt == TFX_BF16) tfx_c_line(e, "sum = %s;", c_rnd(e, g, p.pt, "sum + sc[j]"));
  else tfx_c_line(e, "sum += sc[j];");
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  if (is_half(p.pt)) tfx_c_line(e, "sum = %s;", c_rnd(e, g, p.pt, "sum"));
  tfx_c_line(e, "if (sum == 0) sum = 1;");
  {
    const char *pr = c_rnd(e, g, p.t1, c_rnd(e, g, p.pt, "sc[j] / sum"));
    tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++) sc[j] = %s;", LL(T), bias ? fmt(g, "live ? %s : 0", pr) : pr);
  }
  if (QK && p.mode == 3) {
    tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++) {", LL(T));
    tfx_c_indent(e, 1);
    tfx_c_store(e, p.t1, qko, "sc[j]");
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) ya[d] = 0;", LL(p.Dv));
  tfx_c_line(e, "for (int64_t j = 0; j < %lld; j++) {", LL(T));
  tfx_c_indent(e, 1);
  if (p.P > 0)
    tfx_c_line(e, "const %s *vr = j < %lld ? %s + ((b * %lld + kh) * %lld + j) * %lld : %s + b * %lld + kh * %lld + (j - %lld) * %lld;",
               ct(p.vt), LL(p.P), PV, LL(p.Hkv), LL(p.P), LL(p.Dv), V, LL(p.vs[0]), LL(p.vs[1]), LL(p.P), LL(p.vs[2]));
  else
    tfx_c_line(e, "const %s *vr = %s + b * %lld + kh * %lld + j * %lld;", ct(p.vt), V, LL(p.vs[0]), LL(p.vs[1]), LL(p.vs[2]));
  tfx_c_line(e, "const %s pj = sc[j];", A);
  tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) ya[d] += pj * (%s)%s;", LL(p.Dv), A, c_ld(e, g, p.vt, "vr[d]"));
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  tfx_c_line(e, "%s *yr = %s + b * %lld + h * %lld + i * %lld;", ct(p.t1), Y, LL(p.ys[0]), LL(p.ys[1]), LL(p.ys[2]));
  tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) {", LL(p.Dv));
  tfx_c_indent(e, 1);
  tfx_c_store(e, p.t1, "yr[d]", "ya[d]");
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  for (int k = 0; k < 4; k++) {
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  return TFX_OK;
}

/* ======================================================================== */
/* RotaryEmbedding                                                           */
/* ======================================================================== */
/* X (B,H,S,D) | (B,S,H*D) with num_heads; the first rd = rotary_embedding_dim (or D)
 * channels of each head are rotated by the angle of the token's position:
 *   x1' = c x1 - s x2,  x2' = s x1 + c x2
 * pairing channel i with i + rd/2 (or 2i with 2i+1 when interleaved).  cos/sin are
 * (max_pos, rd/2) indexed by position_ids (B,S), or (B,S,rd/2) without them. */

typedef struct {
  int64_t B, H, S, D, rd, half, maxp;
  int64_t xs[3]; /* strides of (batch, head, seq) */
  bool pos, inter;
  TfxDtype t, ct;
} RopeP;

static TfxStatus rope_params(TfxGraph *g, const TfxNode *n, RopeP *p) {
  TfxNode *nn = (TfxNode *)n;
  memset(p, 0, sizeof *p);
  const TfxValue *x = tfx_node_in(g, n, 0), *c = tfx_node_in(g, n, 1), *s = tfx_node_in(g, n, 2),
                 *pid = tfx_node_in(g, n, 3);
  if (!x || !c || !s) return tfx_node_error(g, nn, "inputs X, cos_cache and sin_cache are required");
  if (!is_fp(x->dtype) || !is_fp(c->dtype) || !is_fp(s->dtype) || c->dtype != s->dtype)
    return tfx_node_error(g, nn, "X, cos_cache and sin_cache must be float types (got %s, %s, %s)", dname(x->dtype),
                          dname(c->dtype), dname(s->dtype));
  p->t = x->dtype, p->ct = c->dtype;
  int64_t nh = tfx_attr_int(n, "num_heads", 0);
  if (x->rank == 4) {
    p->B = x->dims[0], p->H = x->dims[1], p->S = x->dims[2], p->D = x->dims[3];
    if (nh && nh != p->H) return tfx_node_error(g, nn, "num_heads %lld contradicts the 4-D input (%lld heads)", LL(nh), LL(p->H));
    p->xs[0] = p->H * p->S * p->D, p->xs[1] = p->S * p->D, p->xs[2] = p->D;
  } else if (x->rank == 3) {
    if (nh <= 0) return tfx_node_error(g, nn, "a 3-D input needs a positive num_heads attribute");
    if (x->dims[2] % nh) return tfx_node_error(g, nn, "hidden size %lld is not a multiple of num_heads %lld", LL(x->dims[2]), LL(nh));
    p->B = x->dims[0], p->S = x->dims[1], p->H = nh, p->D = x->dims[2] / nh;
    p->xs[0] = p->S * p->H * p->D, p->xs[1] = p->D, p->xs[2] = p->H * p->D;
  } else {
    return tfx_node_error(g, nn, "input must be 3-D or 4-D (got rank %d)", x->rank);
  }
  p->rd = tfx_attr_int(n, "rotary_embedding_dim", 0);
  if (p->rd == 0) p->rd = p->D;
  if (p->rd < 0 || p->rd > p->D || p->rd % 2)
    return tfx_node_error(g, nn, "rotary_embedding_dim %lld must be even and at most the head size %lld", LL(p->rd), LL(p->D));
  p->half = p->rd / 2;
  p->inter = tfx_attr_int(n, "interleaved", 0) != 0;
  if (c->rank != s->rank || memcmp(c->dims, s->dims, sizeof(int64_t) * (size_t)c->rank))
    return tfx_node_error(g, nn, "cos_cache and sin_cache shapes differ");
  if (pid) {
    if (pid->dtype != TFX_I64 || pid->rank != 2 || pid->dims[0] != p->B || pid->dims[1] != p->S)
      return tfx_node_error(g, nn, "position_ids must be int64 of shape (%lld, %lld)", LL(p->B), LL(p->S));
    if (c->rank != 2 || c->dims[1] != p->half || c->dims[0] < 1)
      return tfx_node_error(g, nn, "with position_ids, cos_cache must be (max_position, %lld)", LL(p->half));
    p->pos = true, p->maxp = c->dims[0];
    const TfxTensor *pt = tfx_node_const_in(g, n, 3);
    for (int64_t i = 0; pt && i < tfx_tensor_numel(pt); i++) {
      int64_t v = tfx_tensor_get_i64(pt, i);
      if (v < -p->maxp || v >= p->maxp)
        return tfx_node_error(g, nn, "position id %lld is outside the cache (%lld positions)", LL(v), LL(p->maxp));
    }
  } else if (c->rank != 3 || c->dims[0] != p->B || c->dims[1] != p->S || c->dims[2] != p->half) {
    return tfx_node_error(g, nn, "without position_ids, cos_cache must be (%lld, %lld, %lld)", LL(p->B), LL(p->S), LL(p->half));
  }
  return TFX_OK;
}

static TfxStatus rope_infer(TfxGraph *g, TfxNode *n) {
  RopeP p;
  if (rope_params(g, n, &p)) return TFX_ERR;
  const TfxValue *x = tfx_node_in(g, n, 0);
  tfx_node_set_out(g, n, 0, x->dtype, x->rank, x->dims);
  return TFX_OK;
}

/* Cache row of a position id: negative ids count from the end (numpy indexing); out of
 * range ids are clamped so generated code never reads outside the cache. */
static int64_t rope_pos(int64_t v, int64_t maxp) {
  if (v < 0) v += maxp;
  return v < 0 ? 0 : v >= maxp ? maxp - 1 : v;
}

static TfxStatus rope_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  RopeP p;
  if (rope_params(g, n, &p)) return TFX_ERR;
  const TfxTensor *X = in[0], *C = in[1], *Sn = in[2], *PID = in_k(n, in, 3);
  for (int64_t b = 0; b < p.B; b++)
    for (int64_t s = 0; s < p.S; s++) {
      int64_t row = p.pos ? rope_pos(tfx_tensor_get_i64(PID, b * p.S + s), p.maxp) : b * p.S + s;
      for (int64_t h = 0; h < p.H; h++) {
        int64_t o = b * p.xs[0] + h * p.xs[1] + s * p.xs[2];
        for (int64_t i = 0; i < p.half; i++) {
          double c = tfx_tensor_get_f64(C, row * p.half + i), sn = tfx_tensor_get_f64(Sn, row * p.half + i);
          int64_t i1 = p.inter ? 2 * i : i, i2 = p.inter ? 2 * i + 1 : i + p.half;
          double x1 = tfx_tensor_get_f64(X, o + i1), x2 = tfx_tensor_get_f64(X, o + i2);
          tfx_tensor_set_f64(&out[0], o + i1, rnd(p.t, c * x1) - rnd(p.t, sn * x2));
          tfx_tensor_set_f64(&out[0], o + i2, rnd(p.t, sn * x1) + rnd(p.t, c * x2));
        }
        for (int64_t i = p.rd; i < p.D; i++) tfx_tensor_set_f64(&out[0], o + i, tfx_tensor_get_f64(X, o + i));
      }
    }
  return TFX_OK;
}

static TfxStatus rope_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  RopeP p;
  if (rope_params(g, n, &p)) return TFX_ERR;
  const char *X = tfx_c_var(e, n->inputs[0]), *C = tfx_c_var(e, n->inputs[1]), *Sn = tfx_c_var(e, n->inputs[2]);
  const char *Y = tfx_c_var(e, n->outputs[0]);
  tfx_c_line(e, "{ /* RotaryEmbedding %s: B=%lld H=%lld S=%lld D=%lld rotary_dim=%lld%s */", n->name, LL(p.B), LL(p.H),
             LL(p.S), LL(p.D), LL(p.rd), p.inter ? " interleaved" : "");
  tfx_c_indent(e, 1);
  if (p.B * p.S * p.H * p.D == 0) goto done;
  tfx_c_line(e, "for (int64_t b = 0; b < %lld; b++)", LL(p.B));
  tfx_c_line(e, "  for (int64_t s = 0; s < %lld; s++) {", LL(p.S));
  tfx_c_indent(e, 2);
  if (p.half > 0) {
    if (p.pos) {
      tfx_c_line(e, "int64_t row = %s[b * %lld + s];", tfx_c_var(e, n->inputs[3]), LL(p.S));
      tfx_c_line(e, "if (row < 0) row += %lld;", LL(p.maxp));
      tfx_c_line(e, "if (row < 0) row = 0;");
      tfx_c_line(e, "if (row > %lld) row = %lld;", LL(p.maxp - 1), LL(p.maxp - 1));
    } else {
      tfx_c_line(e, "const int64_t row = b * %lld + s;", LL(p.S));
    }
    tfx_c_line(e, "const %s *cr = %s + row * %lld, *sr = %s + row * %lld;", ct(p.ct), C, LL(p.half), Sn, LL(p.half));
  }
  tfx_c_line(e, "for (int64_t h = 0; h < %lld; h++) {", LL(p.H));
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const %s *x = %s + b * %lld + h * %lld + s * %lld;", ct(p.t), X, LL(p.xs[0]), LL(p.xs[1]), LL(p.xs[2]));
  tfx_c_line(e, "%s *y = %s + b * %lld + h * %lld + s * %lld;", ct(p.t), Y, LL(p.xs[0]), LL(p.xs[1]), LL(p.xs[2]));
  if (p.half > 0) {
    const char *A = tfx_c_calctype(p.t);
    tfx_c_line(e, "for (int64_t i = 0; i < %lld; i++) {", LL(p.half));
    tfx_c_indent(e, 1);
    tfx_c_line(e, "const %s c = (%s)%s, sn = (%s)%s;", A, A, c_ld(e, g, p.ct, "cr[i]"), A, c_ld(e, g, p.ct, "sr[i]"));
    const char *x1 = p.inter ? "x[2 * i]" : "x[i]", *y1 = p.inter ? "y[2 * i]" : "y[i]";
    const char *x2 = p.inter ? "x[2 * i + 1]" : fmt(g, "x[i + %lld]", LL(p.half));
    const char *y2 = p.inter ? "y[2 * i + 1]" : fmt(g, "y[i + %lld]", LL(p.half));
    tfx_c_line(e, "const %s x1 = %s, x2 = %s;", A, c_ld(e, g, p.t, x1), c_ld(e, g, p.t, x2));
    /* each product rounded to T, as the reference computes in T */
    tfx_c_store(e, p.t, y1, fmt(g, "%s - %s", c_rnd(e, g, p.t, "c * x1"), c_rnd(e, g, p.t, "sn * x2")));
    tfx_c_store(e, p.t, y2, fmt(g, "%s + %s", c_rnd(e, g, p.t, "sn * x1"), c_rnd(e, g, p.t, "c * x2")));
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
  if (p.rd < p.D) tfx_c_line(e, "for (int64_t i = %lld; i < %lld; i++) y[i] = x[i];", LL(p.rd), LL(p.D));
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  tfx_c_indent(e, -2);
  tfx_c_line(e, "  }");
done:
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  return TFX_OK;
}

/* ======================================================================== */
/* SwiGLU: Y = A * sigmoid(alpha * A) * B, A and B of identical shape.       */
/* ======================================================================== */

static TfxStatus swiglu_infer(TfxGraph *g, TfxNode *n) {
  const TfxValue *a = tfx_node_in(g, n, 0), *b = tfx_node_in(g, n, 1);
  if (!a || !b) return tfx_node_error(g, n, "inputs A and B are required");
  if (!is_fp(a->dtype) || a->dtype != b->dtype)
    return tfx_node_error(g, n, "A and B must share one float dtype (got %s, %s)", dname(a->dtype), dname(b->dtype));
  if (a->rank != b->rank || memcmp(a->dims, b->dims, sizeof(int64_t) * (size_t)a->rank))
    return tfx_node_error(g, n, "A and B must have identical shapes (SwiGLU does not broadcast)");
  tfx_node_set_out(g, n, 0, a->dtype, a->rank, a->dims);
  return TFX_OK;
}

static TfxStatus swiglu_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  (void)g;
  double alpha = tfx_attr_float(n, "alpha", 1.0f);
  TfxDtype t = in[0]->dtype;
  for (int64_t i = 0; i < tfx_tensor_numel(in[0]); i++) {
    double a = tfx_tensor_get_f64(in[0], i), b = tfx_tensor_get_f64(in[1], i);
    double sg = rnd(t, 1.0 / (1.0 + exp(-alpha * a)));
    tfx_tensor_set_f64(&out[0], i, rnd(t, a * sg) * b);
  }
  return TFX_OK;
}

static TfxStatus swiglu_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *a = tfx_node_in(g, n, 0);
  TfxDtype t = a->dtype;
  bool dbl = t == TFX_F64;
  const char *A = tfx_c_calctype(t), *fs = dbl ? "" : "f";
  const char *va = tfx_c_var(e, n->inputs[0]), *vb = tfx_c_var(e, n->inputs[1]), *vy = tfx_c_var(e, n->outputs[0]);
  tfx_c_line(e, "{ /* SwiGLU %s */", n->name);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "for (int64_t i = 0; i < %lld; i++) {", LL(numel_v(a)));
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const %s a = %s;", A, c_ld(e, g, t, fmt(g, "%s[i]", va)));
  const char *sg = fmt(g, "1 / (1 + exp%s(-%s * a))", fs, c_lit(g, dbl, tfx_attr_float(n, "alpha", 1.0f)));
  tfx_c_line(e, "const %s sg = %s;", A, c_rnd(e, g, t, sg));
  tfx_c_line(e, "const %s b = %s;", A, c_ld(e, g, t, fmt(g, "%s[i]", vb)));
  /* the swish term is rounded to T before the product, as in the reference */
  tfx_c_store(e, t, fmt(g, "%s[i]", vy), fmt(g, "%s * b", c_rnd(e, g, t, "a * sg")));
  tfx_c_close(e, 2);
  return TFX_OK;
}

/* ======================================================================== */
/* QuantizeLinear / DequantizeLinear                                         */
/* ======================================================================== */
/* x is viewed as (outer, ax, inner) around the quantisation axis.  The scale (and zero
 * point, same shape) is per tensor (one element), per axis (1-D of length ax) or
 * blocked (x's shape with ceil(ax / block_size) on the axis). */

typedef enum { QG_TENSOR, QG_AXIS, QG_BLOCK } QGKind;
typedef struct {
  QGKind kind;
  int64_t outer, ax, inner, sa, bs;
} QGran;

static TfxStatus qgran(TfxGraph *g, const TfxNode *n, const TfxValue *x, const TfxValue *s, const TfxValue *z,
                       QGran *q) {
  TfxNode *nn = (TfxNode *)n;
  memset(q, 0, sizeof *q);
  if (z && (z->rank != s->rank || memcmp(z->dims, s->dims, sizeof(int64_t) * (size_t)s->rank)) &&
      !(numel_v(z) == 1 && numel_v(s) == 1))
    return tfx_node_error(g, nn, "zero point and scale must have the same shape");
  int64_t bsz = tfx_attr_int(n, "block_size", 0);
  if (numel_v(s) == 1) {
    q->kind = QG_TENSOR, q->outer = 1, q->ax = numel_v(x), q->inner = 1;
    return TFX_OK;
  }
  int axis = tfx_axis(tfx_attr_int(n, "axis", 1), x->rank);
  if (axis < 0 || axis >= x->rank)
    return tfx_node_error(g, nn, "axis %lld is out of range for rank %d", LL(tfx_attr_int(n, "axis", 1)), x->rank);
  q->outer = tfx_numel(axis, x->dims), q->ax = x->dims[axis];
  q->inner = tfx_numel(x->rank - axis - 1, x->dims + axis + 1);
  if (bsz <= 0) {
    if (s->rank != 1 || s->dims[0] != q->ax)
      return tfx_node_error(g, nn, "per-axis scale must be 1-D of length %lld (got %lld elements, rank %d)", LL(q->ax),
                            LL(numel_v(s)), s->rank);
    q->kind = QG_AXIS;
    return TFX_OK;
  }
  if (s->rank != x->rank) return tfx_node_error(g, nn, "blocked scale must have the rank of the input (%d)", x->rank);
  for (int k = 0; k < x->rank; k++)
    if (k != axis && s->dims[k] != x->dims[k])
      return tfx_node_error(g, nn, "blocked scale dim %d (%lld) differs from the input (%lld)", k, LL(s->dims[k]), LL(x->dims[k]));
  if (s->dims[axis] != (q->ax + bsz - 1) / bsz)
    return tfx_node_error(g, nn, "blocked scale has %lld blocks on axis %d; block_size %lld needs %lld", LL(s->dims[axis]),
                          axis, LL(bsz), LL((q->ax + bsz - 1) / bsz));
  q->kind = QG_BLOCK, q->sa = s->dims[axis], q->bs = bsz;
  return TFX_OK;
}

static int64_t qgran_index(const QGran *q, int64_t flat) {
  int64_t o = flat / (q->ax * q->inner), a = flat / q->inner % q->ax, in = flat % q->inner;
  switch (q->kind) {
  case QG_TENSOR: return 0;
  case QG_AXIS: return a;
  default: return (o * q->sa + a / q->bs) * q->inner + in;
  }
}

/* Open the element loops over x; `xi` and `si` name the x and scale indices inside. */
static void qgran_loops_begin(TfxCEmit *e, const QGran *q) {
  if (q->kind == QG_TENSOR) {
    tfx_c_line(e, "for (int64_t xi = 0; xi < %lld; xi++) {", LL(q->ax));
    tfx_c_indent(e, 1);
    tfx_c_line(e, "const int64_t si = 0;");
    return;
  }
  tfx_c_line(e, "for (int64_t o = 0; o < %lld; o++)", LL(q->outer));
  tfx_c_line(e, "  for (int64_t a = 0; a < %lld; a++)", LL(q->ax));
  tfx_c_line(e, "    for (int64_t in = 0; in < %lld; in++) {", LL(q->inner));
  tfx_c_indent(e, 3);
  tfx_c_line(e, "const int64_t xi = (o * %lld + a) * %lld + in;", LL(q->ax), LL(q->inner));
  if (q->kind == QG_AXIS) {
    tfx_c_line(e, "const int64_t si = a;");
  } else {
    tfx_c_line(e, "const int64_t si = (o * %lld + a / %lld) * %lld + in;", LL(q->sa), LL(q->bs), LL(q->inner));
  }
}

static void qgran_loops_end(TfxCEmit *e, const QGran *q) {
  if (q->kind == QG_TENSOR) {
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  } else {
    tfx_c_indent(e, -3);
    tfx_c_line(e, "    }");
  }
}

static bool qrange(TfxDtype t, int64_t *lo, int64_t *hi) {
  switch (t) {
  case TFX_U8: *lo = 0, *hi = 255; return true;
  case TFX_I8: *lo = -128, *hi = 127; return true;
  case TFX_U16: *lo = 0, *hi = 65535; return true;
  case TFX_I16: *lo = -32768, *hi = 32767; return true;
  default: return false;
  }
}

typedef struct {
  QGran q;
  TfxDtype xt, st, yt, pt; /* pt: precision of the division */
  bool has_zp;
} QuantP;

static TfxStatus quant_params(TfxGraph *g, const TfxNode *n, QuantP *p) {
  TfxNode *nn = (TfxNode *)n;
  memset(p, 0, sizeof *p);
  const TfxValue *x = tfx_node_in(g, n, 0), *s = tfx_node_in(g, n, 1), *z = tfx_node_in(g, n, 2);
  if (!x || !s) return tfx_node_error(g, nn, "inputs x and y_scale are required");
  p->xt = x->dtype, p->st = s->dtype, p->has_zp = z != NULL;
  if (!is_fp(p->xt) && p->xt != TFX_I32) return tfx_node_error(g, nn, "input dtype %s is not supported", dname(p->xt));
  if (!is_fp(p->st) && p->st != TFX_I32) return tfx_node_error(g, nn, "scale dtype %s is not supported", dname(p->st));
  int64_t od = tfx_attr_int(n, "output_dtype", 0);
  TfxDtype ot = od ? tfx_dtype_from_onnx((int)od) : TFX_UNDEF;
  if (od && ot == TFX_UNDEF) return tfx_node_error(g, nn, "quantisation to output_dtype %lld is not supported", LL(od));
  if (z && od && z->dtype != ot) return tfx_node_error(g, nn, "output_dtype contradicts the zero point's dtype");
  p->yt = z ? z->dtype : od ? ot : TFX_U8;
  int64_t lo = 0, hi = 0;
  if (!qrange(p->yt, &lo, &hi))
    return tfx_node_error(g, nn, "quantisation to %s is not supported (int8, uint8, int16, uint16 are)", dname(p->yt));
  int64_t prec = tfx_attr_int(n, "precision", 0);
  if (prec) {
    p->pt = tfx_dtype_from_onnx((int)prec);
    if (!is_fp(p->pt)) return tfx_node_error(g, nn, "precision %lld is not a float type", LL(prec));
  } else if (p->xt == p->st) {
    p->pt = p->xt == TFX_I32 ? TFX_F64 : p->xt;
  } else if (p->xt == TFX_F64 || p->st == TFX_F64 || p->xt == TFX_I32 || p->st == TFX_I32) {
    p->pt = TFX_F64; /* numpy promotes int32 with float32 to float64 */
  } else {
    p->pt = TFX_F32;
  }
  return qgran(g, n, x, s, z, &p->q);
}

static TfxStatus quant_infer(TfxGraph *g, TfxNode *n) {
  QuantP p;
  if (quant_params(g, n, &p)) return TFX_ERR;
  const TfxValue *x = tfx_node_in(g, n, 0);
  tfx_node_set_out(g, n, 0, p.yt, x->rank, x->dims);
  return TFX_OK;
}

static TfxStatus quant_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  QuantP p;
  if (quant_params(g, n, &p)) return TFX_ERR;
  int64_t lo = 0, hi = 0;
  qrange(p.yt, &lo, &hi);
  for (int64_t i = 0; i < tfx_tensor_numel(in[0]); i++) {
    int64_t si = qgran_index(&p.q, i);
    double v = rnd(p.pt, rnd(p.pt, tfx_tensor_get_f64(in[0], i)) / rnd(p.pt, tfx_tensor_get_f64(in[1], si)));
    double r = nearbyint(v) + (in_k(n, in, 2) ? (double)tfx_tensor_get_i64(in[2], si) : 0.0);
    if (!(r >= (double)lo)) r = (double)lo; /* NaN saturates low, as the reference's int cast does */
    if (r > (double)hi) r = (double)hi;
    tfx_tensor_set_i64(&out[0], i, (int64_t)r);
  }
  return TFX_OK;
}

static TfxStatus quant_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  QuantP p;
  if (quant_params(g, n, &p)) return TFX_ERR;
  int64_t lo = 0, hi = 0;
  qrange(p.yt, &lo, &hi);
  bool dbl = p.pt == TFX_F64;
  const char *A = dbl ? "double" : "float", *fs = dbl ? "" : "f";
  const char *X = tfx_c_var(e, n->inputs[0]), *S = tfx_c_var(e, n->inputs[1]), *Y = tfx_c_var(e, n->outputs[0]);
  tfx_c_line(e, "{ /* QuantizeLinear %s -> %s */", n->name, dname(p.yt));
  tfx_c_indent(e, 1);
  qgran_loops_begin(e, &p.q);
  const char *xv = fmt(g, "(%s)%s", A, c_ld(e, g, p.xt, fmt(g, "%s[xi]", X)));
  const char *sv = fmt(g, "(%s)%s", A, c_ld(e, g, p.st, fmt(g, "%s[si]", S)));
  if (is_half(p.pt)) /* the division happens in the precision type */
    tfx_c_line(e, "const %s v = %s;", A, c_rnd(e, g, p.pt, fmt(g, "%s / %s", c_rnd(e, g, p.pt, xv), c_rnd(e, g, p.pt, sv))));
  else
    tfx_c_line(e, "const %s v = %s / %s;", A, xv, sv);
  if (p.has_zp)
    tfx_c_line(e, "%s r = rint%s(v) + (%s)%s[si];", A, fs, A, tfx_c_var(e, n->inputs[2]));
  else
    tfx_c_line(e, "%s r = rint%s(v);", A, fs);
  tfx_c_line(e, "if (!(r >= %lld)) r = %lld;", LL(lo), LL(lo));
  tfx_c_line(e, "if (r > %lld) r = %lld;", LL(hi), LL(hi));
  tfx_c_line(e, "%s[xi] = (%s)r;", Y, ct(p.yt));
  qgran_loops_end(e, &p.q);
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  return TFX_OK;
}

typedef struct {
  QGran q;
  TfxDtype xt, st, yt;
  bool has_zp, dbl; /* dbl: int32 input with a zero point, subtracted in double like numpy */
} DequantP;

static TfxStatus dequant_params(TfxGraph *g, const TfxNode *n, DequantP *p) {
  TfxNode *nn = (TfxNode *)n;
  memset(p, 0, sizeof *p);
  const TfxValue *x = tfx_node_in(g, n, 0), *s = tfx_node_in(g, n, 1), *z = tfx_node_in(g, n, 2);
  if (!x || !s) return tfx_node_error(g, nn, "inputs x and x_scale are required");
  p->xt = x->dtype, p->st = s->dtype, p->has_zp = z != NULL;
  if (!(p->xt == TFX_U8 || p->xt == TFX_I8 || p->xt == TFX_U16 || p->xt == TFX_I16 || p->xt == TFX_I32))
    return tfx_node_error(g, nn, "dequantisation of %s is not supported (int8, uint8, int16, uint16, int32 are)", dname(p->xt));
  if (!is_fp(p->st)) return tfx_node_error(g, nn, "scale dtype %s is not supported", dname(p->st));
  if (z && z->dtype != p->xt) return tfx_node_error(g, nn, "zero point dtype %s differs from x (%s)", dname(z->dtype), dname(p->xt));
  int64_t od = tfx_attr_int(n, "output_dtype", 0);
  p->yt = od ? tfx_dtype_from_onnx((int)od) : p->st;
  if (!is_fp(p->yt)) return tfx_node_error(g, nn, "output_dtype %lld is not a float type", LL(od));
  p->dbl = p->xt == TFX_I32 && z;
  return qgran(g, n, x, s, z, &p->q);
}

static TfxStatus dequant_infer(TfxGraph *g, TfxNode *n) {
  DequantP p;
  if (dequant_params(g, n, &p)) return TFX_ERR;
  const TfxValue *x = tfx_node_in(g, n, 0);
  tfx_node_set_out(g, n, 0, p.yt, x->rank, x->dims);
  return TFX_OK;
}

static TfxStatus dequant_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  DequantP p;
  if (dequant_params(g, n, &p)) return TFX_ERR;
  for (int64_t i = 0; i < tfx_tensor_numel(in[0]); i++) {
    int64_t si = qgran_index(&p.q, i);
    double dx = (float)tfx_tensor_get_i64(in[0], i);
    if (in_k(n, in, 2)) dx -= (double)tfx_tensor_get_i64(in[2], si);
    if (!p.dbl) dx = (float)dx;
    double y = dx * tfx_tensor_get_f64(in[1], si);
    tfx_tensor_set_f64(&out[0], i, p.dbl ? y : (float)y);
  }
  return TFX_OK;
}

static TfxStatus dequant_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  DequantP p;
  if (dequant_params(g, n, &p)) return TFX_ERR;
  const char *A = p.dbl ? "double" : "float";
  const char *X = tfx_c_var(e, n->inputs[0]), *S = tfx_c_var(e, n->inputs[1]), *Y = tfx_c_var(e, n->outputs[0]);
  tfx_c_line(e, "{ /* DequantizeLinear %s -> %s */", n->name, dname(p.yt));
  tfx_c_indent(e, 1);
  qgran_loops_begin(e, &p.q);
  if (p.has_zp)
    tfx_c_line(e, "const %s dx = (%s)(float)%s[xi] - (%s)%s[si];", A, A, X, A, tfx_c_var(e, n->inputs[2]));
  else
    tfx_c_line(e, "const %s dx = (%s)(float)%s[xi];", A, A, X);
  tfx_c_store(e, p.yt, fmt(g, "%s[xi]", Y), fmt(g, "dx * (%s)%s", A, c_ld(e, g, p.st, fmt(g, "%s[si]", S))));
  qgran_loops_end(e, &p.q);
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  return TFX_OK;
}

/* ======================================================================== */
/* DynamicQuantizeLinear: uint8 with a range widened to include 0            */
/* ======================================================================== */

static TfxStatus dynq_infer(TfxGraph *g, TfxNode *n) {
  const TfxValue *x = tfx_node_in(g, n, 0);
  if (!x) return tfx_node_error(g, n, "input x is required");
  if (x->dtype != TFX_F32) return tfx_node_error(g, n, "input must be float32 (got %s)", dname(x->dtype));
  tfx_node_set_out(g, n, 0, TFX_U8, x->rank, x->dims);
  tfx_node_set_out(g, n, 1, TFX_F32, 0, NULL);
  tfx_node_set_out(g, n, 2, TFX_U8, 0, NULL);
  return TFX_OK;
}

static TfxStatus dynq_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  (void)g;
  float mx = 0, mn = 0;
  int64_t cnt = tfx_tensor_numel(in[0]);
  for (int64_t i = 0; i < cnt; i++) {
    float v = (float)tfx_tensor_get_f64(in[0], i);
    if (v > mx) mx = v;
    if (v < mn) mn = v;
  }
  float sc = (mx == mn ? 1.0f : mx - mn) / 255.0f;
  float zp = 0.0f - mn / sc;
  zp = rintf(zp < 0 ? 0 : zp > 255 ? 255 : zp);
  for (int64_t i = 0; i < cnt; i++) {
    float r = rintf((float)tfx_tensor_get_f64(in[0], i) / sc) + zp;
    if (out_k(n, out, 0)) tfx_tensor_set_i64(&out[0], i, (int64_t)(r < 0 ? 0 : r > 255 ? 255 : r));
  }
  if (out_k(n, out, 1)) tfx_tensor_set_f64(&out[1], 0, sc);
  if (out_k(n, out, 2)) tfx_tensor_set_i64(&out[2], 0, (int64_t)zp);
  return TFX_OK;
}

static TfxStatus dynq_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  const TfxValue *x = tfx_node_in(g, n, 0);
  const char *X = tfx_c_var(e, n->inputs[0]);
  int64_t cnt = numel_v(x);
  tfx_c_line(e, "{ /* DynamicQuantizeLinear %s */", n->name);
  tfx_c_indent(e, 1);
  tfx_c_line(e, "float mx = 0.0f, mn = 0.0f;");
  tfx_c_line(e, "for (int64_t i = 0; i < %lld; i++) {", LL(cnt));
  tfx_c_line(e, "  if (%s[i] > mx) mx = %s[i];", X, X);
  tfx_c_line(e, "  if (%s[i] < mn) mn = %s[i];", X, X);
  tfx_c_line(e, "}");
  tfx_c_line(e, "const float sc = (mx == mn ? 1.0f : mx - mn) / 255.0f;");
  tfx_c_line(e, "float zp = 0.0f - mn / sc;");
  tfx_c_line(e, "zp = rintf(zp < 0.0f ? 0.0f : zp > 255.0f ? 255.0f : zp);");
  if (tfx_node_out(g, n, 0)) {
    tfx_c_line(e, "for (int64_t i = 0; i < %lld; i++) {", LL(cnt));
    tfx_c_line(e, "  const float r = rintf(%s[i] / sc) + zp;", X);
    tfx_c_line(e, "  %s[i] = (uint8_t)(r < 0.0f ? 0.0f : r > 255.0f ? 255.0f : r);", tfx_c_var(e, n->outputs[0]));
    tfx_c_line(e, "}");
  }
  if (tfx_node_out(g, n, 1)) tfx_c_line(e, "%s[0] = sc;", tfx_c_var(e, n->outputs[1]));
  if (tfx_node_out(g, n, 2)) tfx_c_line(e, "%s[0] = (uint8_t)zp;", tfx_c_var(e, n->outputs[2]));
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  return TFX_OK;
}

/* ======================================================================== */
/* MatMulInteger / QLinearMatMul                                             */
/* ======================================================================== */
/* numpy.matmul shapes: A (..., M, K) x B (..., K, N), 1-D operands promoted and their
 * unit dim dropped from Y; batch dims broadcast.  Zero points and scales of A are per
 * tensor or per row (M-vector, or A's shape with K = 1), those of B per tensor or per
 * column (N-vector, or B's shape with K = 1). */

typedef struct {
  int br; /* output batch rank */
  int64_t bd[TFX_MAX_RANK];
  int64_t M, K, N;
  int64_t as[TFX_MAX_RANK], bs[TFX_MAX_RANK], ys[TFX_MAX_RANK]; /* strides over the output batch */
  int na, nb;                                                   /* matrix-form ranks of A and B */
  int64_t ad[TFX_MAX_RANK + 1], bdm[TFX_MAX_RANK + 1];          /* matrix-form shapes */
  int yr;
  int64_t yd[TFX_MAX_RANK];
} MMShape;

static bool mm_shape(const TfxValue *a, const TfxValue *b, MMShape *m) {
  memset(m, 0, sizeof *m);
  if (a->rank < 1 || b->rank < 1) return false;
  if (a->rank == 1) m->na = 2, m->ad[0] = 1, m->ad[1] = a->dims[0];
  else m->na = a->rank, memcpy(m->ad, a->dims, sizeof(int64_t) * (size_t)a->rank);
  if (b->rank == 1) m->nb = 2, m->bdm[0] = b->dims[0], m->bdm[1] = 1;
  else m->nb = b->rank, memcpy(m->bdm, b->dims, sizeof(int64_t) * (size_t)b->rank);
  m->M = m->ad[m->na - 2], m->K = m->ad[m->na - 1], m->N = m->bdm[m->nb - 1];
  if (m->bdm[m->nb - 2] != m->K) return false;
  int ra = m->na - 2, rb = m->nb - 2;
  m->br = ra > rb ? ra : rb;
  for (int k = 0; k < m->br; k++) {
    int ia = k - (m->br - ra), ib = k - (m->br - rb);
    int64_t da = ia >= 0 ? m->ad[ia] : 1, db = ib >= 0 ? m->bdm[ib] : 1;
    if (da != db && da != 1 && db != 1) return false;
    m->bd[k] = da == 1 ? db : da;
  }
  int64_t sa = m->M * m->K, sb = m->K * m->N, sy = m->M * m->N;
  for (int k = m->br - 1; k >= 0; k--) {
    int ia = k - (m->br - ra), ib = k - (m->br - rb);
    m->as[k] = ia >= 0 && m->ad[ia] != 1 ? sa : 0;
    m->bs[k] = ib >= 0 && m->bdm[ib] != 1 ? sb : 0;
    m->ys[k] = sy;
    if (ia >= 0) sa *= m->ad[ia];
    if (ib >= 0) sb *= m->bdm[ib];
    sy *= m->bd[k];
  }
  m->yr = m->br;
  memcpy(m->yd, m->bd, sizeof(int64_t) * (size_t)m->br);
  if (a->rank != 1) m->yd[m->yr++] = m->M;
  if (b->rank != 1) m->yd[m->yr++] = m->N;
  return true;
}

/* Strides of a zero point / scale tensor over the output batch (pbs) and over the row of
 * A (a_side) or the column of B (*prc).  False if the shape does not fit. */
static bool mm_param(const MMShape *m, bool a_side, const TfxValue *pv, int64_t *pbs, int64_t *prc) {
  int64_t pd[TFX_MAX_RANK + 1];
  int pr;
  memset(pbs, 0, sizeof(int64_t) * TFX_MAX_RANK);
  *prc = 0;
  if (numel_v(pv) == 1) return true;
  if (pv->rank == 1 && a_side) pr = 2, pd[0] = pv->dims[0], pd[1] = 1;
  else pr = pv->rank, memcpy(pd, pv->dims, sizeof(int64_t) * (size_t)pv->rank);
  int no = a_side ? m->na : m->nb;
  int64_t od[TFX_MAX_RANK + 1], al[TFX_MAX_RANK + 1], st[TFX_MAX_RANK + 1];
  memcpy(od, a_side ? m->ad : m->bdm, sizeof(int64_t) * (size_t)no);
  od[a_side ? no - 1 : no - 2] = 1; /* the K dim */
  if (pr > no) return false;
  for (int k = 0; k < no; k++) {
    al[k] = k >= no - pr ? pd[k - (no - pr)] : 1;
    if (al[k] != 1 && al[k] != od[k]) return false;
  }
  int64_t s = 1;
  for (int k = no - 1; k >= 0; k--) st[k] = al[k] == 1 ? 0 : s, s *= al[k];
  *prc = a_side ? st[no - 2] : st[no - 1];
  for (int k = 0; k < m->br; k++) {
    int io = k - (m->br - (no - 2));
    pbs[k] = io >= 0 ? st[io] : 0;
  }
  return true;
}

typedef struct {
  MMShape m;
  const TfxValue *a, *b, *az, *bz, *as, *bsc, *ys, *yz; /* zero points / scales (NULL if absent) */
  int64_t azb[TFX_MAX_RANK], azr, bzb[TFX_MAX_RANK], bzr; /* zero-point strides */
  int64_t asb[TFX_MAX_RANK], asr, bsb[TFX_MAX_RANK], bsr; /* scale strides (QLinearMatMul) */
  TfxDtype yt, st;
  bool qlinear;
} MMP;

static TfxStatus mm_params(TfxGraph *g, const TfxNode *n, MMP *p) {
  TfxNode *nn = (TfxNode *)n;
  memset(p, 0, sizeof *p);
  p->qlinear = n->op == TFX_OP_QLinearMatMul;
  if (p->qlinear) {
    p->a = tfx_node_in(g, n, 0), p->as = tfx_node_in(g, n, 1), p->az = tfx_node_in(g, n, 2);
    p->b = tfx_node_in(g, n, 3), p->bsc = tfx_node_in(g, n, 4), p->bz = tfx_node_in(g, n, 5);
    p->ys = tfx_node_in(g, n, 6), p->yz = tfx_node_in(g, n, 7);
    if (!p->a || !p->as || !p->b || !p->bsc || !p->ys)
      return tfx_node_error(g, nn, "inputs a, a_scale, b, b_scale and y_scale are required");
  } else {
    p->a = tfx_node_in(g, n, 0), p->b = tfx_node_in(g, n, 1), p->az = tfx_node_in(g, n, 2), p->bz = tfx_node_in(g, n, 3);
    if (!p->a || !p->b) return tfx_node_error(g, nn, "inputs A and B are required");
  }
  TfxDtype at = p->a->dtype, bt = p->b->dtype;
  if ((at != TFX_U8 && at != TFX_I8) || (bt != TFX_U8 && bt != TFX_I8))
    return tfx_node_error(g, nn, "A and B must be int8 or uint8 (got %s, %s)", dname(at), dname(bt));
  if ((p->az && p->az->dtype != at) || (p->bz && p->bz->dtype != bt))
    return tfx_node_error(g, nn, "zero points must have the dtypes of their matrices");
  if (!mm_shape(p->a, p->b, &p->m)) return tfx_node_error(g, nn, "shapes of A and B do not fit a matrix product");
  if ((p->az && !mm_param(&p->m, true, p->az, p->azb, &p->azr)) || (p->bz && !mm_param(&p->m, false, p->bz, p->bzb, &p->bzr)))
    return tfx_node_error(g, nn, "zero point shapes must be per tensor, per row of A or per column of B");
  p->yt = TFX_I32;
  if (p->qlinear) {
    p->st = p->as->dtype;
    if (!is_fp(p->st) || p->bsc->dtype != p->st || p->ys->dtype != p->st)
      return tfx_node_error(g, nn, "scales must share one float dtype");
    if (!mm_param(&p->m, true, p->as, p->asb, &p->asr) || !mm_param(&p->m, false, p->bsc, p->bsb, &p->bsr))
      return tfx_node_error(g, nn, "scale shapes must be per tensor, per row of a or per column of b");
    if (numel_v(p->ys) != 1 || (p->yz && numel_v(p->yz) != 1))
      return tfx_node_error(g, nn, "y_scale and y_zero_point must be scalars");
    p->yt = p->yz ? p->yz->dtype : at;
    if (p->yt != TFX_U8 && p->yt != TFX_I8) return tfx_node_error(g, nn, "output dtype %s is not supported", dname(p->yt));
  }
  return TFX_OK;
}

static TfxStatus mm_infer(TfxGraph *g, TfxNode *n) {
  MMP p;
  if (mm_params(g, n, &p)) return TFX_ERR;
  tfx_node_set_out(g, n, 0, p.yt, p.m.yr, p.m.yd);
  return TFX_OK;
}

static TfxStatus mm_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  MMP p;
  if (mm_params(g, n, &p)) return TFX_ERR;
  const MMShape *m = &p.m;
  const TfxTensor *A = in[0], *B = in[p.qlinear ? 3 : 1], *AZ = in_k(n, in, 2), *BZ = in_k(n, in, p.qlinear ? 5 : 3);
  int64_t nb = tfx_numel(m->br, m->bd), idx[TFX_MAX_RANK];
  double mul = 0, yzp = 0;
  if (p.qlinear && in_k(n, in, 7)) yzp = (double)tfx_tensor_get_i64(in[7], 0);
  for (int64_t t = 0; t < nb; t++) {
    tfx_unravel(t, m->br, m->bd, idx);
    int64_t ao = 0, bo = 0, yo = 0, azo = 0, bzo = 0, aso = 0, bso = 0;
    for (int k = 0; k < m->br; k++) {
      ao += idx[k] * m->as[k], bo += idx[k] * m->bs[k], yo += idx[k] * m->ys[k];
      azo += idx[k] * p.azb[k], bzo += idx[k] * p.bzb[k], aso += idx[k] * p.asb[k], bso += idx[k] * p.bsb[k];
    }
    for (int64_t r = 0; r < m->M; r++)
      for (int64_t c = 0; c < m->N; c++) {
        int64_t za = AZ ? tfx_tensor_get_i64(AZ, azo + r * p.azr) : 0, zb = BZ ? tfx_tensor_get_i64(BZ, bzo + c * p.bzr) : 0;
        uint32_t acc = 0; /* int32 accumulation wraps, as the spec allows */
        for (int64_t k = 0; k < m->K; k++)
          acc += (uint32_t)((tfx_tensor_get_i64(A, ao + r * m->K + k) - za) * (tfx_tensor_get_i64(B, bo + k * m->N + c) - zb));
        if (!p.qlinear) {
          tfx_tensor_set_i64(&out[0], yo + r * m->N + c, (int32_t)acc);
          continue;
        }
        /* a_scale * b_scale / y_scale in the scales' dtype, then the product in double */
        mul = rnd(p.st, rnd(p.st, tfx_tensor_get_f64(in[1], aso + r * p.asr) * tfx_tensor_get_f64(in[4], bso + c * p.bsr)) /
                            tfx_tensor_get_f64(in[6], 0));
        double y = nearbyint((double)(int32_t)acc * mul + yzp);
        double lo = p.yt == TFX_U8 ? 0 : -128, hi = p.yt == TFX_U8 ? 255 : 127;
        if (!(y >= lo)) y = lo;
        if (y > hi) y = hi;
        tfx_tensor_set_i64(&out[0], yo + r * m->N + c, (int64_t)y);
      }
  }
  return TFX_OK;
}

static TfxStatus mm_emit(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  MMP p;
  if (mm_params(g, n, &p)) return TFX_ERR;
  const MMShape *m = &p.m;
  const int ib = p.qlinear ? 3 : 1, iaz = 2, ibz = p.qlinear ? 5 : 3;
  const char *A = tfx_c_var(e, n->inputs[0]), *B = tfx_c_var(e, n->inputs[ib]), *Y = tfx_c_var(e, n->outputs[0]);
  const char *AZ = p.az ? tfx_c_var(e, n->inputs[iaz]) : NULL, *BZ = p.bz ? tfx_c_var(e, n->inputs[ibz]) : NULL;
  char ix[512];
  tfx_c_line(e, "{ /* %s %s: M=%lld K=%lld N=%lld */", n->op_type, n->name, LL(m->M), LL(m->K), LL(m->N));
  tfx_c_indent(e, 1);
  if (tfx_numel(m->yr, m->yd) == 0) goto done;
  tfx_c_loops_begin(e, m->br, m->bd);
  tfx_c_line(e, "const int64_t ao = %s;", tfx_c_index(ix, m->br, m->as, 0));
  tfx_c_line(e, "const int64_t bo = %s;", tfx_c_index(ix, m->br, m->bs, 0));
  tfx_c_line(e, "const int64_t yo = %s;", tfx_c_index(ix, m->br, m->ys, 0));
  if (AZ) tfx_c_line(e, "const int64_t azo = %s;", tfx_c_index(ix, m->br, p.azb, 0));
  if (BZ) tfx_c_line(e, "const int64_t bzo = %s;", tfx_c_index(ix, m->br, p.bzb, 0));
  if (p.qlinear) {
    tfx_c_line(e, "const int64_t aso = %s;", tfx_c_index(ix, m->br, p.asb, 0));
    tfx_c_line(e, "const int64_t bso = %s;", tfx_c_index(ix, m->br, p.bsb, 0));
  }
  tfx_c_line(e, "for (int64_t r = 0; r < %lld; r++) {", LL(m->M));
  tfx_c_indent(e, 1);
  if (AZ) tfx_c_line(e, "const int32_t za = (int32_t)%s[azo + r * %lld];", AZ, LL(p.azr));
  else tfx_c_line(e, "const int32_t za = 0;");
  tfx_c_line(e, "for (int64_t c = 0; c < %lld; c++) {", LL(m->N));
  tfx_c_indent(e, 1);
  if (BZ) tfx_c_line(e, "const int32_t zb = (int32_t)%s[bzo + c * %lld];", BZ, LL(p.bzr));
  else tfx_c_line(e, "const int32_t zb = 0;");
  tfx_c_line(e, "uint32_t acc = 0;");
  tfx_c_line(e, "for (int64_t k = 0; k < %lld; k++)", LL(m->K));
  tfx_c_line(e, "  acc += (uint32_t)(((int32_t)%s[ao + r * %lld + k] - za) * ((int32_t)%s[bo + k * %lld + c] - zb));", A,
             LL(m->K), B, LL(m->N));
  if (!p.qlinear) {
    tfx_c_line(e, "%s[yo + r * %lld + c] = (int32_t)acc;", Y, LL(m->N));
  } else {
    /* a_scale * b_scale / y_scale in the scales' dtype, then the product in double */
    const char *St = tfx_c_calctype(p.st);
    tfx_c_line(e, "const %s sa = %s;", St, c_ld(e, g, p.st, fmt(g, "%s[aso + r * %lld]", tfx_c_var(e, n->inputs[1]), LL(p.asr))));
    tfx_c_line(e, "const %s sb = %s;", St, c_ld(e, g, p.st, fmt(g, "%s[bso + c * %lld]", tfx_c_var(e, n->inputs[4]), LL(p.bsr))));
    tfx_c_line(e, "const %s sy = %s;", St, c_ld(e, g, p.st, fmt(g, "%s[0]", tfx_c_var(e, n->inputs[6]))));
    tfx_c_line(e, "const double mul = (double)%s;", c_rnd(e, g, p.st, fmt(g, "%s / sy", c_rnd(e, g, p.st, "sa * sb"))));
    if (p.yz) tfx_c_line(e, "double y = rint((double)(int32_t)acc * mul + (double)%s[0]);", tfx_c_var(e, n->inputs[7]));
    else tfx_c_line(e, "double y = rint((double)(int32_t)acc * mul);");
    int lo = p.yt == TFX_U8 ? 0 : -128, hi = p.yt == TFX_U8 ? 255 : 127;
    tfx_c_line(e, "if (!(y >= %d)) y = %d;", lo, lo);
    tfx_c_line(e, "if (y > %d) y = %d;", hi, hi);
    tfx_c_line(e, "%s[yo + r * %lld + c] = (%s)y;", Y, LL(m->N), ct(p.yt));
  }
  tfx_c_close(e, 2);
  tfx_c_loops_end(e, m->br);
done:
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  return TFX_OK;
}

/* ======================================================================== */
/* dispatch                                                                  */
/* ======================================================================== */

TfxStatus tfx_attention_infer(TfxGraph *g, TfxNode *n) {
  switch (n->op) {
  case TFX_OP_Attention: return attn_infer(g, n);
  case TFX_OP_RotaryEmbedding: return rope_infer(g, n);
  case TFX_OP_SwiGLU: return swiglu_infer(g, n);
  case TFX_OP_QuantizeLinear: return quant_infer(g, n);
  case TFX_OP_DequantizeLinear: return dequant_infer(g, n);
  case TFX_OP_DynamicQuantizeLinear: return dynq_infer(g, n);
  case TFX_OP_MatMulInteger:
  case TFX_OP_QLinearMatMul: return mm_infer(g, n);
  default: assert(!"not an attention-family op"); return TFX_ERR;
  }
}

TfxStatus tfx_attention_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  switch (n->op) {
  case TFX_OP_Attention: return attn_eval(g, n, in, out);
  case TFX_OP_RotaryEmbedding: return rope_eval(g, n, in, out);
  case TFX_OP_SwiGLU: return swiglu_eval(g, n, in, out);
  case TFX_OP_QuantizeLinear: return quant_eval(g, n, in, out);
  case TFX_OP_DequantizeLinear: return dequant_eval(g, n, in, out);
  case TFX_OP_DynamicQuantizeLinear: return dynq_eval(g, n, in, out);
  case TFX_OP_MatMulInteger:
  case TFX_OP_QLinearMatMul: return mm_eval(g, n, in, out);
  default: assert(!"not an attention-family op"); return TFX_ERR;
  }
}

TfxStatus tfx_attention_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  switch (n->op) {
  case TFX_OP_Attention: return attn_emit(e, g, n);
  case TFX_OP_RotaryEmbedding: return rope_emit(e, g, n);
  case TFX_OP_SwiGLU: return swiglu_emit(e, g, n);
  case TFX_OP_QuantizeLinear: return quant_emit(e, g, n);
  case TFX_OP_DequantizeLinear: return dequant_emit(e, g, n);
  case TFX_OP_DynamicQuantizeLinear: return dynq_emit(e, g, n);
  case TFX_OP_MatMulInteger:
  case TFX_OP_QLinearMatMul: return mm_emit(e, g, n);
  default: assert(!"not an attention-family op"); return TFX_ERR;
  }
}
