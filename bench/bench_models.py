"""bench_models.py — the Python side of the model bench: exports, costs, onnxruntime.

    python bench_models.py export WORK NAME [CHECKPOINT]
        NAME is gpt2, bert, llama (random weights, fixed seed) or minilm (the
        checkpoint folder).  Writes WORK/NAME/model.onnx (the plain export:
        input_ids [-> attention_mask, token_type_ids] -> logits or
        last_hidden_state, pooler_output), for decoders WORK/NAME/past.onnx
        (one step with past_key_values.N.key/value in, present.N.* out, the
        same weights), WORK/NAME/ids.bin (int64 token ids, as many as the
        model has positions) and WORK/NAME/meta.json.  Nothing is redone when
        meta.json exists: delete the folder to re-export.
    python bench_models.py cost WORK NAME PHASE N [--variant int8|int4|int4a|kv8]
        "FLOPS BYTES" of one call: encoder/prefill over N tokens (matmul FLOPs
        2 x params-in-matmuls x N plus the attention's QK^T and PV), decode at
        context N (weights of the matmuls, in float32 or as the variant stores
        them, plus the K and V of N positions: float32, or with kv8 int8 and a
        float scale per position and head).
    python bench_models.py quantize WORK NAME int8|int4|int4a
        onnxruntime's own weight quantisation of model.onnx and past.onnx, into
        model_int8.onnx / past_int8.onnx (quantize_dynamic: int8 weights,
        activations quantised per call, MatMulInteger) or model_int4.onnx /
        past_int4.onnx (MatMulNBits: 4-bit weights in blocks of 32 along K,
        symmetric; int4a: the same with a zero point per block).  Prints the file sizes.  Nothing is redone when the files exist.
    python bench_models.py ort WORK NAME PHASE N REPS THREADS... [--tfxc FILE] [--variant int8|int4|int4a|kv8]
        times onnxruntime (CPU, intra-op THREADS, ORT_ENABLE_ALL), one line per
        thread count: "threads median_ms best_ms max_abs_diff max_abs_ref"; the
        diff is against FILE (float32 outputs written by the C driver), -1
        without it.  PHASE encoder / prefill: ids[:N] through model.onnx
        (last_hidden_state or all N rows of logits).  decode: the past of
        ids[:N-1] (past.onnx from an empty past), then the step for ids[N-1]
        is timed: the logits of the token at context N.  --variant: the models
        the quantize command wrote instead (kv8, tfxc's int8 KV cache: the
        float32 models, onnxruntime having no such cache).
"""
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np

OPSET = 17

# The shapes the bench runs (issue 5); weights are random with a fixed seed.
SHAPES = {
    "gpt2": dict(arch="gpt2", n_layer=12, n_embd=768, n_head=12, vocab_size=50257, n_positions=1024),
    "bert": dict(arch="bert", num_hidden_layers=12, hidden_size=768, num_attention_heads=12,
                 intermediate_size=3072, vocab_size=30522, max_position_embeddings=512),
    "llama": dict(arch="llama", num_hidden_layers=8, hidden_size=1024, num_attention_heads=16,
                  num_key_value_heads=4, intermediate_size=2816, vocab_size=32000,
                  max_position_embeddings=2048),
}


def build(name, checkpoint):
    import torch
    from transformers import (AutoModel, BertConfig, BertModel, GPT2Config, GPT2LMHeadModel,
                              LlamaConfig, LlamaForCausalLM)

    if name == "minilm":
        return AutoModel.from_pretrained(checkpoint, attn_implementation="eager").eval()
    torch.manual_seed(0)
    kw = dict(SHAPES[name])
    arch = kw.pop("arch")
    cls, cfg = {"gpt2": (GPT2LMHeadModel, GPT2Config), "bert": (BertModel, BertConfig),
                "llama": (LlamaForCausalLM, LlamaConfig)}[arch]
    return cls(cfg(attn_implementation="eager", **kw)).eval()


def describe(model):
    """Sizes the cost model needs, from the torch module and its config."""
    c = model.config
    layers = getattr(c, "num_hidden_layers", None) or c.n_layer
    heads = getattr(c, "num_attention_heads", None) or c.n_head
    d = getattr(c, "hidden_size", None) or c.n_embd
    kv_heads = getattr(c, "num_key_value_heads", None) or heads
    head_dim = getattr(c, "head_dim", None) or d // heads
    positions = getattr(c, "max_position_embeddings", None) or c.n_positions
    # every Linear / GPT-2 Conv1D weight is read per token (the lm_head too,
    # tied or not); BERT's pooler sees one token and is left out
    mm = sum(m.weight.numel() for n, m in model.named_modules()
             if type(m).__name__ in ("Linear", "Conv1D") and "pooler" not in n)
    decoder = type(model).__name__.endswith("ForCausalLM") or type(model).__name__ == "GPT2LMHeadModel"
    return dict(decoder=decoder, layers=layers, heads=heads, kv_heads=kv_heads, head_dim=head_dim,
                d=d, vocab=c.vocab_size, positions=positions, mm_params=mm,
                params=sum(p.numel() for p in model.parameters()))


def export(module, args, path, in_names, out_names, axes):
    import torch

    module.eval()  # export restores the wrapper's mode on the whole model: dropout would come back on
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python values taken as constants
        torch.onnx.export(module, tuple(args), path, input_names=in_names, output_names=out_names,
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)


def export_encoder(model, out):
    import torch

    class Wrap(torch.nn.Module):  # keyword arguments: BertModel.forward's order changes
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            o = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return o.last_hidden_state, o.pooler_output

    ids = torch.ones((1, 16), dtype=torch.int64)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "seq"} for n in names + ["last_hidden_state"]}
    axes["pooler_output"] = {0: "batch"}
    export(Wrap(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), os.path.join(out, "model.onnx"),
           names, ["last_hidden_state", "pooler_output"], axes)


def export_decoder(model, meta, out):
    """model.onnx without a cache (what tfxc compiles and onnxruntime
    prefills) and past.onnx, a step over past_key_values (onnxruntime's decode)."""
    import torch
    import transformers.masking_utils as mu
    from transformers import DynamicCache

    # transformers 5 looks for packed sequences with torch.diff, which the
    # TorchScript exporter cannot export; one unpacked sequence has none
    mu.find_packed_sequence_indices = lambda position_ids: None
    layers = meta["layers"]

    class Plain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, input_ids):
            return self.m(input_ids=input_ids, use_cache=False).logits

    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = model

        def forward(self, input_ids, *past):
            cache = DynamicCache()
            for i in range(layers):
                cache.update(past[2 * i], past[2 * i + 1], i)
            res = self.m(input_ids=input_ids, past_key_values=cache, use_cache=True)
            kv = res.past_key_values.layers
            return (res.logits, *[t for i in range(layers) for t in (kv[i].keys, kv[i].values)])

    ids = torch.randint(0, meta["vocab"], (1, 8), generator=torch.Generator().manual_seed(1))
    seq_axes = {0: "batch", 1: "seq"}
    export(Plain(), (ids,), os.path.join(out, "model.onnx"), ["input_ids"], ["logits"],
           {"input_ids": seq_axes, "logits": seq_axes})
    kv_names = [f"{i}.{kv}" for i in range(layers) for kv in ("key", "value")]
    in_names = ["input_ids"] + ["past_key_values." + n for n in kv_names]
    out_names = ["logits"] + ["present." + n for n in kv_names]
    axes = {"input_ids": seq_axes, "logits": seq_axes}
    axes.update({n: {0: "batch", 2: "past_seq"} for n in in_names[1:]})
    axes.update({n: {0: "batch", 2: "total_seq"} for n in out_names[1:]})
    past = [torch.zeros((1, meta["kv_heads"], 5, meta["head_dim"])) for _ in kv_names]
    export(Step(), (ids[:, :1], *past), os.path.join(out, "past.onnx"), in_names, out_names, axes)


def cmd_export(work, name, checkpoint=None):
    out = os.path.join(work, name)
    if os.path.exists(os.path.join(out, "meta.json")):
        return
    os.makedirs(out, exist_ok=True)
    import torch

    with torch.no_grad():
        model = build(name, checkpoint)
        meta = describe(model)
        if meta["decoder"]:
            export_decoder(model, meta, out)
        else:
            export_encoder(model, out)
    rng = np.random.default_rng(0)
    ids = rng.integers(0, meta["vocab"], size=meta["positions"], dtype=np.int64)
    if not meta["decoder"]:
        ids = rng.integers(1000, min(meta["vocab"], 30000), size=meta["positions"], dtype=np.int64)
        ids[0] = 101  # [CLS]
    ids.tofile(os.path.join(out, "ids.bin"))
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)


def load_meta(work, name):
    with open(os.path.join(work, name, "meta.json")) as f:
        return json.load(f)


# bytes per matmul weight: float32, int8 (a scale per channel is noise), int4
# with a bfloat16 scale per group of 32 (int4a: and a bfloat16 offset); kv8
# keeps float32 weights
WEIGHT_BYTES = {None: 4.0, "int8": 1.0, "int4": 0.5 + 2 / 32, "int4a": 0.5 + 4 / 32, "kv8": 4.0}


def cost(meta, phase, n, variant=None):
    """FLOPs and bytes of one call, weights and cache as variant stores them."""
    attn = meta["heads"] * meta["head_dim"]
    layers = meta["layers"]
    if phase == "decode":
        kv = 2 * layers * meta["kv_heads"] * meta["head_dim"] * n
        flops = 2 * meta["mm_params"] + 4 * layers * attn * n
        kv_bytes = kv + 4 * kv // meta["head_dim"] if variant == "kv8" else 4 * kv  # int8 + a scale a row
        return flops, int(WEIGHT_BYTES[variant] * meta["mm_params"] + kv_bytes)
    pairs = n * n if phase == "encoder" else n * (n + 1) // 2  # causal: each query sees its past
    flops = 2 * meta["mm_params"] * n + 4 * layers * attn * pairs
    return flops, 4 * meta["mm_params"]


def session(path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def past_feed(sess, meta, prompt):
    """The step's inputs besides input_ids after running prompt from an empty past."""
    kv_names = [i.name for i in sess.get_inputs()[1:]]
    empty = np.zeros((1, meta["kv_heads"], 0, meta["head_dim"]), np.float32)
    feed = {"input_ids": prompt[None, :], **{k: empty for k in kv_names}}
    present = sess.run(None, feed)[1:]
    return dict(zip(kv_names, present))


def timed(fn, reps):
    out = fn()  # warm-up, and the output compared
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return out, statistics.median(times), min(times)


def quantized_path(work, name, stem, variant):
    if variant == "kv8":  # onnxruntime has no int8 cache: its float32 models
        variant = None
    return os.path.join(work, name, f"{stem}_{variant}.onnx" if variant else f"{stem}.onnx")


def gemm_as_matmul(model):
    """Gemm on a constant weight as MatMul + Add, so that MatMulNBits (which
    only takes MatMul) covers GPT-2's Conv1D layers too."""
    from onnx import helper, numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    nodes = []
    for n in model.graph.node:
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        if (n.op_type != "Gemm" or n.input[1] not in inits or a.get("transA", 0) or a.get("alpha", 1.0) != 1.0
                or a.get("beta", 1.0) != 1.0):
            nodes.append(n)
            continue
        if a.get("transB", 0):
            w = inits[n.input[1]]
            w.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w).T.copy(), w.name))
        has_c = len(n.input) > 2 and n.input[2]
        mm_out = n.output[0] + "_mm" if has_c else n.output[0]
        nodes.append(helper.make_node("MatMul", [n.input[0], n.input[1]], [mm_out], name=n.name + "_mm"))
        if has_c:
            nodes.append(helper.make_node("Add", [mm_out, n.input[2]], [n.output[0]], name=n.name + "_bias"))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def cmd_quantize(work, name, variant):
    """onnxruntime's int8 (dynamic) or 4-bit (MatMulNBits) copies of the models."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    for stem in ("model", "past"):
        src, dst = quantized_path(work, name, stem, None), quantized_path(work, name, stem, variant)
        if not os.path.exists(src) or os.path.exists(dst):
            continue
        if variant == "int8":
            quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True)
        else:
            q = MatMulNBitsQuantizer(gemm_as_matmul(onnx.load(src)), block_size=32,
                                     is_symmetric=variant != "int4a")
            q.process()
            q.model.save_model_to_file(dst, use_external_data_format=False)
    sizes = [os.path.getsize(quantized_path(work, name, stem, variant)) for stem in ("model", "past")]
    print(" ".join(str(x) for x in sizes))


def ort_call(work, name, meta, phase, n, threads, variant=None):
    """A function running the phase's timed call, and the output it compares."""
    ids = np.fromfile(os.path.join(work, name, "ids.bin"), dtype=np.int64)
    if phase == "decode":
        sess = session(quantized_path(work, name, "past", variant), threads)
        feed = past_feed(sess, meta, ids[:n - 1])
        feed["input_ids"] = ids[None, n - 1:n]
        return lambda: sess.run(["logits"], feed)[0]
    sess = session(quantized_path(work, name, "model", variant), threads)
    x = ids[None, :n]
    if phase == "encoder":
        feed = {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": np.zeros_like(x)}
        return lambda: sess.run(["last_hidden_state"], feed)[0]
    return lambda: sess.run(["logits"], {"input_ids": x})[0]


def cmd_ort(work, name, phase, n, reps, threads, tfxc_out, variant=None):
    meta = load_meta(work, name)
    for t in threads:
        out, med, best = timed(ort_call(work, name, meta, phase, n, t, variant), reps)
        diff = -1.0
        path = tfxc_out.replace("{t}", str(t)) if tfxc_out else None
        if path and os.path.exists(path):
            mine = np.fromfile(path, dtype=np.float32)
            diff = float(np.max(np.abs(mine - out.ravel()))) if mine.size == out.size else float("inf")
        print(f"{t} {med:.3f} {best:.3f} {diff:.3g} {float(np.max(np.abs(out))):.3g}", flush=True)


def main():
    cmd, work, name = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "export":
        cmd_export(work, name, sys.argv[4] if len(sys.argv) > 4 else None)
    elif cmd == "cost":
        variant = sys.argv[7] if len(sys.argv) > 7 and sys.argv[6] == "--variant" else None
        print("%d %d" % cost(load_meta(work, name), sys.argv[4], int(sys.argv[5]), variant))
    elif cmd == "ort":
        args = sys.argv[4:]
        opts = {}
        for flag in ("--tfxc", "--variant"):
            if flag in args:
                k = args.index(flag)
                opts[flag] = args[k + 1]
                args = args[:k] + args[k + 2:]
        phase, n, reps = args[0], int(args[1]), int(args[2])
        cmd_ort(work, name, phase, n, reps, [int(t) for t in args[3:]], opts.get("--tfxc"), opts.get("--variant"))
    elif cmd == "quantize":
        cmd_quantize(work, name, sys.argv[4])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
