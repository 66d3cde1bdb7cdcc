#!/usr/bin/env bash
# Builds packages/backends/wasm/slimc_kernels.wasm from packages/backends/kernels with emscripten
# (Debian emscripten 3.1.6, WebAssembly SIMD128, standalone wasm with no JS glue).
#   scripts/build-wasm.sh           rebuild the committed .wasm
#   scripts/build-wasm.sh --check   rebuild into a temp dir; fail if it differs from the committed one
# The emscripten cache lives in .cache/emscripten, or $SLIMC_EM_CACHE (the system config freezes
# its own cache); the first build compiles libc into it (two to four minutes).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kernels="$repo/packages/backends/kernels"
committed="$repo/packages/backends/wasm/slimc_kernels.wasm"

export EM_CONFIG="$kernels/emscripten.config.py"
export NODE_PATH="${NODE_PATH:+$NODE_PATH:}/usr/share/nodejs" # its optimizer needs Debian's acorn
mkdir -p "$repo/.cache/emscripten"

command -v emcc >/dev/null || { echo "build-wasm: emcc not found (apt-get install emscripten)" >&2; exit 1; }

# every public function of the header, plus the allocator the loader uses and the stack's limits
exports="$(grep -oE '\bslimc_[a-z0-9_]+\(' "$kernels/include/slimc_kernels.h" | tr -d '(' | sort -u |
  sed 's/^/_/' | paste -sd, -)"
exports="$exports,_malloc,_aligned_alloc,_free,_emscripten_stack_get_base,_emscripten_stack_get_end"

build() {
  local out="$1"
  # -ffile-prefix-map keeps absolute paths out of the binary so any checkout builds the same bytes;
  # a 16 KB stack: kernels keep temporaries in heap scratch, and the runs use at most 1 KB (measured
  # by painting the stack, asserted in test/runtime-ort-exact.test.ts); INITIAL_MEMORY=64KB, one
  # page holding the stack and static data: memory grows as weights, scratch and activations need
  # it, so a small model's footprint is its own. The stack limits are exported for that measure.
  emcc -O3 -msimd128 -std=c11 -Wall -Wextra -Wno-unused-parameter \
    -ffile-prefix-map="$repo"=. \
    -I"$kernels/include" -I"$kernels/src" "$kernels"/src/*.c \
    --no-entry -sSTANDALONE_WASM=1 -sALLOW_MEMORY_GROWTH=1 -sTOTAL_STACK=16KB -sINITIAL_MEMORY=64KB \
    -sEXPORTED_FUNCTIONS="$exports" -o "$out"
}

if [[ "${1:-}" == "--check" ]]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  build "$tmp/slimc_kernels.wasm"
  if cmp -s "$tmp/slimc_kernels.wasm" "$committed"; then
    echo "build-wasm: $committed is up to date"
  else
    echo "build-wasm: $committed differs from a fresh build; run scripts/build-wasm.sh and commit" >&2
    exit 1
  fi
else
  mkdir -p "$(dirname "$committed")"
  build "$committed"
  echo "build-wasm: wrote $committed ($(stat -c %s "$committed") bytes)"
fi
