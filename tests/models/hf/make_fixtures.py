#!/usr/bin/env python3
"""Tiny random-weight Hugging Face checkpoints and their reference outputs,
one case folder each (model.safetensors + config.json + test_data_set_0/
input_K.pb, output_K.pb), for `tfxc check` on the safetensors frontend.

Weights are saved in float32 exactly as save_pretrained writes them (config
defaults left out, tied tensors stored once); the reference outputs come from
the same weights run in float64 by transformers' eager modules, so they are
the model's exact math rounded once.  strict_atol holds 1e-4 x the smallest
max|output| of the case: CTest also runs `tfxc check --rtol 0 --atol` with it.

Needs torch, transformers (tested with 4.39), onnx, numpy.  Run from anywhere:
    python3 tests/models/hf/make_fixtures.py
"""
import json
import os
import shutil

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from transformers import (BertConfig, BertModel, GPT2Config, GPT2LMHeadModel, GPT2Model,
                          LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM)

HERE = os.path.dirname(os.path.abspath(__file__))


def randomise(model, seed):
    """Weights far from the HF init (std 0.02, norms at 1, biases at 0), so
    that every tensor and every op shows in the outputs."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name.lower() and name.endswith("weight") or name.endswith("gamma"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias") or name.endswith("beta"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "embed" in name or name.startswith(("wte", "wpe", "transformer.wte", "transformer.wpe")):
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
            else:
                fan_in = p.shape[0] if "Conv1D" in type(model).__name__ else p.shape[-1]
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(fan_in) * 1.5)


def conv1d_fix(model, seed):
    """GPT-2's Conv1D weights are [in, out]: scale by the input size."""
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")):
                p.copy_(torch.randn(p.shape, generator=g) / np.sqrt(p.shape[0]) * 1.5)


def write_case(name, model, inputs, output_names):
    out_dir = os.path.join(HERE, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    model.eval()
    model.save_pretrained(out_dir, safe_serialization=True)
    for extra in ("generation_config.json",):
        p = os.path.join(out_dir, extra)
        if os.path.exists(p):
            os.remove(p)
    # Reload what was saved: checks the checkpoint is complete, and rebuilds
    # buffers (RoPE inverse frequencies) in float32 as a real load does.
    ref = type(model).from_pretrained(out_dir, torch_dtype=torch.float32,
                                      attn_implementation="eager").double().eval()
    torch.set_default_dtype(torch.float64)  # HF builds some masks in the default dtype
    with torch.no_grad():
        res = ref(**{k: torch.from_numpy(v) for k, v in inputs.items()})
    torch.set_default_dtype(torch.float32)
    ds = os.path.join(out_dir, "test_data_set_0")
    os.makedirs(ds)
    for k, (iname, arr) in enumerate(inputs.items()):
        t = numpy_helper.from_array(arr, iname)
        with open(os.path.join(ds, f"input_{k}.pb"), "wb") as f:
            f.write(t.SerializeToString())
    peaks = []
    for k, oname in enumerate(output_names):
        arr = res[oname].detach().numpy().astype(np.float32)
        peaks.append(float(np.abs(arr).max()))
        t = numpy_helper.from_array(arr, oname)
        with open(os.path.join(ds, f"output_{k}.pb"), "wb") as f:
            f.write(t.SerializeToString())
    with open(os.path.join(out_dir, "strict_atol"), "w") as f:
        f.write("%.6g\n" % (1e-4 * min(peaks)))
    size = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(out_dir) for fn in fns)
    print(f"{name}: {size // 1024} KiB, outputs {output_names}, max|out| {peaks}")


def ids(rng, vocab, batch, seq):
    return rng.integers(0, vocab, size=(batch, seq), dtype=np.int64)


def main():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)

    # BERT: padding in the attention mask, both token types.
    cfg = BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=16, type_vocab_size=2)
    m = BertModel(cfg)
    randomise(m, 1)
    mask = np.ones((2, 7), dtype=np.int64)
    mask[1, 4:] = 0
    types = np.zeros((2, 7), dtype=np.int64)
    types[0, 3:] = 1
    types[1, 2:4] = 1
    write_case("bert_tiny", m, {"input_ids": ids(rng, 64, 2, 7), "attention_mask": mask,
                                "token_type_ids": types}, ["last_hidden_state", "pooler_output"])

    # GPT-2 with the LM head tied to wte (saved once).
    cfg = GPT2Config(vocab_size=64, n_positions=16, n_embd=32, n_layer=2, n_head=4)
    m = GPT2LMHeadModel(cfg)
    randomise(m, 2)
    conv1d_fix(m, 2)
    m.tie_weights()
    write_case("gpt2_tiny", m, {"input_ids": ids(rng, 64, 2, 6)}, ["logits"])

    # GPT2Model: exact GELU, scores also scaled by the inverse layer index.
    cfg = GPT2Config(vocab_size=48, n_positions=12, n_embd=32, n_layer=2, n_head=2, n_inner=48,
                     activation_function="gelu", scale_attn_by_inverse_layer_idx=True)
    m = GPT2Model(cfg)
    randomise(m, 3)
    conv1d_fix(m, 3)
    write_case("gpt2_model_gelu", m, {"input_ids": ids(rng, 48, 1, 5)}, ["last_hidden_state"])

    # Llama: grouped-query attention (4 heads over 2), untied head, rope_theta.
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, rope_theta=500.0,
                      rms_norm_eps=1e-5, tie_word_embeddings=False)
    m = LlamaForCausalLM(cfg)
    randomise(m, 4)
    write_case("llama_gqa", m, {"input_ids": ids(rng, 64, 2, 8)}, ["logits"])

    # Llama: attention biases, linear RoPE scaling, tied head, one layer.
    cfg = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=48, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, attention_bias=True,
                      rope_scaling={"type": "linear", "factor": 2.0}, tie_word_embeddings=True)
    m = LlamaForCausalLM(cfg)
    randomise(m, 5)
    m.tie_weights()
    write_case("llama_bias_tied", m, {"input_ids": ids(rng, 40, 1, 6)}, ["logits"])

    # Mistral: a sliding window shorter than the sequence.
    cfg = MistralConfig(vocab_size=48, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, sliding_window=3)
    m = MistralForCausalLM(cfg)
    randomise(m, 6)
    write_case("mistral_window", m, {"input_ids": ids(rng, 48, 1, 8)}, ["logits"])

    # Qwen2: q/k/v biases, one key-value head (multi-query), tied head.
    cfg = Qwen2Config(vocab_size=48, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=1, tie_word_embeddings=True)
    m = Qwen2ForCausalLM(cfg)
    randomise(m, 7)
    m.tie_weights()
    write_case("qwen2_mqa_tied", m, {"input_ids": ids(rng, 48, 2, 5)}, ["logits"])

    # Llama stored in bfloat16: tfxc widens the weights to float32 exactly.
    cfg = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=48, num_hidden_layers=1,
                      num_attention_heads=4, num_key_value_heads=2)
    m = LlamaForCausalLM(cfg)
    randomise(m, 8)
    write_case("llama_bf16", m.to(torch.bfloat16), {"input_ids": ids(rng, 40, 1, 4)}, ["logits"])


if __name__ == "__main__":
    main()
