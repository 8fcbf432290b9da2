"""Builds examples/tiny_encoder: a one-layer BERT-style encoder (token and
position embeddings, LayerNorm, 4-head self-attention, erf-GELU MLP) in the
shape torch exporters produce it, including the Shape->Gather->Concat->Reshape
chains tfxc folds away.  Reference outputs come from onnx's own reference
evaluator.  Run: python3 make_model.py  (needs onnx and numpy)."""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

VOCAB, D, HEADS, FF, SEQ = 64, 32, 4, 64, 8
HD = D // HEADS
rng = np.random.default_rng(7)


def w(*shape, scale=0.2):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


inits = {
    "tok_emb": w(VOCAB, D), "pos_emb": w(16, D),
    "ln1_g": 1 + w(D, scale=0.05), "ln1_b": w(D, scale=0.05),
    "wq": w(D, D), "wk": w(D, D), "wv": w(D, D), "wo": w(D, D),
    "bq": w(D, scale=0.05), "bk": w(D, scale=0.05), "bv": w(D, scale=0.05), "bo": w(D, scale=0.05),
    "ln2_g": 1 + w(D, scale=0.05), "ln2_b": w(D, scale=0.05),
    "w1": w(D, FF), "b1": w(FF, scale=0.05), "w2": w(FF, D), "b2": w(D, scale=0.05),
    "scale": np.array(1.0 / np.sqrt(HD), np.float32),
    "heads_hd": np.array([HEADS, HD], np.int64), "d_model": np.array([D], np.int64),
    "zero": np.array(0, np.int64), "one": np.array(1, np.int64),
    "sqrt2": np.array(np.sqrt(2.0), np.float32), "half": np.array(0.5, np.float32),
    "onef": np.array(1.0, np.float32),
}
N = helper.make_node
nodes = [
    # positions 0..seq-1 from the input's shape, as exporters write it
    N("Shape", ["input_ids"], ["ids_shape"], name="shape_ids"),
    N("Gather", ["ids_shape", "one"], ["seq_len"], name="gather_seq", axis=0),
    N("Range", ["zero", "seq_len", "one"], ["positions"], name="positions"),
    N("Gather", ["tok_emb", "input_ids"], ["tok"], name="embed_tokens"),
    N("Gather", ["pos_emb", "positions"], ["pos"], name="embed_positions"),
    N("Add", ["tok", "pos"], ["x0"], name="add_embeddings"),
    N("LayerNormalization", ["x0", "ln1_g", "ln1_b"], ["x1"], name="ln1", axis=-1, epsilon=1e-5),
    # dynamic head split: Shape -> Slice -> Concat -> Reshape
    N("Shape", ["x1"], ["x1_shape"], name="shape_x1"),
    N("Slice", ["x1_shape", "zero1", "two1"], ["bs"], name="slice_bs"),
    N("Concat", ["bs", "heads_hd"], ["split_shape"], name="concat_split_shape", axis=0),
    N("Concat", ["bs", "d_model"], ["merge_shape"], name="concat_merge_shape", axis=0),
]
inits["zero1"] = np.array([0], np.int64)
inits["two1"] = np.array([2], np.int64)
for p in ("q", "k", "v"):
    nodes += [
        N("MatMul", ["x1", "w" + p], [p + "_mm"], name=p + "_proj"),
        N("Add", [p + "_mm", "b" + p], [p + "_b"], name=p + "_bias"),
        N("Reshape", [p + "_b", "split_shape"], [p + "_r"], name=p + "_reshape"),
        N("Transpose", [p + "_r"], [p + "_h"], name=p + "_heads",
          perm=[0, 2, 3, 1] if p == "k" else [0, 2, 1, 3]),
    ]
nodes += [
    N("MatMul", ["q_h", "k_h"], ["scores"], name="qk"),
    N("Mul", ["scores", "scale"], ["scores_s"], name="scale_scores"),
    N("Softmax", ["scores_s"], ["probs"], name="softmax", axis=-1),
    N("MatMul", ["probs", "v_h"], ["ctx"], name="pv"),
    N("Transpose", ["ctx"], ["ctx_t"], name="merge_heads", perm=[0, 2, 1, 3]),
    N("Reshape", ["ctx_t", "merge_shape"], ["ctx_m"], name="merge_reshape"),
    N("MatMul", ["ctx_m", "wo"], ["o_mm"], name="o_proj"),
    N("Add", ["o_mm", "bo"], ["o"], name="o_bias"),
    N("Add", ["x1", "o"], ["x2"], name="residual1"),
    N("LayerNormalization", ["x2", "ln2_g", "ln2_b"], ["x3"], name="ln2", axis=-1, epsilon=1e-5),
    N("MatMul", ["x3", "w1"], ["h_mm"], name="fc1"),
    N("Add", ["h_mm", "b1"], ["h"], name="fc1_bias"),
    # GELU, erf form, spelled out as torch exports it
    N("Div", ["h", "sqrt2"], ["g0"], name="gelu_div"),
    N("Erf", ["g0"], ["g1"], name="gelu_erf"),
    N("Add", ["g1", "onef"], ["g2"], name="gelu_add"),
    N("Mul", ["h", "g2"], ["g3"], name="gelu_mul"),
    N("Mul", ["g3", "half"], ["g"], name="gelu_half"),
    N("MatMul", ["g", "w2"], ["f_mm"], name="fc2"),
    N("Add", ["f_mm", "b2"], ["f"], name="fc2_bias"),
    N("Add", ["x3", "f"], ["hidden"], name="residual2"),
]
graph = helper.make_graph(
    nodes, "tiny_encoder",
    [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "seq"])],
    [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [1, "seq", D])],
    [numpy_helper.from_array(v, k) for k, v in inits.items()])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="tfxc-example")
onnx.checker.check_model(model)
here = os.path.dirname(os.path.abspath(__file__))
onnx.save(model, os.path.join(here, "model.onnx"))

ids = rng.integers(0, VOCAB, size=(1, SEQ), dtype=np.int64)
(hidden,) = ReferenceEvaluator(model).run(None, {"input_ids": ids})
ds = os.path.join(here, "test_data_set_0")
os.makedirs(ds, exist_ok=True)
with open(os.path.join(ds, "input_0.pb"), "wb") as f:
    f.write(numpy_helper.from_array(ids, "input_ids").SerializeToString())
with open(os.path.join(ds, "output_0.pb"), "wb") as f:
    f.write(numpy_helper.from_array(hidden.astype(np.float32), "hidden").SerializeToString())
print("wrote", here, "hidden", hidden.shape)
