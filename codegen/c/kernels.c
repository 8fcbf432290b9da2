/* kernels.c — the text of the kernels generated files carry (see kernels.h).
 *
 * f32 GEMM, GotoBLAS-style: K is cut in blocks of KC, M in blocks of at most
 * MC rows (so a block of A stays in L2); for each block, each 16-column panel
 * of B' is copied into a KC x 16 buffer on the stack (contiguous, 64-byte
 * aligned, zero-padded past N; this also transposes B for tb == 1 and avoids
 * the cache-set conflicts of power-of-two row strides), and micro-kernels
 * multiply 6 rows of A (then 1..5 for the rest) by the panel, keeping the
 * 6 x 16 tile of C in registers: AVX2+FMA intrinsics, else (AVX) GNU C
 * vector extensions, else plain loops (TFX_PORTABLE forces the last).  With M == 1 (decode) every element of B is
 * read from memory exactly once. */
#include "codegen/c/kernels.h"


enum { MR = 6 }; /* rows of the widest micro-kernel */

typedef enum { K_PLAIN, K_GNUVEC, K_AVX2 } KernelKind;

/* One micro-kernel for r rows: C[r x nr] (+)= A[r x kc] x P[kc x 16]. */
static void print_kernel(FILE *f, int r, KernelKind kind) {
  fprintf(f, "static void tfx_sgemm_k%d(int64_t kc, const float *A, int64_t lda, const float *restrict P,\n"
             "    float *C, int64_t ldc, int64_t nr, int add) {\n", r);
  for (int i = 0; i < r; i++)
    fprintf(f, "  const float *restrict a%d = A + %d * lda;\n", i, i);
  fputs("  int64_t k, j;\n", f);
  if (kind == K_GNUVEC) {
    /* GNU C vectors of 8 floats (AVX without FMA) */
    fputs("  const tfx_v8 z = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};\n", f);
    for (int i = 0; i < r; i++) fprintf(f, "  tfx_v8 c%d0 = z, c%d1 = z;\n", i, i);
    fputs("  float t[16];\n", f);
    fputs("  for (k = 0; k < kc; k++) {\n    tfx_v8 b0, b1;\n"
          "    memcpy(&b0, P + k * 16, sizeof b0);\n    memcpy(&b1, P + k * 16 + 8, sizeof b1);\n", f);
    for (int i = 0; i < r; i++)
      fprintf(f, "    c%d0 += a%d[k] * b0;\n    c%d1 += a%d[k] * b1;\n", i, i, i, i);
    fputs("  }\n", f);
    for (int i = 0; i < r; i++)
      fprintf(f, "  memcpy(t, &c%d0, sizeof c%d0);\n  memcpy(t + 8, &c%d1, sizeof c%d1);\n"
                 "  for (j = 0; j < nr; j++) C[%d * ldc + j] = add ? C[%d * ldc + j] + t[j] : t[j];\n",
              i, i, i, i, i, i);
  } else if (kind == K_AVX2) {
    /* the C tile is far in memory (row stride ldc): fetch it while the k loop runs */
    for (int i = 0; i < r; i++)
      fprintf(f, "  _mm_prefetch((const char *)(C + %d * ldc), _MM_HINT_T0);\n"
                 "  _mm_prefetch((const char *)(C + %d * ldc + nr - 1), _MM_HINT_T0);\n", i, i);
    for (int i = 0; i < r; i++)
      fprintf(f, "  __m256 c%d0 = _mm256_setzero_ps(), c%d1 = _mm256_setzero_ps();\n", i, i);
    fputs("  float t[16];\n", f);
    fputs("  for (k = 0; k < kc; k++) {\n"
          "    const __m256 b0 = _mm256_load_ps(P + k * 16), b1 = _mm256_load_ps(P + k * 16 + 8);\n"
          "    __m256 x;\n", f);
    for (int i = 0; i < r; i++)
      fprintf(f, "    x = _mm256_broadcast_ss(a%d + k);\n"
                 "    c%d0 = _mm256_fmadd_ps(x, b0, c%d0);\n    c%d1 = _mm256_fmadd_ps(x, b1, c%d1);\n",
              i, i, i, i, i);
    fputs("  }\n", f);
    for (int i = 0; i < r; i++) {
      fprintf(f, "  if (nr == 16) {\n"
                 "    if (add) {\n"
                 "      c%d0 = _mm256_add_ps(c%d0, _mm256_loadu_ps(C + %d * ldc));\n"
                 "      c%d1 = _mm256_add_ps(c%d1, _mm256_loadu_ps(C + %d * ldc + 8));\n"
                 "    }\n"
                 "    _mm256_storeu_ps(C + %d * ldc, c%d0);\n"
                 "    _mm256_storeu_ps(C + %d * ldc + 8, c%d1);\n"
                 "  } else {\n"
                 "    _mm256_storeu_ps(t, c%d0);\n    _mm256_storeu_ps(t + 8, c%d1);\n"
                 "    for (j = 0; j < nr; j++) C[%d * ldc + j] = add ? C[%d * ldc + j] + t[j] : t[j];\n"
                 "  }\n",
              i, i, i, i, i, i, i, i, i, i, i, i, i, i);
    }
  } else {
    for (int i = 0; i < r; i++) fprintf(f, "  float c%d[16];\n", i);
    for (int i = 0; i < r; i++) fprintf(f, "  for (j = 0; j < 16; j++) c%d[j] = 0.0f;\n", i);
    fputs("  for (k = 0; k < kc; k++) {\n    const float *restrict p = P + k * 16;\n", f);
    for (int i = 0; i < r; i++) fprintf(f, "    const float x%d = a%d[k];\n", i, i);
    fputs("    for (j = 0; j < 16; j++) {\n", f);
    for (int i = 0; i < r; i++) fprintf(f, "      c%d[j] += x%d * p[j];\n", i, i);
    fputs("    }\n  }\n", f);
    for (int i = 0; i < r; i++)
      fprintf(f, "  for (j = 0; j < nr; j++) C[%d * ldc + j] = add ? C[%d * ldc + j] + c%d[j] : c%d[j];\n",
              i, i, i, i);
  }
  fputs("}\n", f);
}

void tfx_c_print_pool(FILE *f) {
  fputs("typedef struct tfx_pool tfx_pool;\n"
        "static TFX_MAYBE_UNUSED void tfx_parallel(tfx_pool *pp, int64_t n, void (*fn)(void *, int64_t, int64_t), void *arg) {\n"
        "  (void)pp;\n  if (n > 0) fn(arg, 0, n);\n}\n", f);
}

void tfx_c_print_sgemm(FILE *f) {
  fputs("\n/* ---- f32 GEMM: C (M x N) = A (M x K) x B' with B' = B (K x N) or, when tb,\n"
        " * B^T (B is N x K).  B' is copied panel by panel (KC x 16) into an aligned\n"
        " * stack buffer; micro-kernels keep a 6 x 16 tile of C in registers. */\n", f);
  fputs("#if defined(__AVX2__) && defined(__FMA__) && !defined(TFX_PORTABLE)\n"
        "#include <immintrin.h>\n#define TFX_SGEMM_SIMD 1\n#endif\n", f);
  fprintf(f, "#define TFX_SGEMM_KC 256\n#define TFX_SGEMM_MC 240\n");
  fputs("/* P[k * 16 + j] = B'(k0 + k, j0 + j) for j < nr, 0 past nr */\n"
        "static void tfx_sgemm_pack(const float *B, int64_t ldb, int tb, int64_t k0, int64_t kc,\n"
        "    int64_t j0, int64_t nr, float *restrict P) {\n"
        "  int64_t k, j;\n"
        "  if (!tb && nr == 16) {\n"
        "    for (k = 0; k < kc; k++) {\n"
        "      const float *b = B + (k0 + k) * ldb + j0;\n"
        "#ifdef TFX_SGEMM_SIMD\n"
        "      /* the next panel's line of this row: there by the time it is packed */\n"
        "      _mm_prefetch((const char *)(b + 16), _MM_HINT_T0);\n"
        "#endif\n"
        "      memcpy(P + k * 16, b, 16 * sizeof(float));\n"
        "    }\n"
        "    return;\n"
        "  }\n"
        "  for (k = 0; k < kc; k++)\n"
        "    for (j = nr; j < 16; j++) P[k * 16 + j] = 0.0f;\n"
        "  if (!tb) {\n"
        "    for (k = 0; k < kc; k++)\n"
        "      for (j = 0; j < nr; j++) P[k * 16 + j] = B[(k0 + k) * ldb + j0 + j];\n"
        "  } else {\n"
        "    for (j = 0; j < nr; j++) {\n"
        "      const float *b = B + (j0 + j) * ldb + k0;\n"
        "      for (k = 0; k < kc; k++) P[k * 16 + j] = b[k];\n"
        "    }\n"
        "  }\n"
        "}\n", f);
  fputs("#if defined(TFX_SGEMM_SIMD)\n", f);
  for (int r = MR; r >= 1; r--) print_kernel(f, r, K_AVX2);
  /* only where 8-float registers exist: on SSE alone gcc lowers these vectors
   * through memory, slower than the plain loops */
  fputs("#elif (defined(__GNUC__) || defined(__clang__)) && defined(__AVX__) && !defined(TFX_PORTABLE)\n"
        "typedef float tfx_v8 __attribute__((vector_size(32)));\n", f);
  for (int r = MR; r >= 1; r--) print_kernel(f, r, K_GNUVEC);
  fputs("#else\n", f);
  for (int r = MR; r >= 1; r--) print_kernel(f, r, K_PLAIN);
  fputs("#endif\n", f);
  fputs("static void tfx_sgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,\n"
        "    const float *B, int64_t ldb, int tb, float *C, int64_t ldc) {\n"
        "  float buf[TFX_SGEMM_KC * 16 + 16];\n"
        "  float *const P = buf + (16 - (int64_t)((uintptr_t)buf / sizeof(float) % 16)) % 16;\n"
        "  int64_t k0, m0, j0, m, mcap;\n"
        "  if (M <= 0 || N <= 0) return;\n"
        "  if (K <= 0) {\n"
        "    for (m = 0; m < M; m++) memset(C + m * ldc, 0, (size_t)N * sizeof(float));\n"
        "    return;\n"
        "  }\n"
        "  /* rows per block of A: equal blocks of at most MC rows, rounded up to 6 */\n"
        "  mcap = (M + TFX_SGEMM_MC - 1) / TFX_SGEMM_MC;\n"
        "  mcap = ((M + mcap - 1) / mcap + 5) / 6 * 6;\n"
        "  for (k0 = 0; k0 < K; k0 += TFX_SGEMM_KC) {\n"
        "    const int64_t kc = K - k0 < TFX_SGEMM_KC ? K - k0 : TFX_SGEMM_KC;\n"
        "    const int add = k0 > 0;\n"
        "    for (m0 = 0; m0 < M; m0 += mcap) {\n"
        "      const int64_t me = M - m0 < mcap ? M : m0 + mcap;\n"
        "      for (j0 = 0; j0 < N; j0 += 16) {\n"
        "        const int64_t nr = N - j0 < 16 ? N - j0 : 16;\n"
        "        float *const cj = C + j0;\n"
        "        const float *const ak = A + k0;\n"
        "        tfx_sgemm_pack(B, ldb, tb, k0, kc, j0, nr, P);\n"
        "        for (m = m0; m + 6 <= me; m += 6)\n"
        "          tfx_sgemm_k6(kc, ak + m * lda, lda, P, cj + m * ldc, ldc, nr, add);\n"
        "        switch (me - m) {\n"
        "        case 5: tfx_sgemm_k5(kc, ak + m * lda, lda, P, cj + m * ldc, ldc, nr, add); break;\n"
        "        case 4: tfx_sgemm_k4(kc, ak + m * lda, lda, P, cj + m * ldc, ldc, nr, add); break;\n"
        "        case 3: tfx_sgemm_k3(kc, ak + m * lda, lda, P, cj + m * ldc, ldc, nr, add); break;\n"
        "        case 2: tfx_sgemm_k2(kc, ak + m * lda, lda, P, cj + m * ldc, ldc, nr, add); break;\n"
        "        case 1: tfx_sgemm_k1(kc, ak + m * lda, lda, P, cj + m * ldc, ldc, nr, add); break;\n"
        "        default: break;\n"
        "        }\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n", f);
}
