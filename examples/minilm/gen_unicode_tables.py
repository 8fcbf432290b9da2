#!/usr/bin/env python3
"""Generate wordpiece_tables.h: the Unicode tables of the C WordPiece tokenizer.

The tokenizer reproduces the BERT normaliser and pre-tokeniser of
bert-base-uncased as the Hugging Face `tokenizers` library implements them
(BertNormalizer: clean text, CJK spacing, NFD + drop Mn, lower-case;
BertPreTokenizer: split on whitespace, isolate punctuation). Per code point:

    drop      removed by clean-text (control/format chars, NUL, U+FFFD) or,
              after NFD, because it is a non-spacing mark (Mn)
    space     whitespace, becomes ' '
    map       NFD without Mn, then lower-cased (one code point -> 0..4)
    punct     split out as its own word by the pre-tokeniser

The tables are computed with `unicodedata` (Python's Unicode database).  The
Rust crates behind `tokenizers` pin other Unicode versions (the mark and
category tables are older, the case tables newer), so when `tokenizers` is
installed the script also runs its normaliser and pre-tokeniser on every code
point and, where the two disagree, follows `tokenizers` -- the model was
trained with it.  It prints how many code points that changed.  Hangul
syllables decompose algorithmically in the C code and are only checked here.

Usage: gen_unicode_tables.py [tokenizer.json] > wordpiece_tables.h
"""
import sys
import unicodedata as ud

MAXCP = 0x110000


def is_cjk(c):
    # The ranges of tokenizers' BertNormalizer (the Python BertTokenizer starts
    # the sixth at 0x2B820; the model's Rust tokenizer starts it at 0x2B920).
    return (0x4E00 <= c <= 0x9FFF or 0x3400 <= c <= 0x4DBF or 0x20000 <= c <= 0x2A6DF
            or 0x2A700 <= c <= 0x2B73F or 0x2B740 <= c <= 0x2B81F or 0x2B920 <= c <= 0x2CEAF
            or 0xF900 <= c <= 0xFAFF or 0x2F800 <= c <= 0x2FA1F)


def is_hangul(c):
    return 0xAC00 <= c <= 0xD7A3


def hangul(c):
    s = c - 0xAC00
    out = chr(0x1100 + s // 588) + chr(0x1161 + (s % 588) // 28)
    if s % 28:
        out += chr(0x11A7 + s % 28)
    return out


def ud_normalize(c):
    """BertNormalizer on one code point, from unicodedata."""
    ch = chr(c)
    cat = ud.category(ch)
    if c in (9, 10, 13):
        return ' '
    if c == 0 or c == 0xFFFD or cat in ('Cc', 'Cf', 'Co', 'Cs'):
        return ''
    if ch.isspace() or cat == 'Zs':
        return ' '
    d = ''.join(x for x in ud.normalize('NFD', ch) if ud.category(x) != 'Mn')
    d = ''.join(x.lower() for x in d)
    return ' ' + d + ' ' if is_cjk(c) else d


def ud_class(c):
    """BertPreTokenizer class of one code point: 'ws', 'punct' or ''."""
    ch = chr(c)
    if ch.isspace():
        return 'ws'
    if 33 <= c <= 47 or 58 <= c <= 64 or 91 <= c <= 96 or 123 <= c <= 126:
        return 'punct'
    if ud.category(ch).startswith('P'):
        return 'punct'
    return ''


def ranges(cps):
    out = []
    for c in sorted(cps):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def main():
    norm = {}
    cls = {}
    for c in range(MAXCP):
        if 0xD800 <= c <= 0xDFFF:
            continue  # not encodable in UTF-8; the C decoder drops them as invalid
        norm[c] = ud_normalize(c)
        cls[c] = ud_class(c)

    overrides_norm = overrides_cls = 0
    source = 'unicodedata %s' % ud.unidata_version
    if len(sys.argv) > 1:
        from tokenizers import Tokenizer  # noqa: the model's own tokenizer
        import tokenizers
        tok = Tokenizer.from_file(sys.argv[1])
        nz, pt = tok.normalizer, tok.pre_tokenizer
        for c in norm:
            hf = nz.normalize_str(chr(c))
            if hf != norm[c]:
                norm[c] = hf
                overrides_norm += 1
            pieces = [p for p, _ in pt.pre_tokenize_str('a' + chr(c) + 'b')]
            if pieces == ['a', 'b']:
                hc = 'ws'
            elif pieces == ['a', chr(c), 'b']:
                hc = 'punct'
            elif pieces == ['a' + chr(c) + 'b']:
                hc = ''
            else:
                raise SystemExit('unexpected pre-tokenisation of U+%04X: %r' % (c, pieces))
            if hc != cls[c]:
                cls[c] = hc
                overrides_cls += 1
        source += ', checked against tokenizers %s (%d normaliser and %d pre-tokeniser overrides)' % (
            tokenizers.__version__, overrides_norm, overrides_cls)
        print('gen_unicode_tables: %d normaliser, %d pre-tokeniser overrides from tokenizers'
              % (overrides_norm, overrides_cls), file=sys.stderr)

    drop, space, mapping = [], [], {}
    for c, n in norm.items():
        ch = chr(c)
        if n == '':
            drop.append(c)
        elif n == ' ' and not is_cjk(c):
            space.append(c)
        elif is_cjk(c):
            assert n[0] == ' ' and n[-1] == ' ' and len(n) == 3, hex(c)
            if n[1] != ch:
                mapping[c] = n[1]
        elif is_hangul(c):
            assert n == hangul(c), hex(c)
        elif n != ch:
            mapping[c] = n
    # What the mapping produces goes to the pre-tokeniser only, never through
    # the normaliser again (tokenizers' per-character output is final).
    assert cls[32] == 'ws'
    punct = [c for c in norm if cls[c] == 'punct']
    prews = [c for c in norm if cls[c] == 'ws']

    single = sorted((c, ord(n)) for c, n in mapping.items() if len(n) == 1)
    multi = sorted((c, n) for c, n in mapping.items() if len(n) != 1)
    # Runs of single mappings with a constant step and constant delta
    # (A-Z -> a-z has step 1, Latin Extended-A case pairs step 2).
    runs = []
    for c, t in single:
        if runs:
            r = runs[-1]
            if r[2] == 1 and (c - r[0]) in (1, 2) and t - c == r[3]:
                r[1], r[2] = c - r[0], 2
                continue
            if r[2] > 1 and c == r[0] + r[1] * r[2] and t - c == r[3]:
                r[2] += 1
                continue
        runs.append([c, 1, 1, t - c])  # start, step, count, delta

    w = sys.stdout.write
    w('/* wordpiece_tables.h -- generated by gen_unicode_tables.py from %s.\n' % source)
    w('   Do not edit.  BERT (uncased) normaliser and pre-tokeniser classes per code point. */\n')
    w('#ifndef WORDPIECE_TABLES_H\n#define WORDPIECE_TABLES_H\n\n#include <stdint.h>\n\n')

    def emit_ranges(name, comment, cps):
        rs = ranges(cps)
        w('/* %s (%d ranges) */\n' % (comment, len(rs)))
        w('static const uint32_t %s[][2] = {\n' % name)
        line = ' '
        for a, b in rs:
            item = ' {0x%X, 0x%X},' % (a, b)
            if len(line) + len(item) > 96:
                w(line + '\n')
                line = ' '
            line += item
        w(line + '\n};\n\n')

    emit_ranges('wp_drop', 'removed: control and format characters, NUL, U+FFFD, non-spacing marks', drop)
    emit_ranges('wp_space', 'whitespace that the normaliser turns into a space', space)
    emit_ranges('wp_punct', 'punctuation: the pre-tokeniser makes each one its own word', punct)
    emit_ranges('wp_prews', 'whitespace for the pre-tokeniser', prews)

    w('/* One code point -> one: c in {start + k*step, k < count} maps to c + delta\n')
    w('   (%d code points in %d runs). */\n' % (len(single), len(runs)))
    w('typedef struct { uint32_t start; uint8_t step; uint16_t count; int32_t delta; } WpMapRun;\n')
    w('static const WpMapRun wp_map1[] = {\n')
    line = ' '
    for a, step, cnt, d in runs:
        item = ' {0x%X, %d, %d, %d},' % (a, step, cnt, d)
        if len(line) + len(item) > 96:
            w(line + '\n')
            line = ' '
        line += item
    w(line + '\n};\n\n')

    w('/* One code point -> several: wp_mapn_out[off .. off+len). */\n')
    w('typedef struct { uint32_t cp; uint16_t off; uint16_t len; } WpMapN;\n')
    outs, entries = [], []
    for c, n in multi:
        entries.append((c, len(outs), len(n)))
        outs.extend(ord(x) for x in n)
    w('static const WpMapN wp_mapn[] = {\n')
    line = ' '
    for c, off, ln in entries:
        item = ' {0x%X, %d, %d},' % (c, off, ln)
        if len(line) + len(item) > 96:
            w(line + '\n')
            line = ' '
        line += item
    w(line + '\n};\n')
    w('static const uint32_t wp_mapn_out[] = {\n')
    line = ' '
    for x in outs:
        item = ' 0x%X,' % x
        if len(line) + len(item) > 96:
            w(line + '\n')
            line = ' '
        line += item
    w(line + '\n};\n\n#endif\n')


if __name__ == '__main__':
    main()
