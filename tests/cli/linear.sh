#!/usr/bin/env bash
# Linear: MatMul/Gemm on a constant weight with its bias, GELU and residual
# fused into the GEMM's epilogue, the weight stored prepacked.
#  - GELU spelled out with Erf (torch's nn.GELU) and with Tanh and Pow (GPT-2)
#    becomes one Gelu and then part of the Linear node: no Erf, Tanh or Pow
#    is left in the generated code;
#  - `tfxc check` against onnx's reference evaluator passes at 3 rows (the
#    small-M path), 7 and 13 (6-row groups and one row over), N = 40 (a
#    partial 16-column panel), portable C and, where the compiler targets
#    it, AVX2+FMA;
#  - a product by 0.4 in place of 0.5 is not taken for GELU;
#  - a weight read by two products is stored prepacked (layout 2) once; so
#    is a table read by Gather and Gemm (transB: a tied embedding and head),
#    the Gather reading its rows from the panels;
#  - a Gemm between a Reshape that flattens x [1,S,K] to [S,K] and one back
#    to [1,S,N] (GPT-2's Conv1D) reads x and writes [1,S,N] itself: no
#    Reshape is left, and the GELU and residual after it are fused; a
#    Reshape to other leading dims ([S,1,N]) stays, and so does its pair:
#    the first, of the input, copies; the second is the product's bytes;
#  - weights embedded in the C and in a .bin give the same bits.
# usage: linear.sh TFXC SOURCE_DIR
set -u
tfxc=$1
src=$2
cc=${CC:-cc}
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

"$py" "$src/tests/cli/make_linear.py" "$tmp/cases" || { echo "FAIL make_linear.py"; exit 1; }
native=
echo 'int main(void) { return 0; }' >"$tmp/t.c"
$cc -O2 -march=native -o "$tmp/t" "$tmp/t.c" 2>/dev/null && native="$cc -O2 -march=native"

for d in "$tmp"/cases/*; do
  c=$(basename "$d")
  CC="$cc" "$tfxc" check "$d" --keep "$tmp/k_$c" >"$tmp/log" 2>&1 || { fail "$c: check"; cat "$tmp/log"; }
  if [ -n "$native" ]; then
    CC="$native" "$tfxc" check "$d" >"$tmp/log" 2>&1 || { fail "$c: check with $native"; cat "$tmp/log"; }
  fi
  gen=$(ls "$tmp/k_$c"/*.c | head -1)
  case $c in
    near_gelu_*) grep -q ': Erf ->' "$gen" || fail "$c: a product by 0.4 was taken for GELU" ;;
    *) grep -Eq ': (Erf|Tanh|Pow|MatMul|Gemm) ->' "$gen" && fail "$c: unfused nodes left in $gen" ;;
  esac
  case $c in
    conv1d_*) grep -q ': Reshape ->' "$gen" && fail "$c: a Reshape around a Gemm is left in $gen" ;;
    regroup_*)
      [ "$(grep -c ': Reshape ->' "$gen")" = 2 ] || fail "$c: expected both Reshapes (to [S,K] and [S,1,N]) in $gen"
      [ "$(grep -c "a view: its input's bytes" "$gen")" = 1 ] || fail "$c: the Reshape of the product's output copies"
      [ "$(grep -c 'memcpy(v' "$gen")" = 1 ] || fail "$c: expected one copy (the Reshape of x) in $gen" ;;
  esac
  case $c in
    near_gelu_*) want="tfx_linear\\(tfx_pp, [0-9]+, 40, 24, .*, 2, NULL, 0, NULL," ;;
    ffn_*) want="tfx_linear\\(tfx_pp, [0-9]+, 40, 24, .*, 2, .*, 1, NULL,|tfx_linear\\(tfx_pp, [0-9]+, 24, 40, .*, 2, .*, 0, v[0-9]+_x," ;;
    gemm_tanh_*) want="tfx_linear\\(tfx_pp, [0-9]+, 40, 24, .*, 2, .*, 2, NULL," ;;
    conv1d_*) want="tfx_linear\\(tfx_pp, [0-9]+, 40, 24, v[0-9]+_x, .*, 2, .*, 2, NULL,|tfx_linear\\(tfx_pp, [0-9]+, 24, 40, .*, 2, .*, 0, v[0-9]+_x, v[0-9]+_y\\);" ;;
    regroup_*) want="tfx_linear\\(tfx_pp, [0-9]+, 40, 24, .*, 2, NULL, 0, NULL," ;;
    shared_*) want="tfx_linear\\(tfx_pp, [0-9]+, 24, 24, .*, 2, NULL, 0, NULL,|tfx_linear\\(tfx_pp, [0-9]+, 40, 24, .*, 2, NULL, 0, NULL,|\\(k / 16\\) \\* 384 \\+ c \\* 16 \\+ k % 16\\]" ;;
  esac
  IFS='|' read -ra pats <<<"$want"
  for p in "${pats[@]}"; do
    grep -Eq "$p" "$gen" || fail "$c: no call like '$p' in $gen"
  done
done
[ "$(grep -c 'tfx_linear(tfx_pp' "$tmp"/k_shared_s7/*.c)" = 3 ] || fail "shared: expected 3 Linear calls"

# embedded weights and a .bin: the same bits
d=$tmp/cases/ffn_s7
for w in embed file; do
  "$tfxc" "$d/model.onnx" -o "$tmp/$w.c" --cpu auto --name m --emit-main --weights=$w >/dev/null || fail "compile --weights=$w"
  $cc -std=c99 -O2 -Wall -Wextra -Werror -o "$tmp/$w" "$tmp/$w.c" -lm || fail "build --weights=$w"
done
"$tmp/embed" "$d/test_data_set_0/input_0.pb" "$tmp/y_embed.pb" || fail "run embedded"
"$tmp/file" --weights "$tmp/file.bin" "$d/test_data_set_0/input_0.pb" "$tmp/y_file.pb" || fail "run with the .bin"
cmp -s "$tmp/y_embed.pb" "$tmp/y_file.pb" || fail "embedded and .bin weights differ"

[ "$fails" = 0 ] && echo "all Linear checks passed"
exit $((fails != 0))
