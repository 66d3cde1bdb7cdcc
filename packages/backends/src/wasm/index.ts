/** The WebAssembly kernel library: loader and typed wrappers. */
export * from './kernel-library.js';
export { KERNEL_FUNCTIONS, type KernelExports } from './exports.js';
