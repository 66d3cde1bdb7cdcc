/** The reference interpreter: `interpret` a graph, `runNode` one node, and the op coverage. */
export { interpret, runNode, runOp, DEFAULT_OPSET, type InterpretOptions, type RunOpOptions } from './interpret.js';
export { hasKernel, supportedOps } from './registry.js';
