"""ort_minilm.py — the onnxruntime side of the MiniLM bench.
   python ort_minilm.py prepare MODEL_DIR WORK SEQ
       exports MODEL_DIR (the all-MiniLM-L6-v2 checkpoint) to WORK/minilm.onnx
       with torch (once) and writes WORK/ids.bin (SEQ random token ids, seed 0);
   python ort_minilm.py run MODEL_DIR WORK SEQ REPS THREADS
       times onnxruntime (THREADS intra-op threads, all graph optimisations)
       and compares last_hidden_state with WORK/tfxc_hidden.bin when present.
       Prints "ort_median_ms ort_best_ms max_abs_diff" (diff -1 without it)."""
import os
import statistics
import sys
import time

import numpy as np


def export(model_dir: str, path: str, seq: int) -> None:
    import torch
    from transformers import AutoModel

    class Wrap(torch.nn.Module):  # keyword arguments: BertModel.forward's order changes
        def __init__(self) -> None:
            super().__init__()
            self.m = AutoModel.from_pretrained(model_dir).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            o = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return o.last_hidden_state, o.pooler_output

    ids = torch.ones((1, seq), dtype=torch.int64)
    with torch.no_grad():
        torch.onnx.export(
            Wrap(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), path,
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state", "pooler_output"],
            dynamic_axes={n: {1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids")},
            opset_version=17, dynamo=False)


def main() -> None:
    mode, model_dir, work, seq = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    onnx_path = os.path.join(work, "minilm.onnx")
    ids_path = os.path.join(work, "ids.bin")
    if mode == "prepare":
        if not os.path.exists(onnx_path):
            export(model_dir, onnx_path, seq)
        rng = np.random.default_rng(0)
        ids = rng.integers(1000, 30000, size=seq, dtype=np.int64)
        ids[0], ids[-1] = 101, 102  # [CLS] ... [SEP]
        ids.tofile(ids_path)
        return
    reps, threads = int(sys.argv[5]), int(sys.argv[6])
    ids = np.fromfile(ids_path, dtype=np.int64)[:seq].reshape(1, seq)

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    hidden = sess.run(["last_hidden_state"], feed)[0]
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        sess.run(["last_hidden_state"], feed)
        times.append((time.perf_counter() - t0) * 1e3)
    diff = -1.0
    tfxc_path = os.path.join(work, "tfxc_hidden.bin")
    if os.path.exists(tfxc_path):
        mine = np.fromfile(tfxc_path, dtype=np.float32).reshape(hidden.shape)
        diff = float(np.max(np.abs(mine - hidden)))
    print(f"{statistics.median(times):.3f} {min(times):.3f} {diff:.3g}")


if __name__ == "__main__":
    main()
