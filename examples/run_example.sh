#!/usr/bin/env bash
# The main job, end to end: build tfxc, compile the shipped tiny encoder to C,
# build the generated code with the demo program, run it, and compare the
# generated code's outputs with the reference outputs stored beside the model.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target tfxc tiny_encoder_demo >/dev/null
echo "== tfxc examples/tiny_encoder/model.onnx -o build/examples/tiny_encoder/tiny_encoder.c --dim seq=8"
ls -l build/examples/tiny_encoder/tiny_encoder.c build/examples/tiny_encoder/tiny_encoder.h
echo "== running the generated code"
./build/examples/tiny_encoder_demo "$@"
echo "== comparing with the reference outputs (examples/tiny_encoder/test_data_set_0)"
./build/tfxc check examples/tiny_encoder
