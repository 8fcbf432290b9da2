/* shape_priv.h — helpers shared by the files of the shape family (shape.c,
 * shape_const.c, shape_index.c); not part of the IR API.  shape.c dispatches every op of the
 * family; shape_index.c holds the ops whose indices are runtime values. */
#ifndef TFX_SHAPE_PRIV_H
#define TFX_SHAPE_PRIV_H

#include <string.h>

#include "codegen/codegen.h"
#include "ir/ir.h"

static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static inline void copy_elem(void *dst, int64_t di, const void *src, int64_t si, size_t es) {
  memcpy((char *)dst + di * (int64_t)es, (const char *)src + si * (int64_t)es, es);
}

/* Copies are described over at most 2*TFX_MAX_RANK dims (Tile splits each dim
 * into repeat x extent). */
#define TFX_SHP_MAXR (2 * TFX_MAX_RANK)

/* dst[sum i_k*ds_k + db] = src[sum i_k*ss_k + sb] for every i in dims. */
typedef struct {
  int rank;
  int64_t dims[TFX_SHP_MAXR];
  int64_t ds[TFX_SHP_MAXR], ss[TFX_SHP_MAXR];
  int64_t db, sb;
} TfxShpCopy;

/* Print the copy from value src into value dst (dims merged, contiguous runs
 * as memcpy).  Nothing, and no reference to either value, for an empty box. */
void tfx_shp_emit_copy(TfxCEmit *e, TfxDtype dt, uint32_t dst, uint32_t src, const TfxShpCopy *c);

/* The inputs of a node as tensors: dtype and dims always, data when known[k]
 * (constant at compile time, or any input in the evaluator).  in[k] is NULL
 * for an omitted input. */
#define TFX_SHP_MAXIN 8
typedef struct {
  int n;
  const TfxTensor *in[TFX_SHP_MAXIN];
  bool known[TFX_SHP_MAXIN];
  TfxTensor buf[TFX_SHP_MAXIN];
} TfxShpIns;

TfxStatus tfx_shp_ins_from_graph(TfxGraph *g, const TfxNode *n, TfxShpIns *s);
TfxStatus tfx_shp_ins_from_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxShpIns *s);
const TfxTensor *tfx_shp_ins_get(const TfxShpIns *s, int k); /* NULL if absent */
/* Integer values of input k, which must be a compile-time constant of rank 0
 * or 1.  Returns the count, or -1 after reporting an error. */
int tfx_shp_ins_ints(TfxGraph *g, const TfxNode *n, const TfxShpIns *s, int k, const char *what,
                     int64_t *vals, int max);
/* An INTS attribute copied into vals; -1 if absent, -2 after an error. */
int tfx_shp_attr_ints(TfxGraph *g, const TfxNode *n, const char *name, int64_t *vals, int max);
/* C literal (buf >= 64 bytes) of element i of t, in t's storage type. */
const char *tfx_shp_lit_elem(char *buf, const TfxTensor *t, int64_t i);
/* Data-moving ops accept every dtype with a fixed element size. */
TfxStatus tfx_shp_check_dtype(TfxGraph *g, const TfxNode *n, TfxDtype dt, const char *what);
/* Input k must be present with a known shape; returns it or NULL after an error. */
TfxValue *tfx_shp_need_in(TfxGraph *g, const TfxNode *n, int k);
/* Print the C statements that turn the int64 `var` (a raw index into an axis
 * of extent dim) into a valid one: negative indices wrap once, then clamp to
 * [0, dim-1] so that generated code never reads or writes out of bounds. */
void tfx_shp_emit_fix_index(TfxCEmit *e, const char *var, int64_t dim);
/* The same rule for the reference evaluator; false if the index was out of
 * range (the evaluator reports it instead of clamping). */
bool tfx_shp_fix_index(int64_t *k, int64_t dim);

/* Shape, Size, Constant, ConstantOfShape, Range, EyeLike (shape_const.c). */
TfxStatus tfx_shape_const_infer(TfxGraph *g, TfxNode *n);
TfxStatus tfx_shape_const_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out);
TfxStatus tfx_shape_const_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n);
/* The ops with runtime indices (shape_index.c). */
TfxStatus tfx_shape_index_infer(TfxGraph *g, TfxNode *n);
TfxStatus tfx_shape_index_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out);
TfxStatus tfx_shape_index_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n);

#endif
