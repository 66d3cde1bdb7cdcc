/**
 * The numeric core of quantization: fixed-point requantize math, quantization parameters and
 * streaming calibration. (The rounding and channel-layout helpers stay internal to this folder.)
 */
export * from './fixed-point.js';
export * from './params.js';
export * from './calibration/index.js';
export * from './data/index.js';
