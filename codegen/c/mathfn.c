/* mathfn.c — vectorisable float functions printed into generated files (kernels.h). */
#include "codegen/c/kernels.h"

void tfx_c_print_math(FILE *f) {
  fputs("static TFX_MAYBE_UNUSED float tfx_expf(float x) { return expf(x); }\n"
        "static TFX_MAYBE_UNUSED float tfx_erff(float x) { return erff(x); }\n"
        "static TFX_MAYBE_UNUSED float tfx_tanhf(float x) { return tanhf(x); }\n"
        "static TFX_MAYBE_UNUSED void tfx_vexpf(float *y, const float *x, int64_t n) {\n"
        "  for (int64_t i = 0; i < n; i++) y[i] = expf(x[i]);\n}\n", f);
}
