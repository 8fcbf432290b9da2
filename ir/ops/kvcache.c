/* kvcache.c — KvAttention: causal attention whose keys and values live in the
 * KV cache of the generated code's context (see passes/kv_cache.c).
 *
 *   Y[1,Hq,S,Dv] = KvAttention(Q[1,Hq,S,Dk], K[1,Hkv,S,Dk], V[1,Hkv,S,Dv])
 *     attrs: past P, max_seq N, kv_offset, window (0 = none), scale,
 *            kv_int8 (0 = float32 cache, 1 = int8 cache)
 *
 * Query row i sits at absolute position P+i.  The call first stores K/V row i
 * into its layer's cache block at row P+i, then attends over cache rows
 * lo..P+i (lo = max(0, P+i-window+1) with a window, else 0); query head h reads
 * KV head h / (Hq/Hkv).  The layer's block starts at kv_offset from tfx_kv:
 *   kv_int8 = 0: kv_offset counts FLOATS; K float [Hkv][N][Dk], then
 *                V float [Hkv][N][Dv].
 *   kv_int8 = 1: kv_offset counts BYTES and is a multiple of 16; four arrays,
 *                each starting on a 16-byte boundary (sizes rounded up to 16):
 *                K int8 [Hkv][N][Dk], K scales float [Hkv][N],
 *                V int8 [Hkv][N][Dv], V scales float [Hkv][N]
 *                (kv_int8_block_bytes; passes/kv_cache.c repeats the formula).
 *                A row x of D values (one token, one head) is stored as
 *                scale = max|x| / 127 and q = round(x / scale) clamped to
 *                [-127, 127] (scale 0: zeros), all in float; it reads back as
 *                q * scale.  The reference evaluator applies the same round
 *                trip, so it and the generated code differ only in summation
 *                order.
 * The emitted code's structure never depends on S or P: they appear only as
 * decimal integer literals, which the --max driver lifts into run-time
 * expressions (codegen/lift.h). */
#include <math.h>
#include <stdlib.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

#define LL(x) ((long long)(x))

typedef struct {
  int64_t Hq, Hkv, S, Dk, Dv; /* shapes */
  int64_t P, N, off, window;  /* attributes (off: floats, or bytes with int8) */
  float scale;
  bool int8;
} KvP;

static int64_t up16(int64_t x) { return (x + 15) / 16 * 16; }

/* Byte offsets of the four arrays of an int8 layer block, and its size. */
typedef struct {
  int64_t k, ks, v, vs, bytes;
} KvLayout;

static KvLayout kv_int8_layout(int64_t Hkv, int64_t N, int64_t Dk, int64_t Dv) {
  KvLayout l;
  l.k = 0;
  l.ks = l.k + up16(Hkv * N * Dk);
  l.v = l.ks + up16(Hkv * N * 4);
  l.vs = l.v + up16(Hkv * N * Dv);
  l.bytes = l.vs + up16(Hkv * N * 4);
  return l;
}

/* The int8 round trip of one row of D floats (the generated code does the same
 * float operations in the same order, see tfx_kv_put8 in codegen/c/kernels_attn.c). */
static void quantise_row(const float *x, int64_t D, int8_t *q, float *scale) {
  float amax = 0;
  for (int64_t d = 0; d < D; d++) {
    const float a = fabsf(x[d]);
    if (a > amax) amax = a;
  }
  const float sc = amax / 127.0f;
  *scale = sc;
  for (int64_t d = 0; d < D; d++) {
    float t = sc > 0 ? roundf(x[d] / sc) : 0.0f;
    t = t > 127.0f ? 127.0f : t < -127.0f ? -127.0f : t;
    q[d] = (int8_t)(t == t ? t : 0.0f);
  }
}

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
  const int64_t i8 = tfx_attr_int(n, "kv_int8", 0);
  if (i8 != 0 && i8 != 1)
    return tfx_node_error(g, nn, "KvAttention attribute kv_int8 must be 0 or 1, got %lld", LL(i8));
  p->int8 = i8 == 1;
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
  /* the cache block must be addressable: N * Hkv * (Dk + Dv) floats past kv_offset,
   * or with int8 the block's bytes past kv_offset bytes */
  if (!p->int8 && (p->N > TFX_MAX_TENSOR_BYTES / 4 / p->Hkv / (p->Dk + p->Dv) ||
                   p->off > TFX_MAX_TENSOR_BYTES / 4 - p->N * p->Hkv * (p->Dk + p->Dv)))
    return tfx_node_error(g, nn, "KvAttention cache block is too large");
  if (p->int8 && (p->N > TFX_MAX_TENSOR_BYTES / 2 / p->Hkv / (p->Dk + p->Dv + 8) ||
                  p->off > TFX_MAX_TENSOR_BYTES - kv_int8_layout(p->Hkv, p->N, p->Dk, p->Dv).bytes))
    return tfx_node_error(g, nn, "KvAttention cache block is too large");
  if (p->int8 && p->off % 16 != 0)
    return tfx_node_error(g, nn, "KvAttention attribute kv_offset (bytes with kv_int8) must be a multiple of 16, got %lld",
                          LL(p->off));
  return TFX_OK;
}

TfxStatus tfx_kvcache_infer(TfxGraph *g, TfxNode *n) {
  KvP p;
  if (kv_params(g, n, &p)) return TFX_ERR;
  const int64_t dims[4] = {1, p.Hq, p.S, p.Dv};
  tfx_node_set_out(g, n, 0, TFX_F32, 4, dims);
  return TFX_OK;
}

/* K or V [Hkv][S][D] as floats; with int8, every row after the cache's round
 * trip (what attention reads back).  malloc'd, NULL when out of memory. */
static float *cache_view(const TfxTensor *x, int64_t rows, int64_t D, bool int8) {
  float *f = malloc(sizeof(float) * (size_t)(rows * D > 0 ? rows * D : 1));
  int8_t *q = malloc((size_t)(D > 0 ? D : 1));
  if (!f || !q) {
    free(f), free(q);
    return NULL;
  }
  for (int64_t i = 0; i < rows * D; i++) f[i] = (float)tfx_tensor_get_f64(x, i);
  for (int64_t r = 0; int8 && r < rows; r++) {
    float sc;
    quantise_row(f + r * D, D, q, &sc);
    for (int64_t d = 0; d < D; d++) f[r * D + d] = (float)q[d] * sc;
  }
  free(q);
  return f;
}

/* Reference: with no cache, only the first call (past 0) is defined, and it is
 * plain causal (windowed) attention over the S given rows, in double, over the
 * values the cache would hold (float32, or int8 rows read back). */
TfxStatus tfx_kvcache_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out) {
  KvP p;
  if (kv_params(g, n, &p)) return TFX_ERR;
  if (p.P > 0) return tfx_node_error(g, (TfxNode *)n, "KvAttention with past > 0 needs the generated code's cache");
  const TfxTensor *Q = in[0];
  TfxTensor *Y = &out[0];
  const int64_t R = p.Hq / p.Hkv, S = p.S;
  double *sc = malloc(sizeof(double) * (size_t)(S > 0 ? S : 1));
  float *K = cache_view(in[1], p.Hkv * S, p.Dk, p.int8), *V = cache_view(in[2], p.Hkv * S, p.Dv, p.int8);
  if (!sc || !K || !V) {
    free(sc), free(K), free(V);
    return tfx_node_error(g, (TfxNode *)n, "out of memory");
  }
  for (int64_t h = 0; h < p.Hq; h++) {
    const int64_t kh = h / R;
    for (int64_t i = 0; i < S; i++) {
      const int64_t lo = p.window > 0 && i - p.window + 1 > 0 ? i - p.window + 1 : 0;
      double mx = -INFINITY, sum = 0;
      for (int64_t j = lo; j <= i; j++) {
        double s = 0;
        for (int64_t d = 0; d < p.Dk; d++)
          s += tfx_tensor_get_f64(Q, (h * S + i) * p.Dk + d) * (double)K[(kh * S + j) * p.Dk + d];
        sc[j] = s * (double)p.scale;
        if (sc[j] > mx) mx = sc[j];
      }
      for (int64_t j = lo; j <= i; j++) sum += sc[j] = exp(sc[j] - mx);
      for (int64_t d = 0; d < p.Dv; d++) {
        double y = 0;
        for (int64_t j = lo; j <= i; j++) y += sc[j] / sum * (double)V[(kh * S + j) * p.Dv + d];
        tfx_tensor_set_f64(Y, (h * S + i) * p.Dv + d, y);
      }
    }
  }
  free(sc), free(K), free(V);
  return TFX_OK;
}

/* Both caches go through tfx_kv_attn (codegen/c/kernels_attn.c): several rows
 * (prefill) take the tiled kernel tfx_attn, causal from position P; one row
 * (decode) has 8-wide dot products and axpys, the query heads of a group sharing
 * each cache row, the keys split across jobs.  An int8 cache's rows are read back
 * to float inside the kernels (a tile or one row at a time).  The choice is made
 * at run time from S, so the call reads the same at every length.  Its scratch
 * bounds: */
enum { KV_RD = 4096, KV_PART = 16384 }; /* TFX_KV_RD; floats of split partials */

static void emit_fused(TfxCEmit *e, const KvP *p, const char *Q, const char *Y) {
  /* splits: as many as fit the partials buffer, at most 8 */
  int64_t split = KV_PART / (p->Hq * (p->Dv + 2));
  split = split > 8 ? 8 : split < 1 ? 1 : split;
  char sbuf[64];
  tfx_c_need(e, TFX_HELP_ATTN);
  tfx_c_line(e, "float part[%lld];", LL(split * p->Hq * (p->Dv + 2)));
  tfx_c_line(e, "tfx_kv_args a = {%s, %s, %s, part, %lld, %lld, %lld, %lld, %lld, %lld, %lld, %lld, 1, %s, %s};", Q,
             p->int8 ? "NULL, NULL" : "kc, vc", Y, LL(p->Hq), LL(p->Hkv), LL(p->S), LL(p->N), LL(p->P), LL(p->Dk),
             LL(p->Dv), LL(p->window), tfx_c_float(sbuf, p->scale),
             p->int8 ? "kc, vc, ks, vs" : "NULL, NULL, NULL, NULL");
  tfx_c_line(e, "tfx_kv_attn(tfx_pp, &a, %lld);", LL(split));
}

/* Generated code: store the new rows (int8: tfx_kv_put8, the reference's round
 * trip), then attend through tfx_kv_attn when its scratch bounds allow, else
 * through loops printed here: for each KV head and query row an online (one-pass)
 * softmax for the R query heads of the group together, so each cache row is read
 * once per group, an int8 row's scale applied once per dot product / per weight.
 * Every literal that depends on S or P is printed as a plain decimal integer (S,
 * P, S*Dk, S*Dv); no branch is decided here from their values. */
TfxStatus tfx_kvcache_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n) {
  KvP p;
  if (kv_params(g, n, &p)) return TFX_ERR;
  const char *Q = tfx_c_var(e, n->inputs[0]), *K = tfx_c_var(e, n->inputs[1]), *V = tfx_c_var(e, n->inputs[2]);
  const char *Y = tfx_c_var(e, n->outputs[0]);
  const int64_t R = p.Hq / p.Hkv, N = p.N, Dk = p.Dk, Dv = p.Dv;
  const char *ct = p.int8 ? "int8_t" : "float";
  char sbuf[64];

  /* S and P are deliberately kept out of the comment: the lifter would see them. */
  tfx_c_line(e, "{ /* KvAttention %s: Hq=%lld Hkv=%lld Dk=%lld Dv=%lld max_seq=%lld window=%lld%s */", n->name,
             LL(p.Hq), LL(p.Hkv), LL(Dk), LL(Dv), LL(N), LL(p.window), p.int8 ? " int8 cache" : "");
  tfx_c_indent(e, 1);
  if (p.int8) {
    const KvLayout l = kv_int8_layout(p.Hkv, N, Dk, Dv);
    tfx_c_line(e, "int8_t *kc = (int8_t *)(void *)((unsigned char *)tfx_kv + %lld); /* K cache [%lld][%lld][%lld] */",
               LL(p.off + l.k), LL(p.Hkv), LL(N), LL(Dk));
    tfx_c_line(e, "float *ks = (float *)(void *)((unsigned char *)tfx_kv + %lld); /* K scales [%lld][%lld] */",
               LL(p.off + l.ks), LL(p.Hkv), LL(N));
    tfx_c_line(e, "int8_t *vc = (int8_t *)(void *)((unsigned char *)tfx_kv + %lld); /* V cache [%lld][%lld][%lld] */",
               LL(p.off + l.v), LL(p.Hkv), LL(N), LL(Dv));
    tfx_c_line(e, "float *vs = (float *)(void *)((unsigned char *)tfx_kv + %lld); /* V scales [%lld][%lld] */",
               LL(p.off + l.vs), LL(p.Hkv), LL(N));
  } else {
    tfx_c_line(e, "float *kc = tfx_kv + %lld; /* K cache [%lld][%lld][%lld] */", LL(p.off), LL(p.Hkv), LL(N), LL(Dk));
    tfx_c_line(e, "float *vc = tfx_kv + %lld; /* V cache [%lld][%lld][%lld] */", LL(p.off + p.Hkv * N * Dk),
               LL(p.Hkv), LL(N), LL(Dv));
  }
  /* append this call's rows at positions P .. P+S-1 */
  tfx_c_line(e, "for (int64_t kh = 0; kh < %lld; kh++)", LL(p.Hkv));
  tfx_c_line(e, "  for (int64_t i = 0; i < %lld; i++) {", LL(p.S));
  if (p.int8) {
    tfx_c_need(e, TFX_HELP_ATTN);
    tfx_c_line(e, "    const int64_t row = kh * %lld + %lld + i;", LL(N), LL(p.P));
    tfx_c_line(e, "    tfx_kv_put8(%s + kh * %lld + i * %lld, %lld, kc + row * %lld, ks + row);", K, LL(p.S * Dk), LL(Dk),
               LL(Dk), LL(Dk));
    tfx_c_line(e, "    tfx_kv_put8(%s + kh * %lld + i * %lld, %lld, vc + row * %lld, vs + row);", V, LL(p.S * Dv), LL(Dv),
               LL(Dv), LL(Dv));
  } else {
    tfx_c_line(e, "    memcpy(kc + (kh * %lld + %lld + i) * %lld, %s + kh * %lld + i * %lld, sizeof(float) * %lld);",
               LL(N), LL(p.P), LL(Dk), K, LL(p.S * Dk), LL(Dk), LL(Dk));
    tfx_c_line(e, "    memcpy(vc + (kh * %lld + %lld + i) * %lld, %s + kh * %lld + i * %lld, sizeof(float) * %lld);",
               LL(N), LL(p.P), LL(Dv), V, LL(p.S * Dv), LL(Dv), LL(Dv));
  }
  tfx_c_line(e, "  }");
  if (R <= 64 && R * Dk <= KV_RD && R * Dv <= KV_RD) {
    emit_fused(e, &p, Q, Y);
    tfx_c_close(e, 1);
    return TFX_OK;
  }
  /* attend */
  tfx_c_line(e, "for (int64_t kh = 0; kh < %lld; kh++) {", LL(p.Hkv));
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const %s *kb = kc + kh * %lld, *vb = vc + kh * %lld;", ct, LL(N * Dk), LL(N * Dv));
  if (p.int8) tfx_c_line(e, "const float *ksb = ks + kh * %lld, *vsb = vs + kh * %lld;", LL(N), LL(N));
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
  tfx_c_line(e, "const %s *kr = kb + j * %lld, *vr = vb + j * %lld;", ct, LL(Dk), LL(Dv));
  if (p.int8) tfx_c_line(e, "const float kq = ksb[j] * %s, vq = vsb[j];", tfx_c_float(sbuf, p.scale));
  tfx_c_line(e, "for (int64_t r = 0; r < %lld; r++) {", LL(R));
  tfx_c_indent(e, 1);
  tfx_c_line(e, "const float *qr = %s + (kh * %lld + r) * %lld + i * %lld;", Q, LL(R), LL(p.S * Dk), LL(Dk));
  tfx_c_line(e, "float *ar = acc + r * %lld;", LL(Dv));
  tfx_c_line(e, "float s = 0;");
  /* eight partial sums: the lanes of a vector, and no chain of Dk dependent adds */
  const int64_t D8 = Dk / 8 * 8;
  const char *cv = p.int8 ? "(float)" : "";
  if (D8) {
    tfx_c_line(e, "float s8[8] = {0, 0, 0, 0, 0, 0, 0, 0};");
    tfx_c_line(e, "for (int64_t d = 0; d < %lld; d += 8)", LL(D8));
    tfx_c_line(e, "  for (int64_t u = 0; u < 8; u++) s8[u] += qr[d + u] * %skr[d + u];", cv);
    tfx_c_line(e, "s = ((s8[0] + s8[4]) + (s8[1] + s8[5])) + ((s8[2] + s8[6]) + (s8[3] + s8[7]));");
  }
  if (D8 < Dk) tfx_c_line(e, "for (int64_t d = %lld; d < %lld; d++) s += qr[d] * %skr[d];", LL(D8), LL(Dk), cv);
  if (p.int8) tfx_c_line(e, "s *= kq;");
  else tfx_c_line(e, "s *= %s;", tfx_c_float(sbuf, p.scale));
  tfx_c_line(e, "if (s > mx[r]) {");
  tfx_c_line(e, "  const float c = expf(mx[r] - s);");
  tfx_c_line(e, "  sum[r] *= c;");
  tfx_c_line(e, "  for (int64_t d = 0; d < %lld; d++) ar[d] *= c;", LL(Dv));
  tfx_c_line(e, "  mx[r] = s;");
  tfx_c_line(e, "}");
  tfx_c_line(e, "const float pj = expf(s - mx[r]);");
  tfx_c_line(e, "sum[r] += pj;");
  if (p.int8) {
    tfx_c_line(e, "const float pv = pj * vq;");
    tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) ar[d] += pv * (float)vr[d];", LL(Dv));
  } else {
    tfx_c_line(e, "for (int64_t d = 0; d < %lld; d++) ar[d] += pj * vr[d];", LL(Dv));
  }
  tfx_c_close(e, 2);
  tfx_c_line(e, "for (int64_t r = 0; r < %lld; r++) {", LL(R));
  tfx_c_line(e, "  float *yr = %s + (kh * %lld + r) * %lld + i * %lld;", Y, LL(R), LL(p.S * Dv), LL(Dv));
  tfx_c_line(e, "  const float inv = sum[r] > 0 ? 1.0f / sum[r] : 0.0f;");
  tfx_c_line(e, "  for (int64_t d = 0; d < %lld; d++) yr[d] = acc[r * %lld + d] * inv;", LL(Dv), LL(Dv));
  tfx_c_line(e, "}");
  tfx_c_close(e, 3);
  return TFX_OK;
}
