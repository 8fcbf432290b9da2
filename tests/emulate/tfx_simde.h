/* tfx_simde.h — the AVX-512 and VNNI intrinsics from SIMDe (libsimde-dev), for
 * building a generated file of --cpu avx512, avx512vnni or avxvnni on a
 * machine without those instructions:
 *
 *   cc -mavx2 -mfma -Wno-psabi -I tests/emulate -DTFX_EMULATE='"tfx_simde.h"' model.c
 *
 * The file then runs the build machine's instructions (AVX2 here), with every
 * AVX-512 or VNNI intrinsic computed by SIMDe's portable code: the tests
 * compare its bits with those of --cpu avx2. */
#ifndef TFX_SIMDE_H
#define TFX_SIMDE_H
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
/* AVX-VNNI's VEX form: SIMDe has the EVEX one, the same arithmetic */
#define _mm256_dpbusd_avx_epi32 simde_mm256_dpbusd_epi32
#endif
