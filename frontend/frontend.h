/* frontend.h — model files in, graphs out.  A frontend builds nodes, values,
 * attributes and constants and validates what it reads; it runs no shape
 * inference (passes do).  Constants are views into the mapped file where the
 * format allows it. */
#ifndef TFX_FRONTEND_H
#define TFX_FRONTEND_H

#include "ir/ir.h"

/* Import an ONNX model.  Graph inputs keep their declared dims: a dim_param
 * becomes a symbol (value->dim_sym, dims[i] = -1), an unknown dim is -1.
 * Initialisers become TFX_VAL_CONST values and are not graph inputs.  Every
 * problem found is reported to d (all unsupported ops at once, by node name);
 * returns NULL on error. */
TfxGraph *tfx_onnx_import(const char *path, TfxDiag *d);

/* Serialised TensorProto (.pb) files, as in ONNX test-data folders.  read
 * fills t with malloc'd data (free with tfx_tensor_free_data) and *name with
 * a malloc'd copy of the tensor's name (may be ""). */
TfxStatus tfx_tensorproto_read(const char *path, TfxTensor *t, char **name, TfxDiag *d);
TfxStatus tfx_tensorproto_write(const char *path, const TfxTensor *t, const char *name, TfxDiag *d);

#endif
