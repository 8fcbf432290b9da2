#!/usr/bin/env bash
# --cpu avx512, avx512vnni and avxvnni: the f32 GEMM's AVX-512 micro-kernels
# (6 rows x 32 columns, two prepacked panels) and the quantised products'
# VNNI sums.  On x86-64 with gcc:
#  - each file built with SIMDe's intrinsics on this machine
#    (tests/emulate/tfx_simde.h, -DTFX_EMULATE) gives the bits of --cpu avx2:
#    a GEMM model (K = 400: two blocks of K; N = 45 and 29: a whole pair of
#    panels, a part of one, a lone panel; 13 rows: 6 + 4 + 3; a weight
#    prepacked and a product of two inputs packed on the stack), bert_tiny,
#    and gpt2_tiny with int8, int4 and int4 --asymmetric weights at 7 tokens
#    (the prefill kernels) and at 3 (the decode ones);
#  - the emulated files do run the new code: preprocessed, their tiles' sums
#    are SIMDe's 512-bit FMAs (avx512*) and their quantised sums its
#    vpdpbusd (*vnni);
#  - built for the real target with gcc and clang (-Werror), the AVX-512
#    objects use zmm registers and the VNNI ones vpdpbusd; so does --cpu auto
#    built with -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni (and
#    vpdpbusd with -mavx2 -mfma -mavxvnni);
#  - the real avx512vnni program on this machine: where the processor has
#    AVX-512 and VNNI (/proc/cpuinfo) it gives the avx2 bits; where it lacks
#    them it exits non-zero naming AVX-512 and writes no output;
#  - the header names the target and has <NAME>_ERR_CPU.
# usage: cpu_avx512.sh TFXC SOURCE_DIR
set -u
tfxc=$1
src=$2
cc=${CC:-cc}
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

if [ "$(uname -m)" != x86_64 ]; then
  echo "cpu_avx512: not x86-64: nothing to build"
  exit 0
fi
if [ ! -f /usr/include/simde/x86/avx512.h ]; then
  echo "FAIL SIMDe is not installed (apt-get install libsimde-dev; .ci/install-deps does it)"
  exit 1
fi
cflags="-std=c99 -O2 -Wall -Wextra -Werror"
emu=(-mavx2 -mfma -Wno-psabi -I"$src/tests/emulate" '-DTFX_EMULATE="tfx_simde.h"')
targets="avx512 avx512vnni avxvnni"

bert=$src/tests/models/onnx/bert_tiny
gpt=$src/tests/models/onnx/gpt2_tiny

# the GEMM model and gpt2_tiny's first 3 tokens
"$py" - "$tmp" "$gpt/test_data_set_3/input_0.pb" <<'PYEOF' || fail "making the GEMM model"
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
out, gin = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)
M, K = 13, 400
w = numpy_helper.from_array(rng.standard_normal((K, 45)).astype(np.float32), "w")
b = numpy_helper.from_array(rng.standard_normal(45).astype(np.float32), "b")
g = helper.make_graph(
    [helper.make_node("MatMul", ["x", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"]),
     helper.make_node("MatMul", ["x", "v"], ["z"])],
    "gemm",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [M, K]),
     helper.make_tensor_value_info("v", TensorProto.FLOAT, [K, 29])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [M, 45]),
     helper.make_tensor_value_info("z", TensorProto.FLOAT, [M, 29])],
    [w, b])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), out + "/gemm.onnx")
for name, shape in (("x", (M, K)), ("v", (K, 29))):
    t = numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)
    open(f"{out}/gemm_{name}.pb", "wb").write(t.SerializeToString())
t = onnx.TensorProto()
t.ParseFromString(open(gin, "rb").read())
a = numpy_helper.to_array(t)
open(out + "/tok3.pb", "wb").write(numpy_helper.from_array(a[:, :3].copy(), t.name).SerializeToString())
PYEOF

# shellcheck source=programs.sh
. "$src/tests/cli/programs.sh"

flags=" $(grep -m1 '^flags' /proc/cpuinfo) "
has512=0
[[ $flags == *" avx512f "* && $flags == *" avx512bw "* && $flags == *" avx512dq "* && $flags == *" avx512vl "* &&
  $flags == *" avx512_vnni "* ]] && has512=1

for case in gemm bert int8 int4 int4a int8d int4d int4ad; do
  q=()
  case $case in
  gemm) onnx=$tmp/gemm.onnx ins="$tmp/gemm_x.pb $tmp/gemm_v.pb" dims=() nout=2 ;;
  bert) onnx=$bert/model.onnx ins=$(ls "$bert"/test_data_set_4/input_*.pb) dims=(--dim batch=1 --dim seq=16) nout=2 ;;
  int8 | int4 | int4a) onnx=$gpt/model.onnx ins=$gpt/test_data_set_3/input_0.pb dims=(--dim batch=1 --dim seq=7) nout=1 ;;
  *) onnx=$gpt/model.onnx ins=$tmp/tok3.pb dims=(--dim batch=1 --dim seq=3) nout=1 ;;
  esac
  case $case in
  int8*) q=(--quantize-weights=int8) ;;
  int4a*) q=(--quantize-weights=int4 --asymmetric) ;;
  int4*) q=(--quantize-weights=int4) ;;
  esac
  for t in avx2 $targets; do
    "$tfxc" "$onnx" -o "$tmp/$case.$t.c" --name m "${dims[@]}" --emit-main --cpu $t "${q[@]}" >/dev/null 2>&1 ||
      fail "$case: compile --cpu $t"
  done
  build $case.avx2 "$tmp/$case.avx2.c" "$cc" && run $case.avx2
  for t in $targets; do
    build $case.$t.emu "$tmp/$case.$t.c" "$cc" "${emu[@]}" && run $case.$t.emu && same $case.$t.emu $case.avx2
  done
done

# the emulated builds run the new kernels (else the bits above would be
# avx2's trivially): preprocessed, the wide tiles' sums are SIMDe's 512-bit
# FMAs and the quantised products' sums its vpdpbusd
for t in $targets; do
  # shellcheck disable=SC2086
  $cc -E -P "${emu[@]}" "$tmp/int8.$t.c" | tr -s ' \n' '  ' >"$tmp/int8.$t.i" ||
    { fail "int8.$t: preprocess"; continue; }
  case $t in
  avx512*) grep -q 'c00 = simde_mm512_fmadd_ps(x, b0, c00)' "$tmp/int8.$t.i" ||
    fail "int8.$t emulated: no 512-bit micro-kernel" ;;
  esac
  case $t in
  *vnni) grep -q 'a00 = simde_mm256_dpbusd_epi32(a00' "$tmp/int8.$t.i" ||
    fail "int8.$t emulated: the quantised kernel's sums are not vpdpbusd" ;;
  esac
done

# the real targets: gcc and clang build them, with the instructions
# (CC may carry flags: the sanitizer run sets "cc -fsanitize=...")
for t in $targets; do
  for compiler in "$cc" clang; do
    name=int8.$t.${compiler%% *}
    command -v "${compiler%% *}" >/dev/null || continue
    build "$name" "$tmp/int8.$t.c" "$compiler" || continue
    objdump -d "$tmp/$name" >"$tmp/dis" || fail "objdump $name"
    case $t in
    avx512*) grep -q zmm "$tmp/dis" || fail "$name uses no zmm register" ;;
    esac
    case $t in
    *vnni) grep -q vpdpbusd "$tmp/dis" || fail "$name has no vpdpbusd" ;;
    esac
  done
done
# --cpu auto under the compiler's AVX-512 and VNNI flags takes the same kernels
"$tfxc" "$gpt/model.onnx" -o "$tmp/auto.c" --name m --dim batch=1 --dim seq=7 --cpu auto --quantize-weights=int8 \
  >/dev/null 2>&1 || fail "int8: compile --cpu auto"
for fl in "-mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx512vnni" "-mavx2 -mfma -mavxvnni"; do
  # shellcheck disable=SC2086
  $cc $cflags -march=x86-64 $fl -mfma -c -o "$tmp/auto.o" "$tmp/auto.c" 2>"$tmp/auto.log" ||
    { fail "--cpu auto with $fl: build"; head -5 "$tmp/auto.log"; continue; }
  objdump -d "$tmp/auto.o" >"$tmp/dis" || fail "objdump auto.o"
  grep -q vpdpbusd "$tmp/dis" || fail "--cpu auto with $fl has no vpdpbusd"
  case $fl in
  *avx512f*) grep -q zmm "$tmp/dis" || fail "--cpu auto with $fl uses no zmm register" ;;
  esac
done
nout=1 ins=$gpt/test_data_set_3/input_0.pb real=int8.avx512vnni.${cc%% *}
if [ -x "$tmp/$real" ]; then
  if [ $has512 = 1 ]; then
    run "$real" && same "$real" int8.avx2
  else
    if "$tmp/$real" $ins "$tmp/real.pb" 2>"$tmp/real.err"; then
      fail "the avx512vnni program ran on a processor without AVX-512"
    fi
    grep -q "m_init: the processor lacks AVX-512" "$tmp/real.err" ||
      fail "avx512vnni without AVX-512: $(cat "$tmp/real.err")"
    [ -e "$tmp/real.pb" ] && fail "the avx512vnni program wrote an output without AVX-512"
  fi
fi

for t in $targets; do
  h=$tmp/bert.$t.h
  grep -q "^#define M_CPU \"$t\"$" "$h" || fail "--cpu $t: header has no M_CPU \"$t\""
  grep -q 'M_ERR_CPU = 8' "$h" || fail "--cpu $t: no M_ERR_CPU in the header"
done

[ $fails -eq 0 ] && echo "cpu_avx512: all passed (AVX-512 and VNNI here: $has512)"
exit $((fails != 0))
