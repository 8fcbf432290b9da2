/* kernels_attn.c — the fused attention kernels printed into generated files (kernels.h).
 *
 * tfx_attn (prefill, float32): a block of BQ query rows against tiles of BK keys,
 * flash-style.  Scores come from tfx_sgemm reading Q and K in place through their
 * row strides (tb = 1 for Kᵀ), so [B,S,H,D] and [B,H,S,D] layouts need no copy and
 * grouped-query heads are found by index; then scale, additive or bool mask,
 * causal and window limits, an online softmax (running max and sum per row,
 * tfx_vexpf on each tile row) and P·V by tfx_sgemm into an output tile.  Key tiles
 * wholly outside the causal / window band are never computed.  Jobs are
 * (batch, head, query block), handed to tfx_parallel.
 *
 * tfx_kv_attn (KvAttention over a float32 cache): per KV head the R query heads
 * of its group are processed together so each cache row is read once; 8-wide
 * dot products and axpys; a single-row step (decode) splits the keys across jobs
 * and merges the partial (max, sum, accumulator) triples afterwards.
 *
 * Scratch is fixed-size stack arrays (no array is sized by a sequence length), and
 * everything that depends on a length is a run-time argument, so the calling code
 * has the same text at every length.  Where all of a row's keys fit one tile the
 * probabilities are normalised before P·V, as the reference does; otherwise rows
 * are divided by their sum at the end (a division, not a reciprocal product): the
 * model tests' tolerance on near-zero logits notices such rounding differences. */
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
        "  const int64_t n8 = n / 8 * 8;\n  int64_t d;\n"
        "  for (d = 0; d < n; d++) x[d] -= m;\n"
        "  tfx_vexpf(x, x, n);\n"
        "#ifdef TFX_SIMD\n"
        "  {\n    __m256 s = _mm256_setzero_ps();\n    float r;\n"
        "    for (d = 0; d < n8; d += 8) s = _mm256_add_ps(s, _mm256_loadu_ps(x + d));\n"
        "    for (r = tfx_attn_hsum(s), d = n8; d < n; d++) r += x[d];\n    return r;\n  }\n"
        "#else\n"
        "  {\n    float p[8] = {0, 0, 0, 0, 0, 0, 0, 0}, r;\n    int u;\n"
        "    for (d = 0; d < n8; d += 8)\n      for (u = 0; u < 8; u++) p[u] += x[d + u];\n"
        "    r = ((p[0] + p[4]) + (p[1] + p[5])) + ((p[2] + p[6]) + (p[3] + p[7]));\n"
        "    for (d = n8; d < n; d++) r += x[d];\n    return r;\n  }\n"
        "#endif\n"
        "}\n", f);
}

/* tfx_attn: arguments, one tile row's masking and softmax step, the job loop. */
static void print_prefill(FILE *f) {
  fputs("#define TFX_ATTN_BQ 48\n#define TFX_ATTN_BK 128\n#define TFX_ATTN_DMAX 128\n"
        "/* q/k/v/y: element (b, head, row, d) at b * s[0] + head * s[1] + row * s[2] + d.\n"
        " * mask (float, added) or bmask (bool, 0 = -inf): element (b, h, i, j) at\n"
        " * b * ms[0] + h * ms[1] + i * ms[2] + j for j < Tm; keys j >= Tm are masked.\n"
        " * causal: key j visible from query i iff j <= i; left / right (-1: none):\n"
        " * i - j <= left and j - i <= right.  qscale: Q is multiplied by scale (each\n"
        " * product rounded to float, as a Mul node would) and the scores are not scaled\n"
        " * again.  Dv (and with qscale Dk) <= TFX_ATTN_DMAX. */\n"
        "typedef struct {\n"
        "  const float *q, *k, *v, *mask;\n  const uint8_t *bmask;\n  float *y;\n"
        "  int64_t B, Hq, Hkv, S, T, Dk, Dv, Tm, left, right;\n"
        "  int64_t qs[3], ks[3], vs[3], ys[3], ms[3];\n"
        "  int causal, qscale;\n  float scale;\n"
        "} tfx_attn_args;\n", f);
  /* scores row s (keys j0 .. j0+nk-1 of query i): scaled and masked in place */
  fputs("static void tfx_attn_bias(const tfx_attn_args *a, int64_t b, int64_t h, int64_t i, int64_t j0,\n"
        "    int64_t nk, float *s) {\n"
        "  int64_t c, lim;\n"
        "  const int64_t mo = b * a->ms[0] + h * a->ms[1] + i * a->ms[2] + j0;\n"
        "  const int64_t nm = a->Tm - j0 < nk ? a->Tm - j0 : nk;\n"
        "  const float sc = a->qscale ? 1.0f : a->scale;\n"
        "  if (a->mask)\n    for (c = 0; c < nm; c++) s[c] = s[c] * sc + a->mask[mo + c];\n"
        "  else if (!a->qscale)\n    for (c = 0; c < nk; c++) s[c] *= sc;\n"
        "  if (a->bmask)\n    for (c = 0; c < nm; c++) if (!a->bmask[mo + c]) s[c] = -INFINITY;\n"
        "  if (a->mask || a->bmask)\n    for (c = nm < 0 ? 0 : nm; c < nk; c++) s[c] = -INFINITY;\n"
        "  if (a->causal)\n    for (c = i - j0 + 1 < 0 ? 0 : i - j0 + 1; c < nk; c++) s[c] = -INFINITY;\n"
        "  if (a->right >= 0)\n    for (c = i + a->right + 1 - j0 < 0 ? 0 : i + a->right + 1 - j0; c < nk; c++) s[c] = -INFINITY;\n"
        "  if (a->left >= 0) {\n"
        "    lim = i - a->left - j0 < nk ? i - a->left - j0 : nk;\n"
        "    for (c = 0; c < lim; c++) s[c] = -INFINITY;\n"
        "  }\n"
        "}\n", f);
  fputs("static void tfx_attn_job(void *arg, int64_t lo, int64_t hi) {\n"
        "  const tfx_attn_args *a = (const tfx_attn_args *)arg;\n"
        "  float sc[TFX_ATTN_BQ * TFX_ATTN_BK], acc[TFX_ATTN_BQ * TFX_ATTN_DMAX], pv[TFX_ATTN_BQ * TFX_ATTN_DMAX];\n"
        "  float mx[TFX_ATTN_BQ], sum[TFX_ATTN_BQ], qb[TFX_ATTN_BQ * TFX_ATTN_DMAX];\n"
        "  const int64_t nqb = (a->S + TFX_ATTN_BQ - 1) / TFX_ATTN_BQ, R = a->Hq / a->Hkv, Dv = a->Dv;\n"
        "  int64_t job, r, d, j0;\n"
        "  for (job = lo; job < hi; job++) {\n"
        "    const int64_t b = job / (a->Hq * nqb), h = job / nqb % a->Hq, i0 = job % nqb * TFX_ATTN_BQ, kh = h / R;\n"
        "    const int64_t nq = a->S - i0 < TFX_ATTN_BQ ? a->S - i0 : TFX_ATTN_BQ, il = i0 + nq - 1;\n"
        "    const float *q = a->q + b * a->qs[0] + h * a->qs[1] + i0 * a->qs[2];\n"
        "    int64_t lq = a->qs[2];\n"
        "    const float *k = a->k + b * a->ks[0] + kh * a->ks[1], *v = a->v + b * a->vs[0] + kh * a->vs[1];\n"
        "    int64_t jlo = 0, jhi = a->T;\n"
        "    if ((a->mask || a->bmask) && a->Tm < jhi) jhi = a->Tm;\n"
        "    if (a->causal && il + 1 < jhi) jhi = il + 1;\n"
        "    if (a->right >= 0 && il + a->right + 1 < jhi) jhi = il + a->right + 1;\n"
        "    if (a->left >= 0 && i0 - a->left > 0) jlo = i0 - a->left;\n"
        "    const int one = jhi - jlo <= TFX_ATTN_BK; /* one tile: normalise P as the reference does */\n"
        "    for (r = 0; r < nq; r++) mx[r] = -INFINITY, sum[r] = 0;\n"
        "    if (a->qscale) {\n"
        "      for (r = 0; r < nq; r++)\n"
        "        for (d = 0; d < a->Dk; d++) qb[r * a->Dk + d] = q[r * lq + d] * a->scale;\n"
        "      q = qb, lq = a->Dk;\n"
        "    }\n"
        "    memset(acc, 0, sizeof(float) * (size_t)(nq * Dv));\n"
        "    for (j0 = jlo; j0 < jhi; j0 += TFX_ATTN_BK) {\n"
        "      const int64_t nk = jhi - j0 < TFX_ATTN_BK ? jhi - j0 : TFX_ATTN_BK;\n"
        "      tfx_sgemm(NULL, nq, nk, a->Dk, q, lq, k + j0 * a->ks[2], a->ks[2], 1, sc, TFX_ATTN_BK);\n"
        "      for (r = 0; r < nq; r++) {\n"
        "        float *s = sc + r * TFX_ATTN_BK, m, c = 1.0f;\n"
        "        tfx_attn_bias(a, b, h, i0 + r, j0, nk, s);\n"
        "        m = tfx_attn_max(s, nk);\n"
        "        m = m > mx[r] ? m : mx[r];\n"
        "        if (m == -INFINITY) {\n"
        "          memset(s, 0, sizeof(float) * (size_t)nk);\n"
        "          continue;\n"
        "        }\n"
        "        c = tfx_expf(mx[r] - m);\n"
        "        sum[r] = sum[r] * c + tfx_attn_expsum(s, m, nk);\n"
        "        if (one)\n          for (d = 0; d < nk; d++) s[d] /= sum[r];\n"
        "        mx[r] = m;\n"
        "        if (c != 1.0f) tfx_attn_axpby(acc + r * Dv, c, 0.0f, NULL, Dv);\n"
        "      }\n"
        "      tfx_sgemm(NULL, nq, Dv, nk, sc, TFX_ATTN_BK, v + j0 * a->vs[2], a->vs[2], 0, pv, Dv);\n"
        "      for (d = 0; d < nq * Dv; d++) acc[d] += pv[d];\n"
        "    }\n"
        "    for (r = 0; r < nq; r++) {\n"
        "      float *y = a->y + b * a->ys[0] + h * a->ys[1] + (i0 + r) * a->ys[2];\n"
        "      for (d = 0; d < Dv; d++) y[d] = one ? acc[r * Dv + d] : sum[r] > 0 ? acc[r * Dv + d] / sum[r] : 0.0f;\n"
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
        " * for a one-row step split across nsplit jobs. */\n"
        "typedef struct {\n"
        "  const float *q, *kc, *vc;\n  float *y, *part;\n"
        "  int64_t Hq, Hkv, S, N, P, Dk, Dv, window, nsplit;\n  float scale;\n"
        "} tfx_kv_args;\n", f);
  /* keys j0..j1-1 for the R query rows qs (pre-scaled): running max m, sum l, acc */
  fputs("static void tfx_kv_range(const tfx_kv_args *a, const float *qs, const float *kb, const float *vb,\n"
        "    int64_t R, int64_t j0, int64_t j1, float *m, float *l, float *acc) {\n"
        "  float s[64 * TFX_KV_BK], o[4];\n"
        "  int64_t jb, c, r;\n"
        "  for (r = 0; r < R; r++) m[r] = -INFINITY, l[r] = 0;\n"
        "  memset(acc, 0, sizeof(float) * (size_t)(R * a->Dv));\n"
        "  for (jb = j0; jb < j1; jb += TFX_KV_BK) {\n"
        "    const int64_t nk = j1 - jb < TFX_KV_BK ? j1 - jb : TFX_KV_BK;\n"
        "    for (c = 0; c < nk; c++) {\n"
        "      const float *kr = kb + (jb + c) * a->Dk;\n"
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
        "    for (c = 0; c < nk; c++) {\n"
        "      const float *vr = vb + (jb + c) * a->Dv;\n"
        "      for (r = 0; r < R; r++) tfx_attn_axpby(acc + r * a->Dv, 1.0f, s[r * TFX_KV_BK + c], vr, a->Dv);\n"
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
        "    tfx_kv_range(a, qs, a->kc + kh * a->N * a->Dk, a->vc + kh * a->N * a->Dv, R, j0, j1, m, l, acc);\n"
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
  /* merge: y = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M) */
  fputs("static TFX_MAYBE_UNUSED void tfx_kv_attn(tfx_pool *pp, tfx_kv_args *a, int64_t max_split) {\n"
        "  const int64_t len = a->window > 0 && a->window < a->P + 1 ? a->window : a->P + 1;\n"
        "  int64_t h, sp, d;\n"
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
