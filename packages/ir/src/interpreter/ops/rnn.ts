import type { Kernel } from '../kernel.js';
export const rnnKernels: Record<string, Kernel> = {};
