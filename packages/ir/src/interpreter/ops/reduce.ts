import type { Kernel } from '../kernel.js';
export const reduceKernels: Record<string, Kernel> = {};
