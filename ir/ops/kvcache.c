/* kvcache.c — KvAttention: causal attention whose keys and values live in the
 * KV cache of the generated code's context (see passes/kv_cache.c).
 *
 *   Y[1,Hq,S,Dv] = KvAttention(Q[1,Hq,S,Dk], K[1,Hkv,S,Dk], V[1,Hkv,S,Dv])
 *     attrs: past P, max_seq N, kv_offset (floats), window (0 = none), scale
 *
 * Query row i sits at absolute position P+i.  The call first stores K/V row i
 * into its layer's cache block at tfx_kv + kv_offset (K block [Hkv][N][Dk], then
 * V block [Hkv][N][Dv]) at row P+i, then attends over cache rows
 * lo..P+i (lo = max(0, P+i-window+1) with a window, else 0); query head h reads
 * KV head h / (Hq/Hkv).  The emitted code's structure never depends on S or P:
 * they appear only as decimal integer literals, which the --max driver lifts
 * into run-time expressions (codegen/lift.h). */
#include <math.h>
#include <stdlib.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

#define LL(x) ((long long)(x))

typedef struct {
  int64_t Hq, Hkv, S, Dk, Dv; /* shapes */
  int64_t P, N, off, window;  /* attributes */
  float scale;
} KvP;

/* Read and check the node's shapes and attributes (infer and emit share it). */
static TfxStatus kv_params(TfxGraph *g, const TfxNode *n, KvP *p) {
  TfxNode *nn = (TfxNode *)n;
  if (n->n_inputs != 3 || n->n_outputs != 1)
    return tfx_node_error(g, nn, "KvAttention takes 3 inputs (Q, K, V) and 1 output, got %d and %d",
                          n->n_inputs, n->n_outputs);
  static const char *const nm[3] = {"Q", "K", "V"};
  const TfxValue *v[3];
  for (int k = 0; k < 3; k++) {
    v[k] = tfx_node_in(g, n, k);
    if (!v[k]) return tfx_node_error(g, nn, "KvAttention input %s is missing", nm[k]);
    if (v[k]->dtype != TFX_F32)
      return tfx_node_error(g, nn, "KvAttention input %s must be float32, got %s", nm[k],
                            tfx_dtype_name(v[k]->dtype));
    if (v[k]->rank != 4)
      return tfx_node_error(g, nn, "KvAttention input %s must have rank 4 [1, heads, seq, dim], got rank %d",
                            nm[k], v[k]->rank);
    if (v[k]->dims[0] != 1)
      return tfx_node_error(g, nn, "KvAttention input %s must have batch 1, got %lld", nm[k],
                            LL(v[k]->dims[0]));
  }
  p->Hq = v[0]->dims[1], p->S = v[0]->dims[2], p->Dk = v[0]->dims[3];
  p->Hkv = v[1]->dims[1], p->Dv = v[2]->dims[3];
  if (p->Hq < 1 || p->Hkv < 1 || p->Dk < 1 || p->Dv < 1)
    return tfx_node_error(g, nn, "KvAttention needs at least one head and head size >= 1 (Hq=%lld Hkv=%lld Dk=%lld Dv=%lld)",
                          LL(p->Hq), LL(p->Hkv), LL(p->Dk), LL(p->Dv));
  if (p->Hq % p->Hkv != 0)
    return tfx_node_error(g, nn, "KvAttention query heads (%lld) must be a multiple of KV heads (%lld)",
                          LL(p->Hq), LL(p->Hkv));
  if (v[1]->dims[2] != p->S || v[2]->dims[2] != p->S)
    return tfx_node_error(g, nn, "KvAttention Q, K and V must have the same sequence length, got %lld, %lld, %lld",
                          LL(p->S), LL(v[1]->dims[2]), LL(v[2]->dims[2]));
  if (v[1]->dims[3] != p->Dk)
    return tfx_node_error(g, nn, "KvAttention K head size %lld differs from Q's %lld", LL(v[1]->dims[3]), LL(p->Dk));
  if (v[2]->dims[1] != p->Hkv)
    return tfx_node_error(g, nn, "KvAttention V has %lld heads, K has %lld", LL(v[2]->dims[1]), LL(p->Hkv));

  p->P = tfx_attr_int(n, "past", 0);
  p->N = tfx_attr_int(n, "max_seq", -1);
  p->off = tfx_attr_int(n, "kv_offset", 0);
  p->window = tfx_attr_int(n, "window", 0);
  p->scale = tfx_attr_float(n, "scale", (float)(1.0 / sqrt((double)p->Dk)));
  if (p->P < 0) return tfx_node_error(g, nn, "KvAttention attribute past must be >= 0, got %lld", LL(p->P));
  if (p->N < 1)
    return tfx_node_error(g, nn, "KvAttention attribute max_seq must be given and >= 1, got %lld", LL(p->N));
  if (p->P + p->S > p->N)
    return tfx_node_error(g, nn, "KvAttention past (%lld) + sequence length (%lld) exceeds max_seq (%lld)",
                          LL(p->P), LL(p->S), LL(p->N));
  if (p->off < 0) return tfx_node_error(g, nn, "KvAttention attribute kv_offset must be >= 0, got %lld", LL(p->off));
  if (p->window < 0)
    return tfx_node_error(g, nn, "KvAttention attribute window must be >= 0 (0 = none), got %lld", LL(p->window));
  if (!isfinite(p->scale)) return tfx_node_error(g, nn, "KvAttention attribute scale must be finite");
  /* the cache block must be addressable: N * Hkv * (Dk + Dv) floats past kv_offset */
  if (p->N > TFX_MAX_TENSOR_BYTES / 4 / p->Hkv / (p->Dk + p->Dv) ||
      p->off > TFX_MAX_TENSOR_BYTES / 4 - p->N * p->Hkv * (p->Dk + p->Dv))
    return tfx_node_error(g, nn, "KvAttention cache block is too large");
  return TFX_OK;
}

TfxStatus tfx_kvcache_infer(TfxGraph *g, TfxNode *n) {
  KvP p;
  if (kv_params(g, n, &p)) return TFX_ERR;
  const int64_t dims[4] = {1, p.Hq, p.S, p.Dv};
  tfx_node_set_out(g, n, 0, TFX_F32, 4, dims);
  return TFX_OK;
}

/* Reference: with no cache, only the first call (past 0) is defined, and it is
 * plain causal (windowed) attention over the S given rows, in double. */
TfxStatus tfx_kvcache_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  KvP p;
  if (kv_params(g, n, &p)) return TFX_ERR;
  if (p.P > 0) return tfx_node_error(g, (TfxNode *)n, "KvAttention with past > 0 needs the generated code's cache");
  const TfxTensor *Q = in[0], *K = in[1], *V = in[2];
  TfxTensor *Y = &out[0];
  const int64_t R = p.Hq / p.Hkv, S = p.S;
  double *sc = malloc(sizeof(double) * (size_t)(S > 0 ? S : 1));
  if (!sc) return tfx_node_error(g, (TfxNode *)n, "out of memory");
  for (int64_t h = 0; h < p.Hq; h++) {
    const int64_t kh = h / R;
    for (int64_t i = 0; i < S; i++) {
      const int64_t lo = p.window > 0 && i - p.window + 1 > 0 ? i - p.window + 1 : 0;
      double mx = -INFINITY, sum = 0;
      for (int64_t j = lo; j <= i; j++) {
        double s = 0;
        for (int64_t d = 0; d < p.Dk; d++)
          s += tfx_tensor_get_f64(Q, (h * S + i) * p.Dk + d) * tfx_tensor_get_f64(K, (kh * S + j) * p.Dk + d);
        sc[j] = s * (double)p.scale;
        if (sc[j] > mx) mx = sc[j];
      }
      for (int64_t j = lo; j <= i; j++) sum += sc[j] = exp(sc[j] - mx);
      for (int64_t d = 0; d < p.Dv; d++) {
        double y = 0;
        for (int64_t j = lo; j <= i; j++) y += sc[j] / sum * tfx_tensor_get_f64(V, (kh * S + j) * p.Dv + d);
        tfx_tensor_set_f64(Y, (h * S + i) * p.Dv + d, y);
      }
    }
  }
  free(sc);
  return TFX_OK;
}

/* Generated code: store the new rows, then for each KV head and query row run an
 * online (one-pass) softmax for the R query heads of the group together, so each
 * cache row is read once per group.  Every literal that depends on S or P is
 * printed as a plain decimal integer (S, P, S*Dk, S*Dv); no branch is decided
 * here from their values. */
TfxStatus tfx_kvcache_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  KvP p;
  if (kv_params(g, n, &p)) return TFX_ERR;
  const char *Q = tfx_c_var(e, n->inputs[0]), *K = tfx_c_var(e, n->inputs[1]), *V = tfx_c_var(e, n->inputs[2]);
  const char *Y = tfx_c_var(e, n->outputs[0]);
  const int64_t R = p.Hq / p.Hkv, N = p.N, Dk = p.Dk, Dv = p.Dv;
  char sbuf[64];

  /* S and P are deliberately kept out of the comment: the lifter would see them. */
  tfx_c_line(e, "{ /* KvAttention %s: Hq=%lld Hkv=%lld Dk=%lld Dv=%lld max_seq=%lld window=%lld */", n->name,
             LL(p.Hq), LL(p.Hkv), LL(Dk), LL(Dv), LL(N), LL(p.window));
  tfx_c_indent(e, 1);
  tfx_c_line(e, "float *kc = tfx_kv + %lld; /* K cache [%lld][%lld][%lld] */", LL(p.off), LL(p.Hkv), LL(N), LL(Dk));
  tfx_c_line(e, "float *vc = tfx_kv + %lld; /* V cache [%lld][%lld][%lld] */", LL(p.off + p.Hkv * N * Dk), LL(p.Hkv),
             LL(N), LL(Dv));
  /* append this call's rows at positions P .. P+S-1 */
  tfx_c_line(e, "for (int64_t kh = 0; kh < %lld; kh++)", LL(p.Hkv));
  tfx_c_line(e, "  for (int64_t i = 0; i < %lld; i++) {", LL(p.S));
  tfx_c_line(e, "    memcpy(kc + (kh * %lld + %lld + i) * %lld, %s + kh * %lld + i * %lld, sizeof(float) * %lld);", LL(N),
             LL(p.P), LL(Dk), K, LL(p.S * Dk), LL(Dk), LL(Dk));
  tfx_c_line(e, "    memcpy(vc + (kh * %lld + %lld + i) * %lld, %s + kh * %lld + i * %lld, sizeof(float) * %lld);", LL(N),
             LL(p.P), LL(Dv), V, LL(p.S * Dv), LL(Dv), LL(Dv));
  tfx_c_line(e, "  }");
  /* attend */
  tfx_c_line(e, "for (int64_t kh = 0; kh < %lld; kh++) {", LL(p.Hkv));
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const float *kb = kc + kh * %lld, *vb = vc + kh * %lld;", LL(N * Dk), LL(N * Dv));
  tfx_c_line(e, "for (int64_t i = 0; i < %lld; i++) {", LL(p.S));
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const int64_t pos = %lld + i;", LL(p.P));
  if (p.window > 0) {
    tfx_c_line(e, "int64_t lo = pos - %lld;", LL(p.window - 1));
    tfx_c_line(e, "if (lo < 0) lo = 0;");
  } else {
    tfx_c_line(e, "const int64_t lo = 0;");
  }
  tfx_c_line(e, "float mx[%lld], sum[%lld], acc[%lld];", LL(R), LL(R), LL(R * Dv));
  tfx_c_line(e, "for (int64_t r = 0; r < %lld; r++) mx[r] = -INFINITY, sum[r] = 0;", LL(R));
  tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) acc[d] = 0;", LL(R * Dv));
  tfx_c_line(e, "for (int64_t j = lo; j <= pos; j++) {");
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const float *kr = kb + j * %lld, *vr = vb + j * %lld;", LL(Dk), LL(Dv));
  tfx_c_line(e, "for (int64_t r = 0; r < %lld; r++) {", LL(R));
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const float *qr = %s + (kh * %lld + r) * %lld + i * %lld;", Q, LL(R), LL(p.S * Dk), LL(Dk));
  tfx_c_line(e, "float *ar = acc + r * %lld;", LL(Dv));
  tfx_c_line(e, "float s = 0;");
  tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) s += qr[d] * kr[d];", LL(Dk));
  tfx_c_line(e, "s *= %s;", tfx_c_float(sbuf, p.scale));
  tfx_c_line(e, "if (s > mx[r]) {");
  tfx_c_line(e, "  const float c = expf(mx[r] - s);");
  tfx_c_line(e, "  sum[r] *= c;");
  tfx_c_line(e, "  for (int64_t d = 0; d < %lld; d++) ar[d] *= c;", LL(Dv));
  tfx_c_line(e, "  mx[r] = s;");
  tfx_c_line(e, "}");
  tfx_c_line(e, "const float pj = expf(s - mx[r]);");
  tfx_c_line(e, "sum[r] += pj;");
  tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) ar[d] += pj * vr[d];", LL(Dv));
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  tfx_c_line(e, "for (int64_t r = 0; r < %lld; r++) {", LL(R));
  tfx_c_line(e, "  float *yr = %s + (kh * %lld + r) * %lld + i * %lld;", Y, LL(R), LL(p.S * Dv), LL(Dv));
  tfx_c_line(e, "  const float inv = sum[r] > 0 ? 1.0f / sum[r] : 0.0f;");
  tfx_c_line(e, "  for (int64_t d = 0; d < %lld; d++) yr[d] = acc[r * %lld + d] * inv;", LL(Dv), LL(Dv));
  tfx_c_line(e, "}");
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  tfx_c_indent(e, -1);
  tfx_c_line(e, "}");
  return TFX_OK;
}
