/* mathfn.c — vectorisable float functions printed into generated files (kernels.h).
 *
 * Each function is branch-free straight-line code without tables, so that a
 * loop calling it vectorises (gcc, clang at -O2 -march=...): special cases are
 * selects, not branches.  Polynomial coefficients are float-rounded
 * least-squares fits, refitted coefficient by coefficient after each rounding
 * (mpmath, 50 digits).  Measured against double libm by tests/unit/test_mathfn.c
 * (every 127th float):
 *   tfx_expf   0.95 ulp (relative 7.9e-8), subnormal results included; 0 below
 *              e^-104, inf above ln(FLT_MAX)
 *   tfx_erff   2.3 ulp, absolute error 7.9e-8
 *   tfx_tanhf  1.4 ulp (relative 1.6e-7)
 * NaN in gives NaN out; +-inf give the limits; the odd functions keep the
 * sign of zero (copysignf, which compilers inline as bit operations). */
#include "codegen/c/kernels.h"

/* e^x = 2^n e^r, x = n ln2 + r, |r| <= ln2/2 (ln2 split so n * LN2HI is
 * exact for |n| < 256); e^r = 1 + r + r^2 P(r), P of degree 4 fitted for
 * relative error 3.7e-9.  Adding 1.5 * 2^23 rounds x / ln2 to the integer n
 * and leaves it in the low mantissa bits, so no float -> int conversion (UB
 * for NaN) is needed.  x is first clamped to [-104, 89] (NaN passes: its
 * comparisons are false), which keeps n in [-150, 128]; 2^n is applied as
 * two normal factors so that subnormal results round once and large ones
 * overflow to inf by themselves. */
static const char expf_text[] =
    "static TFX_MAYBE_UNUSED TFX_INLINE float tfx_expf(float x) {\n"
    "  const float shift = 0x1.8p23f;\n"
    "  float t, r, p, s1, s2;\n"
    "  uint32_t m, h;\n"
    "  x = tfx_pickf(x < -104.0f, -104.0f, x);\n"
    "  x = tfx_pickf(x > 89.0f, 89.0f, x);\n"
    "  t = x * 0x1.715476p+0f + shift;\n"
    "  memcpy(&m, &t, 4);\n"
    "  t = t - shift;\n"
    "  r = x - t * 0x1.62e4p-1f;\n"
    "  r = r - t * 0x1.7f7d1cp-20f;\n"
    "  p = (((0x1.68532cp-10f * r + 0x1.123bccp-7f) * r + 0x1.555b96p-5f) * r + 0x1.55548ep-3f) * r\n"
    "      + 0x1.fffff8p-2f;\n"
    "  p = 1.0f + (r + r * r * p);\n"
    "  m = m - 0x4B400000u + 256u; /* n + 256 */\n"
    "  h = m >> 1;\n"
    "  m = (m - h - 1u) << 23;     /* 2^(n - (n + 256) / 2 + 128) */\n"
    "  h = (h - 1u) << 23;         /* 2^((n + 256) / 2 - 128) */\n"
    "  memcpy(&s1, &h, 4);\n"
    "  memcpy(&s2, &m, 4);\n"
    "  return p * s1 * s2;\n"
    "}\n";

/* c ? a : b on bits.  With a plain ?: gcc sinks the work of an arm into a
 * branch (and threads consecutive clamps into branches), then refuses to
 * vectorise: it does not speculate float operations that might trap. */
static const char pickf_text[] =
    "static TFX_MAYBE_UNUSED TFX_INLINE float tfx_pickf(int c, float a, float b) {\n"
    "  uint32_t ua, ub;\n"
    "  const uint32_t m = 0u - (uint32_t)c;\n"
    "  memcpy(&ua, &a, 4);\n"
    "  memcpy(&ub, &b, 4);\n"
    "  ua = (ua & m) | (ub & ~m);\n"
    "  memcpy(&a, &ua, 4);\n"
    "  return a;\n"
    "}\n";

/* erf: x P(x^2) for |x| < 0.875 (P of degree 5, absolute error 4e-9);
 * above, 1 - e^Q(|x|) with Q a degree-6 fit of log(erfc) on [0.875, 4]
 * (error of erfc 2e-9 absolute); erfc(4) < 2^-25, so |x| >= 4 gives +-1. */
static const char erff_text[] =
    "static TFX_MAYBE_UNUSED TFX_INLINE float tfx_erff(float x) {\n"
    "  const float a = fabsf(x), x2 = x * x;\n"
    "  const float b = tfx_pickf(a > 4.0f, 4.0f, a);\n"
    "  float s, q, l;\n"
    "  s = ((((-0x1.3d2ad4p-11f * x2 + 0x1.47a3e2p-8f) * x2 - 0x1.b68876p-6f) * x2 + 0x1.ce17f0p-4f) * x2\n"
    "       - 0x1.8126b8p-2f) * x2 + 0x1.20dd74p+0f;\n"
    "  q = (((((0x1.a6575cp-13f * b - 0x1.95b6c8p-9f) * b + 0x1.6f7d26p-6f) * b - 0x1.ab631cp-4f) * b\n"
    "       - 0x1.4600c2p-1f) * b - 0x1.20c0c6p+0f) * b - 0x1.164d26p-13f;\n"
    "  s = a * s;\n"
    "  l = 1.0f - tfx_expf(q);\n"
    "  return copysignf(tfx_pickf(a < 0.875f, s, l), x);\n"
    "}\n";

/* tanh: x + x^3 P(x^2) for |x| < 0.55 (P of degree 4, relative error 1.2e-9),
 * where 1 - 2 / (e^2|x| + 1) would cancel; above, that form (>= 0.5, and 1
 * once e^2|x| overflows). */
static const char tanhf_text[] =
    "static TFX_MAYBE_UNUSED TFX_INLINE float tfx_tanhf(float x) {\n"
    "  const float a = fabsf(x), x2 = x * x;\n"
    "  const float p = (((-0x1.9ce336p-8f * x2 + 0x1.598f86p-6f) * x2 - 0x1.b93360p-5f) * x2\n"
    "                   + 0x1.110d70p-3f) * x2 - 0x1.55554cp-2f;\n"
    "  const float s = a + a * x2 * p, l = 1.0f - 2.0f / (tfx_expf(a + a) + 1.0f);\n"
    "  return copysignf(tfx_pickf(a < 0.55f, s, l), x);\n"
    "}\n";

/* Blocks of 8 with a constant trip count: gcc's -O2 cost model vectorises
 * only loops whose count is a known multiple of the vector length, and the
 * buffer keeps y == x from needing an alias check. */
static const char vexpf_text[] =
    "static TFX_MAYBE_UNUSED void tfx_vexpf(float *y, const float *x, int64_t n) {\n"
    "  int64_t i = 0;\n"
    "  int k;\n"
    "  for (; i + 8 <= n; i += 8) {\n"
    "    float t[8];\n"
    "    for (k = 0; k < 8; k++) t[k] = tfx_expf(x[i + k]);\n"
    "    for (k = 0; k < 8; k++) y[i + k] = t[k];\n"
    "  }\n"
    "  for (; i < n; i++) y[i] = tfx_expf(x[i]);\n"
    "}\n";

/* Forced: the model function is so large that gcc's growth limits would
 * keep these out of it, and a call per element cannot be vectorised. */
static const char inline_text[] =
    "#if defined(__GNUC__) || defined(__clang__)\n"
    "#define TFX_INLINE inline __attribute__((always_inline))\n"
    "#else\n"
    "#define TFX_INLINE inline\n"
    "#endif\n";

void tfx_c_print_math(FILE *f) {
  fputs("\n/* ---- float exp / erf / tanh: branch-free, so loops calling them vectorise */\n", f);
  fputs(inline_text, f);
  fputs(pickf_text, f);
  fputs(expf_text, f);
  fputs(erff_text, f);
  fputs(tanhf_text, f);
  fputs(vexpf_text, f);
}
