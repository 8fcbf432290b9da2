/* diag.c — user-facing error messages collected as lines.  The library never
 * prints; the driver decides where messages go. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"

void tfx_diag_init(TfxDiag *d) { memset(d, 0, sizeof *d); }

void tfx_diag_deinit(TfxDiag *d) {
  free(d->text);
  memset(d, 0, sizeof *d);
}

TfxStatus tfx_verror(TfxDiag *d, const char *fmt, va_list ap) {
  if (!d) return TFX_ERR;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) n = 0;
  size_t need = d->len + (size_t)n + 2;
  if (need > d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 256;
    while (cap < need) cap *= 2;
    char *t = realloc(d->text, cap);
    if (!t) return TFX_ERR;
    d->text = t;
    d->cap = cap;
  }
  vsnprintf(d->text + d->len, (size_t)n + 1, fmt, ap);
  d->len += (size_t)n;
  d->text[d->len++] = '\n';
  d->text[d->len] = 0;
  d->count++;
  return TFX_ERR;
}

TfxStatus tfx_error(TfxDiag *d, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tfx_verror(d, fmt, ap);
  va_end(ap);
  return TFX_ERR;
}
