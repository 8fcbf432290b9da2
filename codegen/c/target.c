/* target.c — the instruction set a generated file is written for (--cpu).
 *
 * An AVX or AVX2 file selects its kernels itself (TFX_SIMD: the AVX2+FMA
 * intrinsics; TFX_VEC8: GNU C vectors) instead of asking the C compiler's
 * flags, and puts every function of the model under that target with gcc's
 * `#pragma GCC target` or clang's `#pragma clang attribute`, so `cc -O2
 * model.c` builds the fast kernels without -march.  <name>_init and
 * <name>_status_str are printed outside the target: init first asks the
 * processor (__builtin_cpu_supports) and returns <NAME>_ERR_CPU, before
 * anything compiled for the target runs, on one that lacks it.  Defining
 * TFX_PORTABLE when building the file still forces plain C (and drops the
 * check).  Other compilers get the intrinsics only where they define
 * __AVX2__ themselves (MSVC under /arch:AVX2), else an #error. */
#include <string.h>

#include "codegen/c/cemit.h"
#include "codegen/c/kernels.h"

static const struct {
  TfxCpu cpu;
  const char *name, *what, *lacks, *target;
  const char *features[2]; /* __builtin_cpu_supports names init checks (none: no check) */
} targets[] = {
    {TFX_CPU_AUTO, "auto", "whatever the C compiler targets", NULL, NULL, {NULL}},
    {TFX_CPU_GENERIC, "generic", "plain C, any processor", NULL, NULL, {NULL}},
    {TFX_CPU_AVX, "avx", "x86 with AVX", "AVX", "avx", {"avx"}},
    {TFX_CPU_AVX2, "avx2", "x86-64 with AVX2 and FMA", "AVX2 or FMA", "avx2,fma", {"avx2", "fma"}},
};
enum { N_TARGETS = sizeof targets / sizeof targets[0] };

TfxCpu tfx_cpu_native(void) {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return TFX_CPU_AVX2;
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

void tfx_c_print_target(FILE *f, TfxCpu cpu) {
  const int t = find(cpu);
  if (cpu == TFX_CPU_AUTO) return;
  fprintf(f, "/* target: %s (tfxc --cpu %s) */\n", targets[t].what, targets[t].name);
  if (!targets[t].target) return;
  const char *simd = cpu == TFX_CPU_AVX2 ? "TFX_SIMD" : "TFX_VEC8";
  fputs("#if defined(TFX_PORTABLE)\n#define TFX_TARGET_BEGIN\n#define TFX_TARGET_END\n", f);
  fputs("#elif !(defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86))\n", f);
  fprintf(f, "#error \"generated for %s (tfxc --cpu %s): regenerate with --cpu generic, or define "
             "TFX_PORTABLE\"\n", targets[t].what, targets[t].name);
  fputs("#elif defined(__clang__)\n", f);
  if (cpu == TFX_CPU_AVX2) fputs("#include <immintrin.h>\n", f);
  fputs("#pragma clang diagnostic ignored \"-Wpragma-clang-attribute\" /* a region may hold no function */\n", f);
  fprintf(f, "#define %s 1\n", simd);
  fprintf(f, "#define TFX_TARGET_BEGIN _Pragma(\"clang attribute push (__attribute__((target(\\\"%s\\\"))), "
             "apply_to = function)\")\n#define TFX_TARGET_END _Pragma(\"clang attribute pop\")\n",
          targets[t].target);
  fputs("#elif defined(__GNUC__)\n", f);
  if (cpu == TFX_CPU_AVX2) fputs("#include <immintrin.h>\n", f);
  fprintf(f, "#define %s 1\n", simd);
  fprintf(f, "#define TFX_TARGET_BEGIN _Pragma(\"GCC push_options\") _Pragma(\"GCC target(\\\"%s\\\")\")\n"
             "#define TFX_TARGET_END _Pragma(\"GCC pop_options\")\n",
          targets[t].target);
  if (cpu == TFX_CPU_AVX2) {
    fputs("#elif defined(__AVX2__)\n#include <immintrin.h>\n#define TFX_SIMD 1\n"
          "#define TFX_TARGET_BEGIN\n#define TFX_TARGET_END\n", f);
  }
  fprintf(f, "#else\n#error \"generated for %s (tfxc --cpu %s): this compiler needs it enabled (or define "
             "TFX_PORTABLE)\"\n#endif\n", targets[t].what, targets[t].name);
}

void tfx_c_print_target_switch(FILE *f, TfxCpu cpu, bool on) {
  if (targets[find(cpu)].target) fputs(on ? "TFX_TARGET_BEGIN\n" : "TFX_TARGET_END\n", f);
}

void tfx_c_print_cpu_check(FILE *f, TfxCpu cpu, const char *U) {
  const char *const *feat = targets[find(cpu)].features;
  if (!feat[0]) return;
  fputs("#if (defined(__GNUC__) || defined(__clang__)) && !defined(TFX_PORTABLE)\n  __builtin_cpu_init();\n  if (", f);
  for (int i = 0; i < 2 && feat[i]; i++) fprintf(f, "%s!__builtin_cpu_supports(\"%s\")", i ? " || " : "", feat[i]);
  fprintf(f, ") return %s_ERR_CPU;\n#endif\n", U);
}
