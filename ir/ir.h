/* ir.h — the graph IR: dtypes, tensors, values, nodes, the operator table,
 * the reference evaluator and diagnostics.  Everything is addressed by 32-bit
 * ids into flat arrays owned by the graph; the graph owns an arena that all
 * names, attributes and folded constants live in. */
#ifndef TFX_IR_H
#define TFX_IR_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TFX_MAX_RANK 8
/* No tensor may be larger than this (1 TiB): absurd shapes are refused, not attempted. */
#define TFX_MAX_TENSOR_BYTES ((int64_t)1 << 40)
#define TFX_NONE UINT32_MAX

typedef int TfxStatus; /* 0 = ok, anything else = error (message in the diag) */
enum { TFX_OK = 0, TFX_ERR = 1 };

/* ---- dtypes ------------------------------------------------------------- */
/* X(ID, name, onnx_code, bytes, c_storage_type).  Block-quantised weight types
 * have bytes 0: their size depends on the block layout (see tfx_dtype_bytes). */
#define TFX_DTYPES(X)                                  \
  X(UNDEF, "undef", 0, 0, "void")                      \
  X(F32, "float32", 1, 4, "float")                     \
  X(U8, "uint8", 2, 1, "uint8_t")                      \
  X(I8, "int8", 3, 1, "int8_t")                        \
  X(U16, "uint16", 4, 2, "uint16_t")                   \
  X(I16, "int16", 5, 2, "int16_t")                     \
  X(I32, "int32", 6, 4, "int32_t")                     \
  X(I64, "int64", 7, 8, "int64_t")                     \
  X(BOOL, "bool", 9, 1, "uint8_t")                     \
  X(F16, "float16", 10, 2, "uint16_t")                 \
  X(F64, "float64", 11, 8, "double")                   \
  X(U32, "uint32", 12, 4, "uint32_t")                  \
  X(U64, "uint64", 13, 8, "uint64_t")                  \
  X(BF16, "bfloat16", 16, 2, "uint16_t")               \
  X(Q8C, "q8_channel", -1, 0, "int8_t")  /* int8, one f32 scale per output channel */ \
  X(Q4G, "q4_group", -2, 0, "uint8_t")   /* int4 pairs, one f32 scale per group along K */

typedef enum {
#define X(id, name, code, bytes, ctype) TFX_##id,
  TFX_DTYPES(X)
#undef X
  TFX_DTYPE_COUNT
} TfxDtype;

/* One int4 block of the Q4G type with group 32: 16 bytes of packed nibbles
 * (low nibble first) and its scale. */
typedef struct {
  float scale;
  uint8_t qs[16];
} TfxBlockQ4G32;
_Static_assert(sizeof(TfxBlockQ4G32) == 20, "Q4G32 block must be 20 bytes");

const char *tfx_dtype_name(TfxDtype t);
const char *tfx_dtype_ctype(TfxDtype t); /* C storage type in generated code */
size_t tfx_dtype_bytes(TfxDtype t);      /* 0 for block types */
TfxDtype tfx_dtype_from_onnx(int code);  /* TFX_UNDEF if unsupported */
int tfx_dtype_to_onnx(TfxDtype t);
bool tfx_dtype_is_float(TfxDtype t);  /* F32 F64 F16 BF16 */
bool tfx_dtype_is_int(TfxDtype t);    /* signed or unsigned integer, not bool */
bool tfx_dtype_is_signed(TfxDtype t); /* signed ints and floats */
float tfx_f16_to_f32(uint16_t h);
uint16_t tfx_f32_to_f16(float f); /* round to nearest even */
float tfx_bf16_to_f32(uint16_t h);
uint16_t tfx_f32_to_bf16(float f); /* round to nearest even */

/* ---- diagnostics -------------------------------------------------------- */
/* Messages a user must see (bad file, unsupported op); one line each. */
typedef struct {
  char *text; /* "\n"-separated lines, NUL-terminated, or NULL */
  size_t len, cap;
  int count;
} TfxDiag;

void tfx_diag_init(TfxDiag *d);
void tfx_diag_deinit(TfxDiag *d);
TfxStatus tfx_error(TfxDiag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3))); /* appends a line, returns TFX_ERR */
TfxStatus tfx_verror(TfxDiag *d, const char *fmt, va_list ap);

/* ---- tensors ------------------------------------------------------------ */
/* A dense row-major tensor.  data may point into a mapped file (a view), into
 * the graph arena, or into memory owned by the evaluator. */
typedef struct {
  TfxDtype dtype;
  int rank;
  int64_t dims[TFX_MAX_RANK];
  void *data; /* NULL: shape only */
} TfxTensor;

int64_t tfx_numel(int rank, const int64_t *dims);
int64_t tfx_tensor_numel(const TfxTensor *t);
size_t tfx_tensor_bytes(const TfxTensor *t);
/* Element access converting through double / int64 (bool and floats included). */
double tfx_tensor_get_f64(const TfxTensor *t, int64_t i);
void tfx_tensor_set_f64(TfxTensor *t, int64_t i, double v);
int64_t tfx_tensor_get_i64(const TfxTensor *t, int64_t i);
void tfx_tensor_set_i64(TfxTensor *t, int64_t i, int64_t v);
/* Strides (in elements) of a row-major tensor of the given dims. */
void tfx_strides(int rank, const int64_t *dims, int64_t *strides);
/* Strides of an input of (in_rank, in_dims) broadcast numpy-style to
 * (out_rank, out_dims): 0 on broadcast dims.  Output has out_rank entries. */
void tfx_bcast_strides(int out_rank, const int64_t *out_dims, int in_rank, const int64_t *in_dims,
                       int64_t *strides);
/* numpy broadcast of two shapes; returns false if incompatible. */
bool tfx_bcast_shape(int ra, const int64_t *a, int rb, const int64_t *b, int *rout, int64_t *out);
/* Flat row-major index of a multi-index over dims. */
int64_t tfx_ravel(int rank, const int64_t *idx, const int64_t *dims);
/* Unravel a flat index into a multi-index over dims. */
void tfx_unravel(int64_t flat, int rank, const int64_t *dims, int64_t *idx);

/* ---- attributes --------------------------------------------------------- */
typedef enum {
  TFX_ATTR_FLOAT,
  TFX_ATTR_INT,
  TFX_ATTR_STRING,
  TFX_ATTR_TENSOR,
  TFX_ATTR_FLOATS,
  TFX_ATTR_INTS,
  TFX_ATTR_STRINGS,
  TFX_ATTR_GRAPH, /* present but unsupported: recorded so the op can refuse it */
} TfxAttrKind;

typedef struct {
  const char *name;
  TfxAttrKind kind;
  int64_t i;
  float f;
  const char *s;
  int n;           /* count for INTS / FLOATS / STRINGS */
  int64_t *ints;   /* INTS */
  float *floats;   /* FLOATS */
  const char **strings;
  TfxTensor *t;    /* TENSOR */
} TfxAttr;

/* ---- the operator table ------------------------------------------------- */
/* X(Op, family, const_inputs): Op is the ONNX op_type; family names the file
 * ir/ops/<family>.c that defines tfx_<family>_{infer,eval,emit_c}; the
 * const_inputs bitmask lists inputs that must be compile-time constants
 * (shape operands such as Reshape's shape).  `tfxc check` freezes case inputs
 * that feed such operands. */
#include "ops.def"

typedef enum {
#define TFX_OP(op, family, cmask) TFX_OP_##op,
  TFX_OPS(TFX_OP)
#undef TFX_OP
  TFX_OP_COUNT
} TfxOp;

typedef struct TfxGraph TfxGraph;
typedef struct TfxNode TfxNode;
typedef struct TfxCEmit TfxCEmit;

typedef struct {
  const char *name;
  /* Set every output's dtype and dims from the inputs (constants available
   * through tfx_value_const).  Report user errors with tfx_node_error. */
  TfxStatus (*infer)(TfxGraph *g, TfxNode *n);
  /* Reference semantics: in[k] is NULL for an omitted optional input; out[k]
   * are allocated by the caller with the inferred dtype and dims. */
  TfxStatus (*eval)(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out);
  /* Print the node's C code (see codegen/codegen.h). */
  TfxStatus (*emit_c)(TfxCEmit *e, TfxGraph *g, const TfxNode *n);
  uint32_t const_inputs;
} TfxOpDef;

extern const TfxOpDef tfx_ops[TFX_OP_COUNT];
TfxOp tfx_op_lookup(const char *op_type); /* TFX_OP_COUNT if unknown */

/* ---- values and nodes --------------------------------------------------- */
typedef enum {
  TFX_VAL_INTERMEDIATE,
  TFX_VAL_INPUT,
  TFX_VAL_CONST, /* initializer or folded */
} TfxValueKind;

typedef struct {
  const char *name;
  TfxValueKind kind;
  TfxDtype dtype;
  int rank; /* -1 until known */
  int64_t dims[TFX_MAX_RANK];
  uint32_t dim_sym[TFX_MAX_RANK]; /* symbol id + 1 when the dim came from a symbol */
  uint32_t producer;              /* node id or TFX_NONE */
  TfxTensor *konst;               /* compile-time value, or NULL */
  bool is_output;
} TfxValue;

struct TfxNode {
  TfxOp op;
  const char *name;    /* never NULL: the frontend synthesises one */
  const char *op_type; /* as written in the model */
  uint32_t *inputs;    /* value ids; TFX_NONE for an omitted optional input */
  uint32_t *outputs;   /* value ids; TFX_NONE for an omitted optional output */
  int n_inputs, n_outputs;
  TfxAttr *attrs;
  int n_attrs;
  bool dead;
};

typedef struct {
  const char *name;
  int64_t value; /* bound value, or -1 if unbound */
  int64_t max;   /* largest value the model allows (e.g. its position table), or -1 */
} TfxSymbol;

typedef struct TfxArena TfxArena;

struct TfxGraph {
  TfxArena *arena;
  TfxDiag *diag;
  const char *path;  /* model file, for messages */
  const char *name;  /* graph name */
  int opset;         /* default-domain opset */
  TfxValue *values;
  uint32_t n_values, cap_values;
  TfxNode *nodes; /* in topological order after tfx_graph_toposort */
  uint32_t n_nodes, cap_nodes;
  uint32_t *inputs, *outputs; /* graph inputs (non-constant) and outputs, by value id */
  uint32_t n_inputs, n_outputs;
  TfxSymbol *syms;
  uint32_t n_syms, cap_syms;
  /* Called by tfx_graph_free: a frontend releases the mapped file and
   * decoded messages that constants view. */
  void (*cleanup)(void *arg);
  void *cleanup_arg;
  uint32_t *name_index; /* open-addressing hash of value names -> ids */
  uint32_t name_index_cap;
  /* Keep constant attention masks even when they look causal: a sliding
   * window only shows at lengths beyond it (set by --max compilation). */
  bool keep_masks;
};

TfxGraph *tfx_graph_new(TfxDiag *diag, const char *path);
void tfx_graph_free(TfxGraph *g);
/* A copy of g that passes may change freely while g stays as it is: the
 * copy's values, nodes, operand lists, inputs, outputs and symbols are its
 * own; names, attributes and constant tensors are g's (read-only), so g
 * must outlive it.  ir/ir.c. */
TfxGraph *tfx_graph_clone(const TfxGraph *g);
void *tfx_graph_alloc(TfxGraph *g, size_t bytes); /* zeroed, 64-byte aligned, lives as long as g */
const char *tfx_graph_strdup(TfxGraph *g, const char *s);
uint32_t tfx_graph_add_value(TfxGraph *g, const char *name); /* new intermediate value */
uint32_t tfx_graph_find_value(const TfxGraph *g, const char *name); /* TFX_NONE if absent */
uint32_t tfx_graph_add_node(TfxGraph *g, TfxOp op, const char *op_type, const char *name,
                            const uint32_t *inputs, int n_inputs, const uint32_t *outputs,
                            int n_outputs);
uint32_t tfx_graph_add_symbol(TfxGraph *g, const char *name);
/* Lower the largest value symbol `name` may take (adding the symbol if new). */
void tfx_graph_bound_symbol(TfxGraph *g, const char *name, int64_t max);
/* Make value v a constant holding t (t and t->data must live in the arena or
 * outlive the graph). */
void tfx_value_set_const(TfxGraph *g, uint32_t v, TfxTensor *t);
/* A tensor with data in the graph arena, zero-filled. */
TfxTensor *tfx_graph_new_tensor(TfxGraph *g, TfxDtype dt, int rank, const int64_t *dims);
/* Order nodes topologically; reports cycles and uses of undefined values. */
TfxStatus tfx_graph_toposort(TfxGraph *g);
/* Structural checks between passes: ids in range, single producer, inferred
 * shapes present, no dead node used. */
TfxStatus tfx_graph_verify(TfxGraph *g);
/* Readable text form (stable: golden tests diff it). */
void tfx_graph_dump(const TfxGraph *g, void *file /* FILE* */);

static inline TfxValue *tfx_val(const TfxGraph *g, uint32_t id) { return &g->values[id]; }
/* Input k of n, or NULL when absent/omitted. */
TfxValue *tfx_node_in(const TfxGraph *g, const TfxNode *n, int k);
TfxValue *tfx_node_out(const TfxGraph *g, const TfxNode *n, int k);
/* Constant tensor behind input k, or NULL if the input is absent or not constant. */
const TfxTensor *tfx_node_const_in(const TfxGraph *g, const TfxNode *n, int k);
/* Set output k's dtype and shape (no-op for an omitted output). */
void tfx_node_set_out(TfxGraph *g, const TfxNode *n, int k, TfxDtype dt, int rank,
                      const int64_t *dims);
/* "node 'name' (OpType): message" appended to the diag; returns TFX_ERR. */
TfxStatus tfx_node_error(TfxGraph *g, const TfxNode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The integer attribute `name` (dflt when absent) as an axis of a tensor of
 * the given rank, normalised to 0..rank-1; out of range is a node error. */
TfxStatus tfx_node_axis(TfxGraph *g, const TfxNode *n, const char *name, int64_t dflt, int rank,
                        int *axis);

/* Attribute lookup; the default is returned when the attribute is absent. */
const TfxAttr *tfx_attr(const TfxNode *n, const char *name);
int64_t tfx_attr_int(const TfxNode *n, const char *name, int64_t dflt);
float tfx_attr_float(const TfxNode *n, const char *name, float dflt);
const char *tfx_attr_string(const TfxNode *n, const char *name, const char *dflt);
/* INTS attribute: returns count (or -1 if absent) and sets *vals. */
int tfx_attr_ints(const TfxNode *n, const char *name, const int64_t **vals);
int tfx_attr_floats(const TfxNode *n, const char *name, const float **vals);

/* ---- reference evaluator ------------------------------------------------ */
/* Evaluate one node on concrete tensors (outputs allocated here with malloc;
 * free with tfx_tensor_free_data). */
TfxStatus tfx_eval_node(TfxGraph *g, const TfxNode *n, const TfxTensor *const *in, TfxTensor *out);
/* Run the whole graph: inputs[k] binds g->inputs[k]; outputs[k] receives a
 * malloc'd tensor for g->outputs[k]. */
TfxStatus tfx_eval_graph(TfxGraph *g, const TfxTensor *inputs, TfxTensor *outputs);
void tfx_tensor_free_data(TfxTensor *t);

/* Helper shared by op files: normalise a possibly-negative axis. */
static inline int tfx_axis(int64_t axis, int rank) { return (int)(axis < 0 ? axis + rank : axis); }

#endif
