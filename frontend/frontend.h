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

/* ---- safetensors checkpoints -------------------------------------------- */
/* One model.safetensors file, or the shards listed by a
 * model.safetensors.index.json.  Tensors are views into the mapped files;
 * everything is validated when opened (header length, JSON types, dtypes,
 * offsets inside the data section, no overlaps, byte length = dtype size x
 * numel, unique names), each problem named by file and tensor. */
typedef struct TfxCheckpoint TfxCheckpoint;
/* path: a .safetensors file, an index .json, or a folder holding either. */
TfxCheckpoint *tfx_checkpoint_open(const char *path, TfxDiag *d);
void tfx_checkpoint_close(TfxCheckpoint *c);
int tfx_checkpoint_count(const TfxCheckpoint *c);
const char *tfx_checkpoint_name(const TfxCheckpoint *c, int i);
/* The tensor called name (data points into the mapping), or NULL. */
const TfxTensor *tfx_checkpoint_get(const TfxCheckpoint *c, const char *name);
/* The file a tensor lives in (for messages), or NULL. */
const char *tfx_checkpoint_file_of(const TfxCheckpoint *c, const char *name);

/* ---- Hugging Face checkpoint folders ------------------------------------ */
/* A folder with config.json and safetensors weights: config.json's
 * "architectures" picks a builder (BERT family, GPT-2, Llama family) that
 * emits the same ops the ONNX path produces.  Inputs are named and shaped as
 * the ONNX exports name them (input_ids [batch, seq], ...), with symbolic
 * batch and seq dims. */
TfxGraph *tfx_hf_import(const char *dir, TfxDiag *d);

/* Either of the above by what path is: a .onnx file, or a checkpoint folder
 * (or a .safetensors file with config.json beside it). */
TfxGraph *tfx_import(const char *path, TfxDiag *d);

/* Serialised TensorProto (.pb) files, as in ONNX test-data folders.  read
 * fills t with malloc'd data (free with tfx_tensor_free_data) and *name with
 * a malloc'd copy of the tensor's name (may be ""). */
TfxStatus tfx_tensorproto_read(const char *path, TfxTensor *t, char **name, TfxDiag *d);
TfxStatus tfx_tensorproto_write(const char *path, const TfxTensor *t, const char *name, TfxDiag *d);

#endif
