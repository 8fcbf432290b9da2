/* kernels.h — kernel source text the C backend prints once into a generated
 * file when an emitter asks for it (tfx_c_need).  The kernels take their shapes
 * as run-time arguments, so the code that calls them has the same structure
 * at every sequence length (codegen/lift.h). */
#ifndef TFX_KERNELS_H
#define TFX_KERNELS_H

#include <stdint.h>
#include <stdio.h>

/* TFX_HELP_SGEMM: the f32 GEMM
 *   static void tfx_sgemm(tfx_pool *pp, int64_t M, int64_t N, int64_t K, const float *A,
 *                         int64_t lda, const float *B, int64_t ldb, int tb, float *C, int64_t ldc);
 * C (M x N, row stride ldc) = A (M x K, row stride lda) x B', where B' is B
 * (K x N, row stride ldb) when tb == 0 and B transposed (B is N x K) when
 * tb == 1.  C must not overlap A or B.  The work is split over the threads of
 * pp (NULL: the calling thread alone); C is bit for bit the same for any
 * number of threads.  AVX2+FMA intrinsics under TFX_SIMD, else GNU C vectors
 * under TFX_VEC8, else plain C (see TFX_HELP_SIMD). */
void tfx_c_print_sgemm(FILE *f);

/* TFX_HELP_SIMD under --cpu auto: `#include <immintrin.h>` and `#define
 * TFX_SIMD 1` when the C compiler targets AVX2+FMA, else `#define TFX_VEC8 1`
 * (GNU C vectors) when it targets AVX, neither when TFX_PORTABLE is defined.
 * Other targets define them in their preamble (target.c). */
void tfx_c_print_simd(FILE *f);

/* TFX_HELP_POOL: work split across the threads of the run (kernels.c)
 *   typedef struct tfx_pool tfx_pool;
 *   static void tfx_parallel(tfx_pool *pp, int64_t n,
 *                            void (*fn)(void *arg, int64_t lo, int64_t hi), void *arg);
 *   static int tfx_pool_threads(const tfx_pool *pp);   (1 for NULL)
 * tfx_parallel cuts [0, n) into at most tfx_pool_threads(pp) contiguous
 * ranges, calls fn on each (the calling thread takes the first, workers the
 * others) and returns when all are done.  A call from inside fn runs
 * serially.  Every run/step function has the local `tfx_pool *tfx_pp` in
 * scope.  threads <= 1 prints a serial stub (no pthreads); otherwise a pool
 * of up to `threads` threads whose state takes tfx_c_pool_bytes(threads) bytes
 * of the workspace, with tfx_pool_init (in <name>_init), tfx_pool_resize
 * (<name>_set_threads) and TFX_POOL_MAX. */
void tfx_c_print_pool(FILE *f, int threads);
int64_t tfx_c_pool_bytes(int threads);

/* TFX_HELP_MATH: vectorisable float functions (mathfn.c), accurate to a few
 * ulp over the whole float range, NaN and infinities as libm:
 *   static float tfx_expf(float), tfx_erff(float), tfx_tanhf(float);
 *   static void tfx_vexpf(float *y, const float *x, int64_t n);   (y may equal x)
 *   static float tfx_pickf(int c, float a, float b);   (c ? a : b, without a branch)
 * Measured against libm in double (tests/unit/test_mathfn.c): exp 0.95 ulp,
 * erf 2.3 ulp, tanh 1.4 ulp. */
void tfx_c_print_math(FILE *f);

/* TFX_HELP_ATTN: the float32 attention kernels (kernels_attn.c; see that
 * file): tfx_attn, prefill in tiles with online softmax, and tfx_kv_attn,
 * a decode step over the KV cache with the keys split across threads. */
void tfx_c_print_attn(FILE *f);

/* TFX_HELP_QMM: the product with quantised weights (kernels_quant.c)
 *   static void tfx_qmm(tfx_pool *pp, int64_t M, int64_t N, int64_t K, const float *x,
 *                       const void *wq, const float *scales, const float *offsets,
 *                       int64_t group, int bits, const float *bias, const float *xs,
 *                       const signed char *xq, const float *xd, int64_t block, float *y);
 * y [M, N] = (x [M, K] .* xs) x W^T + bias with W [N, K] stored as WeightQMatMul's
 * wq (int8, or uint8 nibble pairs for bits 4), scales [N, K / group] and, for
 * bits 4, offsets [N, K / group] (w = q * scale + offset); offsets, bias and
 * xs may be NULL.  With xq and xd (block > 0) x is BlockQuantize's xhat and
 * the integers it stands for, which decode multiplies as integers.  Threads
 * split the channels; the result is the same for any thread count.
 *   static void tfx_bq(int64_t M, int64_t K, int64_t L, const float *x, const float *xs,
 *                      signed char *q, float *d, float *xhat);
 * BlockQuantize: x [M, K] (.* xs) in blocks of L quantised to int8 q with
 * scales d [M, K / L], and xhat = q * d. */
void tfx_c_print_qmm(FILE *f);

#endif
