#!/usr/bin/env python3
"""Write the small ONNX models and .pb tensors that tests/unit/test_onnx.c reads.

    python3 tests/data/onnx/make_models.py      # from the repository root

Most files are deliberately broken: each exercises one check of the importer.
They are built with onnx.helper (and raw TensorProto edits where the helpers
refuse to build a broken model); the onnx checker is not run on them.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(model, name):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(model.SerializeToString())


def model(nodes, inputs, outputs, inits=(), opset=17, functions=(), name="g", extra_opsets=()):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    ops = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, v) for d, v in extra_opsets]
    m = helper.make_model(g, opset_imports=ops, functions=list(functions))
    m.ir_version = 8
    return m


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


F = TensorProto.FLOAT


def good():
    # W is also listed as a graph input, as old exporters do: it stays a constant.
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "W")  # raw_data
    b = helper.make_tensor("B", F, [3], [0.5, -1.0, 2.0])  # float_data
    h = helper.make_tensor("H", TensorProto.FLOAT16, [2], [1.0, -2.0])  # int32_data bit patterns
    i = helper.make_tensor("I", TensorProto.INT64, [2], [0, -7])  # int64_data
    dd = helper.make_tensor("D", TensorProto.DOUBLE, [1], [0.125])  # double_data
    u = helper.make_tensor("U", TensorProto.UINT64, [1], [2**63 + 5])  # uint64_data
    bl = helper.make_tensor("BL", TensorProto.BOOL, [3], [True, False, True])  # int32_data
    i8 = helper.make_tensor("I8", TensorProto.INT8, [2], [-128, 127])  # int32_data
    cval = helper.make_tensor("cval", F, [1], [0.5])
    nodes = [
        # listed before the node producing its input: the file need not be sorted
        helper.make_node("LeakyRelu", ["y1"], ["y2"], name="lrelu", alpha=0.25),
        helper.make_node("MatMul", ["x", "W"], ["xw"], name="mm"),
        helper.make_node("Add", ["xw", "B"], ["xwb"]),  # unnamed -> "Add_2"
        helper.make_node("Constant", [], ["c"], name="const", value=cval),
        helper.make_node("Mul", ["xwb", "c"], ["y1"], name="mul"),
        helper.make_node("Transpose", ["y2"], ["y3"], name="tr", perm=[1, 0]),
        helper.make_node("Clip", ["y3", "", "cmax"], ["y4"], name="clip"),
        helper.make_node("Constant", [], ["cmax"], name="cmax_c", value_float=6.0),
        helper.make_node("Pad", ["y4", "I"], ["y5"], name="pad", mode="reflect"),
        helper.make_node("Identity", ["y5"], ["out"], name="id", tags=["a", "bc"], fs=[1.5, -2.0]),
        helper.make_node("Dropout", ["y3"], ["dout", ""], name="drop"),
        helper.make_node("Identity", ["idx"], ["idx_out"], name="id2"),
    ]
    m = model(
        nodes,
        [vi("x", F, ["batch", 4]), vi("idx", TensorProto.INT64, [2, None]), vi("W", F, [4, 3])],
        [vi("out", F, None), vi("dout", F, None), vi("idx_out", TensorProto.INT64, None)],
        inits=[w, b, h, i, dd, u, bl, i8],
        name="good_graph",
    )
    save(m, "good.onnx")
    return m


def functions():
    # custom.MyFn(a, b) = LeakyRelu(a * b, alpha=@alpha), alpha defaults to 0.2;
    # custom.Outer(a) = MyFn(a, a) with alpha=@beta: a function calling a function.
    myfn = helper.make_function(
        "custom", "MyFn", ["a", "b"], ["o"],
        [helper.make_node("Mul", ["a", "b"], ["t"], name="mul"),
         helper.make_node("LeakyRelu", ["t"], ["o"], name="act")],
        [helper.make_opsetid("", 17)],
        attributes=[])
    ref = helper.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT)
    myfn.node[1].attribute.append(ref)
    myfn.attribute_proto.append(helper.make_attribute("alpha", 0.2))
    outer = helper.make_function(
        "custom", "Outer", ["a"], ["o"],
        [helper.make_node("MyFn", ["a", "a"], ["o"], domain="custom")],
        [helper.make_opsetid("", 17), helper.make_opsetid("custom", 1)],
        attributes=["beta"])
    r = helper.make_attribute_ref("alpha", onnx.AttributeProto.FLOAT)
    r.ref_attr_name = "beta"
    outer.node[0].attribute.append(r)
    nodes = [
        helper.make_node("MyFn", ["x", "x"], ["y"], name="call1", domain="custom", alpha=0.1),
        helper.make_node("MyFn", ["y", "x"], ["z"], name="call2", domain="custom"),
        helper.make_node("Outer", ["z"], ["w"], name="call3", domain="custom", beta=0.3),
    ]
    m = model(nodes, [vi("x", F, [2])], [vi("w", F, [2])], functions=[myfn, outer],
              extra_opsets=[("custom", 1)])
    save(m, "functions.onnx")


def unknown_ops():
    nodes = [
        helper.make_node("FooOp", ["x"], ["a"], name="foo1"),
        helper.make_node("Relu", ["a"], ["b"], name="relu"),
        helper.make_node("FooOp", ["b"], ["c"], name="foo2"),
        helper.make_node("BarOp", ["c"], ["d"]),  # unnamed -> "BarOp_3"
        helper.make_node("FusedGelu", ["d"], ["e"], name="ms", domain="com.microsoft"),
    ]
    save(model(nodes, [vi("x", F, [2])], [vi("e", F, [2])], extra_opsets=[("com.microsoft", 1)]),
         "unknown_ops.onnx")


def one_init(t, name):
    save(model([helper.make_node("Identity", [t.name], ["y"])], [], [vi("y", F, None)], inits=[t]),
         name)


def broken():
    t = numpy_helper.from_array(np.zeros((2, 2), np.float32), "W")
    t.raw_data = t.raw_data[:12]
    one_init(t, "bad_raw_size.onnx")

    t = numpy_helper.from_array(np.zeros((2, 2), np.float32), "W")
    t.dims[0] = -1
    one_init(t, "neg_dim.onnx")

    t = numpy_helper.from_array(np.zeros((1,), np.float32), "W")
    t.data_type = 99
    one_init(t, "bad_dtype.onnx")

    t = helper.make_tensor("S", TensorProto.STRING, [1], [b"hi"])
    one_init(t, "string_init.onnx")

    save(model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", F, [1] * 9)], [vi("y", F, None)]),
         "rank9.onnx")

    save(model([helper.make_node("Relu", ["x"], ["y"], name="r1"),
                helper.make_node("Neg", ["x"], ["y"], name="n2")],
               [vi("x", F, [2])], [vi("y", F, [2])]), "dup_output.onnx")

    save(model([helper.make_node("Add", ["x", "nope"], ["y"], name="add")],
               [vi("x", F, [2])], [vi("y", F, [2])]), "undefined.onnx")

    save(model([helper.make_node("Relu", ["x"], ["y"])], [vi("x", F, [2])], [vi("y", F, [2])],
               opset=99), "opset_new.onnx")

    data = good_model.SerializeToString()
    with open(os.path.join(HERE, "truncated.onnx"), "wb") as f:
        f.write(data[: len(data) // 2])
    with open(os.path.join(HERE, "garbage.onnx"), "wb") as f:
        f.write(b"\x08\x96\x01\x1a\xff\xff\xff\xff\x0fnot an onnx model at all")
    open(os.path.join(HERE, "empty.onnx"), "wb").close()


def external(name, location, offset, nbytes_file, dims=(2, 3)):
    t = TensorProto()
    t.name = "E"
    t.data_type = F
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    nbytes = 4 * int(np.prod(dims))
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(nbytes))):
        e = t.external_data.add()
        e.key, e.value = k, v
    one_init(t, name)
    if nbytes_file is not None:
        with open(os.path.join(HERE, location), "wb") as f:
            f.write(nbytes_file)


def externals():
    payload = b"\xee" * 8 + np.arange(6, dtype=np.float32).tobytes()
    external("ext_good.onnx", "ext_good.bin", 8, payload)
    external("ext_outside.onnx", "ext_outside.bin", 8, b"\0" * 16)
    external("ext_escape.onnx", "../onnx/ext_good.bin", 8, None)
    external("ext_abs.onnx", "/etc/hostname", 0, None)


def pbs():
    def w(t, name):
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(t.SerializeToString())
    w(helper.make_tensor("h", TensorProto.FLOAT16, [3], [1.0, -0.5, 65504.0]), "f16_typed.pb")
    w(helper.make_tensor("bf", TensorProto.BFLOAT16, [2], [1.0, -3.0]), "bf16_typed.pb")
    w(helper.make_tensor("u16", TensorProto.UINT16, [2], [0, 65535]), "u16_typed.pb")
    w(helper.make_tensor("u32", TensorProto.UINT32, [2], [7, 4294967295]), "u32_typed.pb")
    w(numpy_helper.from_array(np.array([[1, -2], [3, 2**40]], np.int64), "i64"), "i64_raw.pb")
    w(helper.make_tensor("s", F, [], [3.25]), "scalar_typed.pb")
    t = helper.make_tensor("short", F, [3], [1.0, 2.0, 3.0])
    del t.float_data[2]
    w(t, "short_typed.pb")


if __name__ == "__main__":
    good_model = good()
    functions()
    unknown_ops()
    broken()
    externals()
    pbs()
