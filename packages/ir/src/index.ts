export * from './dtype.js';
export * from './tensor.js';
export * from './errors.js';
export * from './graph.js';
export * from './printer.js';
export * from './clone.js';
export * from './schema/index.js';
export * from './verify/index.js';
