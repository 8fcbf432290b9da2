"""Models for tests/cli/linear.sh: matrix products with the epilogues the
Linear fusion takes (bias, GELU spelled out with Erf or Tanh, residual), as
ONNX case folders whose expected outputs come from onnx's own reference
evaluator.  usage: make_linear.py OUT_DIR"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

K, N = 24, 40  # N is not a multiple of the kernel's 16 columns


def const(name, arr):
    return numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name)


def scalar(name, v):
    return const(name, np.array(v, dtype=np.float32))


def gelu_erf(x, y, p):
    """x * (1 + erf(x / sqrt 2)) * 0.5: the torch export of nn.GELU()."""
    return [
        helper.make_node("Div", [x, "sqrt2"], [p + "d"]),
        helper.make_node("Erf", [p + "d"], [p + "e"]),
        helper.make_node("Add", [p + "e", "one"], [p + "a"]),
        helper.make_node("Mul", [x, p + "a"], [p + "m"]),
        helper.make_node("Mul", [p + "m", "half"], [y]),
    ], [scalar("sqrt2", np.sqrt(2.0)), scalar("one", 1.0), scalar("half", 0.5)]


def gelu_tanh(x, y, p):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), 0.5 x first (GPT-2)."""
    return [
        helper.make_node("Mul", [x, "half"], [p + "h"]),
        helper.make_node("Pow", [x, "three"], [p + "p"]),
        helper.make_node("Mul", ["c044", p + "p"], [p + "q"]),
        helper.make_node("Add", [x, p + "q"], [p + "a"]),
        helper.make_node("Mul", [p + "a", "c079"], [p + "s"]),
        helper.make_node("Tanh", [p + "s"], [p + "t"]),
        helper.make_node("Add", ["one", p + "t"], [p + "u"]),
        helper.make_node("Mul", [p + "h", p + "u"], [y]),
    ], [scalar("half", 0.5), scalar("three", 3.0), scalar("c044", 0.044715),
        scalar("c079", np.sqrt(2.0 / np.pi)), scalar("one", 1.0)]


def ffn(rng, S):
    """x [1,S,K]: MatMul + bias, GELU (erf), MatMul + bias, + x."""
    gelu, consts = gelu_erf("h", "g", "ge")
    nodes = [helper.make_node("MatMul", ["x", "w1"], ["hm"]),
             helper.make_node("Add", ["hm", "b1"], ["h"])] + gelu + [
             helper.make_node("MatMul", ["g", "w2"], ["fm"]),
             helper.make_node("Add", ["b2", "fm"], ["f"]),
             helper.make_node("Add", ["x", "f"], ["y"])]
    inits = consts + [const("w1", rng.normal(0, 0.5, (K, N))), const("b1", rng.normal(0, 0.5, N)),
                      const("w2", rng.normal(0, 0.5, (N, K))), const("b2", rng.normal(0, 0.5, (1, K)))]
    return nodes, inits, [("x", [1, S, K])], [("y", [1, S, K])]


def gemm_tanh(rng, S):
    """x [S,K]: Gemm (B transposed, bias C) then GELU (tanh, with Pow)."""
    gelu, consts = gelu_tanh("h", "y", "gt")
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["h"], transB=1)] + gelu
    inits = consts + [const("w", rng.normal(0, 0.5, (N, K))), const("b", rng.normal(0, 0.5, N))]
    return nodes, inits, [("x", [S, K])], [("y", [S, N])]


def near_gelu(rng, S):
    """x * 0.4 * (1 + erf(x / sqrt 2)): not GELU; the fusion must leave it."""
    gelu, consts = gelu_erf("h", "y", "ng")
    consts[2] = scalar("half", 0.4)
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"])] + gelu
    return nodes, consts + [const("w", rng.normal(0, 0.5, (K, N)))], [("x", [S, K])], [("y", [S, N])]


def shared(rng, S):
    """One weight read by two MatMuls (stored prepacked once); a table read by
    Gather and by Gemm (transB), prepacked too: the Gather reads rows from
    its panels."""
    nodes = [helper.make_node("MatMul", ["x", "w"], ["a"]),
             helper.make_node("MatMul", ["a", "w"], ["b"]),
             helper.make_node("Gather", ["e", "ids"], ["r"]),
             helper.make_node("Add", ["b", "r"], ["c"]),
             helper.make_node("Gemm", ["c", "e"], ["y"], transB=1)]
    inits = [const("w", rng.normal(0, 0.3, (K, K))), const("e", rng.normal(0, 0.5, (N, K)))]
    return nodes, inits, [("x", [S, K]), ("ids", [S])], [("y", [S, N])]


def conv1d(rng, S):
    """GPT-2's Conv1D export: x [1,S,K] flattened to [S,K] by Reshape, Gemm +
    bias, back to [1,S,N] by Reshape, GELU (tanh); the same around the second
    Gemm, then + x.  Both Reshape pairs go into the Linear nodes, and the GELU
    and the residual with them."""
    gelu, consts = gelu_tanh("h3", "g3", "cg")
    nodes = [helper.make_node("Reshape", ["x", "flat_k"], ["x2"]),
             helper.make_node("Gemm", ["x2", "w1", "b1"], ["h2"]),
             helper.make_node("Reshape", ["h2", "back_n"], ["h3"])] + gelu + [
             helper.make_node("Reshape", ["g3", "flat_n"], ["g2"]),
             helper.make_node("Gemm", ["g2", "w2", "b2"], ["f2"]),
             helper.make_node("Reshape", ["f2", "back_k"], ["f3"]),
             helper.make_node("Add", ["x", "f3"], ["y"])]
    shape = lambda n, v: numpy_helper.from_array(np.array(v, dtype=np.int64), n)
    inits = consts + [shape("flat_k", [-1, K]), shape("flat_n", [-1, N]), shape("back_n", [1, S, N]),
                      shape("back_k", [1, S, K]), const("w1", rng.normal(0, 0.5, (K, N))),
                      const("b1", rng.normal(0, 0.5, N)), const("w2", rng.normal(0, 0.5, (N, K))),
                      const("b2", rng.normal(0, 0.5, K))]
    return nodes, inits, [("x", [1, S, K])], [("y", [1, S, K])]


def regroup(rng, S):
    """Reshape [1,S,K] -> [S,K], MatMul, then Reshape to [S,1,N] and Relu:
    other leading dims than x's, so the second Reshape stays, as a view of the
    product's output (no copy); the first, of the input x, copies."""
    nodes = [helper.make_node("Reshape", ["x", "flat"], ["x2"]),
             helper.make_node("MatMul", ["x2", "w"], ["h2"]),
             helper.make_node("Reshape", ["h2", "back"], ["h3"]),
             helper.make_node("Relu", ["h3"], ["y"])]
    shape = lambda n, v: numpy_helper.from_array(np.array(v, dtype=np.int64), n)
    inits = [shape("flat", [S, K]), shape("back", [S, 1, N]), const("w", rng.normal(0, 0.5, (K, N)))]
    return nodes, inits, [("x", [1, S, K])], [("y", [S, 1, N])]


def write_case(out, name, build, S, rng):
    nodes, inits, ins, outs = build(rng, S)
    vi = lambda n, s: helper.make_tensor_value_info(n, TensorProto.INT64 if n == "ids" else TensorProto.FLOAT, s)
    g = helper.make_graph(nodes, name, [vi(n, s) for n, s in ins], [vi(n, s) for n, s in outs], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(m)
    d = os.path.join(out, f"{name}_s{S}")
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    onnx.save(m, os.path.join(d, "model.onnx"))
    feeds = {}
    for k, (n, s) in enumerate(ins):
        feeds[n] = rng.integers(0, N, s).astype(np.int64) if n == "ids" else rng.normal(0, 1, s).astype(np.float32)
        onnx.save_tensor(numpy_helper.from_array(feeds[n], n), os.path.join(d, "test_data_set_0", f"input_{k}.pb"))
    got = ReferenceEvaluator(m).run(None, feeds)
    for k, (n, _) in enumerate(outs):
        onnx.save_tensor(numpy_helper.from_array(got[k], n), os.path.join(d, "test_data_set_0", f"output_{k}.pb"))


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(7)
    for S in (3, 7, 13):  # the small-M path, and 6-row groups with 1 row over
        for name, build in (("ffn", ffn), ("gemm_tanh", gemm_tanh), ("shared", shared), ("near_gelu", near_gelu),
                            ("conv1d", conv1d), ("regroup", regroup)):
            write_case(out, name, build, S, rng)


if __name__ == "__main__":
    main()
