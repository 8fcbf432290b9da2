/* codegen.h — what the backends offer: the C backend's driver, and the small
 * printing API that each op's emit_c uses to write its code into the body of
 * <name>_run.  Every value an op touches is reachable through a typed pointer
 * variable (tfx_c_var); all shapes are compile-time constants. */
#ifndef TFX_CODEGEN_H
#define TFX_CODEGEN_H

#include <stdio.h>

#include "codegen/lift.h"
#include "ir/ir.h"

/* ---- printing API for op emitters -------------------------------------- */

/* Append one line at the current indentation ("\n" added). */
void tfx_c_line(TfxCEmit *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tfx_c_indent(TfxCEmit *e, int delta); /* +1 / -1 */
/* Close n blocks: dedent and print "}", n times. */
void tfx_c_close(TfxCEmit *e, int n);
/* Name of the pointer variable for value v: its type is `ctype *` (const for
 * inputs and constants), pointing at numel elements in row-major order. */
const char *tfx_c_var(TfxCEmit *e, uint32_t v);
/* Constant v is stored prepacked for the f32 GEMM (panels of 16 columns, each
 * K x 16 contiguous, the last zero-padded): every reader of it is a Linear
 * node taking it as its weight (codegen/c/emit.c decides). */
bool tfx_c_packed(const TfxCEmit *e, uint32_t v);
/* Values a and b are the same workspace bytes: the plan made a view's output
 * its input's bytes (codegen/plan.c), so the view copies nothing. */
bool tfx_c_same_bytes(const TfxCEmit *e, uint32_t a, uint32_t b);
/* Node n writes a decoder's logits, row by row from rows of its input: it
 * prints `if (tfx_last)` a variant that computes only the last row (into row 0
 * of the output), for <name>_prefill_last, and calls this to say so.  False
 * for every other node and outside decoders. */
bool tfx_c_last_row(TfxCEmit *e, const TfxNode *n);
/* A fresh identifier with the given prefix, unique in the function. */
const char *tfx_c_tmp(TfxCEmit *e, const char *prefix);

/* Runtime helpers an emitter may call in generated code; requesting one makes
 * the emitter print its definition once, before the model function.
 *   TFX_HELP_F16:  float tfx_h2f(uint16_t), uint16_t tfx_f2h(float)
 *   TFX_HELP_BF16: float tfx_b2f(uint16_t), uint16_t tfx_f2b(float)
 *   TFX_HELP_SGEMM: the f32 GEMM tfx_sgemm (codegen/c/kernels.h)
 *   TFX_HELP_POOL:  the thread pool: tfx_parallel(tfx_pp, n, fn, arg) (kernels.h)
 *   TFX_HELP_MATH:  vectorisable exp/erf/tanh (codegen/c/kernels.h)
 *   TFX_HELP_ATTN:  the fused attention kernels (codegen/c/kernels.h)
 *   TFX_HELP_SIMD:  <immintrin.h> and TFX_SIMD defined when the C compiler
 *                   targets AVX2+FMA (and TFX_PORTABLE is not defined):
 *                   emitters guard intrinsics with `#ifdef TFX_SIMD`
 *   TFX_HELP_QMM:   tfx_qmm, the product with int8 / int4 weights (kernels.h)
 * tfx_c_need also records what a helper uses: ATTN and SGEMM need POOL,
 * MATH and SIMD; QMM needs SGEMM (and so the rest). */
typedef enum {
  TFX_HELP_F16,
  TFX_HELP_BF16,
  TFX_HELP_SGEMM,
  TFX_HELP_POOL,
  TFX_HELP_MATH,
  TFX_HELP_ATTN,
  TFX_HELP_SIMD,
  TFX_HELP_QMM,
  TFX_HELP_COUNT
} TfxCHelper;
void tfx_c_need(TfxCEmit *e, TfxCHelper h);

/* Arithmetic type used to compute on elements of t: "float" for F16/BF16/F32,
 * otherwise the storage type. */
const char *tfx_c_calctype(TfxDtype t);
/* Write into buf (size >= 256) an rvalue reading expr (an lvalue of storage
 * type t) converted to tfx_c_calctype(t); requests helpers as needed. */
const char *tfx_c_load(TfxCEmit *e, TfxDtype t, const char *expr, char *buf);
/* Print `lvalue = value;` where value is of tfx_c_calctype(t), converting to
 * storage type t (rounding for F16/BF16). */
void tfx_c_store(TfxCEmit *e, TfxDtype t, const char *lvalue, const char *value);

/* Exact C literal for a float / double value into buf (size >= 64): hex
 * floats, with NAN / INFINITY from math.h for the special values. */
const char *tfx_c_float(char *buf, float v);
const char *tfx_c_double(char *buf, double v);
/* C literal for an int64 value ("INT64_C(...)", INT64_MIN handled). */
const char *tfx_c_int(char *buf, int64_t v);

/* Nested loops i0..i{rank-1} over dims (a loop of extent 1 is still printed
 * so indices stay uniform; rank 0 prints a plain block). */
void tfx_c_loops_begin(TfxCEmit *e, int rank, const int64_t *dims);
void tfx_c_loops_end(TfxCEmit *e, int rank);
/* Write "i0*s0 + i1*s1 + ... + base" into buf (size >= 512), skipping zero
 * strides; "0" when nothing remains. */
const char *tfx_c_index(char *buf, int rank, const int64_t *strides, int64_t base);

/* ---- memory plan (shared by every backend) ------------------------------ */

/* Every intermediate value gets an offset in one workspace; values whose
 * lifetimes do not overlap share bytes, and a view (Reshape, Flatten,
 * Squeeze, Unsqueeze) of an intermediate is its input's bytes.  offset[v] is
 * -1 for values that do not live in the workspace (inputs, constants, graph
 * outputs). */
typedef struct {
  int64_t *offset; /* per value id */
  int64_t total;   /* workspace bytes */
} TfxMemPlan;

enum { TFX_PLAN_ALIGN = 64 };
/* bytes: per value id, the size to plan (NULL: from its dims). */
TfxStatus tfx_plan_memory(TfxGraph *g, const int64_t *bytes, TfxMemPlan *p);
void tfx_plan_free(TfxMemPlan *p);

/* ---- the C backend ------------------------------------------------------ */

typedef enum { TFX_WEIGHTS_AUTO, TFX_WEIGHTS_EMBED, TFX_WEIGHTS_FILE } TfxWeightsMode;

/* The instruction set the generated code is written for (--cpu):
 *   AUTO     the C compiler's target decides when the file is built
 *            (AVX2+FMA intrinsics under -mavx2 -mfma, GNU vectors under -mavx,
 *            else plain C);
 *   GENERIC  plain C for any target;
 *   AVX      x86 with AVX: GNU C vectors of 8 floats;
 *   AVX2     x86-64 with AVX2 and FMA: the intrinsic kernels;
 *   AVXVNNI  AVX2 with AVX-VNNI: the quantised products' integer sums by
 *            vpdpbusd;
 *   AVX512   AVX-512 F, BW, DQ and VL: AVX2's kernels with the f32 GEMM's
 *            micro-kernels 32 columns wide;
 *   AVX512VNNI  both of the last two.
 * x86 files switch the compiler to that target themselves (gcc's and
 * clang's target pragmas), so they need no -m flags, and <name>_init returns
 * <NAME>_ERR_CPU on a processor without it (codegen/c/target.c). */
typedef enum {
  TFX_CPU_AUTO,
  TFX_CPU_GENERIC,
  TFX_CPU_AVX,
  TFX_CPU_AVX2,
  TFX_CPU_AVXVNNI,
  TFX_CPU_AVX512,
  TFX_CPU_AVX512VNNI,
} TfxCpu;
/* The best target the machine running this has (GENERIC off x86). */
TfxCpu tfx_cpu_native(void);
/* "auto", "generic", "avx", "avx2", "avxvnni", "avx512", "avx512vnni" (and
 * "native": tfx_cpu_native()); false
 * for any other name. */
bool tfx_cpu_parse(const char *name, TfxCpu *cpu);
const char *tfx_cpu_name(TfxCpu cpu);

/* Variable-length emission (--max): the same graph compiled at several
 * sample sizes (see tools/compile.c and codegen/lift.h). */
typedef struct {
  int n_samples;
  TfxGraph *const *g;            /* per sample; g[0] is the one passed to tfx_emit_c */
  TfxLiftSpec spec;              /* symbols: S ("tfx_S") and, for decoders, P ("tfx_P") */
  const char *param;             /* the length parameter's name in <name>_run */
  int64_t max;                   /* N: 1 <= S (+ P) <= N */
  const int64_t *bytes;          /* per value id: workspace bytes at the bound */
  const TfxTensor *const *window; /* per value id: the constant at S = N when the value is a
                                    length-dependent window of it, else NULL */
  const uint8_t *win_axis;       /* per value id x TFX_MAX_RANK: 0 whole axis, 1 rows P..P+S-1
                                    (P = 0 unless decoder), 2 rows 0..P+S-1 */
  const bool *varies;            /* per value id: a constant that depends on the length and is
                                    no window: an error if the code reads it */
  bool decoder;                  /* emit prefill/decode/reset over a KV cache */
  int64_t vocab, token_limit, kv_floats, kv_bytes;
} TfxCLift;

typedef struct {
  const TfxCLift *lift; /* NULL: fixed shapes */
  const char *name;   /* C identifier prefix of the generated API */
  const char *out_c;  /* path of <name>.c; <name>.h and <name>.bin go beside it */
  TfxWeightsMode weights;
  bool emit_main;
  int threads;        /* --threads: most threads the code may use; 0 or 1: one, no pthreads */
  bool profile;       /* --profile: time every node (codegen/c/profile.c) */
  TfxCpu cpu;         /* --cpu: the instruction set (0: AUTO) */
} TfxCOptions;

/* Write <name>.c, <name>.h (and <name>.bin) for a graph whose shapes are all
 * known.  Files are written under temporary names and renamed at the end, so
 * on error nothing is left behind. */
TfxStatus tfx_emit_c(TfxGraph *g, const TfxCOptions *opt);

/* Print a main() (for --emit-main) that reads the graph inputs from .pb files,
 * calls <name>_init and <name>_run, and writes the outputs as .pb files:
 *   ./prog [--weights FILE.bin] IN_0.pb .. IN_n.pb OUT_0.pb .. OUT_m.pb
 * It includes the libc-only TensorProto reader/writer runtime/tfx_pbio.c
 * (embedded in tfxc, see tfx_embedded_source). */
void tfx_c_emit_main(FILE *f, const TfxGraph *g, const char *name, bool weights_file);
/* Text of an embedded runtime source by repository path, or NULL. */
const char *tfx_embedded_source(const char *path);

#endif
