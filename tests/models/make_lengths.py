#!/usr/bin/env python3
"""Batch-1 data sets at several sequence lengths for the model fixtures, for
variable-length compilation (`tfxc check --max seq=N`) and decoding
(`tfxc check --decode`), plus each case's `max_seq` file.

- For every case with a sequence axis (all but vit_tiny): batch 1 and
  sequence lengths 1, 7 and N, where N is the model's position limit
  (config.json max_position_embeddings / n_positions) capped at CAP = 16 (the
  Llama, Mistral and Qwen2 fixtures allow 2048..131072 positions; 16 keeps
  the files tiny and the compiled workspaces small).  N is written to
  <case>/max_seq in every folder of the case (hf/, onnx/, dynamo/).
  Token ids come from a generator seeded by the case name, the same tokens
  for the case's three folders; bert_tiny gets attention_mask all ones and
  token_type_ids all zeros.  The references come from the hf/<case>
  checkpoint loaded with transformers (float32 weights run in float64, eager
  attention, use_cache=False), rounded once to float32, exactly as
  hf/make_fixtures.py made test_data_set_0; the outputs are the ones the
  case's existing sets have (logits; last_hidden_state; last_hidden_state +
  pooler_output for bert_tiny), named and ordered as the hf set 0 for hf/ and
  as the graph's inputs/outputs for onnx/ and dynamo/.
- onnx/llama_gqa_past (the llama_gqa decode step with past_key_values.*
  inputs and present.* outputs): one set with batch 1, an empty past
  ([1, 2, 0, 8] each) and 12 new tokens; logits and present.* (the layers'
  K/V of the 12 tokens, from transformers with use_cache=True) from the
  llama_gqa checkpoint in float64.  Its max_seq is its twin's N.
- The new sets are numbered after the sets the make_*.py scripts write
  (hf: 1 set, onnx/dynamo: 2), so they are test_data_set_1.. under hf/ and
  test_data_set_2.. under onnx/ and dynamo/; a re-run first removes the sets
  from those indices on, so it is idempotent.  strict_atol is not changed.

Checks before anything is written: the pipeline reproduces each hf case's
committed test_data_set_0 (within 1e-5 x max|output|), and onnxruntime, where
installed, runs every new onnx/dynamo set within 1e-4 x max|output|.

Mistral's sliding window: the committed fixtures were made by transformers
4.39, where sliding_window W lets a query see itself and the W previous
tokens (which is what tfxc implements); transformers 5 counts the query in
the W.  The reference is computed with whichever of W, W + 1 reproduces the
committed set 0 (W + 1 under transformers 5).

Needs torch, transformers (tested with 5.23), onnx, numpy; onnxruntime
optional.  Run from anywhere, after hf/make_fixtures.py, onnx/make_onnx.py
and dynamo/make_dynamo.py (they recreate their case folders):
    python3 tests/models/make_lengths.py
"""
import os
import shutil
import warnings
import zlib

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
KINDS = ("hf", "onnx", "dynamo")
# the number of data sets each make_*.py script writes: the new ones follow
BASE = {"hf": 1, "onnx": 2, "dynamo": 2}
CASES = ["bert_tiny", "gpt2_tiny", "gpt2_model_gelu", "llama_gqa", "llama_bias_tied",
         "mistral_window", "qwen2_mqa_tied", "llama_bf16"]
LENGTHS = (1, 7)  # and N
CAP = 16
PAST_CASE, PAST_TWIN, PAST_LEN = "llama_gqa_past", "llama_gqa", 12
REPRO_RTOL = 1e-5
ORT_RTOL = 1e-4


from fixture_io import dataset, read_pb, write_pb  # noqa: E402,F401  (tests/models/fixture_io.py)


def max_seq(cfg):
    """The position limit from config.json, capped at CAP."""
    limit = getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)
    if not limit:
        raise SystemExit(f"{cfg.model_type}: config.json has no position limit")
    return min(int(limit), CAP), int(limit)


def load64(src, **kw):
    """The hf checkpoint as make_fixtures.py ran it: float32 weights (bfloat16
    ones widened exactly), eager attention, computed in float64."""
    cfg = AutoConfig.from_pretrained(src)
    arch = cfg.architectures[0]
    cls = AutoModelForCausalLM if arch.endswith(("ForCausalLM", "LMHeadModel")) else AutoModel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = cls.from_pretrained(src, dtype=torch.float32, attn_implementation="eager", **kw)
    return m.double().eval(), arch


def run64(model, arch, ins, out_names):
    """Named inputs -> [(name, float32 array)] of the named outputs."""
    kw = {} if arch == "BertModel" else {"use_cache": False}
    torch.set_default_dtype(torch.float64)  # HF builds some masks in the default dtype
    try:
        with torch.no_grad():
            res = model(**{n: torch.from_numpy(a.copy()) for n, a in ins}, return_dict=True, **kw)
    finally:
        torch.set_default_dtype(torch.float32)
    return [(n, res[n].numpy().astype(np.float32)) for n in out_names]


def max_err(got, exp):
    """Worst |got - exp| over output pairs, relative to the largest max|exp|."""
    err = max(float(np.abs(g.astype(np.float64) - e).max()) for (_, g), (_, e) in zip(got, exp))
    return err / max(float(np.abs(e).max()) for _, e in exp)


def reference_model(case):
    """The float64 model that reproduces hf/<case>/test_data_set_0."""
    src = os.path.join(HERE, "hf", case)
    ds = os.path.join(src, "test_data_set_0")
    ins, outs = dataset(ds, "input"), dataset(ds, "output")
    cfg = AutoConfig.from_pretrained(src)
    tries = [{}]
    if getattr(cfg, "sliding_window", None) and cfg.model_type == "mistral":
        tries.append({"sliding_window": cfg.sliding_window + 1})  # see the docstring
    for kw in tries:
        model, arch = load64(src, **kw)
        err = max_err(run64(model, arch, ins, [n for n, _ in outs]), outs)
        if err <= REPRO_RTOL:
            note = f" (transformers run with {kw})" if kw else ""
            return model, arch, [n for n, _ in ins], [n for n, _ in outs], note
    raise SystemExit(f"{case}: transformers {__import__('transformers').__version__} does not reproduce "
                     f"hf/{case}/test_data_set_0 (relative error {err:.3g})")


def graph_names(path):
    m = onnx.load(path, load_external_data=False)
    return [i.name for i in m.graph.input], [o.name for o in m.graph.output]


def ort_check(path, ins, outs, what):
    """onnxruntime on the ONNX model against the reference, when installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    got = sess.run([n for n, _ in outs], {n: a for n, a in ins})
    err = max_err(list(zip([n for n, _ in outs], got)), outs)
    if err > ORT_RTOL:
        raise SystemExit(f"{what}: onnxruntime differs from the reference by {err:.3g} x max|output|")


def clear_from(case_dir, base):
    """Remove test_data_set_K for K >= base; require sets 0..base-1."""
    for k in range(base):
        if not os.path.isdir(os.path.join(case_dir, f"test_data_set_{k}")):
            raise SystemExit(f"{case_dir}: no test_data_set_{k} (run the make_*.py scripts first)")
    for name in os.listdir(case_dir):
        idx = name[len("test_data_set_"):]
        if name.startswith("test_data_set_") and idx.isdigit() and int(idx) >= base:
            shutil.rmtree(os.path.join(case_dir, name))
    return base


def write_set(case_dir, k, ins, outs, in_names, out_names):
    """Write one set, the tensors renamed (in order) to the model's names."""
    if len(ins) != len(in_names) or len(outs) != len(out_names):
        raise SystemExit(f"{case_dir}: the model has inputs {in_names}, outputs {out_names}; "
                         f"the set has {[n for n, _ in ins]} -> {[n for n, _ in outs]}")
    ds = os.path.join(case_dir, f"test_data_set_{k}")
    os.makedirs(ds)
    for prefix, tensors, names in (("input", ins, in_names), ("output", outs, out_names)):
        for j, ((_, a), n) in enumerate(zip(tensors, names)):
            write_pb(os.path.join(ds, f"{prefix}_{j}.pb"), n, a)


def write_max_seq(case_dir, n):
    with open(os.path.join(case_dir, "max_seq"), "w") as f:
        f.write(f"{n}\n")


def seq_inputs(in_names, vocab, seq, rng):
    arrs = {"input_ids": rng.integers(0, vocab, size=(1, seq), dtype=np.int64),
            "attention_mask": np.ones((1, seq), dtype=np.int64),
            "token_type_ids": np.zeros((1, seq), dtype=np.int64)}
    unknown = [n for n in in_names if n not in arrs]
    if unknown:
        raise SystemExit(f"inputs {unknown}: no recipe")
    return [(n, arrs[n]) for n in in_names]


def plain_case(case):
    src = os.path.join(HERE, "hf", case)
    model, arch, in_names, out_names, note = reference_model(case)
    n, limit = max_seq(model.config)
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    sets = []
    for seq in LENGTHS + (n,):
        ins = seq_inputs(in_names, model.config.vocab_size, seq, rng)
        sets.append((seq, ins, run64(model, arch, ins, out_names)))

    # all checks before any file is written
    dirs = [(kind, os.path.join(HERE, kind, case)) for kind in KINDS]
    dirs = [(kind, d) for kind, d in dirs
            if os.path.exists(os.path.join(d, "config.json" if kind == "hf" else "model.onnx"))]
    names = {}
    for kind, d in dirs:
        if kind == "hf":
            names[kind] = (in_names, out_names)
            continue
        names[kind] = graph_names(os.path.join(d, "model.onnx"))
        for seq, ins, outs in sets:
            g_in, g_out = names[kind]
            ort_check(os.path.join(d, "model.onnx"), list(zip(g_in, [a for _, a in ins])),
                      list(zip(g_out, [a for _, a in outs])), f"{kind}/{case} seq {seq}")

    written = []
    for kind, d in dirs:
        k = clear_from(d, BASE[kind])
        for seq, ins, outs in sets:
            write_set(d, k, ins, outs, *names[kind])
            written.append(f"{kind}:set_{k}=seq{seq}")
            k += 1
        write_max_seq(d, n)
    cap = f" (position limit {limit}, capped)" if limit > n else ""
    peaks = ", ".join(f"{float(np.abs(a).max()):.3g}" for _, _, outs in sets for _, a in outs)
    print(f"{case}: N = {n}{cap}{note}; max|out| {peaks}\n  {' '.join(written)}")
    return n


def past_case(n):
    """onnx/llama_gqa_past: batch 1, empty past, PAST_LEN new tokens."""
    d = os.path.join(HERE, "onnx", PAST_CASE)
    model, _, _, _, _ = reference_model(PAST_TWIN)
    cfg = model.config
    n_layers, kv_heads = cfg.num_hidden_layers, cfg.num_key_value_heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    in_names, out_names = graph_names(os.path.join(d, "model.onnx"))
    exp_in = ["input_ids"] + [f"past_key_values.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    exp_out = ["logits"] + [f"present.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    if in_names != exp_in or out_names != exp_out:
        raise SystemExit(f"{d}: inputs {in_names}, outputs {out_names}; expected {exp_in} -> {exp_out}")
    rng = np.random.default_rng(zlib.crc32(PAST_CASE.encode()))
    ids = rng.integers(0, cfg.vocab_size, size=(1, PAST_LEN), dtype=np.int64)
    torch.set_default_dtype(torch.float64)
    try:
        with torch.no_grad():
            res = model(input_ids=torch.from_numpy(ids), use_cache=True, return_dict=True)
            plain = model(input_ids=torch.from_numpy(ids), use_cache=False, return_dict=True).logits
    finally:
        torch.set_default_dtype(torch.float32)
    cache = res.past_key_values
    kv = []
    for layer in range(n_layers):
        lay = cache.layers[layer] if hasattr(cache, "layers") else None
        k, v = (lay.keys, lay.values) if lay is not None else cache[layer]
        kv += [k.numpy().astype(np.float32), v.numpy().astype(np.float32)]
    for a in kv:
        assert a.shape == (1, kv_heads, PAST_LEN, head_dim), a.shape
    logits = res.logits.numpy()
    assert np.abs(logits - plain.numpy()).max() <= 1e-12 * np.abs(plain.numpy()).max()
    empty = np.zeros((1, kv_heads, 0, head_dim), dtype=np.float32)
    ins = [("input_ids", ids)] + [(nm, empty) for nm in in_names[1:]]
    outs = [("logits", logits.astype(np.float32))] + list(zip(out_names[1:], kv))
    ort_check(os.path.join(d, "model.onnx"), ins, outs, f"onnx/{PAST_CASE}")
    k = clear_from(d, BASE["onnx"])
    write_set(d, k, ins, outs, in_names, out_names)
    write_max_seq(d, n)
    print(f"{PAST_CASE}: N = {n} (its twin's); set_{k}: batch 1, past 0, {PAST_LEN} tokens -> "
          f"logits + {len(kv)} present; max|out| "
          + ", ".join(f"{float(np.abs(a).max()):.3g}" for _, a in outs))


def main():
    ns = {case: plain_case(case) for case in CASES}
    past_case(ns[PAST_TWIN])


if __name__ == "__main__":
    main()
