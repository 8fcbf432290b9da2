/* kernels_attn.c — the fused attention kernels printed into generated files (kernels.h).
 *
 * tfx_attn (prefill, float32): a block of BQ query rows against tiles of BK keys,
 * flash-style.  The block's Q rows are copied once (scaled for qscale); per tile
 * Kᵀ is packed by an 8 x 8 transpose into kt, and both products (Q·Kᵀ and P·V)
 * run a micro-kernel keeping a 6 x 16 block in registers, so [B,S,H,D] and
 * [B,H,S,D] layouts need no copy of K or V and grouped-query heads are found by
 * index.  Then scale, additive or bool mask, causal and window limits (a row's
 * visible keys are a range), an online softmax (running max and sum per row, the
 * vector exp on the visible keys), and each row divided by its sum at the end (a
 * division, not a reciprocal product: the model tests' tolerance on near-zero
 * logits notices that rounding).  Key tiles wholly outside the causal / window
 * band are never computed.  Jobs are (batch, head, query block), handed to
 * tfx_parallel; no job's arithmetic depends on the split, so results are the same
 * bits for any thread count.
 *
 * tfx_kv_attn (KvAttention over the cache): several rows (prefill) go to
 * tfx_attn, causal from the cache position P; a single-row step (decode) runs,
 * per KV head, the R query heads of its group together so each cache row is read
 * once, with 8-wide dot products, P.V summed in registers over a tile of keys
 * (tfx_kv_pv), each key's V row and the next tile's K row prefetched, the keys
 * split across jobs and the partial (max, sum, accumulator) triples merged
 * afterwards.  An int8 cache
 * (tfx_kv_put8 stores a row) is read back to float a tile (prefill: tiles of
 * TFX_ATTN_BK8 keys, K as it is packed, V into the packing buffer) or a row
 * (decode) at a time, never as a whole.
 *
 * Scratch is fixed-size stack arrays (no array is sized by a sequence length), and
 * everything that depends on a length is a run-time argument, so the calling code
 * has the same text at every length. */
#include "codegen/c/kernels.h"

/* 8-wide primitives: AVX2+FMA intrinsics, else plain loops written with eight
 * partial sums so no result depends on a chain of n dependent adds. */
static void print_vec(FILE *f) {
  fputs("#ifdef TFX_SIMD\n"
        "static float tfx_attn_hsum(__m256 v) {\n"
        "  __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));\n"
        "  h = _mm_add_ps(h, _mm_movehl_ps(h, h));\n"
        "  return _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps(h, h, 1)));\n"
        "}\n"
        "#endif\n", f);
  /* dot product */
  fputs("static TFX_MAYBE_UNUSED float tfx_attn_dot(const float *a, const float *b, int64_t n) {\n"
        "  const int64_t n8 = n / 8 * 8;\n  int64_t d;\n  float s;\n"
        "#ifdef TFX_SIMD\n"
        "  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();\n"
        "  for (d = 0; d < n / 16 * 16; d += 16) {\n"
        "    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);\n"
        "    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), s1);\n"
        "  }\n"
        "  if (d < n8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);\n"
        "  s = tfx_attn_hsum(_mm256_add_ps(s0, s1));\n"
        "#else\n"
        "  float p[8] = {0, 0, 0, 0, 0, 0, 0, 0};\n  int u;\n"
        "  for (d = 0; d < n8; d += 8)\n    for (u = 0; u < 8; u++) p[u] += a[d + u] * b[d + u];\n"
        "  s = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));\n"
        "#endif\n"
        "  for (d = n8; d < n; d++) s += a[d] * b[d];\n  return s;\n}\n", f);
  /* out[u] = a_u . b for the four rows a_u = a + u * lda: b is loaded once for all four */
  fputs("static TFX_MAYBE_UNUSED void tfx_attn_dot4(const float *a, int64_t lda, const float *b, int64_t n, float *out) {\n"
        "#ifdef TFX_SIMD\n"
        "  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t;\n  __m128 h;\n"
        "  const int64_t n8 = n / 8 * 8;\n  int64_t d;\n"
        "  for (d = 0; d < n8; d += 8) {\n"
        "    const __m256 x = _mm256_loadu_ps(b + d);\n"
        "    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), x, s0);\n"
        "    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + lda + d), x, s1);\n"
        "    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 2 * lda + d), x, s2);\n"
        "    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + 3 * lda + d), x, s3);\n"
        "  }\n"
        "  t = _mm256_hadd_ps(_mm256_hadd_ps(s0, s1), _mm256_hadd_ps(s2, s3));\n"
        "  h = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));\n"
        "  _mm_storeu_ps(out, h);\n"
        "  for (d = n8; d < n; d++)\n"
        "    out[0] += a[d] * b[d], out[1] += a[lda + d] * b[d], out[2] += a[2 * lda + d] * b[d], out[3] += a[3 * lda + d] * b[d];\n"
        "#else\n"
        "  int u;\n"
        "  for (u = 0; u < 4; u++) out[u] = tfx_attn_dot(a + u * lda, b, n);\n"
        "#endif\n"
        "}\n", f);
  /* out[c * lo + d] = q[c * lq + d] * sc[c] for c < n, d < D: rows of an int8 cache
   * read back as floats, each one product rounded once (the reference's round trip) */
  fputs("static TFX_MAYBE_UNUSED void tfx_attn_deq(const int8_t *q, int64_t lq, const float *sc, int64_t n, int64_t D,\n"
        "    float *out, int64_t lo) {\n"
        "  int64_t c, d, d8 = 0;\n"
        "  for (c = 0; c < n; c++) {\n"
        "    const int8_t *qr = q + c * lq;\n    float *o = out + c * lo;\n"
        "#ifdef TFX_SIMD\n"
        "    const __m256 s = _mm256_set1_ps(sc[c]);\n"
        "    for (d8 = D / 8 * 8, d = 0; d < d8; d += 8) {\n"
        "      const __m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(qr + d));\n"
        "      _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), s));\n"
        "    }\n"
        "#endif\n"
        "    for (d = d8; d < D; d++) o[d] = (float)qr[d] * sc[c];\n"
        "  }\n"
        "}\n", f);
  /* y = y * c + a * x (x may be NULL: y = y * c).  The bounds are n8 and n, not
   * d + 8 <= n: gcc 12 warns (-Waggressive-loop-optimizations) on that tail form
   * once n is a known constant. */
  fputs("static TFX_MAYBE_UNUSED void tfx_attn_axpby(float *restrict y, float c, float a, const float *restrict x,\n"
        "    int64_t n) {\n"
        "  const int64_t n8 = n / 8 * 8;\n  int64_t d;\n"
        "#ifdef TFX_SIMD\n"
        "  const __m256 vc = _mm256_set1_ps(c), va = _mm256_set1_ps(a);\n"
        "  for (d = 0; d < n8; d += 8) {\n"
        "    __m256 t = _mm256_mul_ps(vc, _mm256_loadu_ps(y + d));\n"
        "    if (x) t = _mm256_fmadd_ps(va, _mm256_loadu_ps(x + d), t);\n"
        "    _mm256_storeu_ps(y + d, t);\n"
        "  }\n"
        "#else\n"
        "  for (d = 0; d < n8; d++) y[d] = x ? y[d] * c + a * x[d] : y[d] * c;\n"
        "#endif\n"
        "  for (d = n8; d < n; d++) y[d] = x ? y[d] * c + a * x[d] : y[d] * c;\n"
        "}\n", f);
  /* x = x / c */
  fputs("static TFX_MAYBE_UNUSED void tfx_attn_div(float *x, float c, int64_t n) {\n"
        "  int64_t d = 0;\n"
        "#ifdef TFX_SIMD\n"
        "  const __m256 vc = _mm256_set1_ps(c);\n"
        "  for (; d < n / 8 * 8; d += 8) _mm256_storeu_ps(x + d, _mm256_div_ps(_mm256_loadu_ps(x + d), vc));\n"
        "#endif\n"
        "  for (; d < n; d++) x[d] /= c;\n"
        "}\n", f);
  /* largest element (-inf for none) */
  fputs("static TFX_MAYBE_UNUSED float tfx_attn_max(const float *x, int64_t n) {\n"
        "  int64_t d, d0 = 0;\n  float m = -INFINITY;\n"
        "#ifdef TFX_SIMD\n"
        "  const int64_t n8 = n / 8 * 8;\n"
        "  if (n8 > 0) {\n"
        "    __m256 v = _mm256_loadu_ps(x);\n    __m128 h;\n"
        "    for (d = 8; d < n8; d += 8) v = _mm256_max_ps(v, _mm256_loadu_ps(x + d));\n"
        "    h = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));\n"
        "    h = _mm_max_ps(h, _mm_movehl_ps(h, h));\n"
        "    m = _mm_cvtss_f32(_mm_max_ss(h, _mm_shuffle_ps(h, h, 1)));\n    d0 = n8;\n"
        "  }\n"
        "#endif\n"
        "  for (d = d0; d < n; d++) m = x[d] > m ? x[d] : m;\n  return m;\n}\n", f);
  /* x = exp(x - m), returns the sum */
  fputs("static TFX_MAYBE_UNUSED float tfx_attn_expsum(float *x, float m, int64_t n) {\n"
        "  const int64_t n8 = n / 8 * 8;\n  int64_t d;\n  int u;\n"
        "#ifdef TFX_SIMD\n"
        "  {\n    __m256 s = _mm256_setzero_ps();\n    float r;\n"
        "    for (d = 0; d < n8; d += 8) {\n"
        "      float t[8];\n"
        "      __m256 e;\n"
        "      for (u = 0; u < 8; u++) t[u] = tfx_expf(x[d + u] - m);\n"
        "      e = _mm256_loadu_ps(t);\n"
        "      _mm256_storeu_ps(x + d, e);\n"
        "      s = _mm256_add_ps(s, e);\n"
        "    }\n"
        "    for (r = tfx_attn_hsum(s), d = n8; d < n; d++) r += x[d] = tfx_expf(x[d] - m);\n    return r;\n  }\n"
        "#else\n"
        "  for (d = 0; d < n8; d += 8) {\n"
        "    float t[8];\n"
        "    for (u = 0; u < 8; u++) t[u] = tfx_expf(x[d + u] - m);\n"
        "    for (u = 0; u < 8; u++) x[d + u] = t[u];\n"
        "  }\n"
        "  for (d = n8; d < n; d++) x[d] = tfx_expf(x[d] - m);\n"
        "  {\n    float p[8] = {0, 0, 0, 0, 0, 0, 0, 0}, r;\n"
        "    for (d = 0; d < n8; d += 8)\n      for (u = 0; u < 8; u++) p[u] += x[d + u];\n"
        "    r = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));\n"
        "    for (d = n8; d < n; d++) r += x[d];\n    return r;\n  }\n"
        "#endif\n"
        "}\n", f);
}

/* The micro-kernels of both products of a tile, for the six rows u of a block:
 *   c_u[0..w) = (add ? c_u[0..w) : 0) + sum over t < K of a(u, t) * b[t * ldb + 0..w)
 * with a(u, t) = a[u * ua + t * ta] and c_u = c + u * ldc, each element one chain
 * of multiply-adds in t order.  With SIMD the 6 x w block stays in registers
 * (w = 16: twelve accumulators, two loads and six broadcasts per step), and ua, ta
 * are literals so that one pointer walks a.  Callers pad their buffers to whole
 * blocks of six rows, so no row count reaches the loop. */
static void print_mk(FILE *f, const char *name, int w, const char *ua, const char *ta) {
  const int nv = w / 8;
  int u, x;
  fprintf(f,
          "static TFX_INLINE void tfx_attn_%s%d(const float *a, const float *b, int64_t ldb, int64_t K, float *c,\n"
          "    int64_t ldc, int add) {\n#ifdef TFX_SIMD\n  int64_t t;\n  __m256 x, b0",
          name, w);
  for (x = 1; x < nv; x++) fprintf(f, ", b%d", x);
  fputs(";\n", f);
  for (u = 0; u < 6; u++)
    for (x = 0; x < nv; x++)
      fprintf(f, "  __m256 s%d%d = add ? _mm256_loadu_ps(c + %d * ldc + %d) : _mm256_setzero_ps();\n", u, x, u, 8 * x);
  fprintf(f, "  for (t = 0; t < K; t++, a += %s, b += ldb) {\n", ta);
  for (x = 0; x < nv; x++) fprintf(f, "    b%d = _mm256_loadu_ps(b + %d);\n", x, 8 * x);
  for (u = 0; u < 6; u++) {
    fprintf(f, "    x = _mm256_broadcast_ss(a + %d * %s);\n", u, ua);
    for (x = 0; x < nv; x++) fprintf(f, "    s%d%d = _mm256_fmadd_ps(x, b%d, s%d%d);\n", u, x, x, u, x);
  }
  fputs("  }\n", f);
  for (u = 0; u < 6; u++)
    for (x = 0; x < nv; x++) fprintf(f, "  _mm256_storeu_ps(c + %d * ldc + %d, s%d%d);\n", u, 8 * x, u, x);
  fprintf(f, "#else\n  tfx_attn_mkn(a, %s, %s, b, ldb, K, c, ldc, add, %d);\n#endif\n}\n", ua, ta, w);
}

/* The products of a tile (see print_mk), the packing of Q and Kᵀ. */
static void print_products(FILE *f) {
  fputs("/* the micro-kernels' product for any width n, in plain C (portable path, narrow tails) */\n"
        "static TFX_MAYBE_UNUSED void tfx_attn_mkn(const float *a, int64_t ua, int64_t ta, const float *b,\n"
        "    int64_t ldb, int64_t K, float *c, int64_t ldc, int add, int64_t n) {\n"
        "  int64_t u, t, j;\n"
        "  for (u = 0; u < 6; u++) {\n"
        "    float *cu = c + u * ldc;\n"
        "    if (!add)\n      for (j = 0; j < n; j++) cu[j] = 0;\n"
        "    for (t = 0; t < K; t++) {\n"
        "      const float x = a[u * ua + t * ta], *bt = b + t * ldb;\n"
        "      for (j = 0; j < n; j++) cu[j] += x * bt[j];\n"
        "    }\n"
        "  }\n"
        "}\n", f);
  /* Q·Kᵀ: a is rows of Q (TFX_ATTN_DKMAX apart), b is kt */
  print_mk(f, "qk", 16, "TFX_ATTN_DKMAX", "1");
  /* P·V: a is rows of P (TFX_ATTN_BK apart), b rows of V */
  print_mk(f, "pv", 16, "TFX_ATTN_BK", "1");
  print_mk(f, "pv", 8, "TFX_ATTN_BK", "1");
  /* o[d * TFX_ATTN_BK + c] = k[c * lk + d] for an 8 x 8 block */
  fputs("#ifdef TFX_SIMD\n"
        "static TFX_INLINE void tfx_attn_t8(const float *k, int64_t lk, float *o) {\n"
        "  __m256 r0 = _mm256_loadu_ps(k), r1 = _mm256_loadu_ps(k + lk), r2 = _mm256_loadu_ps(k + 2 * lk);\n"
        "  __m256 r3 = _mm256_loadu_ps(k + 3 * lk), r4 = _mm256_loadu_ps(k + 4 * lk), r5 = _mm256_loadu_ps(k + 5 * lk);\n"
        "  __m256 r6 = _mm256_loadu_ps(k + 6 * lk), r7 = _mm256_loadu_ps(k + 7 * lk);\n"
        "  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);\n"
        "  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);\n"
        "  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);\n"
        "  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);\n"
        "  r0 = _mm256_shuffle_ps(t0, t2, 0x44), r1 = _mm256_shuffle_ps(t0, t2, 0xEE);\n"
        "  r2 = _mm256_shuffle_ps(t1, t3, 0x44), r3 = _mm256_shuffle_ps(t1, t3, 0xEE);\n"
        "  r4 = _mm256_shuffle_ps(t4, t6, 0x44), r5 = _mm256_shuffle_ps(t4, t6, 0xEE);\n"
        "  r6 = _mm256_shuffle_ps(t5, t7, 0x44), r7 = _mm256_shuffle_ps(t5, t7, 0xEE);\n"
        "  _mm256_storeu_ps(o, _mm256_permute2f128_ps(r0, r4, 0x20));\n"
        "  _mm256_storeu_ps(o + TFX_ATTN_BK, _mm256_permute2f128_ps(r1, r5, 0x20));\n"
        "  _mm256_storeu_ps(o + 2 * TFX_ATTN_BK, _mm256_permute2f128_ps(r2, r6, 0x20));\n"
        "  _mm256_storeu_ps(o + 3 * TFX_ATTN_BK, _mm256_permute2f128_ps(r3, r7, 0x20));\n"
        "  _mm256_storeu_ps(o + 4 * TFX_ATTN_BK, _mm256_permute2f128_ps(r0, r4, 0x31));\n"
        "  _mm256_storeu_ps(o + 5 * TFX_ATTN_BK, _mm256_permute2f128_ps(r1, r5, 0x31));\n"
        "  _mm256_storeu_ps(o + 6 * TFX_ATTN_BK, _mm256_permute2f128_ps(r2, r6, 0x31));\n"
        "  _mm256_storeu_ps(o + 7 * TFX_ATTN_BK, _mm256_permute2f128_ps(r3, r7, 0x31));\n"
        "}\n"
        "#endif\n", f);
  /* kt [nd][TFX_ATTN_BK] = the first nd columns of the nk rows of k, transposed;
   * columns nk .. up to the next multiple of 16 are zero */
  fputs("static void tfx_attn_packk(const float *k, int64_t lk, int64_t nk, int64_t nd, float *kt) {\n"
        "  const int64_t nk16 = (nk + 15) / 16 * 16;\n"
        "  int64_t c, d, c8 = 0, d8 = 0;\n"
        "#ifdef TFX_SIMD\n"
        "  c8 = nk / 8 * 8, d8 = nd / 8 * 8;\n"
        "  for (c = 0; c < c8; c += 8)\n"
        "    for (d = 0; d < d8; d += 8) tfx_attn_t8(k + c * lk + d, lk, kt + d * TFX_ATTN_BK + c);\n"
        "#endif\n"
        "  for (d = 0; d < nd; d++)\n"
        "    for (c = d < d8 ? c8 : 0; c < nk16; c++) kt[d * TFX_ATTN_BK + c] = c < nk ? k[c * lk + d] : 0.0f;\n"
        "}\n", f);
  /* qp: the nq rows of q (row stride lq) TFX_ATTN_DKMAX apart, each times scale
   * when qscale (rounded, as a Mul node would); rows up to a multiple of six zero */
  fputs("static void tfx_attn_packq(const float *q, int64_t lq, int64_t nq, int64_t Dk, int qscale, float scale,\n"
        "    float *qp) {\n"
        "  int64_t r;\n"
        "  for (r = 0; r < nq; r++) {\n"
        "    memcpy(qp + r * TFX_ATTN_DKMAX, q + r * lq, sizeof(float) * (size_t)Dk);\n"
        "    if (qscale) tfx_attn_axpby(qp + r * TFX_ATTN_DKMAX, scale, 0.0f, NULL, Dk);\n"
        "  }\n"
        "  for (; r % 6; r++) memset(qp + r * TFX_ATTN_DKMAX, 0, sizeof(float) * (size_t)Dk);\n"
        "}\n", f);
  /* scores s[r][c] (row stride TFX_ATTN_BK) = q_r . k_c for r < nq rounded up to
   * six, c < nk rounded up to 16 (qp as tfx_attn_packq leaves it): Kᵀ goes through
   * kt in slices of TFX_ATTN_KD, each slice adding to the last.  With k8 (k NULL)
   * the keys are int8 rows with scales ksc, nk <= TFX_ATTN_BK8: each slice is read
   * back into kd first */
  fputs("static void tfx_attn_qk(const float *qp, int64_t nq, const float *k, const int8_t *k8, const float *ksc,\n"
        "    int64_t lk, int64_t nk, int64_t Dk, float *kt, float *s) {\n"
        "  const int64_t nk16 = (nk + 15) / 16 * 16;\n"
        "  int64_t d0 = 0, r, c;\n"
        "  float kd[TFX_ATTN_BK8 * TFX_ATTN_KD];\n"
        "  do {\n"
        "    const int64_t nd = Dk - d0 < TFX_ATTN_KD ? Dk - d0 : TFX_ATTN_KD;\n"
        "    if (k8) {\n"
        "      tfx_attn_deq(k8 + d0, lk, ksc, nk, nd, kd, TFX_ATTN_KD);\n"
        "      tfx_attn_packk(kd, TFX_ATTN_KD, nk, nd, kt);\n"
        "    } else {\n"
        "      tfx_attn_packk(k + d0, lk, nk, nd, kt);\n"
        "    }\n"
        "    for (r = 0; r < nq; r += 6)\n"
        "      for (c = 0; c < nk16; c += 16)\n"
        "        tfx_attn_qk16(qp + r * TFX_ATTN_DKMAX + d0, kt + c, TFX_ATTN_BK, nd, s + r * TFX_ATTN_BK + c, TFX_ATTN_BK, d0 > 0);\n"
        "    d0 += TFX_ATTN_KD;\n"
        "  } while (d0 < Dk);\n"
        "}\n", f);
  /* acc[r][0..Dv) += sum over c < nk of p[r][c] v_c (p row stride TFX_ATTN_BK, acc
   * Dv) for r < nq rounded up to six */
  fputs("static void tfx_attn_pv(const float *p, int64_t nq, int64_t nk, const float *v, int64_t lv, int64_t Dv,\n"
        "    float *acc) {\n"
        "  int64_t r, d;\n"
        "  for (r = 0; r < nq; r += 6) {\n"
        "    const float *pr = p + r * TFX_ATTN_BK;\n"
        "    float *ar = acc + r * Dv;\n"
        "    for (d = 0; d + 16 <= Dv; d += 16) tfx_attn_pv16(pr, v + d, lv, nk, ar + d, Dv, 1);\n"
        "    if (d + 8 <= Dv) tfx_attn_pv8(pr, v + d, lv, nk, ar + d, Dv, 1), d += 8;\n"
        "    if (d < Dv) tfx_attn_mkn(pr, TFX_ATTN_BK, 1, v + d, lv, nk, ar + d, Dv, 1, Dv - d);\n"
        "  }\n"
        "}\n", f);
}

/* tfx_attn: arguments, one tile row's masking and softmax step, the job loop.  BQ is
 * a multiple of six: a block's buffers hold its rows rounded up to the micro-kernels'. */
static void print_prefill(FILE *f) {
  fputs("#define TFX_ATTN_BQ 48\n#define TFX_ATTN_BK 128\n#define TFX_ATTN_DMAX 128\n#define TFX_ATTN_DKMAX 256\n#define TFX_ATTN_KD 64\n"
        "/* int8 K/V: tiles of BK8 keys, so a tile's V rows (BK8 x DMAX) fit in kt (KD x BK) */\n"
        "#define TFX_ATTN_BK8 64\n"
        "/* q/k/v/y: element (b, head, row, d) at b * s[0] + head * s[1] + row * s[2] + d.\n"
        " * mask (float, added) or bmask (bool, 0 = -inf): element (b, h, i, j) at\n"
        " * b * ms[0] + h * ms[1] + i * ms[2] + j for j < Tm; keys j >= Tm are masked.\n"
        " * Query row i sits at key position p = i + off.  causal: key j visible iff\n"
        " * j <= p; left / right (-1: none): p - j <= left and j - p <= right.  qscale: Q\n"
        " * is multiplied by scale (each product rounded to float, as a Mul node would)\n"
        " * and the scores are not scaled again.  Dv <= TFX_ATTN_DMAX, Dk <= TFX_ATTN_DKMAX.\n"
        " * k8, v8 (k, v NULL): an int8 cache instead, element q at the same strides and\n"
        " * row (b, head, j) standing for q * ksc (vsc) [b * ss[0] + head * ss[1] + j]. */\n"
        "typedef struct {\n"
        "  const float *q, *k, *v, *mask;\n  const uint8_t *bmask;\n  float *y;\n"
        "  int64_t B, Hq, Hkv, S, T, Dk, Dv, Tm, left, right, off;\n"
        "  int64_t qs[3], ks[3], vs[3], ys[3], ms[3];\n"
        "  int causal, qscale;\n  float scale;\n"
        "  const int8_t *k8, *v8;\n  const float *ksc, *vsc;\n  int64_t ss[2];\n"
        "} tfx_attn_args;\n", f);
  print_products(f);
  /* Row s (keys j0 .. j0+nk-1 of query i) of a tile: the visible keys are the
   * range [lo, hi) less bool-masked ones; they are scaled and masked, then
   * exponentiated against the running max, the others become 0.  mx, sum and
   * the row's accumulator (Dv) follow the online softmax. */
  fputs("static void tfx_attn_row(const tfx_attn_args *a, int64_t b, int64_t h, int64_t i, int64_t j0, int64_t nk,\n"
        "    float *s, float *mx, float *sum, float *acc) {\n"
        "  const int64_t p = i + a->off, mo = b * a->ms[0] + h * a->ms[1] + i * a->ms[2] + j0;\n"
        "  int64_t lo = 0, hi = nk, c;\n"
        "  float m, e;\n"
        "  if ((a->mask || a->bmask) && a->Tm - j0 < hi) hi = a->Tm - j0;\n"
        "  if (a->causal && p + 1 - j0 < hi) hi = p + 1 - j0;\n"
        "  if (a->right >= 0 && p + a->right + 1 - j0 < hi) hi = p + a->right + 1 - j0;\n"
        "  if (a->left >= 0 && p - a->left - j0 > lo) lo = p - a->left - j0;\n"
        "  if (lo > nk) lo = nk;\n"
        "  if (hi < lo) hi = lo;\n"
        "  if (hi > lo && (a->mask || !a->qscale))\n"
        "    tfx_attn_axpby(s + lo, a->qscale ? 1.0f : a->scale, 1.0f, a->mask ? a->mask + mo + lo : NULL, hi - lo);\n"
        "  if (a->bmask)\n    for (c = lo; c < hi; c++) if (!a->bmask[mo + c]) s[c] = -INFINITY;\n"
        "  m = tfx_attn_max(s + lo, hi - lo);\n"
        "  m = m > *mx ? m : *mx;\n"
        "  for (c = 0; c < lo; c++) s[c] = 0;\n"
        "  for (c = hi; c < nk; c++) s[c] = 0;\n"
        "  if (m == -INFINITY) {\n"
        "    for (c = lo; c < hi; c++) s[c] = 0;\n"
        "    return;\n"
        "  }\n"
        "  if (*mx == -INFINITY) { /* nothing seen yet: no rescaling */\n"
        "    *sum = tfx_attn_expsum(s + lo, m, hi - lo);\n"
        "  } else {\n"
        "    e = tfx_expf(*mx - m);\n"
        "    *sum = *sum * e + tfx_attn_expsum(s + lo, m, hi - lo);\n"
        "    if (e != 1.0f) tfx_attn_axpby(acc, e, 0.0f, NULL, a->Dv);\n"
        "  }\n"
        "  *mx = m;\n"
        "}\n", f);
  fputs("static void tfx_attn_job(void *arg, int64_t lo, int64_t hi) {\n"
        "  const tfx_attn_args *a = (const tfx_attn_args *)arg;\n"
        "  float kt[TFX_ATTN_KD * TFX_ATTN_BK], sc[TFX_ATTN_BQ * TFX_ATTN_BK], acc[TFX_ATTN_BQ * TFX_ATTN_DMAX];\n"
        "  float mx[TFX_ATTN_BQ], sum[TFX_ATTN_BQ], qp[TFX_ATTN_BQ * TFX_ATTN_DKMAX];\n"
        "  const int64_t nqb = (a->S + TFX_ATTN_BQ - 1) / TFX_ATTN_BQ, R = a->Hq / a->Hkv, Dv = a->Dv;\n"
        "  int64_t job, r, j0;\n"
        "  for (job = lo; job < hi; job++) {\n"
        "    const int64_t b = job / (a->Hq * nqb), h = job / nqb % a->Hq, i0 = job % nqb * TFX_ATTN_BQ, kh = h / R;\n"
        "    const int64_t nq = a->S - i0 < TFX_ATTN_BQ ? a->S - i0 : TFX_ATTN_BQ;\n"
        "    const int64_t p0 = i0 + a->off, pl = p0 + nq - 1; /* positions of the first and last row */\n"
        "    const float *q = a->q + b * a->qs[0] + h * a->qs[1] + i0 * a->qs[2];\n"
        "    const int64_t ko = b * a->ks[0] + kh * a->ks[1], vo = b * a->vs[0] + kh * a->vs[1], so = b * a->ss[0] + kh * a->ss[1];\n"
        "    const float *k = a->k8 ? NULL : a->k + ko, *v = a->k8 ? NULL : a->v + vo;\n"
        "    const int8_t *k8 = a->k8 ? a->k8 + ko : NULL, *v8 = a->k8 ? a->v8 + vo : NULL;\n"
        "    const float *ksc = a->k8 ? a->ksc + so : NULL, *vsc = a->k8 ? a->vsc + so : NULL;\n"
        "    const int64_t bk = a->k8 ? TFX_ATTN_BK8 : TFX_ATTN_BK;\n"
        "    int64_t jlo = 0, jhi = a->T;\n"
        "    if ((a->mask || a->bmask) && a->Tm < jhi) jhi = a->Tm;\n"
        "    if (a->causal && pl + 1 < jhi) jhi = pl + 1;\n"
        "    if (a->right >= 0 && pl + a->right + 1 < jhi) jhi = pl + a->right + 1;\n"
        "    if (a->left >= 0 && p0 - a->left > 0) jlo = p0 - a->left;\n"
        "    for (r = 0; r < nq; r++) mx[r] = -INFINITY, sum[r] = 0;\n"
        "    tfx_attn_packq(q, a->qs[2], nq, a->Dk, a->qscale, a->scale, qp);\n"
        "    memset(acc, 0, sizeof(float) * (size_t)((nq + 5) / 6 * 6 * Dv));\n"
        "    for (j0 = jlo; j0 < jhi; j0 += bk) {\n"
        "      const int64_t nk = jhi - j0 < bk ? jhi - j0 : bk;\n"
        "      tfx_attn_qk(qp, nq, k ? k + j0 * a->ks[2] : NULL, k8 ? k8 + j0 * a->ks[2] : NULL, ksc ? ksc + j0 : NULL,\n"
        "                  a->ks[2], nk, a->Dk, kt, sc);\n"
        "      for (r = 0; r < nq; r++)\n"
        "        tfx_attn_row(a, b, h, i0 + r, j0, nk, sc + r * TFX_ATTN_BK, mx + r, sum + r, acc + r * Dv);\n"
        "      if (v8) { /* the tile's V rows read back into kt, free again once the scores are made */\n"
        "        tfx_attn_deq(v8 + j0 * a->vs[2], a->vs[2], vsc + j0, nk, Dv, kt, Dv);\n"
        "        tfx_attn_pv(sc, nq, nk, kt, Dv, Dv, acc);\n"
        "      } else {\n"
        "        tfx_attn_pv(sc, nq, nk, v + j0 * a->vs[2], a->vs[2], Dv, acc);\n"
        "      }\n"
        "    }\n"
        "    for (r = 0; r < nq; r++) {\n"
        "      float *y = a->y + b * a->ys[0] + h * a->ys[1] + (i0 + r) * a->ys[2];\n"
        "      memcpy(y, acc + r * Dv, sizeof(float) * (size_t)Dv);\n"
        "      if (sum[r] > 0) tfx_attn_div(y, sum[r], Dv);\n"
        "      else memset(y, 0, sizeof(float) * (size_t)Dv);\n"
        "    }\n"
        "  }\n"
        "}\n"
        "static TFX_MAYBE_UNUSED void tfx_attn(tfx_pool *pp, const tfx_attn_args *a) {\n"
        "  const int64_t nqb = (a->S + TFX_ATTN_BQ - 1) / TFX_ATTN_BQ;\n"
        "  tfx_parallel(pp, a->B * a->Hq * nqb, tfx_attn_job, (void *)a);\n"
        "}\n", f);
}

/* tfx_kv_attn: one job = (KV head, query row, key split). */
static void print_kv(FILE *f) {
  fputs("#define TFX_KV_BK 64\n#define TFX_KV_RD 4096\n#define TFX_KV_SPLIT_MIN 256\n"
        "/* q [Hq][S][Dk], y [Hq][S][Dv]; kc [Hkv][N][Dk], vc [Hkv][N][Dv] hold rows 0..P+S-1.\n"
        " * Query row i (position P+i) sees keys max(0, P+i-window+1) .. P+i (window 0: from 0).\n"
        " * R = Hq/Hkv; R*Dk, R*Dv <= TFX_KV_RD, R <= 64.  part: nsplit * Hq * (Dv + 2) floats\n"
        " * for a one-row step split across nsplit jobs.  kq, vq (kc, vc NULL): an int8\n"
        " * cache, same layout, row (head, j) standing for q * ksc (vsc) [head * N + j]. */\n"
        "typedef struct {\n"
        "  const float *q, *kc, *vc;\n  float *y, *part;\n"
        "  int64_t Hq, Hkv, S, N, P, Dk, Dv, window, nsplit;\n  float scale;\n"
        "  const int8_t *kq, *vq;\n  const float *ksc, *vsc;\n"
        "} tfx_kv_args;\n", f);
  /* One row x of D floats into the int8 cache: scale = max|x| / 127 (NaNs
   * ignored), q = round(x / scale) (halves away from zero) clamped to [-127, 127],
   * NaN or scale 0 giving 0.  These are the float operations of the reference
   * (ir/ops/kvcache.c), so both store the same bytes; the vector form rounds as
   * roundf does: truncate, then step away from zero when the part cut off is at
   * least one half. */
  fputs("static TFX_MAYBE_UNUSED void tfx_kv_put8(const float *x, int64_t D, int8_t *q, float *scale) {\n"
        "  int64_t d, d0 = 0;\n  float amax = 0, sc;\n"
        "#ifdef TFX_SIMD\n"
        "  const __m256 sgn = _mm256_set1_ps(-0.0f);\n"
        "  if (D >= 8) {\n"
        "    __m256 m = _mm256_setzero_ps();\n    __m128 h;\n"
        "    for (d0 = D / 8 * 8, d = 0; d < d0; d += 8) m = _mm256_max_ps(_mm256_andnot_ps(sgn, _mm256_loadu_ps(x + d)), m);\n"
        "    h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));\n"
        "    h = _mm_max_ps(h, _mm_movehl_ps(h, h));\n"
        "    amax = _mm_cvtss_f32(_mm_max_ss(h, _mm_shuffle_ps(h, h, 1)));\n"
        "  }\n"
        "#endif\n"
        "  for (d = d0; d < D; d++) {\n"
        "    const float a = fabsf(x[d]);\n"
        "    if (a > amax) amax = a;\n"
        "  }\n"
        "  sc = amax / 127.0f;\n"
        "  *scale = sc;\n"
        "  d0 = 0;\n"
        "#ifdef TFX_SIMD\n"
        "  if (sc > 0) {\n"
        "    const __m256 vs = _mm256_set1_ps(sc), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);\n"
        "    const __m256 hi = _mm256_set1_ps(127.0f), lo = _mm256_set1_ps(-127.0f);\n"
        "    for (d0 = D / 8 * 8, d = 0; d < d0; d += 8) {\n"
        "      const __m256 y = _mm256_div_ps(_mm256_loadu_ps(x + d), vs);\n"
        "      __m256 t = _mm256_round_ps(y, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);\n"
        "      const __m256 up = _mm256_cmp_ps(_mm256_andnot_ps(sgn, _mm256_sub_ps(y, t)), half, _CMP_GE_OQ);\n"
        "      __m256i i;\n      __m128i w;\n"
        "      t = _mm256_add_ps(t, _mm256_and_ps(up, _mm256_or_ps(one, _mm256_and_ps(sgn, y))));\n"
        "      t = _mm256_and_ps(t, _mm256_cmp_ps(t, t, _CMP_ORD_Q)); /* NaN: 0 */\n"
        "      i = _mm256_cvtps_epi32(_mm256_min_ps(_mm256_max_ps(t, lo), hi));\n"
        "      w = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extractf128_si256(i, 1));\n"
        "      _mm_storel_epi64((__m128i *)(void *)(q + d), _mm_packs_epi16(w, w));\n"
        "    }\n"
        "  }\n"
        "#endif\n"
        "  for (d = d0; d < D; d++) {\n"
        "    float t = sc > 0 ? roundf(x[d] / sc) : 0.0f;\n"
        "    t = t > 127.0f ? 127.0f : t < -127.0f ? -127.0f : t;\n"
        "    q[d] = (int8_t)(t == t ? t : 0.0f);\n"
        "  }\n"
        "}\n", f);
  /* the cache lines of p[0 .. n) into the cache */
  fputs("#ifdef TFX_SIMD\n"
        "static TFX_INLINE void tfx_kv_fetch(const float *p, int64_t n) {\n"
        "  int64_t i;\n"
        "  for (i = 0; i < n; i += 16) _mm_prefetch((const char *)(p + i), _MM_HINT_T0);\n"
        "}\n"
        "#endif\n", f);
  /* acc[r * D + d] += s[r * TFX_KV_BK + c] * v[c * D + d] for r < R, c < nk, d < D, in c
   * order: the operations of tfx_attn_axpby(acc + r * D, 1, s[..], v + c * D, D) for
   * each c and r, so the same bits, but with SIMD a block of acc stays in registers
   * over the keys (4 rows x 16 floats, or 1 row x 64) instead of being loaded and
   * stored for every key; what the blocks leave goes through tfx_attn_axpby. */
  fputs("static void tfx_kv_pv(const float *s, int64_t R, int64_t nk, const float *v, int64_t D, float *acc) {\n"
        "  int64_t r0 = 0, d0 = 0, r, c; /* rows < r0 are complete, and columns < d0 of the others */\n"
        "#ifdef TFX_SIMD\n"
        "  int64_t d;\n"
        "  if (D % 16 == 0) {\n"
        "    for (; r0 + 4 <= R; r0 += 4)\n"
        "      for (d = 0; d < D; d += 16) {\n"
        "        float *y = acc + r0 * D + d;\n"
        "        const float *sr = s + r0 * TFX_KV_BK;\n"
        "        __m256 y00 = _mm256_loadu_ps(y), y01 = _mm256_loadu_ps(y + 8), y10 = _mm256_loadu_ps(y + D);\n"
        "        __m256 y11 = _mm256_loadu_ps(y + D + 8), y20 = _mm256_loadu_ps(y + 2 * D), y21 = _mm256_loadu_ps(y + 2 * D + 8);\n"
        "        __m256 y30 = _mm256_loadu_ps(y + 3 * D), y31 = _mm256_loadu_ps(y + 3 * D + 8);\n"
        "        for (c = 0; c < nk; c++) {\n"
        "          const __m256 v0 = _mm256_loadu_ps(v + c * D + d), v1 = _mm256_loadu_ps(v + c * D + d + 8);\n"
        "          __m256 b = _mm256_set1_ps(sr[c]);\n"
        "          y00 = _mm256_fmadd_ps(b, v0, y00), y01 = _mm256_fmadd_ps(b, v1, y01);\n"
        "          b = _mm256_set1_ps(sr[TFX_KV_BK + c]);\n"
        "          y10 = _mm256_fmadd_ps(b, v0, y10), y11 = _mm256_fmadd_ps(b, v1, y11);\n"
        "          b = _mm256_set1_ps(sr[2 * TFX_KV_BK + c]);\n"
        "          y20 = _mm256_fmadd_ps(b, v0, y20), y21 = _mm256_fmadd_ps(b, v1, y21);\n"
        "          b = _mm256_set1_ps(sr[3 * TFX_KV_BK + c]);\n"
        "          y30 = _mm256_fmadd_ps(b, v0, y30), y31 = _mm256_fmadd_ps(b, v1, y31);\n"
        "        }\n"
        "        _mm256_storeu_ps(y, y00), _mm256_storeu_ps(y + 8, y01), _mm256_storeu_ps(y + D, y10);\n"
        "        _mm256_storeu_ps(y + D + 8, y11), _mm256_storeu_ps(y + 2 * D, y20), _mm256_storeu_ps(y + 2 * D + 8, y21);\n"
        "        _mm256_storeu_ps(y + 3 * D, y30), _mm256_storeu_ps(y + 3 * D + 8, y31);\n"
        "      }\n"
        "  }\n"
        "  d0 = D / 64 * 64;\n"
        "  for (r = r0; r < R; r++) /* one row: 64 floats at a time */\n"
        "    for (d = 0; d < d0; d += 64) {\n"
        "      float *y = acc + r * D + d;\n"
        "      const float *sr = s + r * TFX_KV_BK;\n"
        "      __m256 y0 = _mm256_loadu_ps(y), y1 = _mm256_loadu_ps(y + 8), y2 = _mm256_loadu_ps(y + 16);\n"
        "      __m256 y3 = _mm256_loadu_ps(y + 24), y4 = _mm256_loadu_ps(y + 32), y5 = _mm256_loadu_ps(y + 40);\n"
        "      __m256 y6 = _mm256_loadu_ps(y + 48), y7 = _mm256_loadu_ps(y + 56);\n"
        "      for (c = 0; c < nk; c++) {\n"
        "        const float *vr = v + c * D + d;\n"
        "        const __m256 b = _mm256_set1_ps(sr[c]);\n"
        "        y0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr), y0), y1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr + 8), y1);\n"
        "        y2 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr + 16), y2), y3 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr + 24), y3);\n"
        "        y4 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr + 32), y4), y5 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr + 40), y5);\n"
        "        y6 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr + 48), y6), y7 = _mm256_fmadd_ps(b, _mm256_loadu_ps(vr + 56), y7);\n"
        "      }\n"
        "      _mm256_storeu_ps(y, y0), _mm256_storeu_ps(y + 8, y1), _mm256_storeu_ps(y + 16, y2);\n"
        "      _mm256_storeu_ps(y + 24, y3), _mm256_storeu_ps(y + 32, y4), _mm256_storeu_ps(y + 40, y5);\n"
        "      _mm256_storeu_ps(y + 48, y6), _mm256_storeu_ps(y + 56, y7);\n"
        "    }\n"
        "#endif\n"
        "  if (d0 < D)\n"
        "    for (c = 0; c < nk; c++)\n"
        "      for (r = r0; r < R; r++) tfx_attn_axpby(acc + r * D + d0, 1.0f, s[r * TFX_KV_BK + c], v + c * D + d0, D - d0);\n"
        "}\n", f);
  /* keys j0..j1-1 of KV head kh for the R query rows qs (pre-scaled): running max
   * m, sum l, acc.  An int8 cache's rows are read back one at a time into kr8 / vr8,
   * once for all R rows. */
  fputs("static void tfx_kv_range(const tfx_kv_args *a, const float *qs, int64_t kh, int64_t R, int64_t j0, int64_t j1,\n"
        "    float *m, float *l, float *acc) {\n"
        "  float s[64 * TFX_KV_BK], o[4], kr8[TFX_KV_RD], vr8[TFX_KV_RD];\n"
        "  const int64_t hk = kh * a->N * a->Dk, hv = kh * a->N * a->Dv, hs = kh * a->N;\n"
        "  int64_t jb, c, r;\n"
        "  for (r = 0; r < R; r++) m[r] = -INFINITY, l[r] = 0;\n"
        "  memset(acc, 0, sizeof(float) * (size_t)(R * a->Dv));\n"
        "  for (jb = j0; jb < j1; jb += TFX_KV_BK) {\n"
        "    const int64_t nk = j1 - jb < TFX_KV_BK ? j1 - jb : TFX_KV_BK;\n"
        "    for (c = 0; c < nk; c++) {\n"
        "      const float *kr = kr8;\n"
        "      if (a->kq) tfx_attn_deq(a->kq + hk + (jb + c) * a->Dk, 0, a->ksc + hs + jb + c, 1, a->Dk, kr8, 0);\n"
        "      else kr = a->kc + hk + (jb + c) * a->Dk;\n"
        "#ifdef TFX_SIMD\n"
        "      if (!a->kq) { /* this key's V row, and the next tile's K row: two streams the\n"
        "                     * hardware alone fetches at half the memory's speed */\n"
        "        tfx_kv_fetch(a->vc + hv + (jb + c) * a->Dv, a->Dv);\n"
        "        if (jb + TFX_KV_BK + c < j1) tfx_kv_fetch(kr + TFX_KV_BK * a->Dk, a->Dk);\n"
        "      }\n"
        "#endif\n"
        "      for (r = 0; r + 4 <= R; r += 4) {\n"
        "        tfx_attn_dot4(qs + r * a->Dk, a->Dk, kr, a->Dk, o);\n"
        "        s[r * TFX_KV_BK + c] = o[0], s[(r + 1) * TFX_KV_BK + c] = o[1];\n"
        "        s[(r + 2) * TFX_KV_BK + c] = o[2], s[(r + 3) * TFX_KV_BK + c] = o[3];\n"
        "      }\n"
        "      for (; r < R; r++) s[r * TFX_KV_BK + c] = tfx_attn_dot(qs + r * a->Dk, kr, a->Dk);\n"
        "    }\n"
        "    for (r = 0; r < R; r++) {\n"
        "      float *sr = s + r * TFX_KV_BK, mt = tfx_attn_max(sr, nk), c0;\n"
        "      mt = mt > m[r] ? mt : m[r];\n"
        "      c0 = tfx_expf(m[r] - mt);\n"
        "      l[r] = l[r] * c0 + tfx_attn_expsum(sr, mt, nk);\n"
        "      m[r] = mt;\n"
        "      if (c0 != 1.0f) tfx_attn_axpby(acc + r * a->Dv, c0, 0.0f, NULL, a->Dv);\n"
        "    }\n"
        "    if (!a->vq) {\n"
        "      tfx_kv_pv(s, R, nk, a->vc + hv + jb * a->Dv, a->Dv, acc);\n"
        "      continue;\n"
        "    }\n"
        "    for (c = 0; c < nk; c++) {\n"
        "      tfx_attn_deq(a->vq + hv + (jb + c) * a->Dv, 0, a->vsc + hs + jb + c, 1, a->Dv, vr8, 0);\n"
        "      for (r = 0; r < R; r++) tfx_attn_axpby(acc + r * a->Dv, 1.0f, s[r * TFX_KV_BK + c], vr8, a->Dv);\n"
        "    }\n"
        "  }\n"
        "}\n", f);
  fputs("static void tfx_kv_job(void *arg, int64_t lo, int64_t hi) {\n"
        "  const tfx_kv_args *a = (const tfx_kv_args *)arg;\n"
        "  float qs[TFX_KV_RD], acc[TFX_KV_RD], m[64], l[64];\n"
        "  const int64_t R = a->Hq / a->Hkv, ns = a->nsplit;\n"
        "  int64_t job, r, d;\n"
        "  for (job = lo; job < hi; job++) {\n"
        "    const int64_t kh = job / (a->S * ns), i = job / ns % a->S, sp = job % ns, pos = a->P + i;\n"
        "    const int64_t first = a->window > 0 && pos - a->window + 1 > 0 ? pos - a->window + 1 : 0;\n"
        "    const int64_t chunk = (pos + 1 - first + ns - 1) / ns;\n"
        "    const int64_t j0 = first + sp * chunk, j1 = j0 + chunk < pos + 1 ? j0 + chunk : pos + 1;\n"
        "    for (r = 0; r < R; r++) {\n"
        "      const float *qr = a->q + ((kh * R + r) * a->S + i) * a->Dk;\n"
        "      for (d = 0; d < a->Dk; d++) qs[r * a->Dk + d] = qr[d] * a->scale;\n"
        "    }\n"
        "    tfx_kv_range(a, qs, kh, R, j0, j1, m, l, acc);\n"
        "    for (r = 0; r < R; r++) {\n"
        "      if (ns > 1) {\n"
        "        float *pr = a->part + ((sp * a->Hkv + kh) * R + r) * (a->Dv + 2);\n"
        "        pr[0] = m[r], pr[1] = l[r];\n"
        "        memcpy(pr + 2, acc + r * a->Dv, sizeof(float) * (size_t)a->Dv);\n"
        "      } else {\n"
        "        float *yr = a->y + ((kh * R + r) * a->S + i) * a->Dv;\n"
        "        for (d = 0; d < a->Dv; d++) yr[d] = l[r] > 0 ? acc[r * a->Dv + d] / l[r] : 0.0f;\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n", f);
  /* several rows (prefill): tfx_attn's tiles over the cache, causal from position P */
  fputs("static void tfx_kv_tiled(tfx_pool *pp, const tfx_kv_args *a) {\n"
        "  tfx_attn_args t;\n"
        "  memset(&t, 0, sizeof t);\n"
        "  t.q = a->q, t.k = a->kc, t.v = a->vc, t.mask = NULL, t.bmask = NULL, t.y = a->y;\n"
        "  t.B = 1, t.Hq = a->Hq, t.Hkv = a->Hkv, t.S = a->S, t.T = a->P + a->S, t.Dk = a->Dk, t.Dv = a->Dv;\n"
        "  t.Tm = t.T, t.left = a->window > 0 ? a->window - 1 : -1, t.right = -1, t.off = a->P;\n"
        "  t.qs[1] = a->S * a->Dk, t.qs[2] = a->Dk, t.ks[1] = a->N * a->Dk, t.ks[2] = a->Dk;\n"
        "  t.vs[1] = a->N * a->Dv, t.vs[2] = a->Dv, t.ys[1] = a->S * a->Dv, t.ys[2] = a->Dv;\n"
        "  t.causal = 1, t.scale = a->scale;\n"
        "  t.k8 = a->kq, t.v8 = a->vq, t.ksc = a->ksc, t.vsc = a->vsc, t.ss[1] = a->N;\n"
        "  tfx_attn(pp, &t);\n"
        "}\n", f);
  /* merge: y = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M) */
  fputs("static TFX_MAYBE_UNUSED void tfx_kv_attn(tfx_pool *pp, tfx_kv_args *a, int64_t max_split) {\n"
        "  const int64_t len = a->window > 0 && a->window < a->P + 1 ? a->window : a->P + 1;\n"
        "  int64_t h, sp, d;\n"
        "  if (a->S > 1 && a->Dv <= TFX_ATTN_DMAX && a->Dk <= TFX_ATTN_DKMAX) {\n"
        "    tfx_kv_tiled(pp, a);\n"
        "    return;\n"
        "  }\n"
        "  a->nsplit = 1;\n"
        "  if (a->S == 1) a->nsplit = len / TFX_KV_SPLIT_MIN < max_split ? len / TFX_KV_SPLIT_MIN : max_split;\n"
        "  if (a->nsplit < 1) a->nsplit = 1;\n"
        "  tfx_parallel(pp, a->Hkv * a->S * a->nsplit, tfx_kv_job, a);\n"
        "  if (a->nsplit == 1) return;\n"
        "  for (h = 0; h < a->Hq; h++) {\n"
        "    float M = -INFINITY, L = 0, *y = a->y + h * a->Dv;\n"
        "    for (sp = 0; sp < a->nsplit; sp++) {\n"
        "      const float mp = a->part[(sp * a->Hq + h) * (a->Dv + 2)];\n"
        "      M = mp > M ? mp : M;\n"
        "    }\n"
        "    for (d = 0; d < a->Dv; d++) y[d] = 0;\n"
        "    for (sp = 0; sp < a->nsplit; sp++) {\n"
        "      const float *pr = a->part + (sp * a->Hq + h) * (a->Dv + 2);\n"
        "      const float w = pr[1] > 0 ? tfx_expf(pr[0] - M) : 0.0f;\n"
        "      L += pr[1] * w;\n"
        "      tfx_attn_axpby(y, 1.0f, w, pr + 2, a->Dv);\n"
        "    }\n"
        "    for (d = 0; d < a->Dv; d++) y[d] = L > 0 ? y[d] / L : 0.0f;\n"
        "  }\n"
        "}\n", f);
}

void tfx_c_print_attn(FILE *f) {
  fputs("\n/* ---- fused attention (flash-style prefill tiles, split-KV over a cache) */\n", f);
  print_vec(f);
  print_prefill(f);
  print_kv(f);
}
