/* embedder.h -- sentence embeddings with the tfxc-compiled all-MiniLM-L6-v2.
 *
 * Text -> WordPiece ids ([CLS] ... [SEP], cut to the compiled length) ->
 * padded input_ids / attention_mask / token_type_ids -> minilm_run ->
 * last_hidden_state mean-pooled over the attention mask -> L2-normalised:
 * what sentence-transformers computes for this model.
 */
#ifndef EMBEDDER_H
#define EMBEDDER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Embedder Embedder;

/* Loads the vocabulary and the weights file written by tfxc (minilm.bin) and
 * initialises the model.  Returns NULL with a message in err on failure. */
Embedder *embedder_open(const char *vocab_path, const char *weights_path, char *err,
                        size_t err_len);
void embedder_close(Embedder *em);

/* Length of an embedding (the hidden size) and the compiled sequence length. */
size_t embedder_dim(void);
size_t embedder_max_tokens(void);

/* Embeds the UTF-8 text[0..len) into out[0..embedder_dim()), a unit vector.
 * Returns the number of tokens the text needs, [CLS] and [SEP] included
 * (more than embedder_max_tokens() means it was truncated), or -1 on error
 * with a message in err. */
long embedder_embed(Embedder *em, const char *text, size_t len, float *out, char *err,
                    size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
