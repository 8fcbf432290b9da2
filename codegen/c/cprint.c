/* cprint.c — the printing API op emitters use: indented lines, loops over
 * constant shapes, exact literals and element loads/stores that hide the
 * half-precision storage types. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codegen/c/cemit.h"

void tfx_c_puts(TfxCEmit *e, const char *s) {
  size_t n = strlen(s);
  if (e->len + n + 1 > e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 1 << 16;
    while (cap < e->len + n + 1) cap *= 2;
    char *b = realloc(e->buf, cap);
    if (!b) {
      e->oom = true;
      return;
    }
    e->buf = b;
    e->cap = cap;
  }
  memcpy(e->buf + e->len, s, n + 1);
  e->len += n;
}

void tfx_c_line(TfxCEmit *e, const char *fmt, ...) {
  char stack[1024], *line = stack;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(stack, sizeof stack, fmt, ap);
  va_end(ap);
  if (n >= (int)sizeof stack) {
    line = malloc((size_t)n + 1);
    if (!line) {
      e->oom = true;
      return;
    }
    va_start(ap, fmt);
    vsnprintf(line, (size_t)n + 1, fmt, ap);
    va_end(ap);
  }
  for (int i = 0; i < e->indent; i++) tfx_c_puts(e, "  ");
  tfx_c_puts(e, line);
  tfx_c_puts(e, "\n");
  if (line != stack) free(line);
}

void tfx_c_indent(TfxCEmit *e, int delta) {
  e->indent += delta;
  if (e->indent < 0) e->indent = 0;
}

void tfx_c_close(TfxCEmit *e, int n) {
  for (int i = 0; i < n; i++) {
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
}

const char *tfx_c_var(TfxCEmit *e, uint32_t v) {
  if (v >= e->g->n_values || !e->vars[v]) {
    fprintf(stderr, "tfxc: internal error: value %u has no C variable\n", v);
    abort();
  }
  e->referenced[v] = true;
  return e->vars[v];
}

const char *tfx_c_tmp(TfxCEmit *e, const char *prefix) {
  char name[64];
  snprintf(name, sizeof name, "%s_%d", prefix, e->ntmp++);
  return tfx_graph_strdup(e->g, name);
}

void tfx_c_need(TfxCEmit *e, TfxCHelper h) {
  if (h >= TFX_HELP_COUNT || e->need[h]) return;
  e->need[h] = true;
  if (h == TFX_HELP_QMM) tfx_c_need(e, TFX_HELP_SGEMM);
  if (h == TFX_HELP_ATTN || h == TFX_HELP_SGEMM) {
    tfx_c_need(e, TFX_HELP_SIMD);
    tfx_c_need(e, TFX_HELP_POOL);
    tfx_c_need(e, TFX_HELP_MATH); /* softmax; the GEMM's GELU epilogue */
  }
}

const char *tfx_c_calctype(TfxDtype t) {
  return t == TFX_F16 || t == TFX_BF16 ? "float" : tfx_dtype_ctype(t);
}

const char *tfx_c_load(TfxCEmit *e, TfxDtype t, const char *expr, char *buf) {
  if (t == TFX_F16) {
    tfx_c_need(e, TFX_HELP_F16);
    snprintf(buf, 256, "tfx_h2f(%s)", expr);
  } else if (t == TFX_BF16) {
    tfx_c_need(e, TFX_HELP_BF16);
    snprintf(buf, 256, "tfx_b2f(%s)", expr);
  } else {
    snprintf(buf, 256, "%s", expr);
  }
  return buf;
}

void tfx_c_store(TfxCEmit *e, TfxDtype t, const char *lvalue, const char *value) {
  if (t == TFX_F16) {
    tfx_c_need(e, TFX_HELP_F16);
    tfx_c_line(e, "%s = tfx_f2h(%s);", lvalue, value);
  } else if (t == TFX_BF16) {
    tfx_c_need(e, TFX_HELP_BF16);
    tfx_c_line(e, "%s = tfx_f2b(%s);", lvalue, value);
  } else if (t == TFX_BOOL) {
    tfx_c_line(e, "%s = (uint8_t)((%s) != 0);", lvalue, value);
  } else {
    tfx_c_line(e, "%s = (%s)(%s);", lvalue, tfx_dtype_ctype(t), value);
  }
}

const char *tfx_c_float(char *buf, float v) {
  if (isnan(v)) snprintf(buf, 64, "NAN");
  else if (isinf(v)) snprintf(buf, 64, v < 0 ? "(-INFINITY)" : "INFINITY");
  else snprintf(buf, 64, "%af", (double)v);
  if (buf[0] == '-' ) { /* keep unary minus from gluing to a preceding '-' */
    char t[64];
    snprintf(t, sizeof t, "(%s)", buf);
    snprintf(buf, 64, "%s", t);
  }
  return buf;
}

const char *tfx_c_double(char *buf, double v) {
  if (isnan(v)) snprintf(buf, 64, "((double)NAN)");
  else if (isinf(v)) snprintf(buf, 64, v < 0 ? "(-(double)INFINITY)" : "((double)INFINITY)");
  else snprintf(buf, 64, v < 0 ? "(%a)" : "%a", v);
  return buf;
}

const char *tfx_c_int(char *buf, int64_t v) {
  if (v == INT64_MIN) snprintf(buf, 64, "INT64_MIN");
  else if (v < 0) snprintf(buf, 64, "(INT64_C(%lld))", (long long)v);
  else snprintf(buf, 64, "INT64_C(%lld)", (long long)v);
  return buf;
}

void tfx_c_loops_begin(TfxCEmit *e, int rank, const int64_t *dims) {
  if (rank == 0) {
    tfx_c_line(e, "{");
    tfx_c_indent(e, 1);
    return;
  }
  for (int i = 0; i < rank; i++) {
    tfx_c_line(e, "for (int64_t i%d = 0; i%d < %lld; i%d++) {", i, i, (long long)dims[i], i);
    tfx_c_indent(e, 1);
  }
}

void tfx_c_loops_end(TfxCEmit *e, int rank) {
  for (int i = 0; i < (rank ? rank : 1); i++) {
    tfx_c_indent(e, -1);
    tfx_c_line(e, "}");
  }
}

const char *tfx_c_index(char *buf, int rank, const int64_t *strides, int64_t base) {
  size_t n = 0;
  buf[0] = 0;
  for (int i = 0; i < rank; i++) {
    if (!strides[i]) continue;
    if (strides[i] == 1)
      n += (size_t)snprintf(buf + n, 512 - n, "%si%d", n ? " + " : "", i);
    else
      n += (size_t)snprintf(buf + n, 512 - n, "%si%d * %lld", n ? " + " : "", i, (long long)strides[i]);
    if (n >= 480) break;
  }
  if (base || !n) snprintf(buf + n, 512 - n, "%s%lld", n ? " + " : "", (long long)base);
  return buf;
}

void tfx_c_comment_text(char *out, size_t size, const char *s) {
  size_t j = 0;
  for (size_t i = 0; s[i] && j + 2 < size; i++) {
    char c = s[i];
    if (c == '\n' || c == '\r' || (unsigned char)c < 32) c = ' ';
    if (c == '/' && j && out[j - 1] == '*') c = '|';
    if (c == '*' && s[i + 1] == '/') c = '+';
    if (c == '?' && s[i + 1] == '?') c = '.'; /* no trigraphs */
    out[j++] = c;
  }
  out[j] = 0;
}

const char *tfx_c_type_text(char *buf, size_t size, const TfxValue *v) {
  size_t n = (size_t)snprintf(buf, size, "%s[", tfx_dtype_name(v->dtype));
  for (int i = 0; i < v->rank && n < size; i++)
    n += (size_t)snprintf(buf + n, size - n, "%s%lld", i ? "," : "", (long long)v->dims[i]);
  if (n < size) snprintf(buf + n, size - n, "]");
  return buf;
}

bool tfx_c_packed(const TfxCEmit *e, uint32_t v) { return e->pack && v != TFX_NONE && e->pack[v]; }

bool tfx_c_last_row(TfxCEmit *e, const TfxNode *n) {
  if (!e->last_rows || n->n_outputs < 1 || n->outputs[0] != e->last_row_out) return false;
  e->last_row_used = true;
  return true;
}

bool tfx_c_same_bytes(const TfxCEmit *e, uint32_t a, uint32_t b) {
  return e->offset && a != TFX_NONE && b != TFX_NONE && e->offset[a] >= 0 && e->offset[a] == e->offset[b];
}

void tfx_c_put_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p < 0x20 || *p >= 0x7f || *p == '?') /* '?' avoids trigraphs */
      fprintf(f, "\\%03o", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}
