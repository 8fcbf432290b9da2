#!/usr/bin/env python3
"""Write the ONNX backend node test cases of the installed onnx package as case
folders (model.onnx + test_data_set_N/input_K.pb, output_K.pb), the layout
`tfxc check` reads.  The onnx wheel no longer ships these folders, so they are
generated from the case definitions in onnx.backend.test.case.node.

    gen_cases.py OUT_DIR [--filter REGEX]

Inputs/outputs that are not tensors (sequences, optionals) get no .pb file:
tfxc refuses such models as unsupported when it imports them."""
import argparse
import os
import re
import shutil
import sys
import warnings


def write_case(case, out_dir, np, numpy_helper, TensorProto):
    d = os.path.join(out_dir, case.name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(case.model.SerializeToString())
    graph = case.model.graph
    for i, (inputs, outputs) in enumerate(case.data_sets or []):
        ds = os.path.join(d, f"test_data_set_{i}")
        os.makedirs(ds)
        for kind, values, infos in (("input", inputs, graph.input), ("output", outputs, graph.output)):
            for j, v in enumerate(values):
                info = infos[j] if j < len(infos) else None
                if info is not None and not info.type.HasField("tensor_type"):
                    continue
                name = info.name if info is not None else ""
                if isinstance(v, TensorProto):
                    t = v
                else:
                    t = numpy_helper.from_array(np.asarray(v), name)
                if name and not t.name:
                    t.name = name
                with open(os.path.join(ds, f"{kind}_{j}.pb"), "wb") as f:
                    f.write(t.SerializeToString())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--filter", help="only cases whose name matches this regular expression")
    args = ap.parse_args()

    warnings.filterwarnings("ignore")
    import numpy as np
    import onnx
    from onnx import TensorProto, numpy_helper
    import onnx.backend.test.case.node as node_cases

    os.makedirs(args.out_dir, exist_ok=True)
    pattern = re.compile(args.filter) if args.filter else None
    n = 0
    for case in node_cases.collect_testcases():
        if pattern and not pattern.search(case.name):
            continue
        write_case(case, args.out_dir, np, numpy_helper, TensorProto)
        n += 1
    print(f"{n} cases written to {args.out_dir} (onnx {onnx.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
