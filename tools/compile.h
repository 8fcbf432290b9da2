/* compile.h — model file to C files: import, bind dims, run the passes and
 * emit, either for fixed dims or (with --max) for every length up to a bound.
 * Shared by `tfxc` and `tfxc check`. */
#ifndef TFX_COMPILE_H
#define TFX_COMPILE_H

#include <stdio.h>

#include "codegen/codegen.h"
#include "passes/passes.h"

enum { TFX_MAX_BINDINGS = 64 };

typedef struct {
  const char *model;                       /* ONNX file or Hugging Face folder */
  const char *const *quant_keep;           /* weights kept float32 (set by tfx_compile) */
  int n_quant_keep;
  TfxDimBinding dims[TFX_MAX_BINDINGS];    /* --dim SYM=V */
  int n_dims;
  TfxDimBinding max;                       /* --max SYM=N; max.name NULL: none */
  int opt_level;                           /* 0..3 */
  const char *dump_after;                  /* --dump-after, or NULL */
  FILE *dump_file;
  bool no_kv_cache;                        /* --no-kv-cache: plain <name>_run only */
  char *why_not_decoder;                   /* optional out: why --max gave no decoder */
  size_t why_size;
  TfxQuantOptions quant;                   /* --quantize-weights, --quantize-kv, ... */
  TfxCOptions c;                           /* name, out_c, weights, emit_main */
  /* Called on every freshly imported graph before dims are bound (tfxc check
   * freezes shape operands this way); NULL for none. */
  TfxStatus (*prepare)(TfxGraph *g, void *arg);
  void *prepare_arg;
} TfxCompileRequest;

/* Writes the C files or reports every error into d.  On success *kind tells
 * what was generated (NULL allowed). */
typedef enum { TFX_GEN_FIXED, TFX_GEN_VARIABLE, TFX_GEN_DECODER } TfxGenKind;
TfxStatus tfx_compile(const TfxCompileRequest *r, TfxDiag *d, TfxGenKind *kind);

/* The accuracy of the quantisation r->quant asks for: builds the model at a
 * calibration length with and without it, runs the reference evaluator on
 * the calibration inputs and reports per layer and end to end (cosine, max
 * abs error; for LMs top-1 agreement and KL divergence) into r->quant.report
 * and a one-line summary on stderr.  With a budget (r->quant.max_error),
 * *keep gets the names of the weights to keep in float32 (*n_keep of them;
 * malloc'd array of malloc'd strings, freed by the caller with
 * tfx_quant_keep_free).  *stats gets the calibration statistics and the
 * quantised weights, for the compilation to use (r->quant.stats; freed by
 * the caller with tfx_quant_calib_free).  tools/quant_report.c. */
TfxStatus tfx_quant_report(const TfxCompileRequest *r, TfxDiag *d, char ***keep, int *n_keep,
                           TfxQuantCalib **stats);
void tfx_quant_keep_free(char **keep, int n_keep);

#endif
