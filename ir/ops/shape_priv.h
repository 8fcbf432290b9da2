/* shape_priv.h — helpers shared by the files of the shape family (shape.c,
 * shape_index.c); not part of the IR API.  shape.c dispatches every op of the
 * family; shape_index.c holds the ops whose indices are runtime values. */
#ifndef TFX_SHAPE_PRIV_H
#define TFX_SHAPE_PRIV_H

#include "codegen/codegen.h"
#include "ir/ir.h"

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

/* Print the copy (dims merged, contiguous runs as memcpy).  Nothing for an
 * empty box. */
void tfx_shp_emit_copy(TfxCEmit *e, TfxDtype dt, const char *dst, const char *src,
                       const TfxShpCopy *c);
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

TfxStatus tfx_shape_index_infer(TfxGraph *g, TfxNode *n);
TfxStatus tfx_shape_index_eval(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in,
                               TfxTensor *out);
TfxStatus tfx_shape_index_emit_c(TfxCEmit *e, TfxGraph *g, const TfxNode *n);

#endif
