#!/usr/bin/env python3
"""Write the safetensors files that tests/unit/test_safetensors.c reads.

    python3 tests/data/safetensors/make_fixtures.py      # from anywhere

The format is written here by hand (numpy only), so that broken files can be
made too: an 8-byte little-endian header length N, N bytes of JSON header
{"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
"__metadata__": {str: str}}, then the data section (offsets are relative to
its start).

- good.safetensors: one tensor of every supported dtype, a scalar, an empty
  tensor and metadata; single/model.safetensors is the same file in a folder.
- misaligned.safetensors: F32 tensors (one empty) at an odd offset.
- many.safetensors: 300 int32 scalars (name lookup through the hash).
- sharded/: a two-shard checkpoint with its index, and broken indexes that
  share its shards (bad_*.index.json).
- errors/CASE.bad.safetensors and CASE.ok.safetensors: each bad file has one
  defect; its ok twin is the same file without it and must open.
"""
import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def write(rel, blob):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(blob)


def pack(header, data, n=None):
    """header: a dict (dumped as JSON) or a raw JSON string; padded with
    spaces to a multiple of 8 as the reference writer does.  n overrides the
    stored header length."""
    text = header if isinstance(header, str) else json.dumps(header)
    raw = text.encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw) if n is None else n) + raw + data


def layout(tensors, metadata=None):
    """tensors: [(name, dtype, shape, bytes)], laid out in order without gaps."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dt, shape, blob in tensors:
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    return header, data


def bf16_bits(values):
    """Round-to-nearest-even float32 -> bfloat16 bits."""
    b = np.asarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    return ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)


# Values the C test checks bit for bit (keep in sync with test_safetensors.c).
GOOD = [
    ("f64", "F64", [3], np.array([1 / 3, -1e300, 2.5], dtype="<f8")),
    ("i64", "I64", [2], np.array([-(2**62) + 1, 9007199254740993], dtype="<i8")),
    ("w.f32", "F32", [2, 3], np.array([[0.5, -1.25, 3.0], [1e-30, -2.5e10, 0.1]], dtype="<f4")),
    ("i32", "I32", [3], np.array([-7, 2147483647, 0], dtype="<i4")),
    ("scalar", "F32", [], np.array(42.0, dtype="<f4")),
    ("b.f16", "F16", [4], np.array([1.0, -2.0, 0.5, 65504.0], dtype="<f2")),
    ("e.bf16", "BF16", [2, 2], bf16_bits([1.0, -3.0, 3.140625, 0.0]).astype("<u2")),
    ("i16", "I16", [2], np.array([-32768, 1234], dtype="<i2")),
    ("i8", "I8", [3], np.array([-128, 0, 127], dtype="i1")),
    ("u8", "U8", [2, 2], np.array([[0, 1], [254, 255]], dtype="u1")),
    ("flag", "BOOL", [3], np.array([1, 0, 1], dtype="u1")),
    ("empty", "F32", [0, 4], np.zeros((0, 4), dtype="<f4")),
]


def good():
    header, data = layout([(n, dt, s, a.tobytes()) for n, dt, s, a in GOOD], {"format": "pt", "note": "ignored"})
    blob = pack(header, data)
    write("good.safetensors", blob)
    write("single/model.safetensors", blob)
    # u8 first puts the float32 tensors at data offset 1
    header, data = layout(
        [
            ("pad", "U8", [1], b"\x07"),
            ("none", "F32", [0], b""),
            ("w", "F32", [3], np.array([1.5, -2.0, 1e-3], dtype="<f4").tobytes()),
        ]
    )
    write("misaligned.safetensors", pack(header, data))
    header, data = layout([("layer.%d.w" % i, "I32", [], struct.pack("<i", i * 7 - 1000)) for i in range(300)])
    write("many.safetensors", pack(header, data))


def sharded():
    f32 = lambda *v: np.array(v, dtype="<f4").tobytes()
    shard1 = [("a", "F32", [2], f32(1, 2)), ("b", "F32", [1], f32(3))]
    shard2 = [("c", "F32", [3], f32(4, 5, 6))]
    for name, ts in (("model-00001-of-00002.safetensors", shard1), ("model-00002-of-00002.safetensors", shard2)):
        write("sharded/" + name, pack(*layout(ts)))
    # 'a' again, in a third shard
    write("sharded/dup.safetensors", pack(*layout([("a", "F32", [1], f32(9)), ("d", "F32", [1], f32(8))])))
    s1, s2 = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    good_map = {"a": s1, "b": s1, "c": s2}

    def index(rel, weight_map, metadata={"total_size": 24}):
        obj = {"metadata": metadata, "weight_map": weight_map}
        write("sharded/" + rel, json.dumps(obj, indent=2).encode())

    index("model.safetensors.index.json", good_map)
    index("bad_missing.index.json", {"a": s1, "b": s1, "c": "model-00003-of-00003.safetensors"})
    index("bad_slash.index.json", {"a": s1, "b": s1, "c": "../sharded/" + s2})
    index("bad_dotdot.index.json", {"a": s1, "b": s1, "c": ".."})
    index("bad_notinshard.index.json", {"a": s1, "b": s2, "c": s2})
    index("bad_dup.index.json", dict(good_map, d="dup.safetensors"))
    index("bad_types.index.json", {"a": s1, "b": 7, "c": s2})
    write("sharded/bad_wm.index.json", json.dumps({"weight_map": [s1, s2]}).encode())
    write("sharded/bad_json.index.json", b'{"weight_map": {"a": "x", "a": "y"}}')


def errors():
    """Each case: (name, make(bad) -> bytes).  The defective tensor is 't'
    (F32 [2, 2] at data [8, 24]) after a good tensor 'ok' (F32 [2] at [0, 8])."""
    okb = np.array([1, 2], dtype="<f4").tobytes()
    tb = np.array([3, 4, 5, 6], dtype="<f4").tobytes()
    data = okb + tb

    def entry(dtype="F32", shape=(2, 2), offsets=(8, 24)):
        return {"dtype": dtype, "shape": list(shape) if isinstance(shape, tuple) else shape,
                "data_offsets": list(offsets) if isinstance(offsets, tuple) else offsets}

    def hdr(t, meta=None):
        h = {} if meta is None else {"__metadata__": meta}
        h["ok"] = entry(shape=(2,), offsets=(0, 8))
        h["t"] = t
        return h

    def tcase(bad_entry, good_entry=None, bad_data=data, good_data=data):
        return lambda bad: pack(hdr(bad_entry if bad else (good_entry or entry())), bad_data if bad else good_data)

    cases = {
        "short": lambda bad: b"abcd" if bad else pack({}, b""),
        "header_past_end": lambda bad: (lambda b: pack(hdr(entry()), data, n=len(b) - 8 + 1) if bad else b)(
            pack(hdr(entry()), data)),
        "header_too_big": lambda bad: pack(hdr(entry()), data, n=(100 << 20) + 1 if bad else None),
        "json_invalid": lambda bad: pack(json.dumps(hdr(entry())) + (" x" if bad else ""), data),
        "header_not_object": lambda bad: pack("[]" if bad else "{}", b""),
        "metadata_type": lambda bad: pack(hdr(entry(), {"format": 1 if bad else "pt"}), data),
        "entry_not_object": tcase([8, 24]),
        "dtype_not_string": tcase(entry(dtype=4)),
        "dtype_missing": tcase({"shape": [2, 2], "data_offsets": [8, 24]}),
        "shape_not_array": tcase(entry(shape="2,2")),
        "dim_not_int": tcase(entry(shape=[2.0, 2])),
        "offsets_not_int": tcase(entry(offsets=[8, "24"])),
        "offsets_count": tcase(entry(offsets=[8, 24, 24])),
        "unknown_dtype": tcase(entry(dtype="Q7")),
        "unsupported_dtype": tcase(entry(dtype="F8_E4M3", shape=(4, 4)), entry(dtype="U8", shape=(4, 4))),
        "negative_dim": tcase(entry(shape=(-2, -2))),
        "overflow_dim": tcase(entry(shape=(2**40, 2**40)), entry(shape=(2**40, 0), offsets=(8, 8)), data, okb),
        "rank9": tcase(entry(shape=(1,) * 8 + (4,)), entry(shape=(1,) * 7 + (4,))),
        "negative_offset": tcase(entry(offsets=(-8, 8)), entry(offsets=(8, 24))),
        "offsets_outside": tcase(entry(), bad_data=data[:20]),
        "begin_after_end": tcase(entry(offsets=(24, 8))),
        "overlap": tcase(entry(offsets=(4, 20))),
        "byte_length": tcase(entry(offsets=(8, 28)), bad_data=data + b"\0" * 4),
        "duplicate": lambda bad: pack(
            '{"ok": %s, "t": %s, "%s": %s}' % (json.dumps(entry(shape=(2,), offsets=(0, 8))), json.dumps(entry()),
                                              "t" if bad else "t2", json.dumps(entry(offsets=(24, 40)))),
            data + tb),
    }
    for name, make in cases.items():
        write("errors/%s.bad.safetensors" % name, make(True))
        write("errors/%s.ok.safetensors" % name, make(False))


def cross_check():
    """Where the reference implementation is installed, every file meant to
    be good must load with it (so the fixtures test tfxc, not this script)."""
    try:
        from safetensors import safe_open
    except ImportError:
        return
    import glob

    good_files = ["good.safetensors", "misaligned.safetensors", "many.safetensors", "sharded/dup.safetensors"]
    good_files += glob.glob(os.path.join(HERE, "sharded/model-*.safetensors")) + glob.glob(os.path.join(HERE, "errors/*.ok.safetensors"))
    for f in good_files:
        with safe_open(os.path.join(HERE, f), "np") as h:
            for k in h.keys():
                if h.get_slice(k).get_dtype() != "BF16":  # numpy has no bfloat16
                    h.get_tensor(k)


if __name__ == "__main__":
    good()
    sharded()
    errors()
    cross_check()
