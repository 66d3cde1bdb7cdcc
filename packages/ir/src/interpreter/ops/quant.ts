import type { Kernel } from '../kernel.js';
export const quantKernels: Record<string, Kernel> = {};
