/**
 * The table of kernels, keyed by qualified op name (`Conv`, or `domain:Op` outside the default
 * ONNX domain). Adding an op means adding it to one of the family tables listed here.
 */
import type { Kernel } from './kernel.js';
import { controlKernels } from './ops/control.js';
import { convKernels } from './ops/conv.js';
import { elementwiseKernels } from './ops/elementwise.js';
import { linalgKernels } from './ops/linalg.js';
import { lossKernels } from './ops/loss.js';
import { matmulKernels } from './ops/matmul.js';
import { miscKernels } from './ops/misc.js';
import { normKernels } from './ops/norm.js';
import { poolKernels } from './ops/pool.js';
import { quantKernels } from './ops/quant.js';
import { reduceKernels } from './ops/reduce.js';
import { resizeKernels } from './ops/resize.js';
import { rnnKernels } from './ops/rnn.js';
import { shapeKernels } from './ops/shape.js';
import { signalKernels } from './ops/signal.js';

const KERNELS = new Map<string, Kernel>(
  Object.entries({
    ...elementwiseKernels,
    ...shapeKernels,
    ...matmulKernels,
    ...convKernels,
    ...poolKernels,
    ...reduceKernels,
    ...normKernels,
    ...resizeKernels,
    ...rnnKernels,
    ...controlKernels,
    ...quantKernels,
    ...miscKernels,
    ...lossKernels,
    ...linalgKernels,
    ...signalKernels,
  }),
);

/** `Op` for the default domain ('' or 'ai.onnx'), `domain:Op` otherwise. */
export function qualifiedOpName(op: string, domain = ''): string {
  return domain && domain !== 'ai.onnx' ? `${domain}:${op}` : op;
}

export function kernelFor(op: string, domain = ''): Kernel | undefined {
  return KERNELS.get(qualifiedOpName(op, domain));
}

export function hasKernel(op: string, domain = ''): boolean {
  return KERNELS.has(qualifiedOpName(op, domain));
}

/** Every op the interpreter runs, sorted ('Op' or 'domain:Op'). */
export function supportedOps(): string[] {
  return [...KERNELS.keys()].sort();
}
