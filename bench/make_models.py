"""make_models.py — writes the bench's single-MatMul ONNX models:
   python3 make_models.py OUTDIR N [N ...]  ->  OUTDIR/matmul_N.onnx, Y = A (N x N) x B (N x N),
B a random constant (a Linear layer's weight)."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def matmul_model(n: int) -> onnx.ModelProto:
    rng = np.random.default_rng(n)
    w = numpy_helper.from_array((rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32), "W")
    node = helper.make_node("MatMul", ["A", "W"], ["Y"], name="mm")
    graph = helper.make_graph(
        [node], f"matmul_{n}",
        [helper.make_tensor_value_info("A", TensorProto.FLOAT, [n, n])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [n, n])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


if __name__ == "__main__":
    out = sys.argv[1]
    for s in sys.argv[2:]:
        onnx.save(matmul_model(int(s)), f"{out}/matmul_{s}.onnx")
