"""TensorProto .pb files of the fixture data sets, shared by the scripts that
make them (hf/make_fixtures.py, onnx/make_onnx.py, dynamo/make_dynamo.py,
make_lengths.py)."""
import os

import onnx
from onnx import numpy_helper


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t.name, numpy_helper.to_array(t)


def write_pb(path, name, arr):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(arr, name).SerializeToString())


def dataset(ds, prefix):
    """[(name, array)] of ds/<prefix>_K.pb in order."""
    res = []
    while os.path.exists(os.path.join(ds, f"{prefix}_{len(res)}.pb")):
        res.append(read_pb(os.path.join(ds, f"{prefix}_{len(res)}.pb")))
    return res
