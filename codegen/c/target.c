/* target.c — the instruction set a generated file is written for (--cpu).
 *
 * A file for an x86 target selects its kernels itself (TFX_SIMD: the
 * AVX2+FMA intrinsics; TFX_SIMD512: with the GEMM's AVX-512 micro-kernels;
 * TFX_DPBUSD: the VNNI instruction the quantised products use; TFX_VEC8: GNU
 * C vectors) instead of asking the C compiler's flags, and puts every
 * function of the model under that target with gcc's `#pragma GCC target` or
 * clang's `#pragma clang attribute`, so `cc -O2 model.c` builds the fast
 * kernels without -march.  <name>_init and <name>_status_str are printed
 * outside the target: init first asks the processor (__builtin_cpu_supports,
 * or cpuid for AVX-VNNI, which clang 14's builtin does not know) and returns
 * <NAME>_ERR_CPU, before anything compiled for the target runs, on one that
 * lacks it.  Defining TFX_PORTABLE when building the file still forces plain
 * C (and drops the check).  Defining TFX_EMULATE as a header name builds the
 * kernels for the build machine with the intrinsics that header supplies (an
 * emulation such as SIMDe's: how the tests run AVX-512 code on a machine
 * without it), with no target pragma and no check.  Other compilers get the
 * intrinsics only where they predefine the target's macros themselves (MSVC
 * under /arch:AVX2), else an #error. */
#include <string.h>

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#endif

#include "codegen/c/cemit.h"
#include "codegen/c/kernels.h"

enum { MAX_FEATURES = 7 };

static const struct {
  TfxCpu cpu;
  const char *name, *what, *lacks;
  const char *target;  /* gcc's and clang's target attribute (NULL: no pragma) */
  const char *defines; /* the kernel macros the file defines (and the headers they need) */
  const char *predef;  /* what other compilers must predefine to take it, or NULL */
  /* the features init checks: __builtin_cpu_supports names, but "avxvnni"
   * asks cpuid (leaf 7, subleaf 1, EAX bit 4) */
  const char *features[MAX_FEATURES];
} targets[] = {
    {TFX_CPU_AUTO, "auto", "whatever the C compiler targets", NULL, NULL, NULL, NULL, {NULL}},
    {TFX_CPU_GENERIC, "generic", "plain C, any processor", NULL, NULL, NULL, NULL, {NULL}},
    {TFX_CPU_AVX, "avx", "x86 with AVX", "AVX", "avx", "#define TFX_VEC8 1\n", NULL, {"avx"}},
    {TFX_CPU_AVX2, "avx2", "x86-64 with AVX2 and FMA", "AVX2 or FMA", "avx2,fma", "#include <immintrin.h>\n#define TFX_SIMD 1\n",
     "defined(__AVX2__)", {"avx2", "fma"}},
    {TFX_CPU_AVXVNNI, "avxvnni", "x86-64 with AVX2, FMA and AVX-VNNI", "AVX2, FMA or AVX-VNNI",
     "avx2,fma,avxvnni", "#include <immintrin.h>\n#define TFX_SIMD 1\n#define TFX_DPBUSD _mm256_dpbusd_avx_epi32\n",
     "defined(__AVX2__) && defined(__AVXVNNI__)", {"avx2", "fma", "avxvnni"}},
    {TFX_CPU_AVX512, "avx512", "x86-64 with AVX-512 (F, BW, DQ, VL)", "AVX-512 (F, BW, DQ or VL)",
     "avx2,fma,avx512f,avx512bw,avx512dq,avx512vl", "#include <immintrin.h>\n#define TFX_SIMD 1\n#define TFX_SIMD512 1\n",
     "defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)",
     {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl"}},
    {TFX_CPU_AVX512VNNI, "avx512vnni", "x86-64 with AVX-512 (F, BW, DQ, VL) and VNNI",
     "AVX-512 (F, BW, DQ or VL) or AVX512-VNNI", "avx2,fma,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni",
     "#include <immintrin.h>\n#define TFX_SIMD 1\n#define TFX_SIMD512 1\n#define TFX_DPBUSD _mm256_dpbusd_epi32\n",
     "defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__) && "
     "defined(__AVX512VNNI__)",
     {"avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512vnni"}},
};
enum { N_TARGETS = sizeof targets / sizeof targets[0] };

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
static bool has_avxvnni(void) {
  unsigned a, b, c, d;
  return __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 4));
}
#endif

TfxCpu tfx_cpu_native(void) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  if (avx512 && __builtin_cpu_supports("avx512vnni")) return TFX_CPU_AVX512VNNI;
  if (avx512) return TFX_CPU_AVX512;
  if (avx2 && has_avxvnni()) return TFX_CPU_AVXVNNI;
  if (avx2) return TFX_CPU_AVX2;
  if (__builtin_cpu_supports("avx")) return TFX_CPU_AVX;
#endif
  return TFX_CPU_GENERIC;
}

bool tfx_cpu_parse(const char *name, TfxCpu *cpu) {
  if (strcmp(name, "native") == 0) {
    *cpu = tfx_cpu_native();
    return true;
  }
  for (int i = 0; i < N_TARGETS; i++)
    if (strcmp(name, targets[i].name) == 0) {
      *cpu = targets[i].cpu;
      return true;
    }
  return false;
}

static int find(TfxCpu cpu) {
  for (int i = 0; i < N_TARGETS; i++)
    if (targets[i].cpu == cpu) return i;
  return 0;
}

const char *tfx_cpu_name(TfxCpu cpu) { return targets[find(cpu)].name; }

bool tfx_c_cpu_checked(TfxCpu cpu) { return targets[find(cpu)].features[0] != NULL; }

const char *tfx_c_cpu_what(TfxCpu cpu) { return targets[find(cpu)].what; }

const char *tfx_c_cpu_lacks(TfxCpu cpu) { return targets[find(cpu)].lacks; }

/* whether init's check asks cpuid itself */
static bool uses_cpuid(int t) {
  for (int i = 0; i < MAX_FEATURES && targets[t].features[i]; i++)
    if (strcmp(targets[t].features[i], "avxvnni") == 0) return true;
  return false;
}

void tfx_c_print_target(FILE *f, TfxCpu cpu) {
  const int t = find(cpu);
  if (cpu == TFX_CPU_AUTO) return;
  fprintf(f, "/* target: %s (tfxc --cpu %s) */\n", targets[t].what, targets[t].name);
  if (!targets[t].target) return;
  const char *defs = targets[t].defines;
  fputs("#if defined(TFX_PORTABLE)\n#define TFX_TARGET_BEGIN\n#define TFX_TARGET_END\n", f);
  fputs("#elif defined(TFX_EMULATE) /* the build machine's code, the target's intrinsics from this header */\n", f);
  fprintf(f, "%s#include TFX_EMULATE\n#define TFX_TARGET_BEGIN\n#define TFX_TARGET_END\n", defs);
  fputs("#elif !(defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86))\n", f);
  fprintf(f, "#error \"generated for %s (tfxc --cpu %s): regenerate with --cpu generic, or define "
             "TFX_PORTABLE\"\n", targets[t].what, targets[t].name);
  fputs("#elif defined(__clang__)\n", f);
  fputs(defs, f);
  if (uses_cpuid(t)) fputs("#include <cpuid.h>\n", f);
  fputs("#pragma clang diagnostic ignored \"-Wpragma-clang-attribute\" /* a region may hold no function */\n", f);
  fprintf(f, "#define TFX_TARGET_BEGIN _Pragma(\"clang attribute push (__attribute__((target(\\\"%s\\\"))), "
             "apply_to = function)\")\n#define TFX_TARGET_END _Pragma(\"clang attribute pop\")\n",
          targets[t].target);
  fputs("#elif defined(__GNUC__)\n", f);
  fputs(defs, f);
  if (uses_cpuid(t)) fputs("#include <cpuid.h>\n", f);
  fprintf(f, "#define TFX_TARGET_BEGIN _Pragma(\"GCC push_options\") _Pragma(\"GCC target(\\\"%s\\\")\")\n"
             "#define TFX_TARGET_END _Pragma(\"GCC pop_options\")\n",
          targets[t].target);
  if (targets[t].predef)
    fprintf(f, "#elif %s\n%s#define TFX_TARGET_BEGIN\n#define TFX_TARGET_END\n", targets[t].predef, defs);
  fprintf(f, "#else\n#error \"generated for %s (tfxc --cpu %s): this compiler needs it enabled (or define "
             "TFX_PORTABLE)\"\n#endif\n", targets[t].what, targets[t].name);
}

void tfx_c_print_target_switch(FILE *f, TfxCpu cpu, bool on) {
  if (targets[find(cpu)].target) fputs(on ? "TFX_TARGET_BEGIN\n" : "TFX_TARGET_END\n", f);
}

void tfx_c_print_cpu_check(FILE *f, TfxCpu cpu, const char *U) {
  const char *const *feat = targets[find(cpu)].features;
  if (!feat[0]) return;
  const bool cpuid = uses_cpuid(find(cpu));
  fputs("#if (defined(__GNUC__) || defined(__clang__)) && !defined(TFX_PORTABLE) && !defined(TFX_EMULATE)\n", f);
  if (cpuid) fputs("  unsigned tfx_r[4];\n", f);
  fputs("  __builtin_cpu_init();\n  if (", f);
  for (int i = 0; i < MAX_FEATURES && feat[i]; i++) {
    if (i) fputs(i % 3 ? " || " : " ||\n      ", f);
    if (strcmp(feat[i], "avxvnni") == 0) /* cpuid leaf 7, subleaf 1: EAX bit 4 */
      fputs("!__get_cpuid_count(7, 1, &tfx_r[0], &tfx_r[1], &tfx_r[2], &tfx_r[3]) || !(tfx_r[0] & 16u)", f);
    else
      fprintf(f, "!__builtin_cpu_supports(\"%s\")", feat[i]);
  }
  fprintf(f, ") return %s_ERR_CPU;\n#endif\n", U);
}
