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
  bool last_rows;        /* a decoder: its logits (value last_row_out) may be the last row alone */
  uint32_t last_row_out;
  bool last_row_used;    /* an emitter printed its last-row variant (tfx_c_last_row) */
};

void tfx_c_puts(TfxCEmit *e, const char *s); /* raw append, no indent or newline */
/* Copy of s safe inside a C comment (no comment terminators, no newlines). */
void tfx_c_comment_text(char *out, size_t size, const char *s);
/* Print s as a C string literal (octal escapes are always three digits, so
 * a following digit cannot extend them). */
void tfx_c_put_string(FILE *f, const char *s);
/* --profile (profile.c): the live nodes a run times; what goes before the
 * includes of the .c, the header's declarations (after <name>_ctx, whose
 * prof_seconds and prof_runs the emitter prints), and the .c's tables and
 * functions. */
int tfx_c_profile_nodes(const TfxGraph *g);
void tfx_c_profile_prelude(FILE *f);
void tfx_c_profile_header(FILE *f, const TfxGraph *g, const char *nm, const char *U);
void tfx_c_profile_code(FILE *f, const TfxGraph *g, const char *nm, const char *U);
/* --cpu (target.c): whether init checks the processor, the target in words,
 * what a processor that init refuses lacks ("AVX2 or FMA"),
 * the preamble that defines TFX_SIMD / TFX_VEC8 and TFX_TARGET_BEGIN / _END
 * (nothing for AUTO: kernels.c's tfx_c_print_simd decides then), one of those
 * two lines, and init's check (returning U_ERR_CPU). */
bool tfx_c_cpu_checked(TfxCpu cpu);
const char *tfx_c_cpu_what(TfxCpu cpu);
const char *tfx_c_cpu_lacks(TfxCpu cpu);
void tfx_c_print_target(FILE *f, TfxCpu cpu);
void tfx_c_print_target_switch(FILE *f, TfxCpu cpu, bool on);
void tfx_c_print_cpu_check(FILE *f, TfxCpu cpu, const char *U);
/* "float32[2,3]" */
const char *tfx_c_type_text(char *buf, size_t size, const TfxValue *v);

#endif
