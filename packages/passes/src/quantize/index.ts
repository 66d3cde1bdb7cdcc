/**
 * The numeric core of quantization: fixed-point requantize math, quantization parameters and
 * streaming calibration.
 */
export * from './rounding.js';
export * from './channel-layout.js';
export * from './fixed-point.js';
export * from './params.js';
export * from './calibration/index.js';
export * from './data/index.js';
