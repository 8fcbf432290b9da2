#!/usr/bin/env bash
# Weight-only quantisation end to end (--quantize-weights):
#  - int8 and int4 compiles of a GPT-2 fixture report their accuracy (the
#    summary's logits cosine must be >= 0.999 for int8, >= 0.98 for int4);
#  - the generated programs build warning-free, run, and their logits are close
#    to the float32 build's (cosine computed by a small C helper);
#  - int8 with groups along K (--group 128) too;
#  - --report FILE.json writes the figures as JSON (valid for python3 -m json.tool,
#    one entry per output and per weight, with cosine and the precision chosen);
#  - a budget (--max-error) that int4 cannot meet moves weights to int8 and says
#    which (summary, report, JSON), and the mixed program stays close to float32;
#    a tighter one keeps weights in float32;
#  - --no-gptq (round to nearest) is less accurate on int4 than the default GPTQ;
#  - bad flags are refused: --group 48 (exit 2), --quantize-kv=int8 without --max
#    (exit 1);
#  - --quantize-embeddings: the embedding tables become int8 (WeightQGather).
# usage: quantize.sh TFXC SOURCE_DIR
set -u
tfxc=$1
src=$2
cc=${CC:-cc}
case_dir=$src/tests/models/onnx/gpt2_tiny
model=$case_dir/model.onnx
in=$case_dir/test_data_set_3/input_0.pb # int64[1, 7]
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL $*"; fails=$((fails + 1)); }

# cosine and max abs difference of the float32 raw_data of two TensorProto files
cat >"$tmp/cmp.c" <<'CEOF'
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
static unsigned char buf[2][1 << 24];
static long raw(int w, const char *path, const unsigned char **out) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  long n = (long)fread(buf[w], 1, sizeof buf[w], f), i = 0;
  fclose(f);
  while (i < n) {
    unsigned long long key = 0, len = 0;
    int s = 0;
    do key |= (unsigned long long)(buf[w][i] & 127) << s, s += 7; while (buf[w][i++] & 128);
    if ((key & 7) == 0) { while (buf[w][i++] & 128) {} continue; }
    s = 0;
    do len |= (unsigned long long)(buf[w][i] & 127) << s, s += 7; while (buf[w][i++] & 128);
    if ((key >> 3) == 9) { *out = buf[w] + i; return (long)len; }
    i += (long)len;
  }
  return -1;
}
int main(int argc, char **argv) {
  const unsigned char *a, *b;
  long na = argc == 3 ? raw(0, argv[1], &a) : -1, nb = argc == 3 ? raw(1, argv[2], &b) : -2;
  if (na < 0 || na != nb) { fprintf(stderr, "cmp: bad or different outputs\n"); return 2; }
  double dot = 0, sa = 0, sb = 0, mx = 0;
  for (long i = 0; i < na / 4; i++) {
    float x, y;
    memcpy(&x, a + 4 * i, 4), memcpy(&y, b + 4 * i, 4);
    dot += (double)x * y, sa += (double)x * x, sb += (double)y * y;
    if (fabs((double)x - y) > mx) mx = fabs((double)x - y);
  }
  printf("%.6f %.6g\n", dot / sqrt(sa * sb), mx);
  return 0;
}
CEOF
sed -i '1i #include <string.h>' "$tmp/cmp.c"
$cc -std=c99 -O1 -o "$tmp/cmp" "$tmp/cmp.c" -lm || { echo "FAIL helper"; exit 1; }

mkdir "$tmp/f32"
"$tfxc" "$model" -o "$tmp/f32/m.c" --dim batch=1 --dim seq=7 --emit-main || fail "compile float32"
$cc -std=c99 -O1 -Wall -Wextra -Werror -o "$tmp/f32/prog" "$tmp/f32/m.c" -lm || fail "build float32"
"$tmp/f32/prog" "$in" "$tmp/f32/out.pb" || fail "run float32"

# variant flags min_report_cosine min_program_cosine
check() {
  local v=$1 flags=$2 want_rep=$3 want_prog=$4
  mkdir "$tmp/$v"
  if ! "$tfxc" "$model" -o "$tmp/$v/m.c" --dim batch=1 --dim seq=7 --emit-main $flags \
       --report "$tmp/$v/report.txt" 2>"$tmp/$v/err"; then
    fail "$v: compile"; cat "$tmp/$v/err"; return
  fi
  local line cos
  line=$(grep '^tfxc: int' "$tmp/$v/err")
  cos=$(echo "$line" | sed -n 's/.*logits cosine \([0-9.]*\).*/\1/p')
  [ -n "$cos" ] && awk -v c="$cos" -v w="$want_rep" 'BEGIN { exit !(c >= w) }' \
    && echo "ok   $v report: $line" || fail "$v report: '$line'"
  grep -q "per weight" "$tmp/$v/report.txt" && grep -q "c_proj.weight" "$tmp/$v/report.txt" \
    && echo "ok   $v report file lists the weights" || fail "$v report file"
  grep -q "WeightQMatMul" "$tmp/$v/m.c" || fail "$v: no quantised product in the code"
  $cc -std=c99 -O1 -Wall -Wextra -Werror -o "$tmp/$v/prog" "$tmp/$v/m.c" -lm || { fail "$v build"; return; }
  "$tmp/$v/prog" "$in" "$tmp/$v/out.pb" || { fail "$v run"; return; }
  local res
  res=$("$tmp/cmp" "$tmp/f32/out.pb" "$tmp/$v/out.pb")
  awk -v c="${res%% *}" -v w="$want_prog" 'BEGIN { exit !(c >= w) }' \
    && echo "ok   $v program vs float32: cosine/max err $res" || fail "$v program vs float32: $res"
}
check int8 "--quantize-weights=int8" 0.999 0.999
check int4 "--quantize-weights=int4" 0.99 0.99
check int4rtn "--quantize-weights=int4 --no-gptq" 0.98 0.98
grep -q "| gptq$" "$tmp/int4/report.txt" && echo "ok   int4: GPTQ kept for some weights" || fail "int4: no GPTQ weight"
! grep -q "| gptq$" "$tmp/int4rtn/report.txt" && echo "ok   --no-gptq: round to nearest" || fail "--no-gptq: GPTQ used"
c_g=$("$tmp/cmp" "$tmp/f32/out.pb" "$tmp/int4/out.pb"); c_r=$("$tmp/cmp" "$tmp/f32/out.pb" "$tmp/int4rtn/out.pb")
awk -v g="${c_g%% *}" -v r="${c_r%% *}" 'BEGIN { exit !(g > r) }' \
  && echo "ok   int4 GPTQ closer to float32 than round to nearest (${c_g%% *} > ${c_r%% *})" || fail "int4 GPTQ $c_g vs $c_r"
check int4g64 "--quantize-weights=int4 --group 64" 0.98 0.98
check int8head "--quantize-weights=int8 --quantize-lm-head" 0.999 0.999
check int8g32 "--quantize-weights=int8 --group 32" 0.999 0.999
# the embedding tables in int8 rows (the tied case is in tests/unit/test_quantize.c)
check int8emb "--quantize-weights=int8 --quantize-embeddings --quantize-lm-head" 0.999 0.999
grep -q "WeightQGather" "$tmp/int8emb/m.c" && echo "ok   int8emb: the token table is int8" || fail "int8emb: no WeightQGather"

# mixed precision: the budget moves the worst int4 weights to int8, named in the report
check mixed "--quantize-weights=int4 --max-error 0.0002" 0.9998 0.999
grep -q "keeping .* in int8" "$tmp/mixed/err" && grep -q "int4 + [1-9][0-9]* int8" "$tmp/mixed/err" \
  && grep -q "int8 for the budget 0.0002: model" "$tmp/mixed/report.txt" \
  && grep -q "c_fc.weight *int8 per channel" "$tmp/mixed/report.txt" \
  && echo "ok   mixed: some weights int8, named" || fail "mixed: no weight int8 or not named"
grep -q "weight\.q8" "$tmp/mixed/m.c" && grep -q "weight\.q4" "$tmp/mixed/m.c" \
  && echo "ok   mixed: int8 and int4 weights in the code" || fail "mixed: the code is not mixed"

# the JSON report
mkdir "$tmp/json"
if "$tfxc" "$model" -o "$tmp/json/m.c" --dim batch=1 --dim seq=7 --quantize-weights=int4 \
     --report "$tmp/json/r.json" 2>"$tmp/json/err"; then
  if python3 -m json.tool "$tmp/json/r.json" >/dev/null; then
    python3 - "$tmp/json/r.json" <<'PEOF' && echo "ok   JSON report" || fail "JSON report contents"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["weights"] == "int4 g32" and r["quantised"] >= 1, r
out = r["outputs"][0]
assert out["name"] == "logits" and 0.9 < out["cosine"] <= 1 and "top1_agreement" in out and "kl_divergence" in out
assert len(r["per_weight"]) == r["quantised"]
w = r["per_weight"][0]
assert w["precision"] == "int4 g32" and 0.9 < w["alone"]["cosine"] <= 1 and 0 <= w["awq_alpha"] <= 1
assert any(x["gptq"] for x in r["per_weight"])
PEOF
  else fail "JSON report is not valid JSON"; fi
else fail "JSON report compile"; cat "$tmp/json/err"; fi
if "$tfxc" "$model" -o "$tmp/json/m2.c" --dim batch=1 --dim seq=7 --quantize-weights=int4 --max-error 0.0002 \
     --report "$tmp/json/mixed.json" 2>"$tmp/json/err2"; then
  python3 - "$tmp/json/mixed.json" <<'PEOF' && echo "ok   JSON report: precision per weight" || fail "JSON mixed precision"
import json, sys
r = json.load(open(sys.argv[1]))
prec = [w["precision"] for w in r["per_weight"]]
assert r["int8_for_budget"] == prec.count("int8 per channel") >= 1 and "int4 g32" in prec, r
PEOF
else fail "JSON mixed compile"; cat "$tmp/json/err2"; fi

# the weights shrink: int8 constants are 1 byte
s32=$(wc -c <"$tmp/f32/m.c"); s8=$(wc -c <"$tmp/int8/m.c")
[ "$s8" -lt "$s32" ] && echo "ok   int8 source smaller ($s8 < $s32 bytes)" || fail "int8 source not smaller"

# a budget tighter than int8 can meet keeps weights float32 and names them
mkdir "$tmp/budget"
if "$tfxc" "$model" -o "$tmp/budget/m.c" --dim batch=1 --dim seq=7 --quantize-weights=int4 --max-error 0.0000002 \
     2>"$tmp/budget/err"; then
  grep -q "keeping .* in float32" "$tmp/budget/err" && echo "ok   budget keeps weights in float32" \
    || fail "budget: nothing kept"
  cos=$(grep '^tfxc: int' "$tmp/budget/err" | sed -n 's/.*logits cosine \([0-9.]*\).*/\1/p')
  awk -v c="$cos" 'BEGIN { exit !(c >= 0.9999) }' && echo "ok   budget met ($cos)" || fail "budget not met ($cos)"
else fail "budget compile"; cat "$tmp/budget/err"; fi

# bad flags
"$tfxc" "$model" -o "$tmp/x.c" --dim batch=1 --dim seq=7 --quantize-weights=int4 --group 48 2>/dev/null
rc=$?; [ $rc -eq 2 ] && echo "ok   --group 48 refused" || fail "--group 48: exit $rc"
"$tfxc" "$model" -o "$tmp/x.c" --dim batch=1 --dim seq=7 --quantize-kv=int8 2>/dev/null
rc=$?; [ $rc -eq 1 ] && echo "ok   --quantize-kv without --max refused" || fail "--quantize-kv without --max: exit $rc"
exit $((fails != 0))
