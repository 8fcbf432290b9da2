"""Models for tests/cli/attention_tiles.sh: single Attention nodes (opset 25)
shaped to reach every path of the tiled kernel tfx_attn, as ONNX case folders
whose expected outputs come from onnx's own reference evaluator.
usage: make_attention.py OUT_DIR"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator


def case(out, name, inputs, attrs, rng):
    """inputs: (name, array) in the order Q, K, V[, attn_mask]."""
    vis = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in inputs]
    node = helper.make_node("Attention", [n for n, _ in inputs], ["y"], **attrs)
    graph = helper.make_graph([node], name, vis, [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)])
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    onnx.save(model, os.path.join(d, "model.onnx"))
    (y,) = ReferenceEvaluator(model).run(None, dict(inputs))
    for k, (n, a) in enumerate(inputs):
        with open(os.path.join(d, "test_data_set_0", f"input_{k}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(a, n).SerializeToString())
    with open(os.path.join(d, "test_data_set_0", "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(y.astype(np.float32), "y").SerializeToString())


def main(out):
    rng = np.random.default_rng(5)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    # 3-D heads in place, 200 queries (blocks of 48 and a last one of 8) over two
    # key tiles (128 + 72) with a broadcast float mask hiding the last keys
    mask = np.zeros((1, 1, 1, 200), np.float32)
    mask[..., 180:] = -np.inf
    mask[..., :180] = rng.uniform(-2, 0, 180)
    case(out, "enc_mask_s200", [("q", f(1, 200, 128)), ("k", f(1, 200, 128)), ("v", f(1, 200, 128)), ("m", mask)],
         dict(q_num_heads=4, kv_num_heads=4), rng)
    # grouped-query causal, head size 72: Kᵀ in two slices (64 + 8), V columns 16 x 4 + 8
    case(out, "gqa_causal_d72", [("q", f(1, 4, 150, 72)), ("k", f(1, 2, 150, 72)), ("v", f(1, 2, 150, 72))],
         dict(is_causal=1), rng)
    # bool mask, both windows, more keys than queries, Dk = 36 (a 4-wide transpose
    # tail), Dv = 20 (16 columns and a plain tail of 4), batch 2
    bm = rng.uniform(size=(2, 1, 130, 140)) < 0.85
    case(out, "window_bool_d36", [("q", f(2, 2, 130, 36)), ("k", f(2, 2, 140, 36)), ("v", f(2, 2, 140, 20)), ("m", bm)],
         dict(left_window_size=100, right_window_size=5), rng)


if __name__ == "__main__":
    main(sys.argv[1])
