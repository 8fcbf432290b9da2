#!/usr/bin/env python3
"""ONNX exports of the Hugging Face fixtures, one case folder each
(model.onnx + test_data_set_0/, test_data_set_1/ + strict_atol), for `tfxc
check` on the ONNX frontend and for tests/models/consistency.sh, which
compares each export with its safetensors twin under ../hf/.

- For every hf/<case>: the committed checkpoint is loaded with from_pretrained
  and exported with torch.onnx.export (TorchScript-based, the only exporter
  torch 1.13 has; opset 17) with dynamic batch and sequence axes, inputs and
  outputs named as in the hf case, no KV-cache outputs.  test_data_set_0 is a
  copy of the hf case's own .pb files, so both paths are checked against the
  same reference (transformers run in float64 on the same weights);
  test_data_set_1 has another batch and length (OTHER_SHAPE), so a shape the
  tracer baked into the graph would show.  llama_bf16 is exported in float32
  (its bfloat16 weights widened exactly, which is also how its reference was
  computed).  Mistral and Qwen2 are exported with max_position_embeddings 128
  (their RoPE tables are traced into the graph): sequences up to 128.
- llama_gqa_past: the llama_gqa checkpoint exported as a decode step with
  past_key_values.N.key/value inputs and present.N.key/value outputs (dims
  batch, past_seq / total_seq).  Set 0: batch 2, a past of 5 tokens (the
  cache of a 5-token prompt) and 3 new tokens; set 1: batch 1, past 2, one
  new token.  References from torch in float64.
- vit_tiny: a ViTModel (patch Conv, class token, pooler) with random weights,
  exported with a dynamic batch axis (sets of batch 2 and 3); reference from
  torch in float64.  No safetensors twin: tfxc has no config.json builder
  for ViT.

strict_atol holds 1e-4 x the smallest max|output| over the case's sets.

Needs torch 1.13, transformers (tested with 4.39), onnx, numpy < 2 (Debian's
/usr/bin/python3).  Run from anywhere, after hf/make_fixtures.py:
    /usr/bin/python3 tests/models/onnx/make_onnx.py
"""
import os
import shutil
import sys
import warnings

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from transformers import (AutoConfig, BertModel, GPT2LMHeadModel, GPT2Model, LlamaForCausalLM,
                          MistralForCausalLM, Qwen2ForCausalLM, ViTConfig, ViTModel)

HERE = os.path.dirname(os.path.abspath(__file__))
HF = os.path.join(HERE, "..", "hf")
sys.path.insert(0, HF)
from make_fixtures import randomise  # noqa: E402  (same weight recipe as the hf fixtures)

OPSET = 17
ARCH = {"BertModel": BertModel, "GPT2LMHeadModel": GPT2LMHeadModel, "GPT2Model": GPT2Model,
        "LlamaForCausalLM": LlamaForCausalLM, "MistralForCausalLM": MistralForCausalLM,
        "Qwen2ForCausalLM": Qwen2ForCausalLM}
HF_CASES = ["bert_tiny", "gpt2_tiny", "gpt2_model_gelu", "llama_gqa", "llama_bias_tied",
            "mistral_window", "qwen2_mqa_tied", "llama_bf16"]


sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fixture_io import dataset, read_pb, write_pb  # noqa: E402,F401  (tests/models/fixture_io.py)


class Plain(torch.nn.Module):
    """model(**inputs) -> the named outputs as a tuple, without a KV cache."""

    def __init__(self, model, in_names, out_names, **kw):
        super().__init__()
        self.model, self.in_names, self.out_names, self.kw = model, in_names, out_names, kw

    def forward(self, *args):
        res = self.model(**dict(zip(self.in_names, args)), return_dict=True, **self.kw)
        return tuple(res[o] for o in self.out_names)


class DecodeStep(torch.nn.Module):
    """(input_ids, past.0.key, past.0.value, ...) -> (logits, present.0.key, ...)."""

    def __init__(self, model, n_layers):
        super().__init__()
        self.model, self.n_layers = model, n_layers

    def forward(self, input_ids, *past):
        pkv = tuple((past[2 * i], past[2 * i + 1]) for i in range(self.n_layers))
        res = self.model(input_ids=input_ids, past_key_values=pkv, use_cache=True, return_dict=True)
        flat = [t for kv in res.past_key_values for t in kv]
        return (res.logits, *flat)


def export(module, args, path, in_names, out_names, dynamic_axes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python values taken as constants
        torch.onnx.export(module, tuple(args), path, input_names=in_names, output_names=out_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path), full_check=True)


def write_set(out_dir, k, ins, outs):
    ds = os.path.join(out_dir, f"test_data_set_{k}")
    os.makedirs(ds, exist_ok=True)
    for j, (n, a) in enumerate(ins):
        write_pb(os.path.join(ds, f"input_{j}.pb"), n, a)
    for j, (n, a) in enumerate(outs):
        write_pb(os.path.join(ds, f"output_{j}.pb"), n, a)


def finish(out_dir, sets, label):
    """strict_atol from the reference outputs of every set; report the size."""
    peaks = [float(np.abs(a).max()) for outs in sets for _, a in outs]
    with open(os.path.join(out_dir, "strict_atol"), "w") as f:
        f.write("%.6g\n" % (1e-4 * min(peaks)))
    size = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out_dir) for fn in fns)
    print(f"{os.path.basename(out_dir)}: {size // 1024} KiB, {label}, max|out| {min(peaks):.4g}..{max(peaks):.4g}")


def check_float32(module, ins, outs, what):
    """The float32 module (what gets exported) against the float64 reference:
    catches a wrong export wrapper before tfxc ever sees the model."""
    with torch.no_grad():
        got = module(*[torch.from_numpy(a.copy()) for _, a in ins])
    for (name, exp), g in zip(outs, got):
        err = float(np.abs(g.detach().numpy().astype(np.float64) - exp).max())
        peak = float(np.abs(exp).max())
        if err > 1e-4 * peak:
            raise SystemExit(f"{what}: torch float32 output '{name}' differs from the reference by "
                             f"{err:.3g} (max|ref| {peak:.3g})")


def run64(module, ins, out_names):
    """The float64 reference: outputs rounded once to float32."""
    torch.set_default_dtype(torch.float64)  # HF builds some masks in the default dtype
    with torch.no_grad():
        res = module(*[torch.from_numpy(a.copy()) if a.dtype != np.float32
                       else torch.from_numpy(a.astype(np.float64)) for _, a in ins])
    torch.set_default_dtype(torch.float32)
    return [(n, t.numpy().astype(np.float32)) for n, t in zip(out_names, res)]


def seq_axes(name, arr):
    """Dynamic axes of an hf case tensor: batch first, then the sequence for
    per-token tensors (pooled outputs have none)."""
    return {0: "batch", 1: "seq"} if arr.ndim >= 2 and name != "pooler_output" else {0: "batch"}


# test_data_set_1 of each plain export: another (batch, seq), so that a shape
# the tracer baked into the graph would show.
OTHER_SHAPE = {"bert_tiny": (3, 11), "gpt2_tiny": (1, 13), "gpt2_model_gelu": (3, 9),
               "llama_gqa": (1, 13), "llama_bias_tied": (2, 3), "mistral_window": (2, 11),
               "qwen2_mqa_tied": (1, 9), "llama_bf16": (3, 1)}


def other_inputs(case, cfg, in_names, rng):
    batch, seq = OTHER_SHAPE[case]
    arrs = {"input_ids": rng.integers(0, cfg.vocab_size, size=(batch, seq), dtype=np.int64)}
    if "attention_mask" in in_names:  # right padding of different lengths, one row unpadded
        arrs["attention_mask"] = (np.arange(seq)[None, :] < np.array([seq, seq - 4, 2])[:batch, None]).astype(np.int64)
    if "token_type_ids" in in_names:
        arrs["token_type_ids"] = rng.integers(0, 2, size=(batch, seq), dtype=np.int64)
    return [(n, arrs[n]) for n in in_names]


def plain_case(case, rng):
    src = os.path.join(HF, case)
    cfg = AutoConfig.from_pretrained(src)
    cls = ARCH[cfg.architectures[0]]
    # Mistral and Qwen2 trace their RoPE cos/sin tables into the graph, sized
    # by max_position_embeddings (131072, 32768): a smaller table keeps the
    # folder small and changes nothing for sequences within it.
    kw = {"max_position_embeddings": 128} if cls in (MistralForCausalLM, Qwen2ForCausalLM) else {}
    model = cls.from_pretrained(src, torch_dtype=torch.float32, attn_implementation="eager", **kw).eval()
    m64 = cls.from_pretrained(src, torch_dtype=torch.float32, attn_implementation="eager").double().eval()
    ins = dataset(os.path.join(src, "test_data_set_0"), "input")
    outs = dataset(os.path.join(src, "test_data_set_0"), "output")
    in_names, out_names = [n for n, _ in ins], [n for n, _ in outs]
    kw = {} if cls is BertModel else {"use_cache": False}
    module = Plain(model, in_names, out_names, **kw).eval()
    ref = Plain(m64, in_names, out_names, **kw).eval()
    ins1 = other_inputs(case, cfg, in_names, rng)
    outs1 = run64(ref, ins1, out_names)
    check_float32(module, ins, outs, case)
    check_float32(module, ins1, outs1, case)

    out_dir = os.path.join(HERE, case)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(os.path.join(out_dir, "test_data_set_0"))
    axes = {n: seq_axes(n, a) for n, a in ins + outs}
    export(module, [torch.from_numpy(a.copy()) for _, a in ins], os.path.join(out_dir, "model.onnx"),
           in_names, out_names, axes)
    # set 0: the hf case's own files, so both paths meet the same reference
    for prefix, n in (("input", len(ins)), ("output", len(outs))):
        for k in range(n):
            fn = f"test_data_set_0/{prefix}_{k}.pb"
            shutil.copyfile(os.path.join(src, fn), os.path.join(out_dir, fn))
    write_set(out_dir, 1, ins1, outs1)
    finish(out_dir, [outs, outs1], f"{cls.__name__} {in_names} -> {out_names}")


def past_case(src_case, name, steps):
    """Decode steps with a non-empty past: for each (batch, past, new) the
    cache of a past-token prompt and new tokens; the first is exported."""
    src = os.path.join(HF, src_case)
    m32 = LlamaForCausalLM.from_pretrained(src, torch_dtype=torch.float32,
                                           attn_implementation="eager").eval()
    m64 = LlamaForCausalLM.from_pretrained(src, torch_dtype=torch.float32,
                                           attn_implementation="eager").double().eval()
    n_layers = m32.config.num_hidden_layers
    in_names = ["input_ids"] + [f"past_key_values.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    out_names = ["logits"] + [f"present.{i}.{kv}" for i in range(n_layers) for kv in ("key", "value")]
    rng = np.random.default_rng(10)
    sets = []
    for batch, past_len, new_len in steps:
        ids = rng.integers(0, m32.config.vocab_size, size=(batch, past_len + new_len), dtype=np.int64)
        torch.set_default_dtype(torch.float64)
        with torch.no_grad():
            prompt = m64(input_ids=torch.from_numpy(ids[:, :past_len]), use_cache=True, return_dict=True)
            full = m64(input_ids=torch.from_numpy(ids), use_cache=False, return_dict=True).logits.numpy()
        torch.set_default_dtype(torch.float32)
        # the past as a float32 model holds it; the step's reference from exactly that
        ins = [("input_ids", ids[:, past_len:])] + list(
            zip(in_names[1:], [t.float().numpy() for kv in prompt.past_key_values for t in kv]))
        outs = run64(DecodeStep(m64, n_layers), ins, out_names)
        # the step's logits are the last rows of the whole sequence's
        assert np.abs(outs[0][1] - full[:, past_len:]).max() < 1e-5 * np.abs(full).max()
        sets.append((ins, outs))
    module = DecodeStep(m32, n_layers).eval()
    for ins, outs in sets:
        check_float32(module, ins, outs, name)

    out_dir = os.path.join(HERE, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    axes = {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    for n in in_names[1:]:
        axes[n] = {0: "batch", 2: "past_seq"}
    for n in out_names[1:]:
        axes[n] = {0: "batch", 2: "total_seq"}
    export(module, [torch.from_numpy(a.copy()) for _, a in sets[0][0]], os.path.join(out_dir, "model.onnx"),
           in_names, out_names, axes)
    for k, (ins, outs) in enumerate(sets):
        write_set(out_dir, k, ins, outs)
    finish(out_dir, [outs for _, outs in sets],
           "decode steps (batch, past, new) " + ", ".join(str(s) for s in steps))


def vit_case(name):
    """ViT encoder: 16x16 RGB images in 4x4 patches (a stride-4 Conv), a class
    token, learned positions, exact GELU, and the tanh pooler."""
    torch.manual_seed(0)
    cfg = ViTConfig(image_size=16, patch_size=4, num_channels=3, hidden_size=32, num_hidden_layers=2,
                    num_attention_heads=4, intermediate_size=64)
    m = ViTModel(cfg)
    randomise(m, 11)
    with torch.no_grad():  # randomise scales by the last dim; a Conv's fan-in is C*kh*kw
        w = m.embeddings.patch_embeddings.projection.weight
        w.copy_(torch.randn(w.shape, generator=torch.Generator().manual_seed(12)) / np.sqrt(w[0].numel()) * 1.5)
        m.embeddings.cls_token.copy_(0.5 * torch.randn(m.embeddings.cls_token.shape))
        m.embeddings.position_embeddings.copy_(0.5 * torch.randn(m.embeddings.position_embeddings.shape))
    m.eval()
    m64 = ViTModel(cfg).double().eval()
    m64.load_state_dict({k: v.double() for k, v in m.state_dict().items()})
    in_names, out_names = ["pixel_values"], ["last_hidden_state", "pooler_output"]
    module, ref = Plain(m, in_names, out_names).eval(), Plain(m64, in_names, out_names).eval()
    rng = np.random.default_rng(11)
    sets = []
    for batch in (2, 3):
        ins = [("pixel_values", rng.standard_normal((batch, 3, 16, 16)).astype(np.float32))]
        outs = run64(ref, ins, out_names)
        check_float32(module, ins, outs, name)
        sets.append((ins, outs))

    out_dir = os.path.join(HERE, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    axes = {n: {0: "batch"} for n in in_names + out_names}
    export(module, [torch.from_numpy(sets[0][0][0][1])], os.path.join(out_dir, "model.onnx"),
           in_names, out_names, axes)
    for k, (ins, outs) in enumerate(sets):
        write_set(out_dir, k, ins, outs)
    finish(out_dir, [outs for _, outs in sets], "ViTModel pixel_values -> last_hidden_state, pooler_output")


def main():
    rng = np.random.default_rng(0)
    for case in HF_CASES:
        plain_case(case, rng)
    past_case("llama_gqa", "llama_gqa_past", [(2, 5, 3), (1, 2, 1)])
    vit_case("vit_tiny")


if __name__ == "__main__":
    main()
