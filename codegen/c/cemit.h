/* cemit.h — the C backend's private state, shared by its files. */
#ifndef TFX_CEMIT_H
#define TFX_CEMIT_H

#include "codegen/codegen.h"

struct TfxCEmit {
  TfxGraph *g;
  char *buf; /* the body being printed */
  size_t len, cap;
  int indent;
  bool need[TFX_HELP_COUNT];
  const char **vars; /* per value id: pointer variable name, or NULL */
  bool *referenced;  /* per value id: the printed code names its variable */
  const uint8_t *pack; /* per value id: non-zero for a weight stored prepacked (tfx_c_packed), or NULL */
  const int64_t *offset; /* per value id: workspace offset (the memory plan), -1 outside it; or NULL */
  int ntmp;
  bool oom;
};

void tfx_c_puts(TfxCEmit *e, const char *s); /* raw append, no indent or newline */
/* Copy of s safe inside a C comment (no comment terminators, no newlines). */
void tfx_c_comment_text(char *out, size_t size, const char *s);
/* "float32[2,3]" */
const char *tfx_c_type_text(char *buf, size_t size, const TfxValue *v);

#endif
