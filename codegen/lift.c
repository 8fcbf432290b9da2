/* lift.c — see lift.h (being written). */
#include <stdio.h>
#include "codegen/lift.h"

int tfx_lift_fit(const TfxLiftSpec *s, const int64_t *y, int64_t *coef) { (void)s; (void)y; (void)coef; return -1; }
int64_t tfx_lift_eval(const TfxLiftSpec *s, const int64_t *coef, const int64_t *sym) { (void)s; (void)sym; return coef[0]; }
const char *tfx_lift_expr(const TfxLiftSpec *s, const int64_t *coef, char *buf, size_t size) { (void)s; snprintf(buf, size, "%lld", (long long)coef[0]); return buf; }
char *tfx_lift(const TfxLiftSpec *s, const char *const *texts, char *err, size_t errlen) { (void)s; (void)texts; snprintf(err, errlen, "not implemented"); return NULL; }
