export * from './onnx/index.js';
export * from './io/index.js';
export * from './wasm/index.js';
export * from './runtime/index.js';
