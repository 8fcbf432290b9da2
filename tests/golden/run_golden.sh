#!/usr/bin/env bash
# Golden tests: the graph dump after each pass and the emitted C for small
# models must match the files committed here byte for byte.  A deliberate
# change to either is accepted by rerunning with --update and reviewing the
# diff.  usage: run_golden.sh TFXC REPO_ROOT [--update]
set -u
tfxc=$1
root=$2
update=${3:-}
here=$root/tests/golden
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

compare() { # compare GOLDEN_NAME PRODUCED_FILE
  if [ "$update" = --update ]; then cp "$2" "$here/$1"; echo "updated $1"; return; fi
  if diff -u "$here/$1" "$2" >"$tmp/diff"; then echo "ok   $1"
  else echo "FAIL $1 differs:"; head -40 "$tmp/diff"; fails=$((fails + 1)); fi
}

"$tfxc" "$root/examples/tiny_encoder/model.onnx" -o "$tmp/t.c" --dim seq=8 -O0 \
  --dump-after=toposort >"$tmp/imported.txt" || fails=$((fails + 1))
compare tiny_encoder.imported.txt "$tmp/imported.txt"
"$tfxc" "$root/examples/tiny_encoder/model.onnx" -o "$tmp/t.c" --dim seq=8 \
  --dump-after=dce >"$tmp/dce.txt" || fails=$((fails + 1))
compare tiny_encoder.dce.txt "$tmp/dce.txt"
"$tfxc" "$root/tests/data/bad/good.onnx" -o "$tmp/relu.c" --name relu --cpu avx2 || fails=$((fails + 1))
compare relu.c "$tmp/relu.c"
compare relu.h "$tmp/relu.h"
exit $((fails != 0))
