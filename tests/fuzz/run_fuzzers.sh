#!/bin/sh
# run_fuzzers.sh SECONDS [TARGET...] — build the clang fuzz configuration in
# build-fuzz/ (CC=clang, -DTFX_FUZZ=ON -DTFX_SANITIZE=ON), seed each target's
# corpus from the repository's fixtures and conformance models, and run every
# target (or the ones named) for SECONDS each, one after another.
# Findings land in build-fuzz/artifacts/<target>/, logs in build-fuzz/logs/.
# A crashing input, once fixed, belongs in tests/fuzz/regress/<target>/.
# Environment: JOBS (build parallelism, default 2), FUZZ_FLAGS (extra
# libFuzzer flags).  Exit status 1 if any target reported a finding (crash,
# sanitizer report, leak, timeout, out of memory); its log is printed.
# run_fuzzers.sh --check: exit 0 when clang can build and run a libFuzzer
# program (-fsanitize=fuzzer,address,undefined), 1 otherwise.
set -eu

# Whether clang, libFuzzer and the sanitizer runtimes work here.
fuzzer_works() {
  command -v clang >/dev/null 2>&1 || return 1
  probe=$(mktemp -d)
  printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' >"$probe/p.c"
  ok=0
  if clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" >"$probe/log" 2>&1 &&
    "$probe/p" -runs=10 >>"$probe/log" 2>&1; then
    ok=1
  fi
  rm -rf "$probe"
  [ $ok = 1 ]
}
if [ "${1:-}" = --check ]; then
  fuzzer_works
  exit
fi

secs=${1:?usage: run_fuzzers.sh SECONDS [TARGET...] | --check}
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
bld=$root/build-fuzz
targets=${*:-fuzz_onnx fuzz_safetensors fuzz_config fuzz_tensorproto fuzz_pbio}

CC=clang cmake -S "$root" -B "$bld" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTFX_FUZZ=ON -DTFX_SANITIZE=ON \
  -DTFX_CONFORMANCE=OFF >/dev/null
cmake --build "$bld" -j"${JOBS:-2}" --target $targets >/dev/null

# seed DEST FILE... : copy files into DEST, named after their paths.
seed() {
  dest=$1
  shift
  mkdir -p "$dest"
  for f in "$@"; do
    [ -f "$f" ] || continue
    cp "$f" "$dest/$(echo "${f#"$root"/}" | tr '/' '_')"
  done
}
# Conformance models: ~100 small ones spread over the operators (every 15th
# by name of those under 8 KiB) from build/conformance/cases or /tmp/nodegen.
conf=$root/build/conformance/cases
[ -d "$conf" ] || conf=/tmp/nodegen
small_models() {
  [ -d "$conf" ] || return 0
  find "$conf" -maxdepth 2 -name model.onnx -size -8k 2>/dev/null | sort | awk 'NR % 15 == 0' | head -100
}
small_pbs() {
  [ -d "$conf" ] || return 0
  find "$conf" -path '*test_data_set_0/*.pb' -size -4k 2>/dev/null | sort | awk 'NR % 40 == 0' | head -100
}

corpus=$bld/corpus
for t in $targets; do
  case $t in
  fuzz_onnx)
    # shellcheck disable=SC2046
    seed "$corpus/$t" "$root"/tests/data/onnx/*.onnx "$root"/tests/data/bad/*.onnx \
      "$root"/examples/tiny_encoder/model.onnx $(small_models) \
      $(find "$root/tests/bad/cases" -name '*.onnx' -size -8k) ;;
  fuzz_safetensors)
    # shellcheck disable=SC2046
    seed "$corpus/$t" $(find "$root/tests/data/safetensors" "$root/tests/bad/cases" -name '*.safetensors') ;;
  fuzz_config)
    seed "$corpus/$t" "$root"/tests/models/hf/*/config.json "$root"/tests/bad/cases/cfg_*/config.json ;;
  fuzz_tensorproto | fuzz_pbio)
    # shellcheck disable=SC2046
    seed "$corpus/$t" "$root"/tests/data/onnx/*.pb $(find "$root/tests/models" -name '*.pb' -size -16k) $(small_pbs) \
      $(find "$root/tests/bad/cases" -name '*.pb') ;;
  esac
  seed "$corpus/$t" "$root"/tests/fuzz/regress/"$t"/*
done

export UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}"
status=0
mkdir -p "$bld/logs"
for t in $targets; do
  mkdir -p "$bld/artifacts/$t"
  echo "== $t: $secs s"
  # shellcheck disable=SC2086
  if ! "$bld/tests/fuzz/$t" -max_total_time="$secs" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 \
      -artifact_prefix="$bld/artifacts/$t/" ${FUZZ_FLAGS:-} "$corpus/$t" >"$bld/logs/$t.log" 2>&1; then
    status=1
    echo "   FINDING: see $bld/logs/$t.log and $bld/artifacts/$t/"
    # the report (stack, sanitizer message, reproducer) for a CI log
    grep -v -E '^#[0-9]+ ' "$bld/logs/$t.log" | tail -n 60 | sed 's/^/   | /'
  fi
  grep -E '^#[0-9]+ *DONE|stat::number_of_executed_units|cov:' "$bld/logs/$t.log" | tail -2 | sed 's/^/   /'
done
exit $status
