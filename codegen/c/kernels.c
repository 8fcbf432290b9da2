/* kernels.c — the text of the kernels generated files carry (see kernels.h).
 *
 * f32 GEMM, GotoBLAS-style: K is cut in blocks of KC, M in blocks of at most
 * MC rows (so a block of A stays in L2); for each block, each 16-column panel
 * of B' is read as KC x 16 contiguous floats: straight from a weight the
 * backend stored prepacked in that layout (codegen/c/emit.c), else copied
 * into a buffer on the stack (64-byte aligned, zero-padded past N; this also
 * transposes B for tb == 1 and avoids the cache-set conflicts of
 * power-of-two row strides).  Micro-kernels multiply 6 rows of A (then 1..5
 * for the rest) by the panel, keeping the 6 x 16 tile of C in registers:
 * AVX2+FMA intrinsics, else (AVX) GNU C vectors, else plain loops
 * (TFX_PORTABLE forces the last).  With AVX-512 (TFX_SIMD512) the tile is
 * 6 x 32, two adjacent panels in two 16-float registers per row, each
 * element computed as the AVX2 kernel computes it.  After the last block of
 * K each tile gets its epilogue (bias, GELU, residual: the Linear op) while
 * it is in L1.
 * With fewer than 6 rows (decode: M == 1) packing would only copy B, so B is
 * read straight from memory, once, and the speed is the memory bandwidth.
 * Threads split C into whole strips, panels or row groups (see sgemm_driver),
 * and the thread pool lives in the workspace (pool_threaded). */
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
          "    const __m256 b0 = _mm256_loadu_ps(P + k * 16), b1 = _mm256_loadu_ps(P + k * 16 + 8);\n"
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

/* The AVX-512 micro-kernel for r rows: C[r x nr] (+)= A[r x kc] x [P Q], two
 * adjacent panels (16 < nr <= 32), a row's 32 columns in two registers.  Each
 * element takes the chain of multiply-adds of tfx_sgemm_k<r>, so the two give
 * the same bits. */
static void print_wide_kernel(FILE *f, int r) {
  fprintf(f, "static void tfx_sgemm_w%d(int64_t kc, const float *A, int64_t lda, const float *restrict P,\n"
             "    const float *restrict Q, float *C, int64_t ldc, int64_t nr, int add) {\n", r);
  for (int i = 0; i < r; i++) fprintf(f, "  const float *restrict a%d = A + %d * lda;\n", i, i);
  fputs("  int64_t k, j;\n  float t[32];\n", f);
  for (int i = 0; i < r; i++)
    fprintf(f, "  _mm_prefetch((const char *)(C + %d * ldc), _MM_HINT_T0);\n"
               "  _mm_prefetch((const char *)(C + %d * ldc + 16), _MM_HINT_T0);\n"
               "  _mm_prefetch((const char *)(C + %d * ldc + nr - 1), _MM_HINT_T0);\n", i, i, i);
  for (int i = 0; i < r; i++) fprintf(f, "  __m512 c%d0 = _mm512_setzero_ps(), c%d1 = _mm512_setzero_ps();\n", i, i);
  fputs("  for (k = 0; k < kc; k++) {\n"
        "    const __m512 b0 = _mm512_loadu_ps(P + k * 16), b1 = _mm512_loadu_ps(Q + k * 16);\n"
        "    __m512 x;\n", f);
  for (int i = 0; i < r; i++)
    fprintf(f, "    x = _mm512_set1_ps(a%d[k]);\n"
               "    c%d0 = _mm512_fmadd_ps(x, b0, c%d0);\n    c%d1 = _mm512_fmadd_ps(x, b1, c%d1);\n",
            i, i, i, i, i);
  fputs("  }\n", f);
  for (int i = 0; i < r; i++)
    fprintf(f, "  if (nr == 32) {\n"
               "    if (add) {\n"
               "      c%d0 = _mm512_add_ps(c%d0, _mm512_loadu_ps(C + %d * ldc));\n"
               "      c%d1 = _mm512_add_ps(c%d1, _mm512_loadu_ps(C + %d * ldc + 16));\n"
               "    }\n"
               "    _mm512_storeu_ps(C + %d * ldc, c%d0);\n"
               "    _mm512_storeu_ps(C + %d * ldc + 16, c%d1);\n"
               "  } else {\n"
               "    _mm512_storeu_ps(t, c%d0);\n    _mm512_storeu_ps(t + 16, c%d1);\n"
               "    for (j = 0; j < nr; j++) C[%d * ldc + j] = add ? C[%d * ldc + j] + t[j] : t[j];\n"
               "  }\n",
            i, i, i, i, i, i, i, i, i, i, i, i, i, i);
  fputs("}\n", f);
}

/* tfx_sgemm_tile: the micro-kernel for r rows (1 .. 6) of a tile nr wide: the
 * AVX-512 one over the panels P and Q when nr > 16, else tfx_sgemm_k<r> on P. */
static void print_tile(FILE *f) {
  fputs("static TFX_INLINE void tfx_sgemm_tile(int r, int64_t kc, const float *A, int64_t lda, const float *P,\n"
        "    const float *Q, float *C, int64_t ldc, int64_t nr, int add) {\n"
        "#ifdef TFX_SIMD512\n"
        "  if (nr > 16) {\n"
        "    switch (r) {\n", f);
  for (int r = MR; r >= 1; r--)
    fprintf(f, "    case %d: tfx_sgemm_w%d(kc, A, lda, P, Q, C, ldc, nr, add); return;\n", r, r);
  fputs("    default: return;\n    }\n  }\n#endif\n  (void)Q;\n  switch (r) {\n", f);
  for (int r = MR; r >= 1; r--)
    fprintf(f, "  case %d: tfx_sgemm_k%d(kc, A, lda, P, C, ldc, nr, add); return;\n", r, r);
  fputs("  default: return;\n  }\n}\n", f);
}

/* The pool of a threaded build: workers spin a while on the region counter
 * (decode starts a region every few tens of microseconds), then sleep on a
 * condition variable.  Plain fields are written under mu; the two that are
 * also polled without it (gen, left) go through TFX_POKE / TFX_PEEK. */
static const char pool_threaded[] =
    "#include <pthread.h>\n"
    "#if defined(__GNUC__) || defined(__clang__)\n"
    "#define TFX_PEEK(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)\n"
    "#define TFX_POKE(p, v) __atomic_store_n(p, v, __ATOMIC_RELEASE)\n"
    "#define TFX_POOL_SPIN 20000\n"
    "#else\n"
    "/* no atomics: never poll, always sleep under the mutex */\n"
    "#define TFX_PEEK(p) (*(p))\n"
    "#define TFX_POKE(p, v) (*(p) = (v))\n"
    "#define TFX_POOL_SPIN 0\n"
    "#endif\n"
    "#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))\n"
    "#define TFX_PAUSE() __builtin_ia32_pause()\n"
    "#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)\n"
    "#define TFX_PAUSE() __asm__ __volatile__(\"yield\")\n"
    "#else\n"
    "#define TFX_PAUSE() ((void)0)\n"
    "#endif\n"
    "typedef struct tfx_pool tfx_pool;\n"
    "struct tfx_pool_worker {\n  tfx_pool *pp;\n  int id;\n};\n"
    "struct tfx_pool {\n"
    "  pthread_mutex_t mu;\n"
    "  pthread_cond_t go, done;\n"
    "  pthread_t th[TFX_POOL_MAX];\n"
    "  struct tfx_pool_worker w[TFX_POOL_MAX];\n"
    "  int nt;    /* threads running regions, the caller included; 1: no workers */\n"
    "  int busy;  /* a region runs: nested calls run serially */\n"
    "  int quit;\n"
    "  int parts; /* chunks of the current region */\n"
    "  unsigned gen; /* regions started */\n"
    "  int left;  /* workers yet to finish the current region */\n"
    "  int64_t n;\n"
    "  void (*fn)(void *, int64_t, int64_t);\n"
    "  void *arg;\n"
    "};\n"
    "typedef char tfx_pool_fits[sizeof(struct tfx_pool) <= TFX_POOL_BYTES ? 1 : -1];\n"
    "static TFX_MAYBE_UNUSED int tfx_pool_threads(const tfx_pool *pp) { return pp ? pp->nt : 1; }\n"
    "static void tfx_pool_chunk(tfx_pool *pp, int i) {\n"
    "  const int64_t lo = pp->n * i / pp->parts, hi = pp->n * (i + 1) / pp->parts;\n"
    "  if (i < pp->parts && lo < hi) pp->fn(pp->arg, lo, hi);\n"
    "}\n"
    "static void *tfx_pool_main(void *p) {\n"
    "  const struct tfx_pool_worker *w = (const struct tfx_pool_worker *)p;\n"
    "  tfx_pool *pp = w->pp;\n"
    "  unsigned seen = 0; /* tfx_pool_resize starts workers at gen 0: a region may come first */\n"
    "  int i;\n"
    "  for (;;) {\n"
    "    for (i = 0; i < TFX_POOL_SPIN && TFX_PEEK(&pp->gen) == seen; i++) TFX_PAUSE();\n"
    "    pthread_mutex_lock(&pp->mu);\n"
    "    while (pp->gen == seen && !pp->quit) pthread_cond_wait(&pp->go, &pp->mu);\n"
    "    if (pp->quit) {\n      pthread_mutex_unlock(&pp->mu);\n      return NULL;\n    }\n"
    "    seen = pp->gen;\n"
    "    pthread_mutex_unlock(&pp->mu);\n"
    "    tfx_pool_chunk(pp, w->id);\n"
    "    pthread_mutex_lock(&pp->mu);\n"
    "    TFX_POKE(&pp->left, pp->left - 1);\n"
    "    if (pp->left == 0) pthread_cond_signal(&pp->done);\n"
    "    pthread_mutex_unlock(&pp->mu);\n"
    "  }\n"
    "}\n"
    "static TFX_MAYBE_UNUSED void tfx_parallel(tfx_pool *pp, int64_t n, void (*fn)(void *, int64_t, int64_t), void *arg) {\n"
    "  int i;\n"
    "  if (n <= 0) return;\n"
    "  if (!pp || pp->nt < 2 || n == 1 || pp->busy) {\n    fn(arg, 0, n);\n    return;\n  }\n"
    "  pthread_mutex_lock(&pp->mu);\n"
    "  pp->busy = 1;\n"
    "  pp->fn = fn;\n  pp->arg = arg;\n  pp->n = n;\n"
    "  pp->parts = n < pp->nt ? (int)n : pp->nt;\n"
    "  TFX_POKE(&pp->left, pp->nt - 1);\n"
    "  TFX_POKE(&pp->gen, pp->gen + 1u);\n"
    "  pthread_cond_broadcast(&pp->go);\n"
    "  pthread_mutex_unlock(&pp->mu);\n"
    "  tfx_pool_chunk(pp, 0);\n"
    "  for (i = 0; i < TFX_POOL_SPIN && TFX_PEEK(&pp->left) != 0; i++) TFX_PAUSE();\n"
    "  pthread_mutex_lock(&pp->mu);\n"
    "  while (pp->left != 0) pthread_cond_wait(&pp->done, &pp->mu);\n"
    "  pp->busy = 0;\n"
    "  pthread_mutex_unlock(&pp->mu);\n"
    "}\n"
    "static void tfx_pool_init(tfx_pool *pp) {\n  memset(pp, 0, sizeof *pp);\n  pp->nt = 1;\n}\n"
    "/* Join every worker; the pool is back to one thread and holds no resources. */\n"
    "static void tfx_pool_stop(tfx_pool *pp) {\n"
    "  int i;\n"
    "  if (pp->nt < 2) return;\n"
    "  pthread_mutex_lock(&pp->mu);\n  pp->quit = 1;\n  pthread_cond_broadcast(&pp->go);\n"
    "  pthread_mutex_unlock(&pp->mu);\n"
    "  for (i = 1; i < pp->nt; i++) pthread_join(pp->th[i], NULL);\n"
    "  pthread_cond_destroy(&pp->done);\n  pthread_cond_destroy(&pp->go);\n  pthread_mutex_destroy(&pp->mu);\n"
    "  pp->nt = 1;\n"
    "}\n"
    "/* nt threads from now on (1 <= nt <= TFX_POOL_MAX); -1 when a thread could not start\n"
    " * (the pool is then back to one thread). */\n"
    "static int tfx_pool_resize(tfx_pool *pp, int nt) {\n"
    "  int i;\n"
    "  if (nt == pp->nt) return 0;\n"
    "  tfx_pool_stop(pp);\n"
    "  if (nt < 2) return 0;\n"
    "  if (pthread_mutex_init(&pp->mu, NULL) != 0) return -1;\n"
    "  if (pthread_cond_init(&pp->go, NULL) != 0) {\n    pthread_mutex_destroy(&pp->mu);\n    return -1;\n  }\n"
    "  if (pthread_cond_init(&pp->done, NULL) != 0) {\n"
    "    pthread_cond_destroy(&pp->go);\n    pthread_mutex_destroy(&pp->mu);\n    return -1;\n  }\n"
    "  pp->quit = pp->busy = pp->left = 0;\n"
    "  pp->gen = 0;\n"
    "  for (i = 1; i < nt; i++) {\n"
    "    pp->w[i].pp = pp;\n    pp->w[i].id = i;\n"
    "    pp->nt = i; /* the workers started so far, for tfx_pool_stop */\n"
    "    if (pthread_create(&pp->th[i], NULL, tfx_pool_main, &pp->w[i]) != 0) {\n"
    "      if (i == 1) {\n"
    "        pthread_cond_destroy(&pp->done);\n        pthread_cond_destroy(&pp->go);\n"
    "        pthread_mutex_destroy(&pp->mu);\n"
    "      }\n"
    "      tfx_pool_stop(pp);\n"
    "      return -1;\n"
    "    }\n"
    "  }\n"
    "  pp->nt = nt;\n"
    "  return 0;\n"
    "}\n";

int64_t tfx_c_pool_bytes(int threads) {
  return threads > 1 ? (512 + 64 * (int64_t)threads + 63) / 64 * 64 : 0;
}

void tfx_c_print_pool(FILE *f, int threads) {
  if (threads <= 1) {
    fputs("typedef struct tfx_pool tfx_pool;\n"
          "static TFX_MAYBE_UNUSED int tfx_pool_threads(const tfx_pool *pp) { (void)pp; return 1; }\n"
          "static TFX_MAYBE_UNUSED void tfx_parallel(tfx_pool *pp, int64_t n, void (*fn)(void *, int64_t, int64_t), void *arg) {\n"
          "  (void)pp;\n  if (n > 0) fn(arg, 0, n);\n}\n", f);
    return;
  }
  fprintf(f, "\n/* ---- thread pool: up to %d threads, state in the workspace ---- */\n", threads);
  fprintf(f, "#define TFX_POOL_MAX %d\n#define TFX_POOL_BYTES %lld\n", threads, (long long)tfx_c_pool_bytes(threads));
  fputs(pool_threaded, f);
}

/* Small M, B' = B (K x N): y[0..nr) (+)= a[0..kb) x B[0..kb, 0..nr), nr <= 64;
 * a strip of 64 columns lives in 8 registers.  Every column takes the same
 * chain of multiply-adds whatever the strip width, so splitting N between
 * threads cannot change a bit. */
static void print_gemv_n(FILE *f, KernelKind kind) {
  fputs("static void tfx_sgemv_n(int64_t kb, const float *a, const float *B, int64_t ldb,\n"
        "    float *restrict y, int64_t nr, int add) {\n  int64_t k, j;\n", f);
  if (kind == K_AVX2) {
    fputs("  if (nr == 64) {\n    __m256 c[8];\n"
          "    for (j = 0; j < 8; j++) c[j] = add ? _mm256_loadu_ps(y + 8 * j) : _mm256_setzero_ps();\n"
          "    for (k = 0; k < kb; k++) {\n"
          "      const float *b = B + k * ldb;\n"
          "      const __m256 x = _mm256_broadcast_ss(a + k);\n", f);
    for (int j = 0; j < 8; j++)
      fprintf(f, "      c[%d] = _mm256_fmadd_ps(x, _mm256_loadu_ps(b + %d), c[%d]);\n", j, 8 * j, j);
    fputs("    }\n    for (j = 0; j < 8; j++) _mm256_storeu_ps(y + 8 * j, c[j]);\n    return;\n  }\n"
          "  for (j = 0; j < nr; j += 8) {\n"
          "    const int w = nr - j < 8 ? (int)(nr - j) : 8;\n"
          "    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(w), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));\n"
          "    __m256 c = add ? _mm256_maskload_ps(y + j, mask) : _mm256_setzero_ps();\n"
          "    for (k = 0; k < kb; k++)\n"
          "      c = _mm256_fmadd_ps(_mm256_broadcast_ss(a + k), _mm256_maskload_ps(B + k * ldb + j, mask), c);\n"
          "    _mm256_maskstore_ps(y + j, mask, c);\n"
          "  }\n}\n", f);
    return;
  }
  fputs("  if (!add)\n    for (j = 0; j < nr; j++) y[j] = 0.0f;\n"
        "  for (k = 0; k < kb; k++) {\n"
        "    const float x = a[k], *restrict b = B + k * ldb;\n"
        "    for (j = 0; j < nr; j++) y[j] += x * b[j];\n"
        "  }\n}\n", f);
}

/* Small M, B' = B^T (B is N x K): r dot products of a with rows of B, each
 * with its own partial sums and the same reduction order for any r. */
static void print_gemv_t(FILE *f, int r, KernelKind kind) {
  fprintf(f, "static void tfx_sgemv_t%d(int64_t K, const float *a, const float *B, int64_t ldb, float *y) {\n", r);
  fputs("  int64_t k, kk;\n  float t[16], s;\n", f);
  if (kind == K_AVX2) {
    for (int i = 0; i < r; i++)
      fprintf(f, "  __m256 c%d = _mm256_setzero_ps(), d%d = _mm256_setzero_ps();\n", i, i);
    fputs("  for (k = 0; k < K / 16 * 16; k += 16) {\n"
          "    const __m256 x = _mm256_loadu_ps(a + k), z = _mm256_loadu_ps(a + k + 8);\n", f);
    for (int i = 0; i < r; i++)
      fprintf(f, "    c%d = _mm256_fmadd_ps(x, _mm256_loadu_ps(B + %d * ldb + k), c%d);\n"
                 "    d%d = _mm256_fmadd_ps(z, _mm256_loadu_ps(B + %d * ldb + k + 8), d%d);\n",
              i, i, i, i, i, i);
    fputs("  }\n", f);
    for (int i = 0; i < r; i++)
      fprintf(f, "  _mm256_storeu_ps(t, c%d);\n  _mm256_storeu_ps(t + 8, d%d);\n"
                 "  s = ((t[0] + t[8]) + (t[1] + t[9])) + ((t[2] + t[10]) + (t[3] + t[11]));\n"
                 "  s += ((t[4] + t[12]) + (t[5] + t[13])) + ((t[6] + t[14]) + (t[7] + t[15]));\n"
                 "  for (kk = k; kk < K; kk++) s += a[kk] * B[%d * ldb + kk];\n  y[%d] = s;\n",
              i, i, i, i);
  } else {
    for (int i = 0; i < r; i++) {
      fprintf(f, "  for (kk = 0; kk < 16; kk++) t[kk] = 0.0f;\n"
                 "  for (k = 0; k < K / 16 * 16; k += 16)\n"
                 "    for (kk = 0; kk < 16; kk++) t[kk] += a[k + kk] * B[%d * ldb + k + kk];\n"
                 "  s = ((t[0] + t[8]) + (t[1] + t[9])) + ((t[2] + t[10]) + (t[3] + t[11]));\n"
                 "  s += ((t[4] + t[12]) + (t[5] + t[13])) + ((t[6] + t[14]) + (t[7] + t[15]));\n"
                 "  for (kk = k; kk < K; kk++) s += a[kk] * B[%d * ldb + kk];\n  y[%d] = s;\n",
              i, i, i);
    }
  }
  fputs("}\n", f);
}

static void print_small(FILE *f, KernelKind kind) {
  print_gemv_n(f, kind);
  print_gemv_t(f, 4, kind);
  print_gemv_t(f, 1, kind);
}

/* The small-M driver, the split between threads and the entry point.  The
 * path (small or blocked) depends on M alone and a thread's share of C is
 * whole strips (64 columns), panels (16, or pairs of them with AVX-512) or
 * row groups (6), so each element of C is computed by the same operations
 * in the same order for any number of threads. */
/* The job of one product, and its epilogue: after the last block of K, each
 * tile of C, still in L1, gets + bias[j], the activation (1: GELU with erf,
 * 2: GELU with tanh) and + R[m, j], in that order, as the unfused graph. */
static const char sgemm_job[] =
    "typedef struct {\n"
    "  int64_t M, N, K, lda, ldb, ldc, ldr, unit;\n"
    "  const float *A, *B, *bias, *R;\n"
    "  float *C;\n"
    "  int layout; /* B' = B (K x N), B^T (B is N x K), or B prepacked in K x 16 panels */\n"
    "  int act, epi, small, rows;\n"
    "  int acc; /* C += the product (else C =) */\n"
    "} tfx_sgemm_job;\n"
    "/* constant trip counts of 8: gcc's -O2 cost model vectorises them; with\n"
    " * intrinsics, whole vectors move between C and the buffer (a copy in halves\n"
    " * would defeat store-to-load forwarding) */\n"
    "#ifdef TFX_SIMD\n"
    "/* tfx_expf, tfx_erff and tfx_tanhf (mathfn.c) on 8 lanes with the same\n"
    " * polynomials; exp clamps to [-87, 88], so 2^n is one normal factor (erf\n"
    " * takes it on [-17, 0], tanh on [0, 88]) */\n"
    "static TFX_MAYBE_UNUSED TFX_INLINE __m256 tfx_poly8(__m256 x, const float *c, int n) {\n"
    "  __m256 p = _mm256_set1_ps(c[0]);\n"
    "  int i;\n"
    "  for (i = 1; i < n; i++) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[i]));\n"
    "  return p;\n"
    "}\n"
    "static TFX_MAYBE_UNUSED TFX_INLINE __m256 tfx_exp8(__m256 x) {\n"
    "  static const float c[5] = {0x1.68532cp-10f, 0x1.123bccp-7f, 0x1.555b96p-5f, 0x1.55548ep-3f, 0x1.fffff8p-2f};\n"
    "  const __m256 shift = _mm256_set1_ps(0x1.8p23f);\n"
    "  __m256 t, r, p;\n"
    "  __m256i n;\n"
    "  x = _mm256_max_ps(_mm256_min_ps(x, _mm256_set1_ps(88.0f)), _mm256_set1_ps(-87.0f));\n"
    "  t = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);\n"
    "  n = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000));\n"
    "  t = _mm256_sub_ps(t, shift);\n"
    "  r = _mm256_fnmadd_ps(t, _mm256_set1_ps(0x1.62e4p-1f), x);\n"
    "  r = _mm256_fnmadd_ps(t, _mm256_set1_ps(0x1.7f7d1cp-20f), r);\n"
    "  p = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_mul_ps(r, r), tfx_poly8(r, c, 5), r));\n"
    "  return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23)));\n"
    "}\n"
    "static TFX_MAYBE_UNUSED TFX_INLINE __m256 tfx_erf8(__m256 x) {\n"
    "  static const float cs[6] = {-0x1.3d2ad4p-11f, 0x1.47a3e2p-8f, -0x1.b68876p-6f, 0x1.ce17f0p-4f, -0x1.8126b8p-2f,\n"
    "                              0x1.20dd74p+0f};\n"
    "  static const float cq[7] = {0x1.a6575cp-13f, -0x1.95b6c8p-9f, 0x1.6f7d26p-6f, -0x1.ab631cp-4f, -0x1.4600c2p-1f,\n"
    "                              -0x1.20c0c6p+0f, -0x1.164d26p-13f};\n"
    "  const __m256 sign = _mm256_set1_ps(-0.0f), a = _mm256_andnot_ps(sign, x);\n"
    "  const __m256 s = _mm256_mul_ps(a, tfx_poly8(_mm256_mul_ps(x, x), cs, 6));\n"
    "  const __m256 q = tfx_poly8(_mm256_min_ps(a, _mm256_set1_ps(4.0f)), cq, 7);\n"
    "  const __m256 l = _mm256_sub_ps(_mm256_set1_ps(1.0f), tfx_exp8(q));\n"
    "  const __m256 r = _mm256_blendv_ps(l, s, _mm256_cmp_ps(a, _mm256_set1_ps(0.875f), _CMP_LT_OQ));\n"
    "  return _mm256_or_ps(r, _mm256_and_ps(x, sign));\n"
    "}\n"
    "static TFX_MAYBE_UNUSED TFX_INLINE __m256 tfx_tanh8(__m256 x) {\n"
    "  static const float c[5] = {-0x1.9ce336p-8f, 0x1.598f86p-6f, -0x1.b93360p-5f, 0x1.110d70p-3f, -0x1.55554cp-2f};\n"
    "  const __m256 sign = _mm256_set1_ps(-0.0f), a = _mm256_andnot_ps(sign, x), x2 = _mm256_mul_ps(x, x);\n"
    "  const __m256 s = _mm256_fmadd_ps(_mm256_mul_ps(a, x2), tfx_poly8(x2, c, 5), a);\n"
    "  const __m256 l = _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f),\n"
    "                                  _mm256_add_ps(tfx_exp8(_mm256_add_ps(a, a)), _mm256_set1_ps(1.0f))));\n"
    "  const __m256 r = _mm256_blendv_ps(l, s, _mm256_cmp_ps(a, _mm256_set1_ps(0.55f), _CMP_LT_OQ));\n"
    "  return _mm256_or_ps(r, _mm256_and_ps(x, sign));\n"
    "}\n"
    "/* the activations of the epilogue, as tfx_sgemm_act8 computes them */\n"
    "static TFX_MAYBE_UNUSED TFX_INLINE __m256 tfx_gelu8(__m256 v, int act) {\n"
    "  const __m256 h = _mm256_mul_ps(_mm256_set1_ps(0.5f), v), one = _mm256_set1_ps(1.0f);\n"
    "  __m256 u;\n"
    "  if (act == 1) return _mm256_mul_ps(h, _mm256_add_ps(one, tfx_erf8(_mm256_mul_ps(v, _mm256_set1_ps(0x1.6a09e6p-1f)))));\n"
    "  u = _mm256_mul_ps(_mm256_mul_ps(v, v), v);\n"
    "  u = _mm256_mul_ps(_mm256_set1_ps(0x1.988454p-1f), _mm256_fmadd_ps(_mm256_set1_ps(0x1.6e4e26p-5f), u, v));\n"
    "  return _mm256_mul_ps(h, _mm256_add_ps(one, tfx_tanh8(u)));\n"
    "}\n"
    "#endif\n"
    "static TFX_MAYBE_UNUSED TFX_INLINE void tfx_sgemm_act8(float *t, int act) {\n"
    "  int k;\n"
    "  if (act == 1)\n"
    "    for (k = 0; k < 8; k++) t[k] = 0.5f * t[k] * (1.0f + tfx_erff(t[k] * 0x1.6a09e6p-1f));\n"
    "  else if (act == 2)\n"
    "    for (k = 0; k < 8; k++)\n"
    "      t[k] = 0.5f * t[k] * (1.0f + tfx_tanhf(0x1.988454p-1f * (t[k] + 0x1.6e4e26p-5f * t[k] * t[k] * t[k])));\n"
    "}\n"
    "static TFX_MAYBE_UNUSED TFX_INLINE void tfx_sgemm_epi8(float *c, const float *b, int act, const float *r) {\n"
    "#ifdef TFX_SIMD\n"
    "  __m256 v = _mm256_loadu_ps(c);\n"
    "  if (b) v = _mm256_add_ps(v, _mm256_loadu_ps(b));\n"
    "  if (act) v = tfx_gelu8(v, act);\n"
    "  if (r) v = _mm256_add_ps(v, _mm256_loadu_ps(r));\n"
    "  _mm256_storeu_ps(c, v);\n"
    "#else\n"
    "  int k;\n"
    "  if (b)\n    for (k = 0; k < 8; k++) c[k] += b[k];\n"
    "  if (act) tfx_sgemm_act8(c, act);\n"
    "  if (r)\n    for (k = 0; k < 8; k++) c[k] += r[k];\n"
    "#endif\n"
    "}\n"
    "static void tfx_sgemm_epi(const tfx_sgemm_job *j, int64_t m, int64_t rows, int64_t j0, int64_t nr) {\n"
    "  float t[8];\n"
    "  int64_t i, x;\n"
    "  for (i = m; i < m + rows; i++) {\n"
    "    float *const c = j->C + i * j->ldc + j0;\n"
    "    const float *const b = j->bias ? j->bias + j0 : NULL, *const r = j->R ? j->R + i * j->ldr + j0 : NULL;\n"
    "    for (x = 0; x + 8 <= nr; x += 8) tfx_sgemm_epi8(c + x, b ? b + x : NULL, j->act, r ? r + x : NULL);\n"
    "    if (x == nr) continue;\n"
    "    /* the tail through a buffer of 8: the same arithmetic as the full blocks */\n"
    "    memset(t, 0, sizeof t);\n"
    "    memcpy(t, c + x, (size_t)(nr - x) * sizeof(float));\n"
    "    {\n"
    "      float tb[8], tr[8];\n"
    "      memset(tb, 0, sizeof tb);\n      memset(tr, 0, sizeof tr);\n"
    "      if (b) memcpy(tb, b + x, (size_t)(nr - x) * sizeof(float));\n"
    "      if (r) memcpy(tr, r + x, (size_t)(nr - x) * sizeof(float));\n"
    "      tfx_sgemm_epi8(t, b ? tb : NULL, j->act, r ? tr : NULL);\n"
    "    }\n"
    "    memcpy(c + x, t, (size_t)(nr - x) * sizeof(float));\n"
    "  }\n"
    "}\n";

static const char sgemm_driver[] =
    "/* M below the micro-kernel height: B read once, in memory order, not packed */\n"
    "static void tfx_sgemm_small(const tfx_sgemm_job *j, int64_t ma, int64_t mb, int64_t na, int64_t nb) {\n"
    "  const int64_t M = mb - ma, K = j->K, lda = j->lda, ldb = j->ldb, ldc = j->ldc;\n"
    "  const float *const A = j->A + ma * lda, *const B = j->B;\n"
    "  float *const C = j->C + ma * ldc;\n"
    "  int64_t k0, j0, m;\n"
    "  if (j->layout == 2) {\n"
    "    /* each panel is K x 16, contiguous: one pass over it for all M rows */\n"
    "    for (j0 = na; j0 < nb; j0 += 16) {\n"
    "      const int64_t nr = nb - j0 < 16 ? nb - j0 : 16;\n"
    "      const float *const P = B + j0 * ldb;\n"
    "      switch (M) {\n"
    "      case 5: tfx_sgemm_k5(K, A, lda, P, C + j0, ldc, nr, 0); break;\n"
    "      case 4: tfx_sgemm_k4(K, A, lda, P, C + j0, ldc, nr, 0); break;\n"
    "      case 3: tfx_sgemm_k3(K, A, lda, P, C + j0, ldc, nr, 0); break;\n"
    "      case 2: tfx_sgemm_k2(K, A, lda, P, C + j0, ldc, nr, 0); break;\n"
    "      default: tfx_sgemm_k1(K, A, lda, P, C + j0, ldc, nr, 0); break;\n"
    "      }\n"
    "    }\n"
    "    return;\n"
    "  }\n"
    "  if (j->layout == 1) {\n"
    "    for (j0 = na; j0 + 4 <= nb; j0 += 4)\n"
    "      for (m = 0; m < M; m++) tfx_sgemv_t4(K, A + m * lda, B + j0 * ldb, ldb, C + m * ldc + j0);\n"
    "    for (; j0 < nb; j0++)\n"
    "      for (m = 0; m < M; m++) tfx_sgemv_t1(K, A + m * lda, B + j0 * ldb, ldb, C + m * ldc + j0);\n"
    "    return;\n"
    "  }\n"
    "  /* blocks of 8 rows of B, swept strip by strip: 8 streams in the prefetchers */\n"
    "  for (k0 = 0; k0 < K; k0 += 8) {\n"
    "    const int64_t kb = K - k0 < 8 ? K - k0 : 8;\n"
    "    for (j0 = na; j0 < nb; j0 += 64) {\n"
    "      const int64_t nr = nb - j0 < 64 ? nb - j0 : 64;\n"
    "      for (m = 0; m < M; m++)\n"
    "        tfx_sgemv_n(kb, A + m * lda + k0, B + k0 * ldb + j0, ldb, C + m * ldc + j0, nr, k0 > 0);\n"
    "    }\n"
    "  }\n"
    "}\n"
    "/* units [lo, hi) of the job: rows of A and C, or columns of B' and C */\n"
    "static void tfx_sgemm_part(void *arg, int64_t lo, int64_t hi) {\n"
    "  const tfx_sgemm_job *j = (const tfx_sgemm_job *)arg;\n"
    "  const int64_t dim = j->rows ? j->M : j->N, a = lo * j->unit, b = hi * j->unit < dim ? hi * j->unit : dim;\n"
    "  const int64_t ma = j->rows ? a : 0, mb = j->rows ? b : j->M, na = j->rows ? 0 : a, nb = j->rows ? j->N : b;\n"
    "  if (!j->small) {\n    tfx_sgemm_blocked(j, ma, mb, na, nb);\n    return;\n  }\n"
    "  tfx_sgemm_small(j, ma, mb, na, nb);\n"
    "  if (j->epi) tfx_sgemm_epi(j, ma, mb - ma, na, nb - na);\n"
    "}\n"
    "/* below this many multiply-adds a region costs more than it saves (tests set 1) */\n"
    "#ifndef TFX_SGEMM_SERIAL\n#define TFX_SGEMM_SERIAL 65536\n#endif\n"
    "static void tfx_sgemm_run(tfx_pool *pp, tfx_sgemm_job *j) {\n"
    "  int64_t m, units;\n"
    "  if (j->M <= 0 || j->N <= 0) return;\n"
    "  if (j->K <= 0) {\n"
    "    for (m = 0; m < j->M; m++) memset(j->C + m * j->ldc, 0, (size_t)j->N * sizeof(float));\n"
    "    if (j->epi) tfx_sgemm_epi(j, 0, j->M, 0, j->N);\n"
    "    return;\n"
    "  }\n"
    "  j->small = j->M < 6;\n"
    "  /* more row groups than column panels: split the rows */\n"
    "  j->rows = !j->small && (j->M + 5) / 6 > (j->N + 15) / 16;\n"
    "  j->unit = j->small ? 64 : j->rows ? 6 : TFX_SGEMM_NR;\n"
    "  units = ((j->rows ? j->M : j->N) + j->unit - 1) / j->unit;\n"
    "  if (tfx_pool_threads(pp) < 2 || j->M * j->N * j->K < TFX_SGEMM_SERIAL) tfx_sgemm_part(j, 0, units);\n"
    "  else tfx_parallel(pp, units, tfx_sgemm_part, j);\n"
    "}\n"
    "static TFX_MAYBE_UNUSED void tfx_sgemm(tfx_pool *pp, int64_t M, int64_t N, int64_t K, const float *A,\n"
    "    int64_t lda, const float *B, int64_t ldb, int tb, float *C, int64_t ldc) {\n"
    "  tfx_sgemm_job j;\n"
    "  memset(&j, 0, sizeof j);\n"
    "  j.M = M, j.N = N, j.K = K, j.A = A, j.lda = lda, j.B = B, j.ldb = ldb, j.layout = tb, j.C = C, j.ldc = ldc;\n"
    "  tfx_sgemm_run(pp, &j);\n"
    "}\n"
    "static TFX_MAYBE_UNUSED void tfx_linear(tfx_pool *pp, int64_t M, int64_t N, int64_t K, const float *A,\n"
    "    const float *B, int layout, const float *bias, int act, const float *R, float *C) {\n"
    "  tfx_sgemm_job j;\n"
    "  memset(&j, 0, sizeof j);\n"
    "  j.M = M, j.N = N, j.K = K, j.A = A, j.lda = K, j.B = B, j.ldb = layout == 0 ? N : K, j.layout = layout;\n"
    "  j.C = C, j.ldc = N, j.bias = bias, j.act = act, j.R = R, j.ldr = N;\n"
    "  j.epi = bias || act || R;\n"
    "  tfx_sgemm_run(pp, &j);\n"
    "}\n";

void tfx_c_print_simd(FILE *f) {
  fputs("#if defined(__AVX2__) && defined(__FMA__) && !defined(TFX_PORTABLE)\n"
        "#include <immintrin.h>\n#define TFX_SIMD 1\n"
        "#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)\n"
        "#define TFX_SIMD512 1\n"
        "#ifdef __AVX512VNNI__\n#define TFX_DPBUSD _mm256_dpbusd_epi32\n#endif\n"
        "#endif\n"
        "#if !defined(TFX_DPBUSD) && defined(__AVXVNNI__)\n#define TFX_DPBUSD _mm256_dpbusd_avx_epi32\n#endif\n"
        "#elif (defined(__GNUC__) || defined(__clang__)) && defined(__AVX__) && !defined(TFX_PORTABLE)\n"
        "#define TFX_VEC8 1\n#endif\n", f);
}

void tfx_c_print_sgemm(FILE *f) {
  fputs("\n/* ---- f32 GEMM: C (M x N) = A (M x K) x B' with B' = B (K x N) or, when tb,\n"
        " * B^T (B is N x K), or prepacked panels.  B' is read panel by panel (KC x 16)\n"
        " * from the prepacked weight or a copy in an aligned\n"
        " * stack buffer; micro-kernels keep a 6 x 16 tile of C in registers. */\n", f);
  fprintf(f, "#define TFX_SGEMM_KC 384\n#define TFX_SGEMM_MC 240\n");
  fputs("/* columns of C a micro-kernel takes: two panels with AVX-512's 16-float registers */\n"
        "#ifdef TFX_SIMD512\n#define TFX_SGEMM_NR 32\n#else\n#define TFX_SGEMM_NR 16\n#endif\n", f);
  fputs("/* P[k * 16 + j] = B'(k0 + k, j0 + j) for j < nr, 0 past nr */\n"
        "static void tfx_sgemm_pack(const float *B, int64_t ldb, int tb, int64_t k0, int64_t kc,\n"
        "    int64_t j0, int64_t nr, float *restrict P) {\n"
        "  int64_t k, j;\n"
        "  if (!tb && nr == 16) {\n"
        "    for (k = 0; k < kc; k++) {\n"
        "      const float *b = B + (k0 + k) * ldb + j0;\n"
        "#ifdef TFX_SIMD\n"
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
  fputs("#if defined(TFX_SIMD)\n", f);
  for (int r = MR; r >= 1; r--) print_kernel(f, r, K_AVX2);
  fputs("#ifdef TFX_SIMD512\n", f);
  for (int r = MR; r >= 1; r--) print_wide_kernel(f, r);
  fputs("#endif\n", f);
  print_small(f, K_AVX2);
  /* only where 8-float registers exist: on SSE alone gcc lowers these vectors
   * through memory, slower than the plain loops */
  fputs("#elif defined(TFX_VEC8)\n"
        "typedef float tfx_v8 __attribute__((vector_size(32)));\n", f);
  for (int r = MR; r >= 1; r--) print_kernel(f, r, K_GNUVEC);
  print_small(f, K_PLAIN);
  fputs("#else\n", f);
  for (int r = MR; r >= 1; r--) print_kernel(f, r, K_PLAIN);
  print_small(f, K_PLAIN);
  fputs("#endif\n", f);
  print_tile(f);
  fputs("/* Prefetch rows *pf .. *pf + per - 1 (of nl) of the prepacked panel slice at\n"
        " * nx into L2: a tile at a time, the slice the next tiles use arrives from\n"
        " * memory while this one computes (else the first tile over it waits) */\n"
        "static TFX_INLINE void tfx_sgemm_pf(const float *nx, int64_t *pf, int64_t per, int64_t nl) {\n"
        "#ifdef TFX_SIMD\n"
        "  const int64_t e = *pf + per < nl ? *pf + per : nl;\n"
        "  for (; *pf < e; (*pf)++) _mm_prefetch((const char *)(nx + *pf * 16), _MM_HINT_T1);\n"
        "#else\n"
        "  (void)nx, (void)pf, (void)per, (void)nl;\n"
        "#endif\n"
        "}\n", f);
  fputs(sgemm_job, f);
  fputs("/* C[ma, mb) x [na, nb) of the job, NR columns (one panel, or two for the\n"
        " * AVX-512 kernels) at a time */\n"
        "static void tfx_sgemm_blocked(const tfx_sgemm_job *j, int64_t ma, int64_t mb, int64_t na, int64_t nb) {\n"
        "  float buf[TFX_SGEMM_NR * TFX_SGEMM_KC + 16];\n"
        "  float *const pbuf = buf + (16 - (int64_t)((uintptr_t)buf / sizeof(float) % 16)) % 16;\n"
        "  const int64_t K = j->K, lda = j->lda, ldc = j->ldc;\n"
        "  int64_t k0, m0, j0, m, mcap;\n"
        "  /* rows per block of A: equal blocks of at most MC rows, rounded up to 6 */\n"
        "  mcap = (mb - ma + TFX_SGEMM_MC - 1) / TFX_SGEMM_MC;\n"
        "  mcap = ((mb - ma + mcap - 1) / mcap + 5) / 6 * 6;\n"
        "  for (k0 = 0; k0 < K; k0 += TFX_SGEMM_KC) {\n"
        "    const int64_t kc = K - k0 < TFX_SGEMM_KC ? K - k0 : TFX_SGEMM_KC;\n"
        "    const int add = k0 > 0 || j->acc, epi = j->epi && k0 + kc == K;\n"
        "    for (m0 = ma; m0 < mb; m0 += mcap) {\n"
        "      const int64_t me = mb - m0 < mcap ? mb : m0 + mcap;\n"
        "      for (j0 = na; j0 < nb; j0 += TFX_SGEMM_NR) {\n"
        "        const int64_t nr = nb - j0 < TFX_SGEMM_NR ? nb - j0 : TFX_SGEMM_NR;\n"
        "        float *const cj = j->C + j0;\n"
        "        const float *const ak = j->A + k0;\n"
        "        const float *P = pbuf, *Q = pbuf + 16 * TFX_SGEMM_KC;\n"
        "        if (j->layout == 2) {\n"
        "          /* prepacked: panel j0 / 16 is K x 16 at B + j0 * K, the next after it */\n"
        "          P = j->B + j0 * j->ldb + k0 * 16;\n"
        "          Q = nr > 16 ? P + 16 * j->ldb : P;\n"
        "        } else {\n"
        "          tfx_sgemm_pack(j->B, j->ldb, j->layout, k0, kc, j0, nr < 16 ? nr : 16, pbuf);\n"
        "          if (nr > 16) tfx_sgemm_pack(j->B, j->ldb, j->layout, k0, kc, j0 + 16, nr - 16, pbuf + 16 * TFX_SGEMM_KC);\n"
        "        }\n"
        "        /* the next slice of prepacked weights (the next panel's, else the first\n"
        "         * panel's in the next block of K), nl rows of it, per a tile: the row\n"
        "         * groups below are ceil(rows / 6) tiles for any count of rows */\n"
        "        const float *nx = NULL;\n"
        "        int64_t nl = 0, pf = 0, per;\n"
        "        if (j->layout == 2 && j0 + TFX_SGEMM_NR < nb) {\n"
        "          nx = j->B + (j0 + TFX_SGEMM_NR) * j->ldb + k0 * 16, nl = kc;\n"
        "        } else if (j->layout == 2 && k0 + kc < K) {\n"
        "          nx = j->B + na * j->ldb + (k0 + kc) * 16;\n"
        "          nl = K - k0 - kc < TFX_SGEMM_KC ? K - k0 - kc : TFX_SGEMM_KC;\n"
        "        }\n"
        "        per = (nl + (me - m0 + 5) / 6 - 1) / ((me - m0 + 5) / 6);\n"
        "        /* 1 or 2 rows over: the last 7 or 8 as 4 + 3 or 4 + 4 (k1 and k2 leave FMA\n"
        "         * units idle waiting on latency; every kernel rounds alike) */\n"
        "        for (m = m0; me - m == 6 || me - m >= 9; m += 6) {\n"
        "          tfx_sgemm_pf(nx, &pf, per, nl);\n"
        "          tfx_sgemm_tile(6, kc, ak + m * lda, lda, P, Q, cj + m * ldc, ldc, nr, add);\n"
        "          if (epi) tfx_sgemm_epi(j, m, 6, j0, nr);\n"
        "        }\n"
        "        if (me - m > 6) {\n"
        "          tfx_sgemm_pf(nx, &pf, per, nl);\n"
        "          tfx_sgemm_tile(4, kc, ak + m * lda, lda, P, Q, cj + m * ldc, ldc, nr, add);\n"
        "          if (epi) tfx_sgemm_epi(j, m, 4, j0, nr);\n"
        "          m += 4;\n"
        "        }\n"
        "        if (m < me) {\n"
        "          tfx_sgemm_pf(nx, &pf, per, nl);\n"
        "          tfx_sgemm_tile((int)(me - m), kc, ak + m * lda, lda, P, Q, cj + m * ldc, ldc, nr, add);\n"
        "          if (epi) tfx_sgemm_epi(j, m, me - m, j0, nr);\n"
        "        }\n"
        "      }\n"
        "    }\n"
        "  }\n"
        "}\n", f);
  fputs(sgemm_driver, f);
}
