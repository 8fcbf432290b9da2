/* wordpiece.h -- BERT WordPiece tokenizer (bert-base-uncased behaviour) in C11.
 *
 * Reproduces the Hugging Face `tokenizers` pipeline the uncased BERT family
 * (all-MiniLM-L6-v2 included) was trained with: the special tokens written
 * literally in the text ("[MASK]") are kept whole; clean text (control chars,
 * NUL and U+FFFD removed, whitespace made a space); CJK ideographs split out;
 * accents stripped (NFD, non-spacing marks dropped); lower-casing; splitting
 * on whitespace and punctuation; greedy longest-match-first WordPiece with
 * "##" continuations, [UNK] for a word that cannot be covered or is over 100
 * characters; [CLS] ... [SEP] around the result.  Invalid UTF-8 bytes are
 * dropped (as Python's decode(errors="replace") followed by the clean-text
 * step would).  Encoding allocates nothing: the caller owns the id buffer.
 */
#ifndef WORDPIECE_H
#define WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A word over this many characters becomes [UNK] (tokenizers' default). */
#define WORDPIECE_MAX_WORD_CHARS 100

typedef struct WordPiece WordPiece;

/* Reads a vocab.txt (one token per line; the id is the line number, from 0).
 * It must contain [UNK], [CLS] and [SEP].  Returns NULL on failure and, if
 * err is not NULL, writes a message naming the file into err[0..err_len). */
WordPiece *wordpiece_load(const char *vocab_path, char *err, size_t err_len);
void wordpiece_free(WordPiece *wp);

size_t wordpiece_vocab_size(const WordPiece *wp);
/* Id of a token spelled exactly as in vocab.txt, or -1. */
int64_t wordpiece_token_id(const WordPiece *wp, const char *token);
/* Spelling of an id (NUL-terminated), or NULL when out of range. */
const char *wordpiece_token(const WordPiece *wp, int64_t id);

/* Tokenises the UTF-8 text[0..len) into [CLS] pieces... [SEP] and writes at
 * most max_ids ids (max_ids >= 2).  When the whole encoding does not fit, the
 * word pieces are cut (the first max_ids - 2 are kept) and [SEP] still ends
 * it, as tokenizers' truncation does.  Returns the number of ids the whole
 * text needs -- more than max_ids means it was truncated, like snprintf --
 * or -1 when wp or ids is NULL, text is NULL with len > 0, or max_ids < 2. */
long wordpiece_encode(const WordPiece *wp, const char *text, size_t len, int64_t *ids,
                      size_t max_ids);

#ifdef __cplusplus
}
#endif
#endif
