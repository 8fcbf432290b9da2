#!/usr/bin/env python3
"""Tests of `tfxc check` itself (and of the generated main() and its .pb
reader): small case folders built here with onnx, each with the exit status
and summary `tfxc check` must give.  A checker that passed everything, or
failed everything, or mixed up inputs, would fail this test.

    selftest.py TFXC WORK_DIR"""
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def model(nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def tensor(name, value, typed=False):
    """A TensorProto, with raw_data or (typed=True) the typed fields."""
    if not typed:
        return numpy_helper.from_array(value, name)
    dt = helper.np_dtype_to_tensor_dtype(value.dtype)
    # make_tensor stores float16 values as their bits in int32_data
    return helper.make_tensor(name, dt, value.shape, value.flatten().tolist(), raw=False)


def write_case(root, name, m, sets):
    d = os.path.join(root, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    onnx.save(m, os.path.join(d, "model.onnx"))
    for i, (ins, outs) in enumerate(sets):
        ds = os.path.join(d, f"test_data_set_{i}")
        os.makedirs(ds)
        for kind, ts in (("input", ins), ("output", outs)):
            for j, t in enumerate(ts):
                with open(os.path.join(ds, f"{kind}_{j}.pb"), "wb") as f:
                    f.write(t.SerializeToString())
    return d


def cases(root):
    """(name, case dir, extra flags, expected exit status, text the summary must contain)"""
    out = []

    # symbolic batch bound per data set; two sets of different shapes
    W = rng.standard_normal((16, 8)).astype(np.float32)
    m = model([helper.make_node("MatMul", ["x", "W"], ["y"])], [vi("x", TensorProto.FLOAT, ["batch", 16])],
              [vi("y", TensorProto.FLOAT, ["batch", 8])], [numpy_helper.from_array(W, "W")])
    sets = []
    for b in (1, 3):
        x = rng.standard_normal((b, 16)).astype(np.float32)
        sets.append(([tensor("x", x)], [tensor("y", x @ W)]))
    out.append(("symbolic_two_sets", write_case(root, "symbolic_two_sets", m, sets), [], 0, "PASS"))
    # the same with a wrong second set must fail, naming the set
    bad = [sets[0], (sets[1][0], [tensor("y", numpy_helper.to_array(sets[1][1][0]) + 1)])]
    out.append(("second_set_wrong", write_case(root, "second_set_wrong", m, bad), [], 1,
                "test_data_set_1"))

    # inputs matched by name (files in another order), a shape operand frozen
    # per set, bool / float16 / int64 data through typed fields and raw_data
    m = model([helper.make_node("Reshape", ["a", "s"], ["r"]), helper.make_node("Not", ["b"], ["nb"]),
               helper.make_node("Cast", ["r"], ["h"], to=TensorProto.FLOAT16),
               helper.make_node("Add", ["i", "i"], ["i2"])],
              [vi("a", TensorProto.FLOAT, [2, 6]), vi("s", TensorProto.INT64, [2]),
               vi("b", TensorProto.BOOL, [3]), vi("i", TensorProto.INT64, [4])],
              [vi("nb", TensorProto.BOOL, [3]), vi("h", TensorProto.FLOAT16, None),
               vi("i2", TensorProto.INT64, [4])])
    a = rng.standard_normal((2, 6)).astype(np.float32)
    b = np.array([True, False, True])
    i = np.array([-(2 ** 62), -1, 0, 2 ** 61 + 3], np.int64)
    sets = []
    for shape, typed in (((3, 4), False), ((4, 3), True)):
        ins = [tensor("i", i, typed), tensor("b", b, typed), tensor("s", np.array(shape, np.int64), typed),
               tensor("a", a, typed)]
        outs = [tensor("i2", i * 2, typed), tensor("h", a.reshape(shape).astype(np.float16), typed),
                tensor("nb", ~b, typed)]
        sets.append((ins, outs))
    out.append(("named_frozen_typed", write_case(root, "named_frozen_typed", m, sets), [], 0, "PASS"))

    # NaN and infinities compare equal to themselves; tolerances are honoured
    m = model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", TensorProto.FLOAT, [2, 3])],
              [vi("y", TensorProto.FLOAT, [2, 3])])
    x = np.array([[1, -1, 2], [np.nan, np.inf, -np.inf]], np.float32)
    y = np.where(np.isnan(x), np.nan, np.maximum(x, 0)).astype(np.float32)
    out.append(("nan_inf", write_case(root, "nan_inf", m, [([tensor("x", x)], [tensor("y", y)])]), [], 0,
                "PASS"))
    y2 = y.copy()
    y2[0, 2] = 2.01
    d = write_case(root, "near", m, [([tensor("x", x)], [tensor("y", y2)])])
    out.append(("near_default_tol", d, [], 1, "worst at [0,2]"))
    out.append(("near_loose_tol", d, ["--rtol", "0.01"], 0, "PASS"))
    y3 = y.copy()
    y3[1, 1] = -np.inf
    out.append(("inf_sign", write_case(root, "inf_sign", m, [([tensor("x", x)], [tensor("y", y3)])]), [], 1,
                "worst at [1,1]"))

    # an input whose shape contradicts the model: user error, exit 1
    out.append(("bad_shape", write_case(root, "bad_shape", m, [([tensor("x", np.zeros((3, 2), np.float32))],
                                                                 [tensor("y", np.zeros((3, 2), np.float32))])]),
                [], 1, "declares shape [2,3]"))

    # an op tfxc does not know, and a string tensor: unsupported, exit 77
    m = model([helper.make_node("NoSuchOp", ["x"], ["y"])], [vi("x", TensorProto.FLOAT, [2])],
              [vi("y", TensorProto.FLOAT, [2])])
    z = np.zeros(2, np.float32)
    out.append(("unknown_op", write_case(root, "unknown_op", m, [([tensor("x", z)], [tensor("y", z)])]), [], 77,
                "UNSUPPORTED"))
    m = model([helper.make_node("Identity", ["x"], ["y"])], [vi("x", TensorProto.STRING, [1])],
              [vi("y", TensorProto.STRING, [1])])
    s = helper.make_tensor("x", TensorProto.STRING, [1], [b"a"])
    out.append(("string", write_case(root, "string", m, [([s], [s])]), [], 77, "UNSUPPORTED"))

    # weights above the embedding limit go to model.bin, loaded with --weights
    if os.environ.get("TFX_SELFTEST_BIG", "1") != "0":
        W = rng.standard_normal((1024, 4200)).astype(np.float32)  # 17 MB
        m = model([helper.make_node("MatMul", ["x", "W"], ["y"])], [vi("x", TensorProto.FLOAT, [1, 1024])],
                  [vi("y", TensorProto.FLOAT, [1, 4200])], [numpy_helper.from_array(W, "W")])
        x = rng.standard_normal((1, 1024)).astype(np.float32)
        y = (x.astype(np.float64) @ W.astype(np.float64)).astype(np.float32)
        out.append(("weights_file", write_case(root, "weights_file", m, [([tensor("x", x)], [tensor("y", y)])]),
                    ["--atol", "1e-3"], 0, "PASS"))
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    tfxc, root = sys.argv[1], sys.argv[2]
    os.makedirs(root, exist_ok=True)
    failures = 0
    for name, d, flags, want_rc, want_text in cases(root):
        for mode in ([], ["--reference"]):
            r = subprocess.run([tfxc, "check", d] + flags + mode, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, errors="replace")
            summary = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
            ok = r.returncode == want_rc and want_text in summary
            label = f"{name}{' --reference' if mode else ''}"
            print(f"{'ok  ' if ok else 'FAIL'} {label}: exit {r.returncode} (want {want_rc}): {summary}")
            if not ok:
                failures += 1
                sys.stdout.write(r.stderr[-4000:])
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
