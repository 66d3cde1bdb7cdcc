/**
 * quantize: float32 Conv / ConvTranspose / MatMul / Gemm to 8-bit integer arithmetic (or 8/16-bit weights).
 *
 *   mode=static, format=qdq (default):
 *     before:  %y = Conv(%x, %w, %b);  %z = Relu(%y)
 *     after:   %x = DequantizeLinear(QuantizeLinear(%x_float, sx, zx), sx, zx)
 *              %y_float = Conv(%x, DequantizeLinear(%w_q, sw[c], 0){axis=0}, DequantizeLinear(%b_q, sx·sw[c], 0){axis=0})
 *              %y = DequantizeLinear(QuantizeLinear(%y_float, sy, zy), sy, zy);  %z = Relu(%y)
 *   mode=static, format=qoperator: the same, then each DQ -> Conv/MatMul -> Q group fused into
 *     QLinearConv / QLinearMatMul (standard domain; Gemm stays QDQ; ConvTranspose, which has no
 *     standard integer form, is quantized weight-only), see emit-qoperator.ts.
 *   mode=dynamic: DynamicQuantizeLinear + MatMulInteger/ConvInteger + float rescale, see emit-dynamic.ts.
 *   mode=weight-only: DequantizeLinear(int8/int16 weight) feeding the float op.
 *
 * Steps (static): upgrade to opset >= 13 (per-axis DequantizeLinear); canonicalize (constants and
 * BatchNormalization folded into Conv, so the folded weights are what gets quantized); pick the
 * targets (targets.ts); run the float model on the samples and stream each activation into a
 * calibrator (calibrate.ts); choose parameters; emit (emit-qdq.ts); leave out convolution
 * attributes that hold their default (canonicalize/default-attributes.ts: the quantized file's
 * graph is a large share of its size past the weights).
 *
 * Math: activations asymmetric on [min(0, lo), max(0, hi)] from calibration (uint8 or int8);
 * weights int8 symmetric (zero point 0, [-127, 127]; 7 bits [-64, 64] with reduce-range) per
 * output channel; bias int32 with scale sx·sw[c] and zero point 0, so it adds into the int32
 * accumulator unchanged. reduce-range=auto is on for uint8 activations: x86 kernels without VNNI
 * sum u8·s8 pairs in int16 (VPMADDUBSW), which saturates unless weights use 7 bits.
 * `overrides` (overrides.ts) replace an activation's calibrated range, grid or dtype, or keep it
 * float; `preprocess` takes a preset or a spec string (quantize/data/preprocess-spec.ts).
 *
 * target-sqnr=DB (static only): after quantizing, the output SQNR against the float model is
 * measured on the samples; while below the target the quantized layer with the worst SQNR of its
 * own output (vs. its float twin) is kept in float and quantization is redone with the same
 * calibrated ranges, one layer at a time. The layers kept are reported through ctx.warn and the
 * `kept-float` stat.
 *
 * Preconditions: an inference model; inputs of the float model feed the samples by name.
 */
import { cloneModel, SlimcError, type Model, type Value } from '@slimc/ir';
import { definePass, type PassContext } from '../core/pass.js';
import { runCanonicalize } from '../canonicalize/index.js';
import { removeDefaultConvAttributes } from '../canonicalize/default-attributes.js';
import { DEFAULT_FOLD_SIZE_LIMIT } from '../fold-constants/index.js';
import { eliminateDeadCode } from '../eliminate-dead-code/index.js';
import { deduplicate } from '../deduplicate/index.js';
import { upgradeOpset } from '../upgrade-opset/index.js';
import type { QuantDType } from '../quantize/params.js';
import type { CalibrationMethod, CalibrationRange } from '../quantize/calibration/index.js';
import { activationParamsOf, computeBiasScale, quantizeActivation, quantizeBiasOperand, quantizeConstantOperand, weightParams, type WeightQuantOptions } from './emit-qdq.js';
import { fuseQOperators, quantizesActivations } from './emit-qoperator.js';
import { nameZeroPointsByValue } from './names.js';
import { quantizeDynamic, quantizeWeightsOnly } from './emit-dynamic.js';
import { calibrate, sampleSource, PREPROCESS_PRESETS } from './calibrate.js';
import { PREPROCESS_SYNTAX, normalizePreprocessOption } from '../quantize/data/preprocess-spec.js';
import { DEFAULT_OP_TYPES, activationValues, findTargets, nameMatcher, type QuantTarget } from './targets.js';
import { measureSqnr } from './sensitivity.js';
import { OVERRIDES_SYNTAX, activationGrid, checkOverrideNames, fixedRanges, normalizeOverrides, parseOverrides, type ActivationOverride } from './overrides.js';

export { DEFAULT_OP_TYPES, findTargets, targetOf, nameMatcher, type QuantTarget } from './targets.js';
export { PREPROCESS_PRESETS } from './calibrate.js';
export { parseOverrides, type ActivationOverride } from './overrides.js';

export const quantizeOptions = {
  mode: { type: 'enum', values: ['static', 'dynamic', 'weight-only'], default: 'static', description: 'what is quantized offline and what at run time' },
  format: { type: 'enum', values: ['qdq', 'qoperator'], default: 'qdq', description: 'QuantizeLinear/DequantizeLinear pairs, or QLinearConv/QLinearMatMul' },
  calibration: { type: 'enum', values: ['minmax', 'entropy', 'percentile', 'mse'], default: 'minmax', description: 'how activation ranges are chosen' },
  percentile: { type: 'number', default: 99.99, description: 'percentile of |x| kept by calibration=percentile' },
  'per-channel': { type: 'boolean', default: true, description: 'one weight scale per output channel' },
  'symmetric-weights': { type: 'boolean', default: true, description: 'weights symmetric about zero (zero point 0)' },
  activations: { type: 'enum', values: ['uint8', 'int8'], default: 'uint8', description: 'storage type of quantized activations' },
  'reduce-range': { type: 'enum', values: ['auto', 'on', 'off'], default: 'auto', description: '7-bit weights (auto: on with uint8 activations)' },
  'op-types': { type: 'list', default: DEFAULT_OP_TYPES, description: 'ops to quantize (Conv, ConvTranspose, MatMul, Gemm)' },
  exclude: { type: 'list', default: [], description: 'node names (or /regex/) to keep float' },
  overrides: {
    type: 'custom',
    syntax: OVERRIDES_SYNTAX,
    default: [],
    normalize: normalizeOverrides,
    description:
      'static, by activation name, winning over calibration: range (min, max), grid (scale with zp), dtype (int8|uint8) or float: [x:min:-1:max:1,y:scale:0.02:zp:128,z:dtype:int8,w:float]; API: { x: { min: -1, max: 1 }, y: { scale: 0.02, zeroPoint: 128 } }',
  },
  samples: { type: 'string', default: '', description: 'folder of calibration samples (.pb sets, .npy, images)' },
  preprocess: {
    type: 'custom',
    syntax: PREPROCESS_SYNTAX,
    default: 'none',
    normalize: (value: unknown) => normalizePreprocessOption(value, PREPROCESS_PRESETS),
    description: `preprocessing of image samples: a preset (${Object.keys(PREPROCESS_PRESETS).join(', ')}), and/or fields resize:HxW, height:H, width:W, keep-aspect:true|false, limit-side:N, multiple-of:M, pad-to:W|none, pad-value:V, scale:1/255, mean:M[:M:M], std:S[:S:S], channels:rgb|bgr, layout:nchw|nhwc, input:NAME (e.g. resize:32x100;mean:0.5;std:0.5 or paddle-cls;channels:rgb); API: also a PreprocessSpec object`,
  },
  'weight-bits': { type: 'integer', default: 8, description: 'weight-only: 8 or 16' },
  'target-sqnr': { type: 'number', default: 0, description: 'static: keep the most sensitive layers float until the output SQNR reaches this many dB (0: off)' },
} as const;

export interface QuantizeSettings {
  mode: 'static' | 'dynamic' | 'weight-only';
  format: 'qdq' | 'qoperator';
  calibration: CalibrationMethod;
  percentile: number;
  perChannel: boolean;
  symmetricWeights: boolean;
  activations: QuantDType;
  reduceRange: boolean;
  opTypes: readonly string[];
  exclude: readonly string[];
  /** Activation overrides by tensor name (static). */
  overrides: ReadonlyMap<string, ActivationOverride>;
  weightBits: 8 | 16;
  targetSqnr: number;
}

type RawOptions = Record<keyof typeof quantizeOptions, unknown>;

function settingsOf(o: RawOptions): QuantizeSettings {
  const activations = o.activations as QuantDType;
  const rr = o['reduce-range'] as string;
  const weightBits = o['weight-bits'] as number;
  if (weightBits !== 8 && weightBits !== 16) throw new SlimcError('invalid-argument', `expected 8 or 16, got ${weightBits}`, { field: 'option weight-bits' });
  return {
    mode: o.mode as QuantizeSettings['mode'],
    format: o.format as QuantizeSettings['format'],
    calibration: o.calibration as CalibrationMethod,
    percentile: o.percentile as number,
    perChannel: o['per-channel'] as boolean,
    symmetricWeights: o['symmetric-weights'] as boolean,
    activations,
    reduceRange: rr === 'on' || (rr === 'auto' && activations === 'uint8'),
    opTypes: o['op-types'] as string[],
    exclude: o.exclude as string[],
    overrides: parseOverrides(o.overrides as string[]),
    weightBits,
    targetSqnr: o['target-sqnr'] as number,
  };
}

function weightOptions(s: QuantizeSettings): WeightQuantOptions {
  return {
    dtype: s.mode === 'weight-only' && s.weightBits === 16 ? 'int16' : 'int8',
    symmetric: s.symmetricWeights,
    reduceRange: s.reduceRange && !(s.mode === 'weight-only' && s.weightBits === 16),
    perChannel: s.perChannel,
  };
}

/**
 * Static quantization of an already prepared model (opset >= 13, canonicalized) with the given
 * calibrated ranges, keyed by value name; `keepFloat` names the output values of layers to leave
 * float. Returns the targets and the (float) names of their outputs.
 */
export function emitStatic(
  model: Model,
  s: QuantizeSettings,
  ranges: ReadonlyMap<string, CalibrationRange>,
  keepFloat: ReadonlySet<string> = new Set(),
): { targets: QuantTarget[]; layerOutputs: string[] } {
  const excluded = nameMatcher(s.exclude);
  const targets = findTargets(model.graph, s.opTypes, excluded).filter(
    (t) =>
      !keepFloat.has(t.node.output(0).name) &&
      (!quantizesActivations(t, s.format) || [...t.activations.map((i) => t.node.input(i)!), t.node.output(0)].every((v) => ranges.has(v.name))),
  );
  const layerOutputs = targets.map((t) => t.node.output(0).name);
  const modelConstants = new Set(model.graph.initializers);
  const w = weightOptions(s);
  const bits = s.reduceRange ? 7 : 8;
  for (const v of activationValues(targets.filter((t) => quantizesActivations(t, s.format)))) {
    const grid = activationGrid(ranges.get(v.name)!, s.activations, s.overrides.get(v.name), v.name);
    if (grid) quantizeActivation(v, grid, 8);
  }
  for (const t of targets) {
    if (!quantizesActivations(t, s.format)) {
      // float compute: no u8·s8 pair sums to keep from saturating, so all 8 bits
      quantizeWeightsOnly(t, { ...w, reduceRange: false });
      continue;
    }
    let firstWeight: ReturnType<typeof weightParams> | undefined;
    for (const { index, axis } of t.weights) {
      const p = weightParams(t.node.input(index)!, axis, w);
      firstWeight ??= p;
      quantizeConstantOperand(t.node, index, p, bits);
    }
    const inputParams = activationParamsOf(t.node.input(0)!);
    if (t.bias !== undefined && firstWeight && inputParams) quantizeBiasOperand(t.node, t.bias, inputParams.scale, firstWeight);
  }
  if (s.format === 'qoperator') fuseQOperators(targets);
  // biases left in QDQ form (all of them in format=qdq) read their scale as sx · sw
  for (const t of targets) if (t.node.attached && t.bias !== undefined) computeBiasScale(t.node, t.bias);
  removeDefaultConvAttributes(model);
  eliminateDeadCode(model);
  // one constant per distinct scale / zero-point tensor (many per-channel zero points are equal)
  deduplicate(model);
  nameZeroPointsByValue(model, (v) => !modelConstants.has(v));
  return { targets, layerOutputs };
}

/** Upgrades to `opset` if below it, then canonicalizes: the float model every mode starts from. */
function prepare(model: Model, ctx: PassContext, opset: number): void {
  if (model.opset < opset) upgradeOpset(model, opset);
  // The context's opset was read before the upgrade.
  runCanonicalize(model, { ...ctx, opset: model.opset }, { sizeLimit: DEFAULT_FOLD_SIZE_LIMIT, maxRounds: 8, inferShapes: true });
}

/** Replaces the contents of `model` with those of `from` (the pass works in place). */
function adopt(model: Model, from: Model): void {
  model.graph = from.graph;
  model.opsetImports.clear();
  for (const [d, v] of from.opsetImports) model.opsetImports.set(d, v);
  model.irVersion = from.irVersion;
}

async function runStatic(model: Model, ctx: PassContext, s: QuantizeSettings, o: RawOptions) {
  const excluded = nameMatcher(s.exclude);
  const candidates = findTargets(model.graph, s.opTypes, excluded).filter((t) => quantizesActivations(t, s.format));
  const watched = activationValues(candidates);
  checkOverrideNames(s.overrides, watched.map((v) => v.name), (name) => model.graph.names.has(name), ctx.pass);
  const samplesOf = () => sampleSource(model, ctx, { samples: o.samples as string, preprocess: o.preprocess as string, count: 64 });
  // Every activation's grid fixed by an override: nothing to calibrate, no samples needed.
  const fixed = s.targetSqnr > 0 ? undefined : fixedRanges(watched.map((v) => v.name), s.overrides);
  const { ranges: byValue, runs } = fixed
    ? { ranges: new Map<Value, CalibrationRange>(), runs: 0 }
    : await calibrate(model, ctx, watched, samplesOf, { method: s.calibration, percentile: s.percentile });
  const ranges = new Map<string, CalibrationRange>(fixed);
  for (const [v, r] of byValue) ranges.set(v.name, r);
  const float = cloneModel(model);
  let quantized = cloneModel(float);
  let emitted = emitStatic(quantized, s, ranges);
  const keptFloat: string[] = [];
  if (s.targetSqnr > 0) {
    for (;;) {
      const m = await measureSqnr(float, quantized, emitted.layerOutputs, ctx, await samplesOf());
      if (m.outputSqnr >= s.targetSqnr || m.layers.length === 0) {
        if (m.outputSqnr < s.targetSqnr) ctx.warn(`output SQNR ${m.outputSqnr.toFixed(1)} dB stays below the ${s.targetSqnr} dB target with every layer float`);
        break;
      }
      const worst = m.layers[0]!;
      keptFloat.push(worst.output);
      ctx.warn(`output SQNR ${m.outputSqnr.toFixed(1)} dB < ${s.targetSqnr} dB: keeping the layer of ${worst.output} float (its output SQNR ${worst.sqnr.toFixed(1)} dB)`);
      quantized = cloneModel(float);
      emitted = emitStatic(quantized, s, ranges, new Set(keptFloat));
    }
  }
  adopt(model, quantized);
  const count = emitted.targets.length;
  return { changed: count > 0, stats: { quantized: count, 'calibration-samples': runs, 'kept-float': keptFloat.length } };
}

export const quantizePass = definePass({
  name: 'quantize',
  description: 'Quantize Conv/ConvTranspose/MatMul/Gemm to int8 (static QDQ or QOperator, dynamic, or weight-only)',
  kind: 'graph',
  options: quantizeOptions,
  async run(model, ctx, options) {
    const o = options as unknown as RawOptions;
    const s = settingsOf(o);
    const weightsOnly16 = s.mode === 'weight-only' && s.weightBits === 16;
    prepare(model, ctx, weightsOnly16 ? 21 : 13);
    if (s.mode === 'static') return runStatic(model, ctx, s, o);
    if (s.overrides.size) ctx.warn(`overrides apply to static quantization only; ignored in mode=${s.mode}`);
    const excluded = nameMatcher(s.exclude);
    const targets = findTargets(model.graph, s.opTypes, excluded);
    const w = weightOptions(s);
    let quantized = 0;
    for (const t of targets) {
      if (s.mode === 'dynamic') quantized += quantizeDynamic(t, w) ? 1 : 0;
      else quantized += quantizeWeightsOnly(t, w).length ? 1 : 0;
    }
    removeDefaultConvAttributes(model);
    eliminateDeadCode(model);
    return { changed: quantized > 0, stats: { quantized } };
  },
});
