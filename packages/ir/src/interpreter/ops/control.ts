import type { Kernel } from '../kernel.js';
export const controlKernels: Record<string, Kernel> = {};
