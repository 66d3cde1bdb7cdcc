import type { Kernel } from '../kernel.js';
export const normKernels: Record<string, Kernel> = {};
