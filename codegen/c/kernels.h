/* kernels.h — kernel source text the C backend prints once into a generated
 * file when an emitter asks for it (tfx_c_need).  The kernels take their shapes
 * as run-time arguments, so the code that calls them has the same structure
 * at every sequence length (codegen/lift.h). */
#ifndef TFX_KERNELS_H
#define TFX_KERNELS_H

#include <stdio.h>

/* TFX_HELP_SGEMM: the f32 GEMM
 *   static void tfx_sgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
 *                         const float *B, int64_t ldb, int tb, float *C, int64_t ldc);
 * C (M x N, row stride ldc) = A (M x K, row stride lda) x B', where B' is B
 * (K x N, row stride ldb) when tb == 0 and B transposed (B is N x K) when
 * tb == 1.  C must not overlap A or B.  AVX2+FMA intrinsics when the C
 * compiler targets them, else GNU C vectors (gcc or clang on AVX), else plain
 * C; defining TFX_PORTABLE when building the generated file forces plain C. */
void tfx_c_print_sgemm(FILE *f);

#endif
