/* onnx_priv.h — what onnx.c and tensorproto.c share: mapped files and the
 * TensorProto -> TfxTensor conversion.  Private to frontend/. */
#ifndef TFX_ONNX_PRIV_H
#define TFX_ONNX_PRIV_H

#include <stdbool.h>
#include <stddef.h>

#include "ir/ir.h"
#include "onnx.pb-c.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "tfxc reads ONNX raw_data (little-endian) in place; big-endian hosts are not supported"
#endif

/* A file mapped read-only (whole). */
typedef struct {
  char *path; /* malloc'd */
  void *base; /* NULL for an empty file */
  size_t size;
} TfxOnnxMap;

/* State for converting tensors of one model (or one .pb file). */
typedef struct {
  TfxDiag *d;
  const char *path; /* the model / .pb file, for messages */
  char *dir;        /* its folder (malloc'd), root of external data */
  /* Allocator for converted data: zeroed, aligned for any dtype. */
  void *(*alloc)(void *arg, size_t bytes);
  void *alloc_arg;
  /* true: data may point into the unpacked message's raw_data and into mapped
   * external files, which then must outlive the tensors (maps are kept here
   * until tfx_onnx_load_deinit). */
  bool view;
  /* The mapped model file that raw_data views, or NULL: pages of it that
   * are copied out (misaligned data) are dropped from memory as they are
   * copied, so that a weight is not resident twice. */
  const void *map_base;
  size_t map_size;
  TfxOnnxMap *maps;
  int n_maps, cap_maps;
} TfxOnnxLoad;

/* Map path read-only.  An empty file gives base NULL, size 0. */
TfxStatus tfx_onnx_map_file(TfxDiag *d, const char *path, void **base, size_t *size);
void tfx_onnx_unmap(void *base, size_t size);

/* Prepare L for tensors read from `path` (dir is derived from it). */
TfxStatus tfx_onnx_load_init(TfxOnnxLoad *L, TfxDiag *d, const char *path);
/* Unmap external files and free L's memory. */
void tfx_onnx_load_deinit(TfxOnnxLoad *L);

/* Convert tp into t (dtype, rank, dims, data).  `what` names the tensor in
 * messages ("initializer 'W'").  Every size, dim, dtype and offset is checked
 * before data is touched; string/float8/int4 tensors are refused. */
TfxStatus tfx_onnx_tensor(TfxOnnxLoad *L, const Onnx__TensorProto *tp, const char *what,
                          TfxTensor *t);

/* Unpack the ModelProto in the mapped file [base, base + size) with every
 * graph initialiser's raw_data a view into the mapping (see onnx_unpack.c),
 * which must then outlive the message.  NULL when it cannot be unpacked so;
 * the caller then unpacks it whole, which reports what is wrong.  Free the
 * result with tfx_onnx_free_views. */
Onnx__ModelProto *tfx_onnx_unpack_views(const void *base, size_t size);
void tfx_onnx_free_views(Onnx__ModelProto *m);

/* Name of an ONNX TensorProto.DataType code for messages ("string",
 * "float8e4m3fn", ...); "code N" for codes ONNX does not define. */
const char *tfx_onnx_dtype_desc(int code, char *buf, size_t bufsize);

/* protobuf-c gives NULL for absent strings. */
static inline const char *tfx_onnx_str(const char *s) { return s ? s : ""; }

#endif
