#!/usr/bin/env bash
# Builds tfxc and runs every test: unit tests, the command-line contract,
# the examples, model fixtures and the ONNX node conformance suite (one CTest
# per case), then prints the generated conformance report's summary line.
# A second build with AddressSanitizer and UndefinedBehaviorSanitizer runs
# every test again, and each conformance case a second time in --reference
# mode; there the generated code that `tfxc check` and the command-line
# tests build is compiled with the same sanitizers (CC), as are the examples
# (CMake).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
status=0
ctest --test-dir build -j"$jobs" --output-on-failure --output-junit ctest-results.xml || status=1
if [ -f build/ctest-results.xml ] && python3 -c "import onnx" 2>/dev/null; then
  python3 tests/conformance/report.py --junit build/ctest-results.xml -o build/conformance-report.md |
    tail -n 1
fi

cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTFX_SANITIZE=ON \
  -DTFX_CONFORMANCE_CASES="$PWD/build/conformance/cases" -DTFX_CONFORMANCE_REFERENCE=ON
cmake --build build-asan -j"$jobs"
# unit, cli, examples, models, the checker's self-test, and every
# conformance case through sanitized generated code and through the
# reference evaluator
CC="${CC:-cc} -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
  ctest --test-dir build-asan -j"$jobs" --output-on-failure || status=1

# Fuzzing: every libFuzzer target for TFX_FUZZ_SECONDS each (default 60 when
# CI=true, else off), in build-fuzz/ with clang.  A finding (crash, sanitizer
# report, leak, timeout) fails the run; its input is in
# build-fuzz/artifacts/<target>/.  In CI a clang without libFuzzer is an error
# (.ci/install-deps installs it); TFX_FUZZ_SECONDS=0 turns the step off.
fuzz_secs=${TFX_FUZZ_SECONDS:-}
if [ -z "$fuzz_secs" ] && [ "${CI:-}" = true ]; then fuzz_secs=60; fi
if [ -n "$fuzz_secs" ] && [ "$fuzz_secs" != 0 ]; then
  if tests/fuzz/run_fuzzers.sh --check; then
    JOBS=$jobs tests/fuzz/run_fuzzers.sh "$fuzz_secs" || status=1
  else
    echo "fuzz: clang cannot build libFuzzer programs (-fsanitize=fuzzer): step skipped"
    if [ "${CI:-}" = true ]; then status=1; fi
  fi
fi
exit $status
