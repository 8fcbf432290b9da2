#!/usr/bin/env python3
"""Differential test: the C WordPiece tokenizer against the model's own
tokenizer (tokenizers, Rust, from tokenizer.json) on

  - every Unicode scalar value, inside a word and alone ("ab<c>d <c>"),
  - random texts mixing vocabulary words, upper case, accents, CJK, Hangul,
    emoji, controls, combining marks, literal special tokens, long words,
  - random bytes with invalid UTF-8 (Python decodes them with U+FFFD, which
    the normaliser drops),
  - long texts truncated to the model's 256 tokens.

Usage: fuzz_tokenizer.py TEST_TOKENIZER_BINARY MODEL_DIR [SEED]
Exits 77 (skipped) when the tokenizers package is not installed.
"""
import os
import random
import struct
import subprocess
import sys

try:
    from tokenizers import Tokenizer
except ImportError:
    print("fuzz_tokenizer: the tokenizers package is not installed; skipped")
    sys.exit(77)


def run_c(binary, vocab, texts, max_ids):
    data = b"".join(struct.pack("<I", len(t)) + t for t in texts)
    out = subprocess.run([binary, vocab, "--encode", str(max_ids)], input=data,
                         capture_output=True, check=True).stdout.decode().splitlines()
    assert len(out) == len(texts), (len(out), len(texts))
    return [[int(x) for x in line.split()] for line in out]


def compare(name, binary, vocab, tok, texts, max_ids, full_tok=None):
    """texts: str or bytes; bytes go to Python decoded with errors='replace'."""
    raw = [t if isinstance(t, bytes) else t.encode("utf-8") for t in texts]
    strs = [t.decode("utf-8", errors="replace") if isinstance(t, bytes) else t for t in texts]
    got = run_c(binary, vocab, raw, max_ids)
    want = tok.encode_batch(strs)
    full = full_tok.encode_batch(strs) if full_tok else want
    bad = 0
    for s, g, w, f in zip(strs, got, want, full):
        if g[1:] != w.ids or g[0] != len(f.ids):
            bad += 1
            if bad <= 5:
                print("MISMATCH %s: %r\n  want %d %s\n  got  %s" % (name, s, len(f.ids), w.ids, g))
    print("%-16s %8d texts, %d mismatches" % (name, len(texts), bad))
    return bad


def random_text(rng, vocab):
    def cp():
        k = rng.random()
        if k < 0.3:
            return chr(rng.randrange(0x20, 0x7F))
        if k < 0.4:
            return chr(rng.randrange(0, 0x20))
        if k < 0.55:
            return chr(rng.randrange(0x80, 0x800))
        if k < 0.65:
            return chr(rng.randrange(0x800, 0x3000))
        if k < 0.7:
            base = rng.choice([0x4E00, 0xF900, 0xAC00, 0x3000, 0x1F600, 0x20000, 0x2B920,
                               0x2B820, 0xFFFD, 0x85, 0x2028, 0xA0, 0x130, 0x3A3])
            return chr(base + rng.randrange(0, 300))
        c = rng.randrange(0, 0x110000)
        while 0xD800 <= c <= 0xDFFF:
            c = rng.randrange(0, 0x110000)
        return chr(c)

    parts = []
    for _ in range(rng.randrange(0, 30)):
        k = rng.random()
        if k < 0.4:
            parts.append(rng.choice(vocab).replace("##", ""))
        elif k < 0.5:
            parts.append(" ")
        elif k < 0.55:
            parts.append(rng.choice(["[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "[mask]",
                                     "[MAS", "[unused1]"]))
        elif k < 0.57:
            parts.append("x" * rng.randrange(95, 105))
        elif k < 0.6:
            parts.append(rng.choice(vocab).upper())
        else:
            parts.append("".join(cp() for _ in range(rng.randrange(1, 6))))
    return "".join(parts)


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    binary, model_dir = sys.argv[1], sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 1234)
    vocab_txt = os.path.join(model_dir, "vocab.txt")
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    vocab = sorted(tok.get_vocab())

    bad = 0
    every = ["ab%sd %s" % (chr(c), chr(c)) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    bad += compare("code points", binary, vocab_txt, tok, every, 64)
    texts = [random_text(rng, vocab) for _ in range(20000)]
    bad += compare("random text", binary, vocab_txt, tok, texts, 1 << 15)
    pool = [0x41, 0x20, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x98, 0x80, 0xED, 0xA0]
    blobs = [bytes(rng.choice([rng.randrange(256)] + pool) for _ in range(rng.randrange(0, 20)))
             for _ in range(20000)]
    bad += compare("invalid UTF-8", binary, vocab_txt, tok, blobs, 64)

    trunc = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    trunc.no_padding()
    trunc.enable_truncation(256)
    longs = [" ".join(rng.choice(vocab) for _ in range(rng.randrange(100, 400))) for _ in range(2000)]
    longs += [" [SEP] " * 300, "a" * 5000]
    bad += compare("truncated (256)", binary, vocab_txt, trunc, longs, 256, full_tok=tok)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
