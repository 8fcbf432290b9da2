#!/usr/bin/env bash
# --cpu: the instruction set of the generated code.
#  - an unknown target is refused (exit 2, the name in the message, no file);
#  - the header names the target (<NAME>_CPU), and has <NAME>_ERR_CPU exactly
#    for the targets init checks (avx, avx2);
# On x86 (where the C compiler has the target pragmas), on bert_tiny (GEMM,
# attention, norms, GELU) and gpt2_tiny with int8 weights (the quantised
# kernels), each program built with plain `cc -O2`, no -m flags:
#  - --cpu avx2 gives the bits of --cpu auto built with -mavx2 -mfma, and its
#    object has FMA instructions; --cpu avx those of auto with -mavx and ymm
#    registers; --cpu generic those of auto with no flags, and no ymm register;
#  - --cpu avx2 with -DTFX_PORTABLE gives the generic bits;
#  - with clang too, where installed: avx2 gives the bits of clang's auto
#    build with -mavx2 -mfma;
#  - the default (and --cpu native) writes the file of the best target the
#    machine has (/proc/cpuinfo: avx512vnni, avx512, avxvnni, avx2), the
#    generic one on a machine without AVX;
#  - on a processor without the target (the check's answer forced to 0 by a
#    macro), init returns ERR_CPU with a message naming AVX2, --emit-main's
#    program exits non-zero writing no output, and run on that context gives
#    ERR_STATE.
# usage: cpu.sh TFXC SOURCE_DIR
set -u
tfxc=$1
src=$2
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
cflags="-std=c99 -O2 -Wall -Wextra -Werror"

bert=$src/tests/models/onnx/bert_tiny
gpt=$src/tests/models/onnx/gpt2_tiny

if "$tfxc" "$bert/model.onnx" -o "$tmp/x.c" --dim batch=1 --dim seq=16 --cpu avx10 2>"$tmp/err"; then
  fail "--cpu avx10 accepted"
else
  [ $? -eq 2 ] || fail "--cpu avx10: exit status not 2"
  grep -q "'avx10'" "$tmp/err" || fail "--cpu avx10: message does not name it: $(cat "$tmp/err")"
fi
[ -e "$tmp/x.c" ] && fail "--cpu avx10 left x.c"

for t in auto generic avx avx2; do
  "$tfxc" "$bert/model.onnx" -o "$tmp/h_$t.c" --name m --dim batch=1 --dim seq=16 --cpu $t >/dev/null ||
    { fail "compile --cpu $t"; continue; }
  grep -q "^#define M_CPU \"$t\"$" "$tmp/h_$t.h" || fail "--cpu $t: header has no M_CPU \"$t\""
  has=0; grep -q 'M_ERR_CPU = 8' "$tmp/h_$t.h" && has=1
  want=0; case $t in avx | avx2) want=1 ;; esac
  [ $has = $want ] || fail "--cpu $t: M_ERR_CPU in the header: $has, want $want"
done

if [ "$(uname -m)" != x86_64 ]; then
  echo "cpu: not x86-64: the x86 targets are not built here"
  [ $fails -eq 0 ] && echo "cpu: all passed"
  exit $((fails != 0))
fi

# shellcheck source=programs.sh
. "$src/tests/cli/programs.sh"

for model in bert int8; do
  if [ $model = bert ]; then
    onnx=$bert/model.onnx ins=$(ls "$bert"/test_data_set_4/input_*.pb) seq=16 q=()
  else
    onnx=$gpt/model.onnx ins=$gpt/test_data_set_3/input_0.pb seq=7 q=(--quantize-weights=int8)
  fi
  nout=$(ls "$(dirname "$(echo "$ins" | head -1)")"/output_*.pb | wc -l)
  for t in auto generic avx avx2; do
    "$tfxc" "$onnx" -o "$tmp/$model.$t.c" --name m --dim batch=1 --dim seq=$seq --emit-main --cpu $t "${q[@]}" \
      >/dev/null 2>&1 || fail "$model: compile --cpu $t"
  done
  p=$model
  build $p.avx2 "$tmp/$p.avx2.c" "$cc" && run $p.avx2
  build $p.avx "$tmp/$p.avx.c" "$cc" && run $p.avx
  build $p.generic "$tmp/$p.generic.c" "$cc" && run $p.generic
  build $p.portable "$tmp/$p.avx2.c" "$cc" -DTFX_PORTABLE && run $p.portable
  build $p.auto "$tmp/$p.auto.c" "$cc" && run $p.auto
  build $p.auto_avx "$tmp/$p.auto.c" "$cc" -mavx && run $p.auto_avx
  build $p.auto_avx2 "$tmp/$p.auto.c" "$cc" -mavx2 -mfma && run $p.auto_avx2
  same $p.avx2 $p.auto_avx2
  same $p.avx $p.auto_avx
  same $p.generic $p.auto
  same $p.portable $p.generic
  objdump -d "$tmp/$p.avx2" | grep -q vfmadd || fail "$p: --cpu avx2 built with plain cc has no FMA instruction"
  objdump -d "$tmp/$p.avx" | grep -q ymm || fail "$p: --cpu avx built with plain cc uses no ymm register"
  objdump -d "$tmp/$p.generic" | grep -q ymm && fail "$p: --cpu generic built with plain cc uses ymm registers"
  if command -v clang >/dev/null && [ "$cc" != clang ]; then
    build $p.clang "$tmp/$p.avx2.c" clang && run $p.clang
    build $p.clang_auto "$tmp/$p.auto.c" clang -mavx2 -mfma && run $p.clang_auto
    same $p.clang $p.clang_auto
  fi
done

flags=" $(grep -m1 '^flags' /proc/cpuinfo) "
has() { [[ $flags == *" $1 "* ]]; }
native=
if has avx2 && has fma && has avx512f && has avx512bw && has avx512dq && has avx512vl; then
  native=avx512
  has avx512_vnni && native=avx512vnni
elif has avx2 && has fma; then
  native=avx2
  has avx_vnni && native=avxvnni
elif ! has avx; then native=generic
fi
if [ -n "$native" ]; then
  "$tfxc" "$bert/model.onnx" -o "$tmp/d.c" --name m --dim batch=1 --dim seq=16 >/dev/null || fail "compile, no --cpu"
  "$tfxc" "$bert/model.onnx" -o "$tmp/n.c" --name m --dim batch=1 --dim seq=16 --cpu native >/dev/null ||
    fail "compile --cpu native"
  "$tfxc" "$bert/model.onnx" -o "$tmp/e.c" --name m --dim batch=1 --dim seq=16 --cpu $native >/dev/null ||
    fail "compile --cpu $native"
  sed -i 's/"[den]\.h"/"x.h"/' "$tmp/d.c" "$tmp/n.c" "$tmp/e.c"
  cmp -s "$tmp/d.c" "$tmp/e.c" || fail "the default is not --cpu $native on this machine"
  cmp -s "$tmp/n.c" "$tmp/e.c" || fail "--cpu native is not --cpu $native on this machine"
fi

# a processor without AVX2: __builtin_cpu_supports answers 0
nocpu="-D__builtin_cpu_supports(x)=0"
"$tfxc" "$bert/model.onnx" -o "$tmp/c.c" --name m --dim batch=1 --dim seq=16 --emit-main --cpu avx2 >/dev/null ||
  fail "compile --cpu avx2"
if build nocpu "$tmp/c.c" "$cc" "$nocpu"; then
  ins=$(ls "$bert"/test_data_set_4/input_*.pb)
  # shellcheck disable=SC2086
  if "$tmp/nocpu" $ins "$tmp/o0.pb" "$tmp/o1.pb" 2>"$tmp/nocpu.err"; then fail "--emit-main program ran without AVX2"; fi
  grep -q "m_init: the processor lacks AVX2 or FMA" "$tmp/nocpu.err" ||
    fail "--emit-main without AVX2: $(cat "$tmp/nocpu.err")"
  [ -e "$tmp/o0.pb" ] || [ -e "$tmp/o1.pb" ] && fail "--emit-main without AVX2 wrote an output"
fi
"$tfxc" "$bert/model.onnx" -o "$tmp/api.c" --name m --dim batch=1 --dim seq=16 --cpu avx2 >/dev/null ||
  fail "compile --cpu avx2 (API)"
cat >"$tmp/drv.c" <<'CEOF'
#include <stdio.h>
#include <string.h>
#include "api.h"
static unsigned char ws[M_WORKSPACE_BYTES + 64];
int main(void) {
  static m_ctx ctx;
  static int64_t ids[16], mask[16], types[16];
  static float hidden[16 * 32], pooled[32];
  void *w = ws + (16 - (size_t)ws % 16) % 16;
  int st = m_init(&ctx, w, M_WORKSPACE_BYTES, NULL, 0);
  if (st != M_ERR_CPU) { printf("init: %d, want M_ERR_CPU\n", st); return 1; }
  if (!strstr(m_status_str(st), "AVX2")) { printf("status text: %s\n", m_status_str(st)); return 1; }
  st = m_run(&ctx, ids, mask, types, hidden, pooled);
  if (st != M_ERR_STATE) { printf("run after a refused init: %d, want M_ERR_STATE\n", st); return 1; }
  return 0;
}
CEOF
# bert_tiny: m_run(ctx, input_ids, attention_mask, token_type_ids, last_hidden_state, pooler_output)
$cc $cflags "$nocpu" -I"$tmp" -o "$tmp/drv" "$tmp/drv.c" "$tmp/api.c" -lm || fail "API driver: build"
[ -x "$tmp/drv" ] && { "$tmp/drv" || fail "API driver without AVX2"; }

[ $fails -eq 0 ] && echo "cpu: all passed"
exit $((fails != 0))
