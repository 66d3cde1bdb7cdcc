/**
 * How much of the kernel library's C stack a piece of work uses, measured by painting: between
 * calls into WebAssembly no C frame is live, so the whole stack region [end, base) may be filled
 * with a marker byte; after the work, the lowest address no longer holding the marker is as deep
 * as the stack went (the stack grows down from base). A frame that happens to write the marker
 * byte at its deepest address makes the figure a few bytes low, never more than that word.
 *
 * The build gives the stack 64 KB (scripts/build-wasm.sh); kernels keep large temporaries in
 * scratch buffers on the heap, so a run stays far below that (asserted in the memory test of
 * test/runtime-ort-exact.test.ts, printed by bench/runtime.mjs).
 */
import type { KernelLibrary } from '../wasm/kernel-library.js';

const STACK_MARKER = 0xa5;

/** The C stack region of `library`: [end, base). */
function stackRegion(library: KernelLibrary): { end: number; base: number } {
  return { end: library.exports.emscripten_stack_get_end(), base: library.exports.emscripten_stack_get_base() };
}

/** Size of the C stack region in bytes. */
export function stackSize(library: KernelLibrary): number {
  const { end, base } = stackRegion(library);
  return base - end;
}

/** Fills the whole C stack with the marker; call only from JS, with no WebAssembly call active. */
export function paintStack(library: KernelLibrary): void {
  const { end, base } = stackRegion(library);
  library.heapU8.fill(STACK_MARKER, end, base);
}

/** Bytes of C stack used since the last paintStack (the deepest point reached). */
export function stackUsed(library: KernelLibrary): number {
  const { end, base } = stackRegion(library);
  const heap = library.heapU8;
  let lowest = end;
  while (lowest < base && heap[lowest] === STACK_MARKER) lowest++;
  return base - lowest;
}
