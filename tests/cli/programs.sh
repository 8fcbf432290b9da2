# programs.sh — sourced by the CLI tests that build generated --emit-main
# programs and compare their outputs.  The test sets tmp (its folder),
# cflags and fail(); run and same read nout (outputs per program) and ins
# (the input .pb files, one word each).

# build NAME C_FILE CC FLAGS...: the program NAME from C_FILE
build() {
  local name=$1 file=$2 compiler=$3
  shift 3
  $compiler $cflags "$@" -o "$tmp/$name" "$file" -lm 2>"$tmp/$name.log" || {
    fail "$name: build ($compiler $*)"
    head -5 "$tmp/$name.log"
    return 1
  }
}
# run NAME: the outputs of program NAME on $ins into NAME.K.pb
run() {
  local outs=() k
  for ((k = 0; k < nout; k++)); do outs+=("$tmp/$1.$k.pb"); done
  # shellcheck disable=SC2086
  "$tmp/$1" $ins "${outs[@]}" >/dev/null || fail "$1: run"
}
# same A B: the outputs of A and B are the same bytes
same() {
  local k
  for ((k = 0; k < nout; k++)); do
    cmp -s "$tmp/$1.$k.pb" "$tmp/$2.$k.pb" || fail "output $k of $1 differs from $2"
  done
}
