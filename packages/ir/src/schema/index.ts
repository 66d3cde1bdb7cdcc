/** Op schemas (signatures, attributes, type constraints) and shape/type inference. */
export type { AttributeSpec, InferContext, InferFn, OpSchema, PortArity, PortSpec } from './types.js';
export { allSchemas, getSchema, knownOps } from './table.js';
export { broadcastShapes, constantNodeTensor } from './infer-ops.js';
export { constantTensorOf, inferShapes, mergeTypes } from './infer.js';
