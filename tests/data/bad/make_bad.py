"""Writes the malformed models tests/cli/bad_input.sh feeds to tfxc.
Run: python3 make_bad.py (needs onnx)."""
import os

import onnx
from onnx import TensorProto, helper

here = os.path.dirname(os.path.abspath(__file__))
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])


def save(name, nodes, outputs=(y,), inits=()):
    g = helper.make_graph(nodes, name, [x], list(outputs), list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(m, os.path.join(here, name + ".onnx"))


# two unsupported ops: both must be reported, with their node names
save("unsupported_ops", [
    helper.make_node("Relu", ["x"], ["a"], name="ok_relu"),
    helper.make_node("FancyOp", ["a"], ["b"], name="first_fancy"),
    helper.make_node("OtherMissingOp", ["b"], ["y"], name="second_missing"),
])
# a node reading a value nothing defines
save("missing_value", [helper.make_node("Add", ["x", "ghost"], ["y"], name="add_ghost")])
# an Add whose operands cannot broadcast
z = helper.make_tensor("z", TensorProto.FLOAT, [4], [1, 2, 3, 4])
save("bad_broadcast", [helper.make_node("Add", ["x", "z"], ["y"], name="add_mismatch")], inits=[z])
# an input of 2^40 x 4 floats: refused as absurd, not attempted
huge = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1 << 40, 4])
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "huge_dim", [huge],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]),
          os.path.join(here, "huge_dim.onnx"))
# a valid model for the truncation and clobbering checks
save("good", [helper.make_node("Relu", ["x"], ["y"], name="relu")])
