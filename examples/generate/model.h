/* model.h — names the generated decoder these sources are built against,
 * so that one source builds against any model tfxc generated.  Three macros
 * on the compiler's command line pick it:
 *     -DMODEL_H='"llama.h"' -DMODEL=llama -DMODEL_UC=LLAMA
 * (its header, the prefix of its functions and types, the prefix of its
 * macros); M(prefill) is then llama_prefill and MC(VOCAB) LLAMA_VOCAB. */
#ifndef GENERATE_MODEL_H
#define GENERATE_MODEL_H

#if !defined(MODEL_H) || !defined(MODEL) || !defined(MODEL_UC)
#error "compile with -DMODEL_H='\"NAME.h\"' -DMODEL=NAME -DMODEL_UC=UPPER_CASE_NAME"
#endif

#include MODEL_H

#define GEN_CAT_(a, b) a##b
#define GEN_CAT(a, b) GEN_CAT_(a, b)
#define GEN_STR_(x) #x
#define GEN_STR(x) GEN_STR_(x)
#define M(x) GEN_CAT(MODEL, GEN_CAT(_, x))     /* M(decode) -> llama_decode */
#define MC(x) GEN_CAT(MODEL_UC, GEN_CAT(_, x)) /* MC(MAX_SEQ) -> LLAMA_MAX_SEQ */
#define MODEL_NAME GEN_STR(MODEL)              /* "llama" */

#endif
