"""make_bad.py — writes the malformed inputs of tests/bad/ and their manifest.

Every case is one file or folder under tests/bad/cases/ plus one line of
tests/bad/cases.txt:

    NAME  KIND  EXIT  MESSAGE

KIND is `compile` (tfxc CASE -o OUT.c) or `check` (tfxc check CASE); EXIT the
exit status tfxc must give; MESSAGE (the rest of the line) a substring its one
error message must contain, naming the file and the node or tensor at fault.
run_bad.sh runs them.  To add a case, add a `case(...)` call below (build the
bad bytes with the helpers), run `python3 tests/bad/make_bad.py`, run
`tests/bad/run_bad.sh build/tfxc NAME`, and commit the new files with the
regenerated cases.txt.  Needs onnx and numpy; the output is deterministic.
"""
import json
import os
import shutil
import struct

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")
CASES = []  # (name, kind, exit, message)
if os.path.isdir(OUT):
    shutil.rmtree(OUT)  # no stale files from removed cases


def case(name, kind, message, code=1):
    CASES.append((name, kind, code, message))


def path(name):
    p = os.path.join(OUT, name)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def write(name, data):
    with open(path(name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- protobuf by hand: for what the onnx package will not serialise -----------


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload, length=None):
    """A length-delimited field; `length` forges the prefix."""
    return varint(num << 3 | 2) + varint(len(payload) if length is None else length) + payload


# ---- ONNX models ----------------------------------------------------------------

X = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])


def model(nodes, inputs=(X,), outputs=(Y,), inits=(), opset=17, opsets=None, functions=(),
          name="g"):
    g = helper.make_graph(list(nodes), name, list(inputs), list(outputs), list(inits))
    ops = opsets if opsets is not None else [helper.make_opsetid("", opset)]
    m = helper.make_model(g, opset_imports=ops, ir_version=8, functions=list(functions))
    m.producer_name = "make_bad.py"
    return m


def save(name, m):
    write(name, m.SerializeToString())


def relu(i="x", o="y", name="relu"):
    return helper.make_node("Relu", [i], [o], name=name)


def tensor(name, dtype=TensorProto.FLOAT, dims=(2, 3), raw=None, floats=None):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    if raw is not None:
        t.raw_data = raw
    if floats is not None:
        t.float_data.extend(floats)
    return t


def add_w(w):
    """y = x + W with initializer W."""
    return model([helper.make_node("Add", ["x", w.name], ["y"], name="add_w")], inits=[w])


GOOD = model([relu()])
GOOD_BYTES = GOOD.SerializeToString()
F6 = np.arange(6, dtype=np.float32).tobytes()

# -- files that are not ONNX models at all
write("onnx_empty.onnx", b"")
case("onnx_empty.onnx", "compile", "onnx_empty.onnx: empty file, expected an ONNX model")
write("onnx_truncated.onnx", GOOD_BYTES[: len(GOOD_BYTES) // 2])
case("onnx_truncated.onnx", "compile", "onnx_truncated.onnx: not a valid ONNX model")
write("onnx_wrong_magic.onnx", b"\x89PNG\r\n\x1a\n" + bytes(range(56)))
case("onnx_wrong_magic.onnx", "compile", "onnx_wrong_magic.onnx: not a valid ONNX model")
write("onnx_text.onnx", "ir_version: 8\ngraph { node { op_type: \"Relu\" } }\n")
case("onnx_text.onnx", "compile", "onnx_text.onnx: not a valid ONNX model")

# -- protobuf length prefixes that run past the end
head = model([]).SerializeToString()  # everything but the graph
head = onnx.ModelProto.FromString(head)
head.ClearField("graph")
head = head.SerializeToString()
graph = GOOD.graph.SerializeToString()
write("proto_graph_length_past_end.onnx", head + field(7, graph, len(graph) + 1000))
case("proto_graph_length_past_end.onnx", "compile",
     "proto_graph_length_past_end.onnx: not a valid ONNX model")
write("proto_graph_length_2e62.onnx", head + field(7, graph, 1 << 62))
case("proto_graph_length_2e62.onnx", "compile", "proto_graph_length_2e62.onnx: not a valid ONNX model")
# the graph's own length is right; a node inside it claims more than the graph holds
node = GOOD.graph.node[0].SerializeToString()
rest = b"".join(field(n, getattr(GOOD.graph, a)[0].SerializeToString())
                for n, a in ((11, "input"), (12, "output")))
inner = field(1, node, len(node) + 200) + rest
write("proto_node_length_past_end.onnx", head + field(7, inner))
case("proto_node_length_past_end.onnx", "compile", "proto_node_length_past_end.onnx: not a valid ONNX model")
write("proto_varint_overlong.onnx", head + b"\x3a" + b"\xff" * 11 + b"\x01")
case("proto_varint_overlong.onnx", "compile", "proto_varint_overlong.onnx: not a valid ONNX model")
m = model([relu()])
m.ClearField("graph")
save("onnx_no_graph.onnx", m)
case("onnx_no_graph.onnx", "compile", "onnx_no_graph.onnx: the model has no graph")

# -- initialisers whose data does not match dtype x shape
save("init_raw_size.onnx", add_w(tensor("W", raw=F6[:10])))
case("init_raw_size.onnx", "compile",
     "init_raw_size.onnx: initializer 'W': raw_data holds 10 bytes, expected 24")
save("init_typed_count.onnx", add_w(tensor("W", floats=[1, 2, 3, 4, 5])))
case("init_typed_count.onnx", "compile",
     "init_typed_count.onnx: initializer 'W': float_data holds 5 values, expected 6")
save("init_no_data.onnx", add_w(tensor("W")))
case("init_no_data.onnx", "compile", "init_no_data.onnx: initializer 'W' has no data")
save("init_negative_dim.onnx", add_w(tensor("W", dims=(2, -3), raw=F6)))
case("init_negative_dim.onnx", "compile",
     "init_negative_dim.onnx: initializer 'W' has negative dim -3 at axis 1")
save("init_dims_overflow.onnx", add_w(tensor("W", dims=(1 << 40, 1 << 40), raw=F6)))
case("init_dims_overflow.onnx", "compile", "init_dims_overflow.onnx: initializer 'W' has too many elements")
save("init_too_large.onnx", add_w(tensor("W", dims=(1 << 62,), raw=F6)))
case("init_too_large.onnx", "compile", "init_too_large.onnx: initializer 'W' is too large")
save("init_no_dtype.onnx", add_w(tensor("W", dtype=0, raw=F6)))
case("init_no_dtype.onnx", "compile", "init_no_dtype.onnx: initializer 'W' has no data type")
save("init_unknown_dtype.onnx", add_w(tensor("W", dtype=99, raw=F6)))
case("init_unknown_dtype.onnx", "compile",
     "init_unknown_dtype.onnx: initializer 'W' has dtype code 99, which tfxc does not support")
s = helper.make_tensor("W", TensorProto.STRING, [2], [b"ab", b"cd"])
save("init_string.onnx", add_w(s))
case("init_string.onnx", "compile",
     "init_string.onnx: initializer 'W' has dtype string, which tfxc does not support")
save("init_rank9.onnx", add_w(tensor("W", dims=(1,) * 9, raw=F6[:4])))
case("init_rank9.onnx", "compile", "init_rank9.onnx: initializer 'W' has rank 9")
m = add_w(tensor("W", raw=F6))
m.graph.initializer.append(tensor("W", raw=F6))
save("init_duplicate.onnx", m)
case("init_duplicate.onnx", "compile", "init_duplicate.onnx: initializer 'W' is defined twice")
sp = helper.make_sparse_tensor(helper.make_tensor("W", TensorProto.FLOAT, [1], [1.0]),
                               helper.make_tensor("W_idx", TensorProto.INT64, [1], [0]), [2, 3])
m = model([helper.make_node("Add", ["x", "W"], ["y"], name="add_w")])
m.graph.sparse_initializer.append(sp)
save("init_sparse.onnx", m)
case("init_sparse.onnx", "compile", "init_sparse.onnx: sparse initializer 'W' is not supported")
# a Constant node whose tensor attribute is short
c = helper.make_node("Constant", [], ["W"], name="const_w", value=tensor("", raw=F6[:8]))
save("attr_tensor_raw_size.onnx",
     model([c, helper.make_node("Add", ["x", "W"], ["y"], name="add_w")]))
case("attr_tensor_raw_size.onnx", "compile",
     "attr_tensor_raw_size.onnx: node 'const_w' (Constant): attribute 'value': raw_data holds 8 bytes")


# -- external data (folders: the model and its data file)
def external(dirname, location, offset=None, length=None, data=F6, extra=None):
    t = tensor("W")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    if os.path.isdir(path(dirname)):
        shutil.rmtree(path(dirname))
    save(dirname + "/model.onnx", add_w(t))
    if data is not None:
        write(dirname + "/weights.bin", data)


external("ext_escape", "../ext_secret/weights.bin")
write("ext_secret/weights.bin", F6)  # what the escaping model points at
case("ext_escape/model.onnx", "compile",
     "model.onnx: initializer 'W': external data location '../ext_secret/weights.bin' is absolute "
     "or leaves the model's folder")
external("ext_absolute", "/etc/passwd")
case("ext_absolute/model.onnx", "compile",
     "model.onnx: initializer 'W': external data location '/etc/passwd' is absolute")
external("ext_symlink", "link.bin")
os.symlink("../ext_secret/weights.bin", path("ext_symlink/link.bin"))
case("ext_symlink/model.onnx", "compile",
     "model.onnx: initializer 'W': external data file 'link.bin' resolves outside the model's folder")
external("ext_missing", "nothere.bin")
case("ext_missing/model.onnx", "compile",
     "model.onnx: initializer 'W': external data file 'nothere.bin' cannot be opened")
external("ext_offset_past_end", "weights.bin", offset=100)
case("ext_offset_past_end/model.onnx", "compile",
     "model.onnx: initializer 'W': external data (offset 100, 24 bytes) lies outside 'weights.bin'")
external("ext_short_file", "weights.bin", data=F6[:12])
case("ext_short_file/model.onnx", "compile",
     "model.onnx: initializer 'W': external data (offset 0, 24 bytes) lies outside 'weights.bin' (12 bytes)")
external("ext_length_mismatch", "weights.bin", length=12)
case("ext_length_mismatch/model.onnx", "compile",
     "model.onnx: initializer 'W': external data length 12 does not match the tensor's 24 bytes")
external("ext_bad_offset", "weights.bin", offset="-8")
case("ext_bad_offset/model.onnx", "compile",
     "model.onnx: initializer 'W': external data offset '-8' is not a non-negative integer")
external("ext_no_location", None)
case("ext_no_location/model.onnx", "compile",
     "model.onnx: initializer 'W': external data has no location")

# -- graph structure
save("graph_cycle.onnx", model([relu("x", "a", "first"), helper.make_node("Add", ["a", "b"], ["c"], name="second"),
                               relu("c", "b", "third"), relu("c", "y", "last")]))
case("graph_cycle.onnx", "compile", "graph_cycle.onnx: the graph has a cycle through node")
save("graph_self_loop.onnx", model([helper.make_node("Add", ["x", "y"], ["y"], name="loop")]))
case("graph_self_loop.onnx", "compile", "graph_self_loop.onnx: the graph has a cycle through node 'loop' (Add)")
save("graph_undefined_value.onnx", model([helper.make_node("Add", ["x", "ghost"], ["y"], name="add_ghost")]))
case("graph_undefined_value.onnx", "compile",
     "graph_undefined_value.onnx: node 'add_ghost' (Add) uses value 'ghost', which no node, graph input or "
     "initializer defines")
save("graph_value_twice.onnx", model([relu("x", "a", "one"), relu("x", "a", "two"), relu("a", "y", "three")]))
case("graph_value_twice.onnx", "compile",
     "graph_value_twice.onnx: value 'a' is produced twice, by node 'one' and node 'two'")
save("graph_output_is_input.onnx", model([relu("x", "x", "clobber"), relu("x", "y")]))
case("graph_output_is_input.onnx", "compile",
     "graph_output_is_input.onnx: node 'clobber' (Relu) produces 'x', which is also a graph input")
save("graph_output_is_init.onnx", model([relu("x", "W", "clobber"), relu("W", "y")],
                                        inits=[tensor("W", raw=F6)]))
case("graph_output_is_init.onnx", "compile",
     "graph_output_is_init.onnx: node 'clobber' (Relu) produces 'W', which is also an initializer")
save("graph_input_twice.onnx", model([relu()], inputs=(X, X)))
case("graph_input_twice.onnx", "compile", "graph_input_twice.onnx: graph input 'x' is declared twice")
save("graph_output_undefined.onnx",
     model([relu()], outputs=(Y, helper.make_tensor_value_info("zz", TensorProto.FLOAT, [2]))))
case("graph_output_undefined.onnx", "compile",
     "graph_output_undefined.onnx: graph output 'zz' is not defined by any node, input or initializer")
save("graph_node_no_output.onnx",
     model([helper.make_node("Relu", ["x"], [], name="sink"), relu()]))
case("graph_node_no_output.onnx", "compile", "graph_node_no_output.onnx: node 'sink' (Relu) has no first output")
save("graph_no_op_type.onnx", model([helper.make_node("", ["x"], ["y"], name="blank")]))
case("graph_no_op_type.onnx", "compile", "graph_no_op_type.onnx: node 'blank' has no op_type")

# -- operators, domains, attributes
save("op_unknown.onnx", model([helper.make_node("Frobnicate", ["x"], ["y"], name="frob")]))
case("op_unknown.onnx", "compile",
     "op_unknown.onnx: unsupported operator 'Frobnicate' (1 node: 'frob')")
save("op_unknown_domain.onnx",
     model([helper.make_node("Relu", ["x"], ["y"], name="vendor_relu", domain="com.example")],
           opsets=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]))
case("op_unknown_domain.onnx", "compile",
     "op_unknown_domain.onnx: unsupported operator 'Relu' of domain 'com.example' (1 node: 'vendor_relu')")
n = helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1)
n.attribute.append(helper.make_attribute("axis", 0))
save("attr_twice.onnx", model([n]))
case("attr_twice.onnx", "compile", "attr_twice.onnx: node 'sm' (Softmax): attribute 'axis' is given twice")
n = helper.make_node("Softmax", ["x"], ["y"], name="sm")
a = n.attribute.add()
a.name, a.ref_attr_name, a.type = "axis", "outer_axis", onnx.AttributeProto.INT
save("attr_ref_outside_function.onnx", model([n]))
case("attr_ref_outside_function.onnx", "compile",
     "attr_ref_outside_function.onnx: node 'sm' (Softmax): attribute 'axis' refers to 'outer_axis' "
     "outside a function")
# attribute type 77 (protobuf in Python refuses it: the node is written by hand)
n = helper.make_node("Softmax", ["x"], ["y"], name="sm").SerializeToString()
a = field(1, b"axis") + varint(3 << 3) + varint(1) + varint(20 << 3) + varint(77)
write("attr_unknown_type.onnx", head + field(7, field(1, n + field(5, a)) + rest))
case("attr_unknown_type.onnx", "compile",
     "attr_unknown_type.onnx: node 'sm' (Softmax): attribute 'axis' has unknown type 77")
save("attr_bad_value.onnx", model([helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=5)]))
case("attr_bad_value.onnx", "compile",
     "attr_bad_value.onnx: node 'sm' (Softmax): axis 5 is out of range for an input of rank 2")
f = helper.make_function("local", "Again", ["i"], ["o"],
                         [helper.make_node("Again", ["i"], ["o"], domain="local")],
                         [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
save("function_recursive.onnx",
     model([helper.make_node("Again", ["x"], ["y"], name="call", domain="local")],
           opsets=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)], functions=[f]))
case("function_recursive.onnx", "compile",
     "function_recursive.onnx: node 'call' (Again): function 'Again' calls itself")
# calling itself twice: inlining would never end (it once ran for hours)
f = helper.make_function("local", "Twice", ["i"], ["o"],
                         [helper.make_node("Twice", ["i"], ["t"], domain="local"),
                          helper.make_node("Twice", ["t"], ["o"], domain="local")],
                         [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)])
save("function_recursive_twice.onnx",
     model([helper.make_node("Twice", ["x"], ["y"], name="call", domain="local")],
           opsets=[helper.make_opsetid("", 17), helper.make_opsetid("local", 1)], functions=[f]))
case("function_recursive_twice.onnx", "compile",
     "function_recursive_twice.onnx: node 'call' (Twice): function 'Twice' calls itself")
# not recursive, but each level calls the one below twice: 2^30 nodes from 30 functions
LOCAL = [helper.make_opsetid("", 17), helper.make_opsetid("local", 1)]
fs = [helper.make_function("local", "F0", ["i"], ["o"], [helper.make_node("Relu", ["i"], ["o"])], LOCAL)]
for k in range(1, 31):
    fs.append(helper.make_function("local", "F%d" % k, ["i"], ["o"],
                                   [helper.make_node("F%d" % (k - 1), ["i"], ["t"], domain="local"),
                                    helper.make_node("F%d" % (k - 1), ["t"], ["o"], domain="local")], LOCAL))
save("function_billion_nodes.onnx",
     model([helper.make_node("F30", ["x"], ["y"], name="big", domain="local")], opsets=LOCAL, functions=fs))
case("function_billion_nodes.onnx", "compile",
     "function_billion_nodes.onnx: node 'big' (F30): the model has more than 262144 nodes once its "
     "functions are inlined; refused")
# 2^17 nodes (allowed), but each inlined name carries 17 callers' 100-character
# names: gigabytes of names from 4 KB
seg = "n" * 100
fs = [helper.make_function("local", "H0", ["i"], ["o"], [helper.make_node("Relu", ["i"], ["o"], name=seg)], LOCAL)]
for k in range(1, 18):
    fs.append(helper.make_function("local", "H%d" % k, ["i"], ["o"],
                                   [helper.make_node("H%d" % (k - 1), ["i"], ["t"], domain="local", name=seg + "a"),
                                    helper.make_node("H%d" % (k - 1), ["t"], ["o"], domain="local", name=seg + "b")],
                                   LOCAL))
save("function_gigabyte_names.onnx",
     model([helper.make_node("H17", ["x"], ["y"], name="wide", domain="local")], opsets=LOCAL, functions=fs))
case("function_gigabyte_names.onnx", "compile",
     "function_gigabyte_names.onnx: node 'wide' (H17): inlining its functions would take more than 128 MiB")
# a chain of 40 functions, each calling the next once
fs = [helper.make_function("local", "G40", ["i"], ["o"], [helper.make_node("Relu", ["i"], ["o"])], LOCAL)]
for k in range(40):
    fs.append(helper.make_function("local", "G%d" % k, ["i"], ["o"],
                                   [helper.make_node("G%d" % (k + 1), ["i"], ["o"], domain="local")], LOCAL))
save("function_too_deep.onnx",
     model([helper.make_node("G0", ["x"], ["y"], name="deep", domain="local")], opsets=LOCAL, functions=fs))
case("function_too_deep.onnx", "compile",
     "function_too_deep.onnx: node 'deep' (G0): function 'G32' is reached through more than 32 nested calls")

# -- opsets
save("opset_too_new.onnx", model([relu()], opset=99))
case("opset_too_new.onnx", "compile", "opset_too_new.onnx: default-domain opset 99 is not supported")
save("opset_zero.onnx", model([relu()], opset=0))
case("opset_zero.onnx", "compile", "opset_zero.onnx: default-domain opset 0 is not supported")
save("opset_twice.onnx", model([relu()], opsets=[helper.make_opsetid("", 13),
                                                 helper.make_opsetid("ai.onnx", 17)]))
case("opset_twice.onnx", "compile",
     "opset_twice.onnx: the model imports the default domain twice (opsets 13 and 17)")
save("opset_missing.onnx", model([relu()], opsets=[helper.make_opsetid("com.example", 1)]))
case("opset_missing.onnx", "compile",
     "opset_missing.onnx: node 'relu' (Relu) is in the default domain, but the model imports no "
     "default-domain")

# -- graph inputs: types and dims
save("input_string.onnx", model([relu()], inputs=[helper.make_tensor_value_info("x", TensorProto.STRING, [2])]))
case("input_string.onnx", "compile",
     "input_string.onnx: graph input 'x' has dtype string, which tfxc does not support")
save("input_negative_dim.onnx",
     model([relu()], inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, -3])]))
case("input_negative_dim.onnx", "compile",
     "input_negative_dim.onnx: graph input 'x' has negative dim -3 at axis 1")
save("input_dims_overflow.onnx",
     model([relu()], inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [1 << 40, 1 << 40])]))
case("input_dims_overflow.onnx", "compile",
     "input_dims_overflow.onnx: input 'x' would be larger than 1 TiB: refused")
save("input_rank9.onnx",
     model([relu()], inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, [1] * 9)]))
case("input_rank9.onnx", "compile", "input_rank9.onnx: graph input 'x' has rank 9")
vi = onnx.ValueInfoProto()
vi.name = "x"
vi.type.sequence_type.elem_type.tensor_type.elem_type = TensorProto.FLOAT
save("input_sequence.onnx", model([relu()], inputs=[vi]))
case("input_sequence.onnx", "compile",
     "input_sequence.onnx: graph input 'x' is a sequence; tfxc supports dense tensors only")
vi = onnx.ValueInfoProto()
vi.name = "x"
save("input_no_type.onnx", model([relu()], inputs=[vi]))
case("input_no_type.onnx", "compile", "input_no_type.onnx: graph input 'x' has no type")

# -- shapes that do not fit (found by shape inference)
save("shape_matmul.onnx",
     model([helper.make_node("MatMul", ["x", "W"], ["y"], name="mm")], inits=[tensor("W", raw=F6, dims=(2, 3))]))
case("shape_matmul.onnx", "compile",
     "shape_matmul.onnx: node 'mm' (MatMul): inner dimensions differ: A has K=3, B has K=2")
shape = helper.make_tensor("shape", TensorProto.INT64, [2], [4, 2])
save("shape_reshape_count.onnx",
     model([helper.make_node("Reshape", ["x", "shape"], ["y"], name="rs")], inits=[shape]))
case("shape_reshape_count.onnx", "compile",
     "shape_reshape_count.onnx: node 'rs' (Reshape): cannot reshape 6 elements into a shape of 8 elements")
huge = helper.make_tensor("shape", TensorProto.INT64, [2], [1 << 31, 1 << 31])
save("shape_constant_huge.onnx",
     model([helper.make_node("ConstantOfShape", ["shape"], ["y"], name="fill")], inits=[huge],
           inputs=[], outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]))
case("shape_constant_huge.onnx", "compile",
     "shape_constant_huge.onnx: node 'fill' (ConstantOfShape): output 'y' would be larger than 1 TiB: refused")

nh = onnx.numpy_helper
save("fold_gather_out_of_range.onnx",
     model([helper.make_node("Gather", ["d", "i"], ["y"], name="g")], inputs=[],
           inits=[nh.from_array(np.arange(3, dtype=np.float32), "d"), nh.from_array(np.array([5], np.int64), "i")],
           outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]))
case("fold_gather_out_of_range.onnx", "compile",
     "fold_gather_out_of_range.onnx: node 'g' (Gather): index 5 out of range for an axis of 3")
save("fold_gather_negative_out_of_range.onnx",
     model([helper.make_node("Gather", ["d", "i"], ["y"], name="g")], inputs=[],
           inits=[nh.from_array(np.arange(3, dtype=np.float32), "d"), nh.from_array(np.array([-5], np.int64), "i")],
           outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]))
case("fold_gather_negative_out_of_range.onnx", "compile",
     "fold_gather_negative_out_of_range.onnx: node 'g' (Gather): index -5 out of range for an axis of 3")
save("shape_expand_huge.onnx", model([helper.make_node("Expand", ["x", "s"], ["y"], name="e")],
                                     inits=[nh.from_array(np.array([1 << 40, 2, 3], np.int64), "s")]))
case("shape_expand_huge.onnx", "compile",
     "shape_expand_huge.onnx: node 'e' (Expand): output 'y' would be larger than 1 TiB: refused")
save("shape_range_huge.onnx",
     model([helper.make_node("Range", ["a", "b", "c"], ["y"], name="r")], inputs=[],
           inits=[nh.from_array(np.array(0, np.int64), "a"), nh.from_array(np.array(10 ** 18, np.int64), "b"),
                  nh.from_array(np.array(1, np.int64), "c")],
           outputs=[helper.make_tensor_value_info("y", TensorProto.INT64, None)]))
case("shape_range_huge.onnx", "compile", "shape_range_huge.onnx: node 'r' (Range): range has too many elements")
save("shape_negative_fill.onnx",
     model([helper.make_node("ConstantOfShape", ["s"], ["y"], name="fill")], inputs=[],
           inits=[nh.from_array(np.array([-5, 2], np.int64), "s")],
           outputs=[helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]))
case("shape_negative_fill.onnx", "compile",
     "shape_negative_fill.onnx: node 'fill' (ConstantOfShape): shape[0] = -5 is negative")
save("shape_reshape_two_unknown.onnx", model([helper.make_node("Reshape", ["x", "s"], ["y"], name="rs")],
                                             inits=[nh.from_array(np.array([-1, -1], np.int64), "s")]))
case("shape_reshape_two_unknown.onnx", "compile",
     "shape_reshape_two_unknown.onnx: node 'rs' (Reshape): shape has more than one -1")
save("attr_bad_perm.onnx", model([helper.make_node("Transpose", ["x"], ["y"], name="tp", perm=[0, 0])]))
case("attr_bad_perm.onnx", "compile",
     "attr_bad_perm.onnx: node 'tp' (Transpose): perm is not a permutation of 0..1")
save("op_cast_to_string.onnx", model([helper.make_node("Cast", ["x"], ["y"], name="c", to=TensorProto.STRING)]))
case("op_cast_to_string.onnx", "compile",
     "op_cast_to_string.onnx: node 'c' (Cast): cast to string (ONNX type 8) is not supported")
save("input_symbol_unbound.onnx",
     model([relu()], inputs=[helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])]))
case("input_symbol_unbound.onnx", "compile",
     "input_symbol_unbound.onnx: input 'x' dim 0 is the symbol 'batch': give it a value with --dim batch=N")

# ---- safetensors checkpoints and config.json ---------------------------------------
# A GPT-2 of 1 layer, 4 wide, vocabulary 8, 8 positions: every case is this
# checkpoint with one thing wrong.

GPT2_CONFIG = {"architectures": ["GPT2Model"], "model_type": "gpt2", "vocab_size": 8,
               "n_positions": 8, "n_embd": 4, "n_layer": 1, "n_head": 1,
               "activation_function": "gelu_new"}


def gpt2_tensors():
    h, v, p, f = 4, 8, 8, 16
    shapes = {"wte.weight": [v, h], "wpe.weight": [p, h],
              "h.0.ln_1.weight": [h], "h.0.ln_1.bias": [h],
              "h.0.attn.c_attn.weight": [h, 3 * h], "h.0.attn.c_attn.bias": [3 * h],
              "h.0.attn.c_proj.weight": [h, h], "h.0.attn.c_proj.bias": [h],
              "h.0.ln_2.weight": [h], "h.0.ln_2.bias": [h],
              "h.0.mlp.c_fc.weight": [h, f], "h.0.mlp.c_fc.bias": [f],
              "h.0.mlp.c_proj.weight": [f, h], "h.0.mlp.c_proj.bias": [h],
              "ln_f.weight": [h], "ln_f.bias": [h]}
    rng = np.random.default_rng(7)
    return {k: (rng.standard_normal(s) * 0.1).astype(np.float32) for k, s in shapes.items()}


ST_DT = {np.dtype(np.float32): "F32", np.dtype(np.int32): "I32"}


def safetensors(tensors, edit=None):
    """safetensors bytes; edit(header) may corrupt the header dict first."""
    header, blobs, off = {}, [], 0
    for k, a in tensors.items():
        b = a.tobytes()
        header[k] = {"dtype": ST_DT[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if edit:
        edit(header)
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def checkpoint(dirname, st=None, config=None, config_text=None):
    if os.path.isdir(path(dirname)):
        shutil.rmtree(path(dirname))
    os.makedirs(path(dirname))
    write(dirname + "/config.json",
          config_text if config_text is not None else json.dumps(config or GPT2_CONFIG, indent=1) + "\n")
    if st is not None:
        write(dirname + "/model.safetensors", st)


def header_edit(fn):
    return safetensors(gpt2_tensors(), fn)


def raw_st(header_bytes, data=b"", length=None):
    return struct.pack("<Q", len(header_bytes) if length is None else length) + header_bytes + data


checkpoint("st_too_short", st=b"\x10\x00\x00")
case("st_too_short", "compile", "model.safetensors: 3 bytes: too short for a safetensors file")
checkpoint("st_header_absurd", st=raw_st(b"{}", length=100 << 30))
case("st_header_absurd", "compile",
     "model.safetensors: header length 107374182400 is over the 100 MiB limit")
checkpoint("st_header_past_end", st=raw_st(b"{}", length=4000))
case("st_header_past_end", "compile",
     "model.safetensors: header length 4000 runs past the end of the file")
checkpoint("st_header_not_json", st=raw_st(b"{\"wte.weight\": {\"dtype\": "))
case("st_header_not_json", "compile", "model.safetensors: header is not valid JSON")
checkpoint("st_header_not_object", st=raw_st(b"[1, 2, 3]"))
case("st_header_not_object", "compile", "model.safetensors: header is not a JSON object")
checkpoint("st_wrong_magic", st=b"PK\x03\x04" + bytes(60))  # a zip (torch .bin) renamed
case("st_wrong_magic", "compile",
     "model.safetensors: header length 67324752 runs past the end of the file (64 bytes)")


def set_in(key, field_, value):
    def f(h):
        h[key][field_] = value
    return f


checkpoint("st_offsets_outside", st=header_edit(set_in("ln_f.bias", "data_offsets", [0, 100000])))
case("st_offsets_outside", "compile",
     "model.safetensors: tensor 'ln_f.bias': data_offsets [0, 100000] outside the data section")
checkpoint("st_offsets_negative", st=header_edit(set_in("ln_f.bias", "data_offsets", [-16, 0])))
case("st_offsets_negative", "compile",
     "model.safetensors: tensor 'ln_f.bias': negative data_offsets [-16, 0]")
checkpoint("st_offsets_reversed", st=header_edit(set_in("ln_f.bias", "data_offsets", [16, 0])))
case("st_offsets_reversed", "compile",
     "model.safetensors: tensor 'ln_f.bias': data_offsets [16, 0] begin after end")
checkpoint("st_offsets_not_ints", st=header_edit(set_in("ln_f.bias", "data_offsets", ["0", "16"])))
case("st_offsets_not_ints", "compile",
     "model.safetensors: tensor 'ln_f.bias': \"data_offsets\" are not integers")


def overlap(h):
    h["ln_f.bias"]["data_offsets"] = list(h["ln_f.weight"]["data_offsets"])


checkpoint("st_overlap", st=header_edit(overlap))
case("st_overlap", "compile",
     "model.safetensors: tensor 'ln_f.bias': data [1232, 1248) overlaps tensor 'ln_f.weight' [1232, 1248)")
checkpoint("st_size_mismatch", st=header_edit(set_in("ln_f.bias", "shape", [5])))
case("st_size_mismatch", "compile",
     "model.safetensors: tensor 'ln_f.bias': data_offsets [1248, 1264] hold 16 bytes, but float32 x 5 "
     "elements need 20")
checkpoint("st_negative_dim", st=header_edit(set_in("ln_f.bias", "shape", [-4])))
case("st_negative_dim", "compile", "model.safetensors: tensor 'ln_f.bias': shape[0] = -4 is negative")
checkpoint("st_dims_overflow", st=header_edit(set_in("ln_f.bias", "shape", [1 << 40, 1 << 40])))
case("st_dims_overflow", "compile",
     "model.safetensors: tensor 'ln_f.bias': shape overflows (element count too large)")
checkpoint("st_dtype_unknown", st=header_edit(set_in("ln_f.bias", "dtype", "F12")))
case("st_dtype_unknown", "compile", "model.safetensors: tensor 'ln_f.bias': unknown dtype 'F12'")
checkpoint("st_dtype_float8", st=header_edit(set_in("ln_f.bias", "dtype", "F8_E4M3")))
case("st_dtype_float8", "compile",
     "model.safetensors: tensor 'ln_f.bias': dtype F8_E4M3 is not supported")
checkpoint("st_dtype_not_string", st=header_edit(set_in("ln_f.bias", "dtype", 1)))
case("st_dtype_not_string", "compile", "model.safetensors: tensor 'ln_f.bias': \"dtype\" is not a string")
checkpoint("st_shape_not_array", st=header_edit(set_in("ln_f.bias", "shape", "4")))
case("st_shape_not_array", "compile", "model.safetensors: tensor 'ln_f.bias': \"shape\" is not an array")


def drop_offsets(h):
    del h["ln_f.bias"]["data_offsets"]


checkpoint("st_offsets_missing", st=header_edit(drop_offsets))
case("st_offsets_missing", "compile", "model.safetensors: tensor 'ln_f.bias': \"data_offsets\" is missing")
st = safetensors(gpt2_tensors())
n = struct.unpack("<Q", st[:8])[0]
hb = st[8:8 + n].replace(b"\"ln_f.bias\"", b"\"ln_f.weight\"")  # the same name twice
checkpoint("st_duplicate_name", st=st[:8] + hb + st[8 + n:])
case("st_duplicate_name", "compile",
     "model.safetensors: tensor 'ln_f.weight': duplicate name in the header")


def bad_metadata(h):
    h["__metadata__"] = {"format": "pt", "step": 3}


checkpoint("st_metadata_not_strings", st=header_edit(bad_metadata))
case("st_metadata_not_strings", "compile",
     "model.safetensors: \"__metadata__\" entry 'step' is not a string")


def index_case(dirname, weight_map, shards):
    checkpoint(dirname)
    write(dirname + "/model.safetensors.index.json",
          json.dumps({"metadata": {}, "weight_map": weight_map}, indent=1) + "\n")
    for name, data in shards.items():
        write(dirname + "/" + name, data)


T = gpt2_tensors()
index_case("st_index_escape", {k: "../st_secret.safetensors" for k in T}, {})
case("st_index_escape", "compile",
     "model.safetensors.index.json: tensor 'wte.weight': shard '../st_secret.safetensors' is not a "
     "plain file name")
index_case("st_index_missing_shard", {k: "part-1.safetensors" for k in T}, {})
case("st_index_missing_shard", "compile",
     "model.safetensors.index.json: tensor 'wte.weight': shard 'part-1.safetensors' cannot be read")
wm = {k: "part-1.safetensors" for k in T}
index_case("st_index_wrong_shard", wm,
           {"part-1.safetensors": safetensors({k: v for k, v in T.items() if k != "ln_f.bias"})})
case("st_index_wrong_shard", "compile",
     "part-1.safetensors: tensor 'ln_f.bias': not in this shard, though ")
index_case("st_index_not_strings", {**wm, "ln_f.bias": 1}, {"part-1.safetensors": safetensors(T)})
case("st_index_not_strings", "compile",
     "model.safetensors.index.json: tensor 'ln_f.bias': shard file name is not a string")

# config.json
GOOD_ST = safetensors(gpt2_tensors())


def config_case(name, message, **changes):
    cfg = dict(GPT2_CONFIG)
    for k, v in changes.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    checkpoint(name, st=GOOD_ST, config=cfg)
    case(name, "compile", message)


checkpoint("cfg_not_json", st=GOOD_ST, config_text="{\"architectures\": [\"GPT2Model\"],\n \"n_embd\": 4,,\n}\n")
case("cfg_not_json", "compile", "config.json:2:14: config.json is not valid JSON")
checkpoint("cfg_not_object", st=GOOD_ST, config_text="[\"GPT2Model\"]\n")
case("cfg_not_object", "compile", "config.json: config.json must hold a JSON object")
checkpoint("cfg_duplicate_key", st=GOOD_ST,
           config_text="{\"architectures\": [\"GPT2Model\"], \"n_embd\": 4, \"n_embd\": 8}\n")
case("cfg_duplicate_key", "compile",
     "config.json:1:54: config.json is not valid JSON: duplicate object key near '\"n_embd\"'")
config_case("cfg_int_is_string", "config.json: field 'n_embd' must be an integer, not \"4\"", n_embd="4")
config_case("cfg_int_is_list", "config.json: field 'n_layer' must be an integer, not [1]", n_layer=[1])
config_case("cfg_bool_is_string",
            "config.json: field 'scale_attn_weights' must be true or false, not \"yes\"",
            scale_attn_weights="yes")
config_case("cfg_number_is_string",
            "config.json: field 'layer_norm_epsilon' must be a number, not \"1e-5\"",
            layer_norm_epsilon="1e-5")
config_case("cfg_string_is_number",
            "config.json: field 'activation_function' must be a string, not 3", activation_function=3)
config_case("cfg_negative", "config.json: field 'n_head' is -1; it must be between 1 and", n_head=-1)
config_case("cfg_huge", "config.json: field 'vocab_size' is 4611686018427387904; it must be between 1 and",
            vocab_size=1 << 62)
# sizes no checkpoint of this size can have: refused before building 2e9 layers
config_case("cfg_layers_absurd",
            "config.json: field 'n_layer' is 2000000000, but the checkpoint ",
            n_layer=2000000000)
config_case("cfg_width_absurd",
            "config.json: field 'n_inner' is 1000000000, but the checkpoint ",
            n_inner=1000000000)
config_case("cfg_architectures_not_list",
            "config.json: field 'architectures' must be a non-empty list of names, not \"GPT2Model\"",
            architectures="GPT2Model")
config_case("cfg_unknown_arch", "config.json: architecture 'FrobModel' is not supported",
            architectures=["FrobModel"])
config_case("cfg_unknown_act",
            "config.json: GPT2Model: tfxc cannot honour these config fields: activation_function \"mish\"",
            activation_function="mish")
# configs that contradict the weights
config_case("cfg_vocab_mismatch",
            "model.safetensors: tensor 'wte.weight' has shape [8, 4]; ", vocab_size=9)
config_case("cfg_positions_mismatch",
            "model.safetensors: tensor 'wpe.weight' has shape [8, 4]; ", n_positions=6)
T = gpt2_tensors()
del T["h.0.ln_2.bias"]
checkpoint("cfg_missing_weight", st=safetensors(T), config=GPT2_CONFIG)
case("cfg_missing_weight", "compile", "tensor 'h.0.ln_2.bias' is missing (GPT2Model in ")
T = gpt2_tensors()
T["ln_f.weight"] = np.ones(4, dtype=np.int32)
checkpoint("cfg_int_weight", st=safetensors(T), config=GPT2_CONFIG)
case("cfg_int_weight", "compile",
     "model.safetensors: tensor 'ln_f.weight' has dtype int32; a weight must be floating point")


# ---- tfxc check: malformed .pb test data ---------------------------------------------

def pb(t):
    return t.SerializeToString()


def check_case(name, message, inputs=None, outputs=None, m=None, code=1):
    if os.path.isdir(path(name)):
        shutil.rmtree(path(name))
    save(name + "/model.onnx", m or GOOD)
    x = np.arange(-3, 3, dtype=np.float32).reshape(2, 3)
    ins = inputs if inputs is not None else [pb(onnx.numpy_helper.from_array(x, "x"))]
    outs = outputs if outputs is not None else [pb(onnx.numpy_helper.from_array(np.maximum(x, 0), "y"))]
    for k, b in enumerate(ins):
        write("%s/test_data_set_0/input_%d.pb" % (name, k), b)
    for k, b in enumerate(outs):
        write("%s/test_data_set_0/output_%d.pb" % (name, k), b)
    case(name, "check", message, code)


GOOD_IN = pb(onnx.numpy_helper.from_array(np.arange(-3, 3, dtype=np.float32).reshape(2, 3), "x"))
check_case("pb_empty", "input_0.pb: empty file, expected a serialised TensorProto", inputs=[b""])
check_case("pb_truncated", "input_0.pb: not a valid TensorProto", inputs=[GOOD_IN[:-7]])
check_case("pb_wrong_magic", "input_0.pb: not a valid TensorProto", inputs=[b"\x89PNG\r\n\x1a\n" + bytes(24)])
check_case("pb_length_past_end", "input_0.pb: not a valid TensorProto",
           inputs=[field(8, b"x") + field(9, F6, 4096)])
check_case("pb_raw_size", "input_0.pb: tensor 'x': raw_data holds 20 bytes, expected 24",
           inputs=[pb(tensor("x", raw=F6[:20]))])
check_case("pb_typed_count", "output_0.pb: tensor 'y': float_data holds 4 values, expected 6",
           outputs=[pb(tensor("y", floats=[0, 0, 0, 0]))])
check_case("pb_negative_dim", "input_0.pb: tensor 'x' has negative dim -2 at axis 0",
           inputs=[pb(tensor("x", dims=(-2, 3), raw=F6))])
check_case("pb_dims_overflow", "input_0.pb: tensor 'x' has too many elements",
           inputs=[pb(tensor("x", dims=(1 << 61, 4)))])
check_case("pb_no_dtype", "input_0.pb: tensor 'x' has no data type", inputs=[pb(tensor("x", dtype=0, raw=F6))])
check_case("pb_string", "input_0.pb: tensor 'x' has dtype string, which tfxc does not support",
           inputs=[pb(helper.make_tensor("x", TensorProto.STRING, [2], [b"a", b"b"]))], code=77)
t = tensor("x")
t.data_location = TensorProto.EXTERNAL
e = t.external_data.add()
e.key, e.value = "location", "../../ext_secret/weights.bin"
check_case("pb_external_escape", "input_0.pb: tensor 'x': external data location '../../ext_secret/weights.bin' "
           "is absolute or leaves the model's folder", inputs=[pb(t)])
check_case("pb_dtype_mismatch", "input 'x': the model declares float32, ",
           inputs=[pb(onnx.numpy_helper.from_array(np.zeros((2, 3), np.int64), "x"))])
check_case("pb_shape_mismatch", "input 'x': the model declares shape [2,3], ",
           inputs=[pb(onnx.numpy_helper.from_array(np.zeros((3, 2), np.float32), "x"))])
check_case("pb_extra_input", "input_1.pb ('z') matches no model input",
           inputs=[GOOD_IN, pb(onnx.numpy_helper.from_array(np.zeros((2, 3), np.float32), "z"))])
check_case("check_model_unknown_op", "model.onnx: unsupported operator 'Frobnicate' (1 node: 'frob')",
           m=model([helper.make_node("Frobnicate", ["x"], ["y"], name="frob")]), code=77)
check_case("check_model_cycle", "model.onnx: the graph has a cycle through node 'loop' (Add)",
           m=model([helper.make_node("Add", ["x", "y"], ["y"], name="loop")]))
check_case("pb_missing_output", "the model has 1 outputs, the data set 0 output_K.pb files", outputs=[])

with open(os.path.join(HERE, "cases.txt"), "w") as f:
    f.write("# Generated by make_bad.py: NAME KIND EXIT MESSAGE (see run_bad.sh).\n")
    w = max(len(c[0]) for c in CASES)
    for name, kind, code, msg in CASES:
        f.write("%-*s  %-7s  %-2d  %s\n" % (w, name, kind, code, msg))
print("%d cases" % len(CASES))
