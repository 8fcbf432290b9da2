#!/bin/sh
# consistency.sh TFXC HF_CASE ONNX_CASE — the safetensors-built model and the
# ONNX export of the same weights must compute the same function: compile
# both with `tfxc ... --emit-main`, build them with cc -O1, run both on the
# HF case's test_data_set_0 inputs, and require every output pair to agree
# with max|a - b| <= 1e-5 x max|output| (the larger max|.| of the two; integer
# outputs must be equal).  Symbolic dims (batch, seq, ...) are bound from the
# input .pb files, so each model is compiled for exactly that data.
#
# A small helper reads the .pb files; it includes the runtime's own TensorProto
# reader (runtime/tfx_pbio.c, the one generated programs use), so the test
# needs a C compiler but no Python.  Exit status: 0 agree, 1 differ or error,
# 2 usage.
set -u

if [ $# -ne 3 ]; then
  echo "usage: $0 TFXC HF_CASE ONNX_CASE" >&2
  exit 2
fi
tfxc=$1
hf=${2%/}
onnx=${3%/}
rtol=${TFX_CONSISTENCY_RTOL:-1e-5}
cc=${CC:-cc}
here=$(cd "$(dirname "$0")" && pwd)
pbio=$here/../../runtime/tfx_pbio.c
label="$(basename "$hf") (safetensors) vs $(basename "$onnx") (onnx)"

fail() {
  echo "FAIL $label: $*"
  exit 1
}

[ -f "$hf/config.json" ] || fail "$hf: no config.json"
[ -f "$onnx/model.onnx" ] || fail "$onnx: no model.onnx"
[ -f "$pbio" ] || fail "$pbio: not found"
ds=$hf/test_data_set_0
[ -f "$ds/input_0.pb" ] || fail "$ds: no input_0.pb"

work=$(mktemp -d "${TMPDIR:-/tmp}/tfxc-consistency-XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
trap 'exit 1' INT TERM

# ---- the .pb helper ---------------------------------------------------------
#   pbtool info FILE..    one line per file: FILE NAME DIM0 DIM1 ...
#   pbtool cmp RTOL A B   compare two tensors, print the errors, exit 1 if over
cat >"$work/pbtool.c" <<EOF
#include "$pbio"
#include <math.h>

/* The name (field 8) of an opened TensorProto, "" when it has none. */
static void pb_name(const tfx_pb_tensor *t, char *buf, size_t size) {
  const unsigned char *p = t->buf, *end = t->buf + t->len;
  tfx_pb_field f;
  buf[0] = 0;
  while (p < end && tfx_pb_next(&p, end, &f) == 0)
    if (f.field == 8 && f.wire == 2) {
      size_t n = f.len < size - 1 ? f.len : size - 1;
      memcpy(buf, f.data, n);
      buf[n] = 0;
    }
}

static double half_to_double(uint16_t h) {
  int e = (h >> 10) & 31, m = h & 1023;
  double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
  return h >> 15 ? -v : v;
}

static double elem(const tfx_pb_tensor *t, const void *data, int64_t i) {
  switch (t->data_type) {
  case 1: return ((const float *)data)[i];
  case 11: return ((const double *)data)[i];
  case 10: return half_to_double(((const uint16_t *)data)[i]);
  case 16: {
    uint32_t bits = (uint32_t)((const uint16_t *)data)[i] << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
  }
  default: return 0;
  }
}

static void *load(const char *path, tfx_pb_tensor *t) {
  char err[1024];
  void *data;
  size_t bytes;
  if (tfx_pb_open(path, t, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", err);
    return NULL;
  }
  bytes = (size_t)t->numel * tfx_pb_elem_size(t->data_type);
  data = malloc(bytes ? bytes : 1);
  if (!data || tfx_pb_read_data(path, t, data, bytes, err, sizeof err) != 0) {
    fprintf(stderr, "%s\n", data ? err : "out of memory");
    free(data);
    return NULL;
  }
  return data;
}

int main(int argc, char **argv) {
  char na[512], nb[512];
  tfx_pb_tensor a, b;
  void *da, *db;
  int k, is_float, ok;
  if (argc >= 2 && strcmp(argv[1], "info") == 0) {
    for (k = 2; k < argc; k++) {
      int d;
      char err[1024];
      if (tfx_pb_open(argv[k], &a, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
      }
      pb_name(&a, na, sizeof na);
      printf("%s %s", argv[k], na[0] ? na : "-");
      for (d = 0; d < a.rank; d++) printf(" %lld", (long long)a.dims[d]);
      printf("\n");
      tfx_pb_free(&a);
    }
    return 0;
  }
  if (argc != 5 || strcmp(argv[1], "cmp") != 0) {
    fprintf(stderr, "usage: pbtool info FILE.. | pbtool cmp RTOL A B\n");
    return 2;
  }
  if (!(da = load(argv[3], &a))) return 1;
  if (!(db = load(argv[4], &b))) return 1;
  pb_name(&a, na, sizeof na);
  pb_name(&b, nb, sizeof nb);
  if (strcmp(na, nb) != 0) {
    printf("outputs '%s' and '%s' have different names\n", na, nb);
    return 1;
  }
  ok = a.data_type == b.data_type && a.rank == b.rank;
  for (k = 0; ok && k < a.rank; k++) ok = a.dims[k] == b.dims[k];
  if (!ok) {
    printf("output '%s': dtype or shape differ (%s rank %d vs %s rank %d)\n", na,
           tfx_pb_type_name(a.data_type), a.rank, tfx_pb_type_name(b.data_type), b.rank);
    return 1;
  }
  is_float = a.data_type == 1 || a.data_type == 11 || a.data_type == 10 || a.data_type == 16;
  if (is_float) {
    double peak = 0, diff = 0, allowed;
    int64_t i, worst = 0;
    for (i = 0; i < a.numel; i++) {
      double x = elem(&a, da, i), y = elem(&b, db, i), d = fabs(x - y);
      if (!isfinite(x) || !isfinite(y)) {
        printf("output '%s': non-finite value at flat index %lld (%g, %g)\n", na, (long long)i, x, y);
        return 1;
      }
      if (fabs(x) > peak) peak = fabs(x);
      if (fabs(y) > peak) peak = fabs(y);
      if (d > diff) {
        diff = d;
        worst = i;
      }
    }
    allowed = atof(argv[2]) * peak;
    ok = diff <= allowed;
    printf("output '%s' %s: max|diff| %.3g at flat %lld, max|output| %.4g, allowed %.3g\n", na,
           ok ? "agrees" : "DIFFERS", diff, (long long)worst, peak, allowed);
  } else {
    ok = memcmp(da, db, (size_t)a.numel * tfx_pb_elem_size(a.data_type)) == 0;
    printf("output '%s' %s (%s, compared exactly)\n", na, ok ? "agrees" : "DIFFERS",
           tfx_pb_type_name(a.data_type));
  }
  free(da);
  free(db);
  tfx_pb_free(&a);
  tfx_pb_free(&b);
  return ok ? 0 : 1;
}
EOF
$cc -std=c99 -O1 -Wall -Wextra -Wno-unused-function -o "$work/pbtool" "$work/pbtool.c" -lm \
  >"$work/pbtool.log" 2>&1 || { cat "$work/pbtool.log"; fail "cannot build the .pb helper"; }
"$work/pbtool" info "$ds"/input_*.pb >"$work/inputs.txt" || fail "cannot read the inputs in $ds"

# ---- compile, build and run one model ----------------------------------------
# build MODEL TAG: $work/TAG (program), outputs in $work/TAG.out/out_K.pb
build() {
  model=$1
  tag=$2
  # tfxc names each symbolic dim of each input it needs; bind it from that
  # input's .pb (same name), and check all bindings of a symbol agree.
  "$tfxc" "$model" -o "$work/$tag.probe.c" >/dev/null 2>"$work/$tag.probe.log"
  dims=$(sed -n "s/.*input '\(.*\)' dim \([0-9]*\) is the symbol '\([^']*\)'.*/\1 \2 \3/p" \
           "$work/$tag.probe.log" |
         awk -v inputs="$work/inputs.txt" '
           BEGIN { while ((getline line < inputs) > 0) { n = split(line, f, " "); row[f[2]] = line } }
           {
             if (!($1 in row)) { err = "input " $1 " has no .pb"; exit }
             n = split(row[$1], f, " ")
             if ($2 + 3 > n) { err = "input " $1 " has rank " n - 2 " in its .pb"; exit }
             v = f[$2 + 3]
             if (($3 in val) && val[$3] != v) { err = "symbol " $3 " is " val[$3] " and " v; exit }
             if (!($3 in val)) { val[$3] = v; out = out sprintf("--dim %s=%s ", $3, v) }
           }
           END { print err != "" ? "ERROR " err : out }')
  case $dims in
    ERROR*) fail "$model: ${dims#ERROR }" ;;
  esac
  # shellcheck disable=SC2086 # dims is a list of words
  "$tfxc" "$model" -o "$work/$tag.c" --name "$tag" --emit-main $dims >"$work/$tag.tfxc.log" 2>&1 ||
    { cat "$work/$tag.tfxc.log"; fail "tfxc cannot compile $model ($dims)"; }
  (cd "$work" && $cc -std=c99 -O1 -Wall -Wextra -Werror -o "$tag" "$tag.c" -lm) >"$work/$tag.cc.log" 2>&1 ||
    { cat "$work/$tag.cc.log"; fail "the C generated from $model does not compile"; }

  # the program's inputs in its own order (its usage lists them), matched by name
  set --
  [ -f "$work/$tag.bin" ] && set -- --weights "$work/$tag.bin"
  for name in $("$work/$tag" --help 2>&1 | sed -n "s/^  input  '\(.*\)' .*/\1/p"); do
    file=$(awk -v n="$name" '$2 == n { print $1; exit }' "$work/inputs.txt")
    [ -n "$file" ] || fail "$model: input '$name' has no .pb in $ds"
    set -- "$@" "$file"
  done
  n_out=$("$work/$tag" --help 2>&1 | grep -c "^  output '")
  [ "$n_out" -gt 0 ] || fail "$model: the program lists no outputs"
  mkdir -p "$work/$tag.out"
  k=0
  while [ $k -lt "$n_out" ]; do
    set -- "$@" "$work/$tag.out/out_$k.pb"
    k=$((k + 1))
  done
  "$work/$tag" "$@" >"$work/$tag.run.log" 2>&1 ||
    { cat "$work/$tag.run.log"; fail "the program compiled from $model failed"; }
  echo "$n_out" >"$work/$tag.n_out"
}

build "$hf" hfm
build "$onnx/model.onnx" onnxm
n_hf=$(cat "$work/hfm.n_out")
n_onnx=$(cat "$work/onnxm.n_out")
[ "$n_hf" = "$n_onnx" ] || fail "the safetensors model has $n_hf outputs, the ONNX model $n_onnx"

status=0
k=0
while [ $k -lt "$n_hf" ]; do
  "$work/pbtool" cmp "$rtol" "$work/hfm.out/out_$k.pb" "$work/onnxm.out/out_$k.pb" || status=1
  k=$((k + 1))
done
if [ $status -eq 0 ]; then
  echo "PASS $label: $n_hf outputs agree within $rtol x max|output|"
else
  echo "FAIL $label: the outputs do not agree within $rtol x max|output| (see above)"
fi
exit $status
