#!/usr/bin/env python3
"""ONNX exports of the Hugging Face fixtures by torch's dynamo-based exporter
(torch.onnx.export(..., dynamo=True)), one case folder each (model.onnx +
test_data_set_0/, test_data_set_1/ + strict_atol), for `tfxc check` on the
exporter's real output.

- For bert_tiny, gpt2_tiny and llama_gqa under ../hf/: the committed
  checkpoint is loaded with from_pretrained (float32, eager attention, eval
  mode, use_cache=False for the decoders) and exported at opset 18 with
  dynamic batch and sequence dims (torch.export dynamic_shapes), weights
  embedded.  The export is saved as the exporter writes it with its default
  settings (optimize=True: onnxscript's own clean-up, as users get it); no
  onnx inliner or optimiser is run afterwards.  torch 2.15's exporter emits
  no model-local functions for these models (with or without optimize).
  With OPTIMIZE = False the raw graph keeps GPT-2's q/k/v split as
  SplitToSequence + SequenceAt (sequence values), which tfxc does not
  support; bert_tiny and llama_gqa compile either way.
- test_data_set_0 is a copy of the hf case's own .pb files and
  test_data_set_1 a copy of ../onnx/<case>/test_data_set_1 (another batch
  and length, references from transformers in float64), so the three
  frontends meet the same references.  Tensor names are rewritten to the
  export's input/output names where they differ.

strict_atol holds 1e-4 x the smallest max|output| over the case's sets.

Needs torch >= 2.5 with onnxscript (tested with torch 2.15, onnxscript 0.7,
transformers 5.23, onnx 1.23).  Run from anywhere, after ../onnx/make_onnx.py:
    python3 tests/models/dynamo/make_dynamo.py
"""
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from transformers import AutoConfig, BertModel, GPT2LMHeadModel, LlamaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
HF = os.path.join(HERE, "..", "hf")
ONNX = os.path.join(HERE, "..", "onnx")
OPSET = 18
ARCH = {"BertModel": BertModel, "GPT2LMHeadModel": GPT2LMHeadModel,
        "LlamaForCausalLM": LlamaForCausalLM}
CASES = ["bert_tiny", "gpt2_tiny", "llama_gqa"]
MAX_BYTES = 2 << 20
OPTIMIZE = True


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_io import dataset, read_pb, write_pb  # noqa: E402,F401  (tests/models/fixture_io.py)


class Encoder(torch.nn.Module):
    """BERT: (input_ids, attention_mask, token_type_ids) -> (last_hidden_state, pooler_output)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        res = self.model(input_ids=input_ids, attention_mask=attention_mask,
                         token_type_ids=token_type_ids, return_dict=True)
        return res.last_hidden_state, res.pooler_output


class Decoder(torch.nn.Module):
    """Causal LM without a KV cache: input_ids -> logits."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids, use_cache=False, return_dict=True).logits


def check_float32(module, ins, outs, what):
    """The float32 module (what gets exported) against the float64 reference:
    catches a wrong export wrapper before tfxc ever sees the model."""
    with torch.no_grad():
        got = module(*[torch.from_numpy(a.copy()) for _, a in ins])
    got = got if isinstance(got, tuple) else (got,)
    for (name, exp), g in zip(outs, got):
        err = float(np.abs(g.numpy().astype(np.float64) - exp).max())
        peak = float(np.abs(exp).max())
        if err > 1e-4 * peak:
            raise SystemExit(f"{what}: torch float32 output '{name}' differs from the reference by "
                             f"{err:.3g} (max|ref| {peak:.3g})")


def export(module, ins, path, in_names, out_names):
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
    shapes = {n: {0: batch, 1: seq} for n in in_names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(module, tuple(torch.from_numpy(a.copy()) for _, a in ins),
                                 input_names=in_names, output_names=out_names,
                                 dynamic_shapes=shapes, opset_version=OPSET, dynamo=True,
                                 optimize=OPTIMIZE, external_data=False)
    prog.save(path, external_data=False)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    return onnx.load(path, load_external_data=False)


def case(name):
    src = os.path.join(HF, name)
    cfg = AutoConfig.from_pretrained(src)
    cls = ARCH[cfg.architectures[0]]
    model = cls.from_pretrained(src, dtype=torch.float32, attn_implementation="eager").eval()
    module = (Encoder if cls is BertModel else Decoder)(model).eval()
    sets = [(dataset(d, "input"), dataset(d, "output"))
            for d in (os.path.join(src, "test_data_set_0"), os.path.join(ONNX, name, "test_data_set_1"))]
    for ins, outs in sets:
        check_float32(module, ins, outs, name)
    in_names, out_names = [n for n, _ in sets[0][0]], [n for n, _ in sets[0][1]]

    out_dir = os.path.join(HERE, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    m = export(module, sets[0][0], os.path.join(out_dir, "model.onnx"), in_names, out_names)
    g_in = [i.name for i in m.graph.input]
    g_out = [o.name for o in m.graph.output]
    if len(g_in) != len(in_names) or len(g_out) != len(out_names):
        raise SystemExit(f"{name}: export has inputs {g_in}, outputs {g_out}; "
                         f"expected {in_names} -> {out_names}")
    for k, (ins, outs) in enumerate(sets):
        ds = os.path.join(out_dir, f"test_data_set_{k}")
        os.makedirs(ds)
        for prefix, tensors, names in (("input", ins, g_in), ("output", outs, g_out)):
            for j, ((_, a), n) in enumerate(zip(tensors, names)):
                write_pb(os.path.join(ds, f"{prefix}_{j}.pb"), n, a)
    peaks = [float(np.abs(a).max()) for _, outs in sets for _, a in outs]
    with open(os.path.join(out_dir, "strict_atol"), "w") as f:
        f.write("%.6g\n" % (1e-4 * min(peaks)))
    size = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out_dir) for fn in fns)
    if size > MAX_BYTES:
        raise SystemExit(f"{name}: {size} bytes, over {MAX_BYTES}")
    ops = sorted({(n.domain or "ai.onnx", n.op_type) for n in m.graph.node})
    print(f"{name}: {size // 1024} KiB, opset {[(o.domain or 'ai.onnx', o.version) for o in m.opset_import]}, "
          f"{len(m.graph.node)} nodes, {len(m.functions)} functions, {in_names} -> {out_names}")
    print("  ops:", " ".join(f"{d}:{o}" if d != "ai.onnx" else o for d, o in ops))


def main():
    for name in CASES:
        case(name)


if __name__ == "__main__":
    main()
