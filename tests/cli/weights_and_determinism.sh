#!/usr/bin/env bash
# The generated code's contract around weights and reproducibility:
#  - the same model and flags give byte-identical files;
#  - --weights=file gives the same outputs as embedded weights;
#  - a corrupt or truncated weights file is refused with an error status.
# usage: weights_and_determinism.sh TFXC CASE_DIR
set -u
tfxc=$1
case_dir=$2
cc=${CC:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
in=$case_dir/test_data_set_0/input_0.pb

mkdir "$tmp/a" "$tmp/b" "$tmp/f"
"$tfxc" "$case_dir/model.onnx" -o "$tmp/a/m.c" --dim seq=8 --emit-main || fail "compile a"
"$tfxc" "$case_dir/model.onnx" -o "$tmp/b/m.c" --dim seq=8 --emit-main || fail "compile b"
cmp -s "$tmp/a/m.c" "$tmp/b/m.c" && cmp -s "$tmp/a/m.h" "$tmp/b/m.h" && echo "ok   deterministic" || fail "two compiles differ"

"$tfxc" "$case_dir/model.onnx" -o "$tmp/f/m.c" --dim seq=8 --emit-main --weights=file || fail "compile file"
[ -s "$tmp/f/m.bin" ] && ! grep -q "m_c[0-9]" "$tmp/f/m.c" && echo "ok   weights in m.bin" || fail "weights not moved to m.bin"
$cc -std=c99 -O1 -Wall -Wextra -Werror -o "$tmp/a/prog" "$tmp/a/m.c" -lm || fail "build embedded"
$cc -std=c99 -O1 -Wall -Wextra -Werror -o "$tmp/f/prog" "$tmp/f/m.c" -lm || fail "build file"
"$tmp/a/prog" "$in" "$tmp/a/out.pb" || fail "run embedded"
"$tmp/f/prog" --weights "$tmp/f/m.bin" "$in" "$tmp/f/out.pb" || fail "run file"
cmp -s "$tmp/a/out.pb" "$tmp/f/out.pb" && echo "ok   file weights give identical outputs" || fail "outputs differ"

cp "$tmp/f/m.bin" "$tmp/f/bad.bin"
printf '\x55' | dd of="$tmp/f/bad.bin" bs=1 seek=200 conv=notrunc 2>/dev/null
if "$tmp/f/prog" --weights "$tmp/f/bad.bin" "$in" "$tmp/f/o2.pb" 2>"$tmp/err"; then fail "corrupt weights accepted"
else grep -qi "weights" "$tmp/err" && echo "ok   corrupt weights refused" || fail "corrupt weights: no message"; fi
head -c 1000 "$tmp/f/m.bin" >"$tmp/f/short.bin"
if "$tmp/f/prog" --weights "$tmp/f/short.bin" "$in" "$tmp/f/o3.pb" 2>/dev/null; then fail "truncated weights accepted"
else echo "ok   truncated weights refused"; fi
exit $((fails != 0))
