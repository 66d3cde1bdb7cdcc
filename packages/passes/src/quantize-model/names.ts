/**
 * Names of the values quantization adds, made from the name of the value they stand for:
 * `<x>_q` the quantized tensor, `<x>_scale` and `<x>_zp` its parameters (a fresh `_N` is appended
 * on a clash). Short on purpose: a quantized model spells each of them several times (the
 * initializer or output, and every node input that reads it), and with the long layer names of
 * exported models longer suffixes cost kilobytes.
 */
export const quantizedName = (base: string): string => `${base}_q`;
export const scaleName = (base: string): string => `${base}_scale`;
export const zeroPointName = (base: string): string => `${base}_zp`;
