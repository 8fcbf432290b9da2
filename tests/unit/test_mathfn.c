/* test_mathfn.c — the float functions of codegen/c/mathfn.c, as printed into
 * generated files: the text is compiled with a checking main() (portable at
 * -O1, and vectorised at -O2 -march=native when the compiler takes it) and
 * compared with the double-precision libm functions over every 127th float
 * bit pattern (in blocks, so the vectorised code is what gets checked), plus special values and tfx_vexpf against tfx_expf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "codegen/c/kernels.h"

/* Errors are in units of the float spacing at the exact value (subnormal
 * spacing below FLT_MIN), so subnormal results of exp are held to the same
 * bar; erf is also held to an absolute bound (Gelu's tolerance). */
static const char checker[] =
    "#include <stdio.h>\n"
    "static double ulp_of(double v) {\n"
    "  int e;\n"
    "  v = fabs(v);\n"
    "  if (v < FLT_MIN) return 0x1p-149;\n"
    "  frexp(v, &e);\n"
    "  return ldexp(1.0, e - 24);\n"
    "}\n"
    "static int bad;\n"
    "static void expect(const char *what, float x, float got, float want) {\n"
    "  if (!(got == want || (got != got && want != want))) {\n"
    "    printf(\"%s(%a) = %a, expected %a\\n\", what, (double)x, (double)got, (double)want);\n"
    "    bad++;\n"
    "  }\n"
    "}\n"
    "int main(void) {\n"
    "  static float xs[4096], ys[4096], ye[4096], ya[4096], yt[4096];\n"
    "  double ue = 0, ua = 0, ut = 0, ae = 0, re = 0, rt = 0;\n"
    "  uint64_t u0;\n"
    "  int i;\n"
    "  for (u0 = 0; u0 < 0x100000000u; u0 += 127 * 4096) {\n"
    "    for (i = 0; i < 4096; i++) {\n"
    "      const uint32_t u = (uint32_t)(u0 + 127u * (uint64_t)i);\n"
    "      memcpy(&xs[i], &u, 4);\n"
    "    }\n"
    "    for (i = 0; i < 4096; i++) ye[i] = tfx_expf(xs[i]);\n"
    "    for (i = 0; i < 4096; i++) ya[i] = tfx_erff(xs[i]);\n"
    "    for (i = 0; i < 4096; i++) yt[i] = tfx_tanhf(xs[i]);\n"
    "    for (i = 0; i < 4096; i++) {\n"
    "      const float x = xs[i];\n"
    "      double d, w;\n"
    "      if (x != x) {\n"
    "        expect(\"tfx_expf\", x, ye[i], x);\n"
    "        expect(\"tfx_erff\", x, ya[i], x);\n"
    "        expect(\"tfx_tanhf\", x, yt[i], x);\n"
    "        continue;\n"
    "      }\n"
    "      d = exp((double)x);\n"
    "      if (d <= FLT_MAX) {\n"
    "        w = fabs(ye[i] - d) / ulp_of(d);\n"
    "        if (w > ue) ue = w;\n"
    "        if (d >= FLT_MIN && fabs(ye[i] - d) / d > re) re = fabs(ye[i] - d) / d;\n"
    "      } else {\n"
    "        expect(\"tfx_expf\", x, ye[i], INFINITY);\n"
    "      }\n"
    "      d = erf((double)x);\n"
    "      if (fabs(ya[i] - d) > ae) ae = fabs(ya[i] - d);\n"
    "      w = fabs(ya[i] - d) / ulp_of(d);\n"
    "      if (w > ua) ua = w;\n"
    "      d = tanh((double)x);\n"
    "      w = fabs(yt[i] - d) / ulp_of(d);\n"
    "      if (w > ut) ut = w;\n"
    "      if (d != 0 && fabs(yt[i] - d) / fabs(d) > rt) rt = fabs(yt[i] - d) / fabs(d);\n"
    "    }\n"
    "  }\n"
    "  printf(\"expf: %.3f ulp, relative %.3g\\nerff: %.3f ulp, absolute %.3g\\n\"\n"
    "         \"tanhf: %.3f ulp, relative %.3g\\n\", ue, re, ua, ae, ut, rt);\n"
    "  if (ue > 1.5 || re > 1.8e-7) printf(\"tfx_expf is off\\n\"), bad++;\n"
    "  if (ua > 3.0 || ae > 1.5e-7) printf(\"tfx_erff is off\\n\"), bad++;\n"
    "  if (ut > 2.5 || rt > 2.4e-7) printf(\"tfx_tanhf is off\\n\"), bad++;\n"
    "  expect(\"tfx_expf\", 0.0f, tfx_expf(0.0f), 1.0f);\n"
    "  expect(\"tfx_expf\", -0.0f, tfx_expf(-0.0f), 1.0f);\n"
    "  expect(\"tfx_expf\", INFINITY, tfx_expf(INFINITY), INFINITY);\n"
    "  expect(\"tfx_expf\", -INFINITY, tfx_expf(-INFINITY), 0.0f);\n"
    "  expect(\"tfx_expf\", NAN, tfx_expf(NAN), NAN);\n"
    "  expect(\"tfx_expf\", 89.0f, tfx_expf(89.0f), INFINITY);\n"
    "  expect(\"tfx_expf\", -104.0f, tfx_expf(-104.0f), 0.0f);\n"
    "  expect(\"tfx_expf\", -1e30f, tfx_expf(-1e30f), 0.0f);\n"
    "  expect(\"tfx_expf\", 0x1.62e42ep+6f, tfx_expf(0x1.62e42ep+6f), expf(0x1.62e42ep+6f));\n"
    "  expect(\"tfx_expf\", -0x1.9fe368p+6f, tfx_expf(-0x1.9fe368p+6f), 0x1p-149f);\n"
    "  expect(\"tfx_erff\", 0.0f, tfx_erff(0.0f), 0.0f);\n"
    "  expect(\"tfx_erff\", -0.0f, 1.0f / tfx_erff(-0.0f), -INFINITY);\n"
    "  expect(\"tfx_erff\", INFINITY, tfx_erff(INFINITY), 1.0f);\n"
    "  expect(\"tfx_erff\", -INFINITY, tfx_erff(-INFINITY), -1.0f);\n"
    "  expect(\"tfx_erff\", NAN, tfx_erff(NAN), NAN);\n"
    "  expect(\"tfx_erff\", 5.0f, tfx_erff(5.0f), 1.0f);\n"
    "  expect(\"tfx_erff\", -1e30f, tfx_erff(-1e30f), -1.0f);\n"
    "  expect(\"tfx_tanhf\", -0.0f, 1.0f / tfx_tanhf(-0.0f), -INFINITY);\n"
    "  expect(\"tfx_tanhf\", INFINITY, tfx_tanhf(INFINITY), 1.0f);\n"
    "  expect(\"tfx_tanhf\", -INFINITY, tfx_tanhf(-INFINITY), -1.0f);\n"
    "  expect(\"tfx_tanhf\", NAN, tfx_tanhf(NAN), NAN);\n"
    "  expect(\"tfx_tanhf\", 50.0f, tfx_tanhf(50.0f), 1.0f);\n"
    "  expect(\"tfx_tanhf\", -1e30f, tfx_tanhf(-1e30f), -1.0f);\n"
    "  expect(\"tfx_tanhf\", 1e-30f, tfx_tanhf(1e-30f), 1e-30f);\n"
    "  for (i = 0; i < 4096; i++) xs[i] = (float)(i - 2048) * 0.0625f;\n"
    "  xs[5] = NAN, xs[6] = INFINITY, xs[7] = -INFINITY;\n"
    "  tfx_vexpf(ys, xs, 4093);\n"
    "  for (i = 0; i < 4093; i++) expect(\"tfx_vexpf\", xs[i], ys[i], tfx_expf(xs[i]));\n"
    "  expect(\"tfx_vexpf past n\", xs[4093], ys[4093], 0.0f);\n"
    "  tfx_vexpf(xs + 1, xs + 1, 13);\n"
    "  for (i = 1; i < 14; i++) expect(\"tfx_vexpf in place\", (float)i, xs[i], ys[i]);\n"
    "  return bad != 0;\n"
    "}\n";

/* Compile the printed functions and the checker with `flags` and run it;
 * returns -1 when the compiler refuses the flags alone (no -march=native). */
static int run_with(const char *dir, const char *flags) {
  char src[256], exe[256], cmd[1024];
  const char *cc = getenv("CC") ? getenv("CC") : "cc";
  snprintf(src, sizeof src, "%s/mathfn.c", dir);
  snprintf(exe, sizeof exe, "%s/mathfn", dir);
  snprintf(cmd, sizeof cmd, "echo 'int main(void){return 0;}' | %s %s -x c -o %s - 2>/dev/null", cc,
           flags, exe);
  if (system(cmd) != 0) return -1;
  FILE *f = fopen(src, "w");
  if (!f) return 1;
  fputs("#include <float.h>\n#include <math.h>\n#include <stddef.h>\n#include <stdint.h>\n"
        "#include <string.h>\n"
        "#define TFX_MAYBE_UNUSED __attribute__((unused))\n", f);
  tfx_c_print_math(f);
  fputs(checker, f);
  fclose(f);
  snprintf(cmd, sizeof cmd, "%s -std=c99 -Wall -Wextra -Werror %s -o %s %s -lm && %s", cc, flags,
           exe, src, exe);
  printf("[%s]\n", flags);
  fflush(stdout);
  return system(cmd) != 0;
}

int main(void) {
  char dir[] = "/tmp/tfx_mathfn_XXXXXX";
  if (system("cc --version >/dev/null 2>&1") != 0 && !getenv("CC")) {
    fprintf(stderr, "test_mathfn: SKIPPED: no `cc` found\n");
    return 0;
  }
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  CHECK(run_with(dir, "-O1") == 0);
  int native = run_with(dir, "-O2 -march=native");
  CHECK(native != 1);
  if (native < 0) fprintf(stderr, "test_mathfn: no -march=native: vectorised build not tested\n");
  if (failures == 0) {
    char p[300];
    snprintf(p, sizeof p, "%s/mathfn.c", dir), unlink(p);
    snprintf(p, sizeof p, "%s/mathfn", dir), unlink(p);
    rmdir(dir);
  } else {
    fprintf(stderr, "test program kept in %s\n", dir);
  }
  return failures != 0;
}
