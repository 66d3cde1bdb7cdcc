/**
 * Lowering of an IR model to the runtime's execution plan: a list of steps in topological order,
 * each naming the values it reads and writes.
 *
 * Recognised groups (everything else is one `interp` step running the reference interpreter):
 *   float   Conv (2-D)                     [-> Relu | Clip]  ==> conv-f32   (SIMD kernel, NHWC)
 *   float   MatMul(x, W const 2-D) / Gemm(x, W const, c const) [-> Relu|Clip] ==> gemm-f32
 *   QDQ     Q([Relu|Clip](Conv(DQ(x), DQ(W const), [DQ(bias int32 const)])))        ==> conv-q8
 *   QDQ     Q([Relu|Clip](MatMul(DQ(x), DQ(W const 2-D)) | Gemm(DQ(x), DQ(W), DQ(b)))) ==> gemm-q8
 *   QDQ     Q([Relu|Clip](Add | Mul (DQ(a), DQ(b))))  (same static size, or a scalar side) ==> add-q8 / mul-q8
 *   QDQ     Q([Relu|Clip](Sigmoid | HardSigmoid | HardSwish (DQ(x))))   (256-entry table)   ==> lut-q8
 *   QDQ     Q(f(DQ(x))), f any graph of elementwise float ops with scalar constants (lut-region.ts) ==> lut-q8 (fn 'table')
 *   QDQ     f(DQ(x)) as above, its float result read by other ops                                 ==> lut-f32
 *   QDQ     Q(Concat(DQ(x1), DQ(x2), ...))    (each input rescaled to the output grid)          ==> concat-q8
 *   QDQ     Q(MaxPool | AveragePool | GlobalAveragePool (DQ(x)))                          ==> pool-q8
 *   QOperator QLinearConv / QLinearMatMul with constant weights                           ==> conv-q8 / gemm-q8
 *   MatMulInteger(x, W const 2-D) (int32 out, exact)                                       ==> matmul-i32
 * (ConvInteger stays in the interpreter: the kernels have no int32-output convolution.)
 * Constant nodes become plan constants. Dequantized operands are read in their integer form; the
 * DequantizeLinear steps themselves survive only if something else reads their float output
 * (dead steps are dropped at the end). A DequantizeLinear of constants that only ConvTranspose
 * reads (its int8 weights) is folded into a float constant at load.
 *
 * Integer requantization uses real multipliers computed as onnxruntime and the interpreter do
 * (M = float32(float32(s_x * s_w) / s_y)). Convolutions and matrix products apply them as ONNX
 * does by default (float32 product, rounded half to even once: bit-identical to the interpreter on
 * QLinear ops), or in gemmlowp fixed point with `requantize: 'fixed-point'` (RuntimeOptions);
 * add/mul/concat/average pooling always use fixed point (ties away from zero); GlobalAveragePool
 * follows the interpreter's float steps (dequantized codes, double sum, float32 mean and quotient).
 * A fused Relu/Clip becomes clamp bounds: Relu -> [zp_y, max], Clip(a, b) -> [Q(a), Q(b)], valid
 * because Q is monotone.
 */
import {
  SlimcError,
  capturedValues,
  integerRange,
  runNode,
  shapeSize,
  toFloat64,
  topologicalOrder,
  type DType,
  type Dim,
  type Model,
  type Node,
  type Tensor,
  type Value,
} from '@slimc/ir';
import { matchFloatTableRegion, matchTableRegion } from './lut-region.js';

export interface PlanValue {
  name: string;
  dtype: DType;
  shape?: Dim[];
}

export type Q8Type = 'int8' | 'uint8';

/** Clamp bounds of an output; null where unbounded. */
export type Clamp = [number | null, number | null];

/** 2-D window attributes as ONNX gives them (pads [top, left, bottom, right]). */
export interface WindowAttrs {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pads: [number, number, number, number];
  autoPad: string;
  group: number;
}

export interface QuantOperand {
  scale: number;
  zeroPoint: number;
  type: Q8Type;
}

interface StepBase {
  /** The root node's label, for messages. */
  node: string;
  output: string;
}

export type PlanStep =
  | { kind: 'interp'; node: Node; inputs: (string | null)[]; outputs: (string | null)[] }
  | (StepBase & { kind: 'conv-f32'; input: string; weight: string; bias: string | null; window: WindowAttrs; clamp: Clamp })
  | (StepBase & {
      kind: 'gemm-f32'; input: string; weight: string; bias: string | null; transB: boolean; alpha: number; beta: number;
      clamp: Clamp;
    })
  | (StepBase & {
      kind: 'conv-q8'; input: string; inputQuant: QuantOperand; weight: string; weightZeroPoints: number[];
      bias: string | null; multipliers: number[]; outputQuant: QuantOperand; clamp: Clamp; window: WindowAttrs;
    })
  | (StepBase & {
      kind: 'gemm-q8'; input: string; inputQuant: QuantOperand; weight: string; weightZeroPoints: number[]; transB: boolean;
      bias: string | null; multipliers: number[]; outputQuant: QuantOperand; clamp: Clamp;
    })
  | (StepBase & {
      kind: 'matmul-i32'; input: string; inputQuant: QuantOperand; weight: string; weightZeroPoints: number[]; bias: null;
    })
  | (StepBase & {
      kind: 'add-q8' | 'mul-q8'; a: string; aQuant: QuantOperand; b: string; bQuant: QuantOperand; outputQuant: QuantOperand;
      clamp: Clamp;
    })
  | (StepBase & { kind: 'concat-q8'; axis: number; inputs: string[]; inputQuants: QuantOperand[]; outputQuant: QuantOperand; clamp: Clamp })
  | (StepBase & {
      kind: 'lut-q8'; fn: 'sigmoid' | 'hardsigmoid' | 'hardswish' | 'table'; alpha: number; beta: number; input: string;
      inputQuant: QuantOperand; outputQuant: QuantOperand; clamp: Clamp;
      /** fn 'table': the constant holding the 256 output codes (lut-region.ts), and the output's least rank. */
      table?: string; rank?: number;
    })
  | (StepBase & {
      /** A DequantizeLinear -> elementwise float region (lut-region.ts): `table` holds 256 float32 results. */
      kind: 'lut-f32'; input: string; inputQuant: QuantOperand; table: string; rank: number;
    })
  | (StepBase & {
      kind: 'pool-q8'; pool: 'max' | 'average' | 'global-average'; input: string; inputQuant: QuantOperand;
      outputQuant: QuantOperand; window: WindowAttrs | null; countIncludePad: boolean; clamp: Clamp;
    });

export type KernelStep = Exclude<PlanStep, { kind: 'interp' }>;

export interface Plan {
  opset: number;
  inputs: PlanValue[];
  outputs: string[];
  /** Weights and every other constant, by value name. */
  constants: Map<string, Tensor>;
  steps: PlanStep[];
}

export interface LowerOptions {
  /**
   * Fuse Relu/Clip into the producing kernel (default true). Off when every node's output must
   * be observable (calibration).
   */
  fuseActivations?: boolean;
}

/** Values a step reads (constants included). */
export function stepInputs(step: PlanStep): string[] {
  switch (step.kind) {
    case 'interp':
      return step.inputs.filter((n): n is string => n !== null);
    case 'add-q8':
    case 'mul-q8':
      return [step.a, step.b];
    case 'concat-q8':
      return step.inputs;
    case 'pool-q8':
      return [step.input];
    case 'lut-q8':
      return step.table ? [step.input, step.table] : [step.input];
    case 'lut-f32':
      return [step.input, step.table];
    default:
      return [step.input, step.weight, ...(step.bias ? [step.bias] : [])];
  }
}

export function stepOutputs(step: PlanStep): string[] {
  return step.kind === 'interp' ? step.outputs.filter((n): n is string => n !== null) : [step.output];
}

/** The model's op that a step stands for, e.g. `conv-q8 (Conv)`, for reports. */
export function stepLabel(step: PlanStep): string {
  return step.kind === 'interp' ? step.node.qualifiedOp : `${step.kind} ${step.node}`;
}

// ---------------------------------------------------------------------------------------------

class Lowering {
  readonly constants = new Map<string, Tensor>();
  /** Nodes whose work a kernel step does. */
  readonly absorbed = new Set<Node>();
  /** Kernel steps by the node at whose position they run (the group's last node). */
  readonly kernelAt = new Map<Node, KernelStep>();

  constructor(
    readonly model: Model,
    readonly fuse: boolean,
  ) {}

  constantOf(v: Value | null): Tensor | undefined {
    if (!v) return undefined;
    return v.constant ?? this.constants.get(v.name);
  }

  /** A node's output read by exactly one node (and not a graph output). */
  soleUser(v: Value): Node | undefined {
    if (v.isGraphOutput || v.uses.length !== 1) return undefined;
    const u = v.uses[0]!.user;
    return 'op' in u ? u : undefined;
  }

  /** DequantizeLinear(q, scale, zp) with constant parameters, seen from its output. */
  dequantized(v: Value | null): { q: Value; scale: Float64Array; zeroPoints: number[]; axis: number; type: Q8Type } | undefined {
    const dq = v?.producer;
    if (!dq || dq.op !== 'DequantizeLinear' || (dq.domain && dq.domain !== 'ai.onnx')) return undefined;
    const q = dq.input(0);
    const scale = this.constantOf(dq.input(1));
    const zp = dq.input(2) ? this.constantOf(dq.input(2)) : undefined;
    if (!q || !scale || (dq.input(2) && !zp) || dq.getInt('block_size', 0) !== 0) return undefined;
    const type = this.dtypeOf(q);
    if (type !== 'int8' && type !== 'uint8' && type !== 'int32') return undefined;
    const scales = toFloat64(scale);
    const zeroPoints = zp ? Array.from(toFloat64(zp)) : new Array<number>(scales.length).fill(0);
    return { q, scale: scales, zeroPoints, axis: dq.getInt('axis', 1), type: type as Q8Type };
  }

  /**
   * Element type of a value: declared, a constant's, or implied by a quantizing producer (imported
   * models often declare no types for intermediate values).
   */
  dtypeOf(v: Value): DType | undefined {
    const declared = v.type?.dtype ?? this.constantOf(v)?.dtype;
    if (declared) return declared;
    const p = v.producer;
    if (p?.op === 'QuantizeLinear' && (!p.domain || p.domain === 'ai.onnx')) {
      const zp = p.input(2) ? this.constantOf(p.input(2)) : undefined;
      if (p.input(2) && !zp) return p.input(2)!.type?.dtype;
      return zp?.dtype ?? (p.getInt('output_dtype', 0) === 0 ? 'uint8' : undefined);
    }
    if ((p?.op === 'QLinearConv' || p?.op === 'QLinearMatMul') && p.input(7)) return this.dtypeOf(p.input(7)!);
    if (p?.op === 'DynamicQuantizeLinear' && v.producerIndex === 0) return 'uint8';
    return undefined;
  }

  /** Per-tensor quantization of an activation (DQ input or Q output). */
  perTensor(scale: Tensor | undefined, zp: Tensor | undefined, fallbackType: Q8Type = 'uint8'): QuantOperand | undefined {
    if (!scale || shapeSize(scale.shape) !== 1) return undefined;
    if (zp && (shapeSize(zp.shape) !== 1 || (zp.dtype !== 'int8' && zp.dtype !== 'uint8'))) return undefined;
    return { scale: toFloat64(scale)[0]!, zeroPoint: zp ? toFloat64(zp)[0]! : 0, type: (zp?.dtype as Q8Type) ?? fallbackType };
  }

  activationQuant(dq: NonNullable<ReturnType<Lowering['dequantized']>>): QuantOperand | undefined {
    if (dq.scale.length !== 1 || dq.type === ('int32' as Q8Type)) return undefined;
    return { scale: dq.scale[0]!, zeroPoint: dq.zeroPoints[0]!, type: dq.type };
  }

  /** Clamp bounds of Relu/Clip in float; undefined when `n` is not a fusable activation. */
  activationBounds(n: Node): [number, number] | undefined {
    if (n.op === 'Relu') return [0, Infinity];
    if (n.op !== 'Clip') return undefined;
    if (this.model.opset < 11) return [n.getFloat('min', -Infinity), n.getFloat('max', Infinity)];
    const lo = n.input(1) ? this.constantOf(n.input(1)) : undefined;
    const hi = n.input(2) ? this.constantOf(n.input(2)) : undefined;
    if ((n.input(1) && !lo) || (n.input(2) && !hi)) return undefined;
    return [lo ? toFloat64(lo)[0]! : -Infinity, hi ? toFloat64(hi)[0]! : Infinity];
  }

  windowAttrs(n: Node, kernel: readonly number[]): WindowAttrs | undefined {
    if (kernel.length !== 2) return undefined;
    const strides = n.getInts('strides') ?? [1, 1];
    const dilations = n.getInts('dilations') ?? [1, 1];
    const pads = n.getInts('pads') ?? [0, 0, 0, 0];
    if (strides.length !== 2 || dilations.length !== 2 || pads.length !== 4) return undefined;
    const autoPad = n.getString('auto_pad', 'NOTSET');
    if (!['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad)) return undefined;
    return {
      kernel: [kernel[0]!, kernel[1]!],
      strides: [strides[0]!, strides[1]!],
      dilations: [dilations[0]!, dilations[1]!],
      pads: [pads[0]!, pads[1]!, pads[2]!, pads[3]!],
      autoPad,
      group: n.getInt('group', 1),
    };
  }

  // ---- float kernels ----

  /** Conv/MatMul/Gemm -> [Relu|Clip]: the activation node to fuse and its bounds. */
  fusedActivation(core: Node): { last: Node; clamp: Clamp } {
    const none = { last: core, clamp: [null, null] as Clamp };
    if (!this.fuse) return none;
    const user = this.soleUser(core.output(0));
    const bounds = user && this.activationBounds(user);
    if (!user || !bounds) return none;
    return { last: user, clamp: [Number.isFinite(bounds[0]) ? bounds[0] : null, Number.isFinite(bounds[1]) ? bounds[1] : null] };
  }

  matchFloat(n: Node): boolean {
    const x = n.input(0);
    if (!x || (x.type && x.type.dtype !== 'float32')) return false;
    if (n.op === 'Conv') {
      const w = this.constantOf(n.input(1));
      const b = n.input(2) ? this.constantOf(n.input(2)) : undefined;
      if (!w || w.dtype !== 'float32' || w.shape.length !== 4 || (n.input(2) && (!b || b.dtype !== 'float32'))) return false;
      const window = this.windowAttrs(n, n.getInts('kernel_shape') ?? w.shape.slice(2));
      if (!window || window.kernel[0] !== w.shape[2] || window.kernel[1] !== w.shape[3]) return false;
      const { last, clamp } = this.fusedActivation(n);
      this.emit([n, last], { kind: 'conv-f32', node: n.label, input: x.name, weight: n.input(1)!.name, bias: n.input(2)?.name ?? null,
        output: last.output(0).name, window, clamp });
      return true;
    }
    const isGemm = n.op === 'Gemm';
    if (n.op !== 'MatMul' && !isGemm) return false;
    const w = this.constantOf(n.input(1));
    if (!w || w.dtype !== 'float32' || w.shape.length !== 2) return false;
    if (isGemm && n.getInt('transA', 0) !== 0) return false;
    const transB = isGemm && n.getInt('transB', 0) === 1;
    const N = w.shape[transB ? 0 : 1]!;
    let bias: string | null = null;
    if (isGemm && n.input(2)) {
      const c = this.constantOf(n.input(2));
      // a bias broadcast along rows only: shape [], [1], [N] or [1, N]
      if (!c || c.dtype !== 'float32' || (shapeSize(c.shape) !== N && shapeSize(c.shape) !== 1) || (c.shape.length === 2 && c.shape[0] !== 1)) return false;
      bias = n.input(2)!.name;
    }
    const { last, clamp } = this.fusedActivation(n);
    this.emit([n, last], { kind: 'gemm-f32', node: n.label, input: x.name, weight: n.input(1)!.name, bias, transB,
      alpha: isGemm ? n.getFloat('alpha', 1) : 1, beta: isGemm ? n.getFloat('beta', 1) : 1, output: last.output(0).name, clamp });
    return true;
  }

  // ---- QDQ groups, rooted at QuantizeLinear ----

  matchQdq(q: Node): boolean {
    if (q.op !== 'QuantizeLinear' || (q.domain && q.domain !== 'ai.onnx') || !q.input(0)) return false;
    const outQuant = this.perTensor(this.constantOf(q.input(1)), q.input(2) ? this.constantOf(q.input(2)) : undefined);
    if (!outQuant || (q.input(2) && !this.constantOf(q.input(2))) || q.getInt('saturate', 1) !== 1) return false;
    let core = q.input(0)!.producer;
    if (!core || this.soleUser(core.output(0)) !== q) return false;
    const group: Node[] = [q];
    let bounds: [number, number] = [-Infinity, Infinity];
    const act = this.activationBounds(core);
    if (act && this.fuse) {
      const inner = core.input(0)?.producer;
      if (!inner || this.soleUser(inner.output(0)) !== core) return false;
      group.push(core);
      bounds = act;
      core = inner;
    }
    group.push(core);
    const [typeMin, typeMax] = integerRange(outQuant.type);
    const quantize = (v: number) => Math.min(typeMax, Math.max(typeMin, roundHalfEven(Math.fround(v / outQuant.scale)) + outQuant.zeroPoint));
    const clamp: Clamp = [Number.isFinite(bounds[0]) ? quantize(bounds[0]) : null, Number.isFinite(bounds[1]) ? quantize(bounds[1]) : null];
    const base = { node: core.label, output: q.output(0).name, outputQuant: outQuant, clamp };
    const x = this.dequantized(core.input(0));
    const xQuant = x && this.activationQuant(x);
    if (!x || !xQuant) return false;

    switch (core.op) {
      case 'Conv':
      case 'MatMul':
      case 'Gemm': {
        const w = this.dequantized(core.input(1));
        const wData = w && this.constantOf(w.q);
        if (!w || !wData || (w.type !== 'int8' && w.type !== 'uint8')) return false;
        const isConv = core.op === 'Conv';
        const transB = core.op === 'Gemm' && core.getInt('transB', 0) === 1;
        if (core.op === 'Gemm' && (core.getInt('transA', 0) !== 0 || core.getFloat('alpha', 1) !== 1 || core.getFloat('beta', 1) !== 1)) return false;
        if (isConv ? wData.shape.length !== 4 : wData.shape.length !== 2) return false;
        const channels = isConv ? wData.shape[0]! : wData.shape[transB ? 0 : 1]!;
        const channelAxis = isConv || transB ? 0 : 1;
        if (w.scale.length !== 1 && (w.scale.length !== channels || (w.axis + wData.shape.length) % wData.shape.length !== channelAxis)) return false;
        let bias: string | null = null;
        const biasInput = isConv ? core.input(2) : core.op === 'Gemm' ? core.input(2) : null;
        if (biasInput) {
          const b = this.dequantized(biasInput);
          const bData = b && this.constantOf(b.q);
          // the bias must be on the accumulator grid: int32, zero point 0, scale s_x * s_w
          if (!b || !bData || bData.dtype !== 'int32' || shapeSize(bData.shape) !== channels || b.zeroPoints.some((z) => z !== 0)) return false;
          const sameGrid = Array.from(b.scale).every((s, c) => Math.abs(s - xQuant.scale * w.scale[w.scale.length === 1 ? 0 : c]!) <= 1e-6 * s);
          if (!sameGrid) return false;
          bias = b.q.name;
        }
        const multipliers = requantMultipliers(xQuant.scale, w.scale, outQuant.scale);
        if (isConv) {
          const window = this.windowAttrs(core, core.getInts('kernel_shape') ?? wData.shape.slice(2));
          if (!window) return false;
          this.emit(group, { kind: 'conv-q8', ...base, input: x.q.name, inputQuant: xQuant, weight: w.q.name,
            weightZeroPoints: w.zeroPoints, bias, multipliers, window });
        } else {
          this.emit(group, { kind: 'gemm-q8', ...base, input: x.q.name, inputQuant: xQuant, weight: w.q.name,
            weightZeroPoints: w.zeroPoints, transB, bias, multipliers });
        }
        return true;
      }
      case 'Concat': {
        const parts = core.inputs.map((v) => this.dequantized(v));
        const quants = parts.map((d) => d && this.activationQuant(d));
        if (quants.some((q) => !q) || quants.some((q) => q!.type !== outQuant.type)) return false;
        this.emit(group, { kind: 'concat-q8', ...base, axis: core.getInt('axis', 0), inputs: parts.map((d) => d!.q.name),
          inputQuants: quants as QuantOperand[] });
        return true;
      }
      case 'Sigmoid':
      case 'HardSigmoid':
      case 'HardSwish': {
        const fn = core.op === 'Sigmoid' ? 'sigmoid' : core.op === 'HardSigmoid' ? 'hardsigmoid' : 'hardswish';
        this.emit(group, { kind: 'lut-q8', ...base, fn, alpha: core.getFloat('alpha', 0.2), beta: core.getFloat('beta', 0.5),
          input: x.q.name, inputQuant: xQuant });
        return true;
      }
      case 'Add':
      case 'Mul': {
        const b = this.dequantized(core.input(1));
        const bQuant = b && this.activationQuant(b);
        if (!b || !bQuant) return false;
        const sizeOf = (v: Value) => {
          const c = this.constantOf(v);
          if (c) return shapeSize(c.shape);
          const s = v.type?.shape;
          return s && s.every((d) => typeof d === 'number') ? shapeSize(s as number[]) : undefined;
        };
        const [na, nb] = [sizeOf(x.q), sizeOf(b.q)];
        if (na === undefined || nb === undefined || !(na === nb || na === 1 || nb === 1)) return false;
        this.emit(group, { kind: core.op === 'Add' ? 'add-q8' : 'mul-q8', ...base, a: x.q.name, aQuant: xQuant, b: b.q.name, bQuant });
        return true;
      }
      case 'MaxPool':
      case 'AveragePool':
      case 'GlobalAveragePool': {
        if (core.outputs.length > 1 && core.outputs[1]) return false;
        const global = core.op === 'GlobalAveragePool';
        let window: WindowAttrs | null = null;
        if (!global) {
          window = this.windowAttrs(core, core.getInts('kernel_shape') ?? []) ?? null;
          if (!window || core.getInt('ceil_mode', 0) !== 0 || core.getInt('storage_order', 0) !== 0) return false;
          if (window.dilations[0] !== 1 || window.dilations[1] !== 1) return false;
        }
        // max pooling compares raw bytes: only valid when input and output share the grid
        if (core.op === 'MaxPool' && (xQuant.scale !== outQuant.scale || xQuant.zeroPoint !== outQuant.zeroPoint || xQuant.type !== outQuant.type)) return false;
        const pool = core.op === 'MaxPool' ? 'max' : global ? 'global-average' : 'average';
        this.emit(group, { kind: 'pool-q8', ...base, pool, input: x.q.name, inputQuant: xQuant, window,
          countIncludePad: core.getInt('count_include_pad', 0) === 1 });
        return true;
      }
      default:
        return false;
    }
  }

  /** DQ -> elementwise float ops -> Q as one table (lut-region.ts). */
  matchTable(q: Node): boolean {
    if (!this.fuse) return false;
    const region = matchTableRegion(q, { opset: this.model.opset, constantOf: (v) => this.constantOf(v), isAbsorbed: (n) => this.absorbed.has(n) });
    const x = region && this.dequantized(region.dequantize.output(0));
    const xQuant = x && this.activationQuant(x);
    const outQuant = region && this.perTensor(this.constantOf(q.input(1)), q.input(2) ? this.constantOf(q.input(2)) : undefined, region.table.dtype as Q8Type);
    if (!region || !x || !xQuant || !outQuant) return false;
    const table = `${q.output(0).name}::table`;
    this.constants.set(table, region.table);
    this.emit([...region.ops, q], { kind: 'lut-q8', fn: 'table', node: region.ops[region.ops.length - 1]!.label, output: q.output(0).name,
      input: x.q.name, inputQuant: xQuant, outputQuant: { ...outQuant, type: region.table.dtype as Q8Type }, clamp: [null, null], alpha: 0,
      beta: 0, table, rank: region.constantRank });
    return true;
  }

  /** DQ -> elementwise float ops whose float result others read, as one table (lut-region.ts). */
  matchFloatTable(last: Node): boolean {
    if (!this.fuse) return false;
    const region = matchFloatTableRegion(last, { opset: this.model.opset, constantOf: (v) => this.constantOf(v), isAbsorbed: (n) => this.absorbed.has(n) });
    const x = region && this.dequantized(region.dequantize.output(0));
    const xQuant = x && this.activationQuant(x);
    if (!region || !x || !xQuant) return false;
    const table = `${last.output(0).name}::table`;
    this.constants.set(table, region.table);
    this.emit(region.ops, { kind: 'lut-f32', node: last.label, output: last.output(0).name, input: x.q.name, inputQuant: xQuant, table,
      rank: region.constantRank });
    return true;
  }

  // ---- QOperator ----

  /** MatMulInteger(x, W const, [z_x scalar], [z_w scalar or per column]); inputQuant.scale is unused (1). */
  matchMatMulInteger(n: Node): boolean {
    const x = n.input(0);
    const w = this.constantOf(n.input(1));
    if (!x || !w || w.shape.length !== 2 || (w.dtype !== 'int8' && w.dtype !== 'uint8')) return false;
    const xType = this.dtypeOf(x);
    if (xType !== 'int8' && xType !== 'uint8') return false;
    const xZp = n.input(2) ? this.constantOf(n.input(2)) : undefined;
    const wZp = n.input(3) ? this.constantOf(n.input(3)) : undefined;
    if ((n.input(2) && (!xZp || shapeSize(xZp.shape) !== 1)) || (n.input(3) && !wZp)) return false;
    const N = w.shape[1]!;
    const wZeroPoints = wZp ? Array.from(toFloat64(wZp)) : [0];
    if (wZeroPoints.length !== 1 && (wZeroPoints.length !== N || wZp!.shape.length !== 1)) return false;
    this.emit([n], { kind: 'matmul-i32', node: n.label, output: n.output(0).name, input: x.name,
      inputQuant: { scale: 1, zeroPoint: xZp ? toFloat64(xZp)[0]! : 0, type: xType }, weight: n.input(1)!.name,
      weightZeroPoints: wZeroPoints, bias: null });
    return true;
  }

  matchQLinear(n: Node): boolean {
    if (n.op === 'MatMulInteger') return this.matchMatMulInteger(n);
    if (n.op !== 'QLinearConv' && n.op !== 'QLinearMatMul') return false;
    const x = n.input(0);
    const xQuant = this.perTensor(this.constantOf(n.input(1)), this.constantOf(n.input(2)));
    const w = this.constantOf(n.input(3));
    const wScale = this.constantOf(n.input(4));
    const wZp = this.constantOf(n.input(5));
    const outQuant = this.perTensor(this.constantOf(n.input(6)), n.input(7) ? this.constantOf(n.input(7)) : undefined);
    if (!x || !xQuant || !w || !wScale || !wZp || !outQuant || (w.dtype !== 'int8' && w.dtype !== 'uint8')) return false;
    const isConv = n.op === 'QLinearConv';
    if (isConv ? w.shape.length !== 4 : w.shape.length !== 2) return false;
    const channels = w.shape[isConv ? 0 : 1]!;
    const scales = toFloat64(wScale);
    const zeroPoints = Array.from(toFloat64(wZp));
    if ((scales.length !== 1 && scales.length !== channels) || (zeroPoints.length !== 1 && zeroPoints.length !== channels)) return false;
    const weightZeroPoints = zeroPoints.length === scales.length ? zeroPoints : new Array<number>(channels).fill(zeroPoints[0]!);
    const multipliers = requantMultipliers(xQuant.scale, scales, outQuant.scale);
    const base = { node: n.label, output: n.output(0).name, input: x.name, inputQuant: xQuant, weight: n.input(3)!.name,
      weightZeroPoints: scales.length === 1 && zeroPoints.length === 1 ? zeroPoints : weightZeroPoints, multipliers,
      outputQuant: outQuant, clamp: [null, null] as Clamp };
    if (isConv) {
      const b = n.input(8) ? this.constantOf(n.input(8)) : undefined;
      if (n.input(8) && (!b || b.dtype !== 'int32')) return false;
      const window = this.windowAttrs(n, n.getInts('kernel_shape') ?? w.shape.slice(2));
      if (!window) return false;
      this.emit([n], { kind: 'conv-q8', ...base, bias: n.input(8)?.name ?? null, window });
    } else {
      this.emit([n], { kind: 'gemm-q8', ...base, transB: false, bias: null });
    }
    return true;
  }

  emit(group: readonly Node[], step: KernelStep): void {
    for (const n of group) this.absorbed.add(n);
    // the step runs where the node producing its output ran (the group's last node)
    const at = group.find((n) => n.outputs.some((o) => o?.name === step.output));
    if (!at) throw new SlimcError('internal', 'kernel group does not produce its output', { node: step.node, value: step.output });
    this.kernelAt.set(at, step);
  }
}

/** ONNX rounding: to nearest, ties to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** M[c] = float32(float32(s_x * s_w[c]) / s_y), as the interpreter and onnxruntime compute it. */
function requantMultipliers(xScale: number, wScales: ArrayLike<number>, yScale: number): number[] {
  const f = Math.fround;
  return Array.from(wScales, (s) => f(f(xScale * s) / yScale));
}

/** Lowers `model` (its main graph) to a plan. */
export function lowerModel(model: Model, options: LowerOptions = {}): Plan {
  const graph = model.graph;
  const order = topologicalOrder(graph);
  const lowering = new Lowering(model, options.fuseActivations ?? true);
  for (const v of graph.initializers) lowering.constants.set(v.name, v.constant!);
  for (const n of order) {
    const value = n.op === 'Constant' && !n.domain ? n.getTensor('value') : undefined;
    if (value && n.outputs.length === 1) {
      lowering.constants.set(n.output(0).name, value);
      lowering.absorbed.add(n);
    }
    // a DequantizeLinear scale computed as Mul of two constants (how slimc's QDQ files write an
    // int32 bias's scale, s_x · s_w[c]) is computed once here, so the group lowers as if it were stored
    if (n.op === 'Mul' && !n.domain && n.inputs.every((v) => v && lowering.constants.has(v.name)) && isDequantizeScale(n.output(0))) {
      lowering.constants.set(n.output(0).name, runNode(n, n.inputs.map((v) => lowering.constants.get(v!.name)!), model.opset)[0]!);
      lowering.absorbed.add(n);
    }
    // a DequantizeLinear of constants read only by float kernels that need constant float
    // operands (a ConvTranspose's int8 weights) is computed once here, as in a float model; other
    // dequantized constants stay: QDQ groups and tables read their integer form
    if (isFoldableDequantize(n, lowering.constants)) {
      lowering.constants.set(n.output(0).name, runNode(n, n.inputs.map((v) => (v ? lowering.constants.get(v.name)! : null)), model.opset)[0]!);
      lowering.absorbed.add(n);
    }
  }
  for (const n of order) {
    if (lowering.absorbed.has(n)) continue;
    // a table first: where a group has one quantized source, it is exact and the cheapest step
    lowering.matchQLinear(n) || lowering.matchTable(n) || lowering.matchQdq(n) || lowering.matchFloat(n);
  }
  // float-ending tables last, from the graph's end: a region's last op is met before its others
  for (const n of [...order].reverse()) if (!lowering.absorbed.has(n)) lowering.matchFloatTable(n);
  const steps: PlanStep[] = [];
  for (const n of order) {
    const kernel = lowering.kernelAt.get(n);
    if (kernel) steps.push(kernel);
    else if (!lowering.absorbed.has(n)) {
      steps.push({ kind: 'interp', node: n, inputs: n.inputs.map((v) => v?.name ?? null), outputs: n.outputs.map((v) => v?.name ?? null) });
    }
  }
  for (const n of order) {
    if (n.subgraphs().length && !lowering.kernelAt.has(n)) {
      // subgraph bodies read outer values by capture: keep those alive as extra inputs of the step
      const step = steps.find((s) => s.kind === 'interp' && s.node === n) as Extract<PlanStep, { kind: 'interp' }> | undefined;
      if (step) step.inputs.push(...captureNames(n).filter((name) => !step.inputs.includes(name)));
    }
  }
  const outputs = graph.outputs.map((v) => v.name);
  return {
    opset: model.opset,
    inputs: graph.inputs.filter((v) => !lowering.constants.has(v.name)).map((v) => ({
      name: v.name, dtype: v.type?.dtype ?? 'float32', ...(v.type?.shape ? { shape: [...v.type.shape] } : {}),
    })),
    outputs,
    constants: lowering.constants,
    steps: dropDeadSteps(steps, outputs),
  };
}

/** Float ops the runtime runs on kernels only with constant operands, which have no quantized form. */
const CONSTANT_OPERAND_FLOAT_OPS: ReadonlySet<string> = new Set(['ConvTranspose']);

/** A DequantizeLinear of constants read only by CONSTANT_OPERAND_FLOAT_OPS (see lowerModel). */
function isFoldableDequantize(n: Node, constants: ReadonlyMap<string, Tensor>): boolean {
  if (n.op !== 'DequantizeLinear' || n.domain || n.outputs.length !== 1 || !n.inputs.every((v) => !v || constants.has(v.name))) return false;
  const out = n.output(0);
  return !out.isGraphOutput && out.uses.length > 0 && out.uses.every((u) => 'op' in u.user && CONSTANT_OPERAND_FLOAT_OPS.has(u.user.op) && !u.user.domain);
}

/** `v` is read only as the scale operand of DequantizeLinear nodes. */
function isDequantizeScale(v: Value): boolean {
  return !v.isGraphOutput && v.uses.length > 0 && v.uses.every((u) => 'op' in u.user && u.user.op === 'DequantizeLinear' && u.index === 1);
}

/** Outer values the node's subgraphs read (constants excepted: they resolve by themselves). */
function captureNames(n: Node): string[] {
  const out = new Set<string>();
  for (const g of n.subgraphs()) for (const v of capturedValues(g)) if (!v.constant) out.add(v.name);
  return [...out];
}

/** Removes steps none of whose outputs is read later or returned (absorbed DequantizeLinear nodes). */
function dropDeadSteps(steps: PlanStep[], outputs: readonly string[]): PlanStep[] {
  const needed = new Set(outputs);
  const kept: PlanStep[] = [];
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i]!;
    if (!stepOutputs(step).some((name) => needed.has(name))) continue;
    kept.push(step);
    for (const name of stepInputs(step)) needed.add(name);
  }
  return kept.reverse();
}

/** The error for a value the plan cannot bind. */
export function planError(detail: string, step: PlanStep | undefined, value?: string): SlimcError {
  const context = step ? (step.kind === 'interp' ? { node: step.node.label, op: step.node.qualifiedOp } : { node: step.node, op: step.kind }) : {};
  return new SlimcError('invalid-argument', detail, { ...context, ...(value ? { value } : {}) });
}
