/* lift.h — turning code printed at several concrete sizes into code for every
 * size.  With --max, the graph is compiled at a few sample values of its
 * run-time symbols (sequence length S, cache position P); the printed C texts
 * then differ only in integer literals that are functions of the symbols.
 * tfx_lift fits each such literal with a polynomial of total degree <= 2 with
 * integer coefficients and prints it as a C expression in the symbols'
 * run-time variables.  Anything else that differs is refused. */
#ifndef TFX_LIFT_H
#define TFX_LIFT_H

#include <stddef.h>
#include <stdint.h>

enum { TFX_LIFT_MAX_SYMS = 2, TFX_LIFT_MAX_SAMPLES = 16 };

/* Monomials in order: 1, s0, s1, s0*s0, s0*s1, s1*s1 (those with s1 only when
 * n_syms == 2). */
enum { TFX_LIFT_MAX_TERMS = 6 };

typedef struct {
  int n_syms;                              /* 1 or 2 */
  const char *sym_expr[TFX_LIFT_MAX_SYMS]; /* C names of the run-time values, e.g. "tfx_S" */
  int k;                                   /* number of samples, <= TFX_LIFT_MAX_SAMPLES */
  int64_t sample[TFX_LIFT_MAX_SAMPLES][TFX_LIFT_MAX_SYMS];
} TfxLiftSpec;

/* Fit y[i] (the value at sample i) with the lowest-degree polynomial (0, 1,
 * then 2) with integer coefficients that reproduces every sample exactly;
 * coef[TFX_LIFT_MAX_TERMS] in monomial order.  Returns the degree, or -1 when
 * no such polynomial exists (or the samples cannot determine one). */
int tfx_lift_fit(const TfxLiftSpec *s, const int64_t *y, int64_t *coef);
/* Value of a fitted polynomial at sym[0..n_syms-1]. */
int64_t tfx_lift_eval(const TfxLiftSpec *s, const int64_t *coef, const int64_t *sym);
/* Print a fitted polynomial into buf as a parenthesised C expression of type
 * int64_t, e.g. "(tfx_S * 12 + 3)" (a constant prints as a plain literal). */
const char *tfx_lift_expr(const TfxLiftSpec *s, const int64_t *coef, char *buf, size_t size);

/* texts[i] was printed with the symbols at s->sample[i].  Returns a malloc'd
 * text equal to texts[0] except that every integer literal that differs
 * between the texts is replaced by its fitted expression.  On failure returns
 * NULL and writes into err a message quoting the offending line of texts[0]
 * and the sample values. */
char *tfx_lift(const TfxLiftSpec *s, const char *const *texts, char *err, size_t errlen);

#endif
