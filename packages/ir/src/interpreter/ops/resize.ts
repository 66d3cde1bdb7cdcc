import type { Kernel } from '../kernel.js';
export const resizeKernels: Record<string, Kernel> = {};
