/**
 * The slimc runtime: runs a lowered plan (plan.ts) with the WebAssembly kernels.
 *
 * Memory: weights are packed once at load into their own WebAssembly allocations (packed layouts
 * are private to the kernel build, so the .slimc file stores them unpacked). Every activation of
 * a numeric type lives in one activation region of the same WebAssembly memory and is released
 * after its last reader. The first run with given input shapes places buffers online (best fit,
 * `ArenaAllocator`) and records each buffer's size and live steps; later runs with the same shapes
 * use the offline plan computed from that record (`planMemory`: largest first, lowest free
 * offset), which needs less room. Should a run allocate differently (data-dependent shapes), it is
 * redone online. The region grows (moving its contents; offsets are relative) when a run needs
 * more. String tensors stay on the JS heap.
 *
 * Layout: the model is NCHW; the convolution and pooling kernels are NHWC and leave their results
 * NHWC (the slot says so; its shape stays the logical NCHW one). Layout-agnostic steps keep NHWC
 * data NHWC: per-tensor Q/DQ, the float activations, binary ops whose other side is NHWC too or a
 * scalar / per-channel vector (same element order in both layouts), float GlobalAveragePool. Any
 * other reader converts the value to NCHW once (the slot is replaced), so transposes happen only
 * around ops that need NCHW and at graph outputs. A window kernel reading NCHW data transposes it
 * into scratch (released at once). Where C == 1 or H * W == 1 the layouts coincide: no flag.
 *
 * Interpreter steps read their inputs as views of WebAssembly memory (no copy) and their outputs
 * are copied in.
 */
import {
  SlimcError,
  dataFromBytes,
  dtypeByteSize,
  integerRange,
  isSlimcError,
  runNode,
  shapeSize,
  toFloat64,
  type DType,
  type Model,
  type Node,
  type Tensor,
  type TypedArray,
} from '@slimc/ir';
import { GEOMETRY_LENGTH } from '../wasm/exports.js';
import { KernelLibrary } from '../wasm/kernel-library.js';
import { ArenaAllocator, alignUp, planMemory, type LiveInterval, type MemoryPlan } from './arena.js';
import { BINARY_OPS, blockBroadcast } from './elementwise.js';
import { loadCompiled } from './format.js';
import { lowerModel, planError, stepInputs, stepOutputs, type Clamp, type KernelStep, type LowerOptions, type Plan, type PlanStep, type QuantOperand, type WindowAttrs } from './plan.js';
import { encodeMultiplier, encodeMultipliers } from './quantize-multiplier.js';

/** Where a value lives during a run. */
interface ArenaSlot {
  readonly offset: number;
  readonly bytes: number;
  readonly dtype: DType;
  /** Logical NCHW shape. */
  readonly shape: readonly number[];
  /** Data laid out NHWC (see the module comment). */
  readonly nhwc?: boolean;
}
type Slot = ArenaSlot | { readonly host: Tensor };

/** How `run` hands values to its observer. */
export interface ObserveOptions {
  /** Only these values (plan names) are observed; default every value a step produces. */
  values?: ReadonlySet<string>;
  /**
   * 'copy' (default): the observer gets a copy in the logical (NCHW) layout. 'view': it gets the
   * data where it lives, no copy and no transpose: a view of WebAssembly memory that is valid only
   * during the callback (later steps overwrite it, a growth detaches it), in the layout the value is
   * kept in (the callback's `layout`; the tensor's shape stays the logical NCHW one). Enough for
   * statistics that ignore element order (min/max, histograms); per-channel ones need `layout`.
   */
  data?: 'copy' | 'view';
}

/** Element order of an observed tensor: its logical shape's, or NHWC for a 4-D NCHW value kept NHWC. */
export type ObservedLayout = 'logical' | 'nhwc';

export type RunObserver = (name: string, t: Tensor, layout: ObservedLayout) => void;

export interface RuntimeMemory {
  /** Bytes of WebAssembly memory holding packed weights and kernel parameters. */
  weights: number;
  /** Bytes of activation region the runs needed (the most over runs, planned or online). */
  peakActivations: number;
  /** The most bytes of activations live at the same time (a lower bound on any placement). */
  largestLiveSet: number;
  /** What the online best-fit placement needed, and what the offline plan needs (0 before a second run). */
  onlineActivations: number;
  plannedActivations: number;
  /** Size of the WebAssembly memory at its largest. */
  wasmPeak: number;
}

export interface RuntimeOptions extends LowerOptions {
  /**
   * How convolutions and matrix products requantize their int32 accumulators (default
   * 'round-once'): 'round-once' is ONNX's QLinearConv/QLinearMatMul rule (float32 product with the
   * real multiplier, rounded half to even once), so results equal the reference interpreter and
   * onnxruntime bit for bit; 'fixed-point' is gemmlowp/TFLite's integer-only formula (a doubling
   * high multiply and a rounding shift, ties away from zero), for comparing with TFLite-style
   * integer pipelines. Other int8 steps (add, mul, concat, average pooling) use fixed point either
   * way; GlobalAveragePool follows the interpreter's float steps exactly.
   */
  requantize?: 'round-once' | 'fixed-point';
  /** A kernel library to share (default: a fresh instance, so runtimes never share scratch). */
  library?: KernelLibrary;
  /** Time every step of each run (see `Runtime.profile`); default off. */
  profile?: boolean;
}

/** Time spent in one kind of step during a run. */
export interface StepProfile {
  steps: number;
  ms: number;
}

/** Load-time state of a kernel step: packed weights and encoded parameters (pointers into wasm). */
interface Prepared {
  weights: number;
  bias: number;
  multipliers: number;
  shifts: number;
  perChannel: number;
  /** Output channels (conv, gemm); reduction length (gemm) or input channels (conv). */
  N: number;
  K: number;
  /** add-q8 / pooling parameters, computed at load. */
  params: number[];
  /** conv-f32 with one channel per group: weights stay unpacked for `depthwiseConvF32`. */
  depthwise: boolean;
}

/** Packed weights of a ConvTranspose run as float GEMMs: one B (Cin x KW*Cout) per window row. */
interface ConvTransposeWeights {
  packed: number[];
  /** The bias repeated KW times (a column per (kx, co)), or 0. */
  bias: number;
  cIn: number;
  cOut: number;
  kh: number;
  kw: number;
}

/** A planned run allocated other sizes than the recorded one: redo it online. */
class PlanMismatch extends Error {}

interface RecordedPlan extends MemoryPlan {
  sizes: number[];
}

/** enum slimc_requant_flags. */
const REQUANT_PER_CHANNEL = 1;
const REQUANT_ROUND_ONCE = 2;

/**
 * Growth factor of the activation region in an online run (each growth copies it twice). Small:
 * the region is the top of the heap (see reserveScratch) and grows in place, so a larger step
 * only adds unused capacity to the WebAssembly memory, while 1/16 keeps the copies few.
 */
const ARENA_GROWTH = 1.0625;

const NHWC_FROM_NCHW = 0;
const NCHW_FROM_NHWC = 1;

export class Runtime {
  private readonly allocator = new ArenaAllocator();
  /** Offline placements by input-shape signature. */
  private readonly memoryPlans = new Map<string, RecordedPlan>();
  /** The plan the current run follows, and its next allocation. */
  private planned: { plan: RecordedPlan; next: number } | null = null;
  /** The current online run's buffers: size and live steps, plus the open one at each offset. */
  private recording: { intervals: LiveInterval[]; open: Map<number, number> } | null = null;
  /**
   * Ticks at every allocation and release of an online run: recorded lifetimes use it rather than
   * step numbers, so a buffer released inside a step (scratch, a layout conversion) is not taken
   * to overlap buffers allocated after it in the same step.
   */
  private clock = 0;
  /** Ops the interpreter ran in the current/last run, with counts. */
  private readonly interpretedOps = new Map<string, number>();
  /** Per step, its fastest time over the profiled runs (ms), when profiling. */
  private readonly stepBest: Float64Array;
  /** Per step, its profile key (see `profile`). */
  private readonly stepKeys: string[] = [];
  /** Set by runInterpreted when the reference interpreter ran the current step. */
  private stepInterpreted = false;
  private peakNeeded = 0;
  private largestLive = 0;
  private lastPlanned = 0;
  private arenaBase = 0;
  private arenaCapacity = 0;
  /** Scratch int32[16] for conv/pool geometry. */
  private readonly geometryPtr: number;
  private readonly prepared = new Map<KernelStep, Prepared>();
  /**
   * A convolution whose only reader is a lookup table (hardswish, sigmoid, ...): the table is
   * applied to each output byte by the convolution itself, which writes the table's output, and the
   * lut-q8 step is skipped (findFusedTables). Only in planned runs without an observer (which may
   * watch the convolution's own output): the online run that records a memory plan runs the steps
   * apart, and the fused runs' plan is derived from its record (fusedMemoryPlan), so the online
   * placement, which sizes the WebAssembly memory, is the same as without fusion.
   */
  private readonly tableAfter = new Map<KernelStep, Extract<KernelStep, { kind: 'lut-q8' }>>();
  private readonly fusedTables = new Set<PlanStep>();
  /** Whether the current run applies fused tables. */
  private fuseTables = false;
  /** In an online run, the index of the recorded interval of each fusable pair's outputs. */
  private readonly recordedOutputs = new Map<PlanStep, number>();
  /** ConvTranspose steps the float GEMM runs (see prepareConvTranspose). */
  private readonly convTransposes = new Map<PlanStep, ConvTransposeWeights>();
  private readonly ownedPointers: number[] = [];
  private weightBytes = 0;
  private wasmPeak = 0;
  private disposed = false;
  /** For each step, the values whose last reader it is. */
  private readonly releaseAfter: string[][];

  private constructor(
    readonly plan: Plan,
    private readonly library: KernelLibrary,
    private readonly roundOnce = true,
    private readonly profiling = false,
  ) {
    this.geometryPtr = this.own(GEOMETRY_LENGTH * 4);
    for (const step of plan.steps) {
      if (step.kind !== 'interp') this.prepare(step);
      else if (step.node.op === 'ConvTranspose' && !step.node.domain) this.prepareConvTranspose(step);
    }
    this.reserveScratch();
    this.findFusedTables();
    this.releaseAfter = lastReaders(plan);
    this.stepBest = new Float64Array(profiling ? plan.steps.length : 0).fill(Infinity);
    this.noteWasmSize();
  }

  /** The NHWC form of a 4-D activation: itself when already NHWC, else a transposed scratch copy. */
  private nhwcOf(x: ArenaSlot, elementBytes: number): { slot: ArenaSlot; scratch: boolean } {
    const [n, c, h, w] = x.shape as [number, number, number, number];
    if (x.nhwc || c === 1 || h * w === 1) return { slot: x, scratch: false }; // the layouts coincide
    const slot = this.newSlot(x.dtype, [n, h, w, c]);
    this.transpose(x, slot, x.shape, elementBytes, NHWC_FROM_NCHW);
    return { slot, scratch: true };
  }

  /** A fresh slot for a window kernel's NHWC result (flagged NHWC unless the layouts coincide). */
  private nhwcSlot(dtype: DType, shape: [number, number, number, number]): ArenaSlot {
    return this.newSlot(dtype, shape, shape[1] > 1 && shape[2] * shape[3] > 1);
  }

  /** Lowers an IR model, or reads a compiled `.slimc` file, and packs its weights. */
  static async load(source: Model | Uint8Array, options: RuntimeOptions = {}): Promise<Runtime> {
    const library = options.library ?? (await KernelLibrary.load());
    const plan = source instanceof Uint8Array ? loadCompiled(source) : lowerModel(source, options);
    return new Runtime(plan, library, options.requantize !== 'fixed-point', options.profile === true);
  }

  /** Synchronous `load` for an already lowered plan. */
  static fromPlan(plan: Plan, library: KernelLibrary = KernelLibrary.loadSync(), requantize: RuntimeOptions['requantize'] = 'round-once'): Runtime {
    return new Runtime(plan, library, requantize !== 'fixed-point');
  }

  /** Ops that run in the reference interpreter, each once, sorted. */
  get fallbacks(): string[] {
    return [...new Set(this.plan.steps.flatMap((s) => (s.kind === 'interp' ? [s.node.qualifiedOp] : [])))].sort();
  }

  /**
   * Interpreter steps of the last run that the reference interpreter actually ran, by op: `interp`
   * steps whose op and operands the runtime's own kernels handle (float elementwise, Q/DQ, Resize,
   * ConvTranspose, Softmax, ... see runElementwise) are not counted.
   */
  get interpretedLastRun(): Record<string, number> {
    return Object.fromEntries([...this.interpretedOps].sort(([a], [b]) => (a < b ? -1 : 1)));
  }

  /**
   * With `profile: true`, where a run's time goes, slowest first: per step key, the sum over its
   * steps of each step's fastest time over all runs so far (so a time slice lost to another
   * process does not count). Keys: kernel steps by kind, convolutions also by window and form
   * (`conv-q8 3x3 s2 depthwise`), `lut-q8 (in conv-q8)` for tables a convolution applied (their
   * time is the convolution's); interpreter steps by op and by what ran them
   * (`Transpose (interpreter)`, or `Add (kernel)` for those the runtime's own kernels do).
   */
  get profile(): Record<string, StepProfile> {
    const byKey = new Map<string, StepProfile>();
    this.stepBest.forEach((ms, i) => {
      if (!Number.isFinite(ms)) return;
      const entry = byKey.get(this.stepKeys[i]!) ?? { steps: 0, ms: 0 };
      entry.steps++;
      entry.ms += ms;
      byKey.set(this.stepKeys[i]!, entry);
    });
    return Object.fromEntries([...byKey].sort(([, a], [, b]) => b.ms - a.ms));
  }

  /** Steps per kind (`interp` and the kernel kinds), for reports. */
  get stepCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of this.plan.steps) counts[s.kind] = (counts[s.kind] ?? 0) + 1;
    return counts;
  }

  get memory(): RuntimeMemory {
    return {
      weights: this.weightBytes,
      peakActivations: this.peakNeeded,
      largestLiveSet: Math.max(this.largestLive, this.allocator.peakLiveBytes),
      onlineActivations: this.allocator.highWater,
      plannedActivations: this.lastPlanned,
      wasmPeak: this.wasmPeak,
    };
  }

  /**
   * Runs the plan. `observe` sees every value a step produces (before it may be released), or those
   * `observing.values` names; the tensor it gets is a copy in the logical layout, or with
   * `observing.data: 'view'` a view valid only during the callback (see ObserveOptions).
   */
  run(inputs: Record<string, Tensor>, observe?: RunObserver, observing: ObserveOptions = {}): Record<string, Tensor> {
    if (this.disposed) throw new SlimcError('invalid-argument', 'runtime used after dispose()');
    const onOutput = observe && this.observer(observe, observing);
    // runs with and without fused tables allocate differently: a memory plan for each
    const shapes = this.plan.inputs.map((v) => `${v.name}:${inputs[v.name]?.shape.join('x')}`).join(';');
    const fusedSignature = `${shapes};fused tables`;
    this.fuseTables = !observe && this.memoryPlans.has(fusedSignature);
    const signature = this.fuseTables ? fusedSignature : shapes;
    const known = this.memoryPlans.get(signature);
    if (known) {
      this.planned = { plan: known, next: 0 };
      try {
        const result = this.runOnce(inputs, onOutput);
        this.peakNeeded = Math.max(this.peakNeeded, known.peak);
        this.lastPlanned = known.peak;
        return result;
      } catch (e) {
        if (!(e instanceof PlanMismatch)) throw e;
        this.memoryPlans.delete(signature);
      } finally {
        this.planned = null;
      }
    }
    this.recording = { intervals: [], open: new Map() };
    this.recordedOutputs.clear();
    try {
      const result = this.runOnce(inputs, onOutput);
      this.peakNeeded = Math.max(this.peakNeeded, this.allocator.highWater);
      const plan = planMemory(this.recording.intervals);
      this.largestLive = Math.max(this.largestLive, plan.largestLiveSet);
      this.memoryPlans.set(signature, { ...plan, sizes: this.recording.intervals.map((it) => it.size) });
      if (!this.fuseTables && this.tableAfter.size) this.memoryPlans.set(fusedSignature, this.fusedMemoryPlan(this.recording.intervals));
      return result;
    } finally {
      this.recording = null;
    }
  }

  /**
   * The memory plan of a run with fused tables, from the intervals an unfused online run recorded:
   * the convolution's output buffer becomes the table's (same size), live from the convolution to
   * the table output's last reader, and the table step allocates nothing.
   */
  private fusedMemoryPlan(recorded: readonly LiveInterval[]): RecordedPlan {
    const intervals = recorded.map((it) => ({ ...it }));
    const dropped = new Set<number>();
    for (const [conv, table] of this.tableAfter) {
      const [a, b] = [this.recordedOutputs.get(conv), this.recordedOutputs.get(table)];
      if (a === undefined || b === undefined || intervals[a]!.size !== intervals[b]!.size) continue;
      intervals[a]!.end = intervals[b]!.end;
      dropped.add(b);
    }
    const kept = intervals.filter((_, i) => !dropped.has(i));
    return { ...planMemory(kept), sizes: kept.map((it) => it.size) };
  }

  /** Notes, in an online run, that the next allocation is `step`'s output (see fusedMemoryPlan). */
  private noteOutputAllocation(step: PlanStep): void {
    if (this.recording && (this.tableAfter.has(step as KernelStep) || this.fusedTables.has(step))) {
      this.recordedOutputs.set(step, this.recording.intervals.length);
    }
  }

  /** Per step output: hands it to `observe` as `observing` asks. */
  private observer(observe: RunObserver, observing: ObserveOptions): (slots: Map<string, Slot>, name: string, step: PlanStep) => void {
    const { values, data = 'copy' } = observing;
    return (slots, name, step) => {
      if (values && !values.has(name)) return;
      if (data === 'copy') return observe(name, this.read(slots, name, step, true), 'logical');
      const slot = this.slotOf(slots, name, step);
      if ('host' in slot) return observe(name, slot.host, 'logical');
      const at = this.ptr(slot);
      const view = dataFromBytes(slot.dtype, this.library.heapU8.subarray(at, at + slot.bytes), shapeSize(slot.shape));
      observe(name, { dtype: slot.dtype, shape: slot.shape, data: view }, slot.nhwc ? 'nhwc' : 'logical');
    };
  }

  private runOnce(inputs: Record<string, Tensor>, observe?: (slots: Map<string, Slot>, name: string, step: PlanStep) => void): Record<string, Tensor> {
    const slots = new Map<string, Slot>();
    this.allocator.reset();
    this.clock = 0;
    this.interpretedOps.clear();
    try {
      for (const input of this.plan.inputs) {
        const t = inputs[input.name];
        if (!t) throw new SlimcError('invalid-argument', 'no tensor given for graph input', { value: input.name });
        if (t.dtype !== input.dtype) throw new SlimcError('invalid-argument', `expected ${input.dtype}, got ${t.dtype}`, { value: input.name });
        const dims = input.shape;
        if (dims && (dims.length !== t.shape.length || dims.some((d, i) => typeof d === 'number' && d !== t.shape[i]))) {
          throw new SlimcError('invalid-argument', `expected shape [${dims.map((d) => d ?? '?').join(',')}], got [${t.shape.join(',')}]`, { value: input.name });
        }
        slots.set(input.name, this.store(t));
      }
      this.plan.steps.forEach((step, i) => {
        const started = this.profiling ? performance.now() : 0;
        try {
          this.execute(step, slots);
          if (this.profiling) this.noteTime(i, performance.now() - started);
        } catch (e) {
          if (e instanceof PlanMismatch) throw e;
          if (isSlimcError(e)) throw e.withContext(step.kind === 'interp' ? { node: step.node.label, op: step.node.qualifiedOp } : { node: step.node, op: step.kind });
          throw new SlimcError('internal', `runtime step failed: ${(e as Error).message}`, step.kind === 'interp' ? { node: step.node.label } : { node: step.node }, { cause: e });
        }
        if (observe) for (const name of stepOutputs(step)) observe(slots, name, step);
        for (const name of this.releaseAfter[i]!) this.release(slots, name);
      });
      const result: Record<string, Tensor> = {};
      for (const name of this.plan.outputs) result[name] = this.read(slots, name, undefined, true);
      return result;
    } finally {
      for (const name of [...slots.keys()]) this.release(slots, name);
      this.noteWasmSize();
    }
  }

  private noteTime(i: number, ms: number): void {
    const step = this.plan.steps[i]!;
    this.stepKeys[i] = step.kind === 'interp'
      ? `${step.node.qualifiedOp} (${this.stepInterpreted ? 'interpreter' : 'kernel'})`
      : this.fuseTables && this.fusedTables.has(step) ? `${step.kind} (in conv-q8)` : profileKey(step, this.plan);
    this.stepInterpreted = false;
    this.stepBest[i] = Math.min(this.stepBest[i]!, ms);
  }

  /** Frees the packed weights and the activation region. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const ptr of this.ownedPointers) this.library.free(ptr);
    if (this.arenaBase) this.library.free(this.arenaBase);
    this.arenaBase = 0;
  }

  // ---- load time ----

  private own(bytes: number): number {
    const ptr = this.library.alloc(bytes);
    this.ownedPointers.push(ptr);
    return ptr;
  }

  /** Copies `data` into wasm memory owned by the runtime; counts it as weights. */
  private ownData(data: Float32Array | Int32Array): number {
    const ptr = this.own(data.byteLength);
    this.library.write(ptr, data);
    this.weightBytes += data.byteLength;
    return ptr;
  }

  /**
   * Kernel scratch sized once, right above the weights (packing's scratch released first): the
   * activation region, taken on the first run, is then the top of the heap and grows in place
   * instead of moving above scratch a kernel allocates mid-run, which would leave its old place
   * as a hole that the WebAssembly memory keeps.
   */
  private reserveScratch(): void {
    let channels = 0;
    let integerGemm = false;
    let floatConv = false;
    for (const [step, p] of this.prepared) {
      channels = Math.max(channels, p.N);
      integerGemm ||= step.kind === 'conv-q8' || step.kind === 'gemm-q8' || step.kind === 'matmul-i32';
      floatConv ||= step.kind === 'conv-f32' && !p.depthwise;
    }
    const exp = this.library.exports;
    exp.slimc_release_scratch();
    // per-channel sums of pooling (doubles at most) and a requantization plan per channel
    exp.slimc_reserve_scratch(integerGemm ? 1 : 0, floatConv ? 1 : 0, 8 * Math.max(channels, 64), channels);
  }

  private constant(name: string, step: PlanStep): Tensor {
    const t = this.plan.constants.get(name);
    if (!t) throw planError('a kernel operand must be a constant', step, name);
    return t;
  }

  private prepare(step: KernelStep): void {
    const exp = this.library.exports;
    const p: Prepared = { weights: 0, bias: 0, multipliers: 0, shifts: 0, perChannel: 0, N: 0, K: 0, params: [], depthwise: false };
    switch (step.kind) {
      case 'conv-f32': {
        const w = this.constant(step.weight, step);
        const [cout, cg, kh, kw] = w.shape as [number, number, number, number];
        const g = step.window.group;
        p.depthwise = cg === 1 && g === cout;
        if (p.depthwise) {
          p.weights = this.ownData(w.data as Float32Array);
        } else {
          const size = exp.slimc_conv_packed_weights_size_f32(cg * g, cout, kh, kw, g);
          p.weights = this.own(size);
          this.weightBytes += size;
          const src = this.library.alloc(w.data.length * 4);
          this.library.write(src, w.data as Float32Array);
          exp.slimc_conv_pack_weights_f32(cg * g, cout, kh, kw, g, src, p.weights);
          this.library.free(src);
        }
        if (step.bias) p.bias = this.ownData(Float32Array.from(toFloat64(this.constant(step.bias, step))));
        p.N = cout;
        p.K = cg * g;
        break;
      }
      case 'gemm-f32': {
        const w = this.constant(step.weight, step);
        const [K, N] = step.transB ? [w.shape[1]!, w.shape[0]!] : [w.shape[0]!, w.shape[1]!];
        const data = step.alpha === 1 ? (w.data as Float32Array) : Float32Array.from(w.data as Float32Array, (v) => v * step.alpha);
        const size = exp.slimc_packed_b_size_f32(K, N);
        p.weights = this.own(size);
        this.weightBytes += size;
        const src = this.library.alloc(data.byteLength);
        this.library.write(src, data);
        exp.slimc_pack_b_f32(K, N, src, step.transB ? 1 : N, step.transB ? K : 1, p.weights);
        this.library.free(src);
        if (step.bias) {
          const c = toFloat64(this.constant(step.bias, step));
          p.bias = this.ownData(Float32Array.from({ length: N }, (_, n) => step.beta * c[c.length === 1 ? 0 : n]!));
        }
        p.N = N;
        p.K = K;
        break;
      }
      case 'conv-q8':
      case 'gemm-q8':
      case 'matmul-i32': {
        const w = this.constant(step.weight, step);
        const signed = w.dtype === 'int8' ? 1 : 0;
        const zeroPoints = Int32Array.from(step.weightZeroPoints);
        const conv = step.kind === 'conv-q8' ? { dims: w.shape as [number, number, number, number], group: step.window.group } : null;
        const transB = step.kind === 'gemm-q8' && step.transB;
        if (conv) {
          const [cout, cg] = conv.dims;
          [p.N, p.K] = [cout, cg * conv.group];
        } else {
          [p.K, p.N] = transB ? [w.shape[1]!, w.shape[0]!] : [w.shape[0]!, w.shape[1]!];
        }
        const size = conv
          ? exp.slimc_conv_packed_weights_size_q8(p.K, p.N, conv.dims[2], conv.dims[3], conv.group)
          : exp.slimc_packed_b_size_q8(p.K, p.N);
        // the packed weights first, the unpacked copy above them: freeing the copy then returns its
        // memory to the top of the heap instead of leaving a hole below the packed weights
        p.weights = this.own(size);
        const zpPtr = this.library.alloc(zeroPoints.byteLength);
        this.library.write(zpPtr, zeroPoints);
        const src = this.library.alloc(w.data.length);
        this.library.write(src, w.data as Int8Array);
        const perChannelZp = zeroPoints.length > 1 ? 1 : 0;
        if (conv) {
          exp.slimc_conv_pack_weights_q8(p.K, p.N, conv.dims[2], conv.dims[3], conv.group, src, signed, zpPtr, perChannelZp, p.weights);
        } else {
          exp.slimc_pack_b_q8(p.K, p.N, src, transB ? 1 : p.N, transB ? p.K : 1, signed, zpPtr, perChannelZp, p.weights);
        }
        this.weightBytes += size;
        this.library.free(src);
        this.library.free(zpPtr);
        if (step.kind === 'matmul-i32') break;
        if (step.bias) p.bias = this.ownData(Int32Array.from(toFloat64(this.constant(step.bias, step))));
        p.perChannel = step.multipliers.length > 1 ? REQUANT_PER_CHANNEL : 0;
        if (this.roundOnce) {
          p.multipliers = this.ownData(Float32Array.from(step.multipliers));
          p.perChannel |= REQUANT_ROUND_ONCE;
          break;
        }
        const q = encodeMultipliers(step.multipliers);
        p.multipliers = this.ownData(q.multipliers);
        p.shifts = this.ownData(q.shifts);
        break;
      }
      case 'add-q8': {
        // TFLite quantized add: both sides rescaled to 2·max(s_a, s_b) with 20 bits of headroom
        const leftShift = 20;
        const twiceMax = 2 * Math.max(step.aQuant.scale, step.bQuant.scale);
        const a = encodeMultiplier(step.aQuant.scale / twiceMax);
        const b = encodeMultiplier(step.bQuant.scale / twiceMax);
        const out = encodeMultiplier(twiceMax / (2 ** leftShift * step.outputQuant.scale));
        p.params = [a.multiplier, a.shift, b.multiplier, b.shift, leftShift, out.multiplier, out.shift];
        break;
      }
      case 'concat-q8': {
        for (const q of step.inputQuants) {
          const e = encodeMultiplier(q.scale / step.outputQuant.scale);
          p.params.push(e.multiplier, e.shift);
        }
        break;
      }
      case 'mul-q8': {
        const f = Math.fround;
        const q = encodeMultiplier(f(f(step.aQuant.scale * step.bQuant.scale) / step.outputQuant.scale));
        p.params = [q.multiplier, q.shift];
        break;
      }
      case 'lut-q8': {
        p.weights = this.own(256);
        this.weightBytes += 256;
        if (step.fn === 'table') {
          const table = this.constant(step.table ?? '', step);
          if (table.data.length !== 256 || table.dtype !== step.outputQuant.type) throw planError('a lookup table is 256 codes of the output type', step, step.table);
          this.library.write(p.weights, table.data as Int8Array);
          break;
        }
        const code = { sigmoid: 0, hardsigmoid: 1, hardswish: 2 }[step.fn];
        exp.slimc_lut_build_q8(code, step.alpha, step.beta, step.inputQuant.scale, step.inputQuant.zeroPoint, signed(step.inputQuant),
          step.outputQuant.scale, step.outputQuant.zeroPoint, signed(step.outputQuant), p.weights);
        // a fused Relu/Clip clamps the table entries (raw bytes, read in the output type)
        const [lo, hi] = quantClamp(step.clamp, step.outputQuant);
        const table = step.outputQuant.type === 'int8' ? this.library.view(Int8Array, p.weights, 256) : this.library.view(Uint8Array, p.weights, 256);
        for (let i = 0; i < 256; i++) table[i] = Math.min(hi, Math.max(lo, table[i]!));
        break;
      }
      case 'lut-f32': {
        const table = this.constant(step.table, step);
        if (table.data.length !== 256 || table.dtype !== 'float32') throw planError('a float lookup table is 256 float32 values', step, step.table);
        p.weights = this.ownData(table.data as Float32Array);
        break;
      }
      case 'pool-q8': {
        if (step.pool === 'average') {
          const [kh, kw] = step.window!.kernel;
          const reals = Array.from({ length: kh * kw }, (_, c) => step.inputQuant.scale / (step.outputQuant.scale * (c + 1)));
          const q = encodeMultipliers(reals);
          p.multipliers = this.ownData(q.multipliers);
          p.shifts = this.ownData(q.shifts);
        }
        break;
      }
    }
    this.prepared.set(step, p);
  }

  /**
   * ConvTranspose with kernel == stride, no padding, one group and constant float weights (a
   * DequantizeLinear of int8 weights is folded at lowering) as float GEMMs: every output pixel
   * receives exactly one tap, so for window row ky the KW * Cout outputs of input pixel (y, x) are
   * x[y][x][:] . B_ky with B_ky[ci][(kx, co)] = W[ci][co][ky][kx], and in NHWC they are adjacent at
   * output row y * KH + ky, pixel x * KW: one GEMM per input row and ky with ldc = KW * Cout.
   * Sums run over ci in order, then the bias is added. Not prepared: the interpreter runs it.
   */
  private prepareConvTranspose(step: Extract<PlanStep, { kind: 'interp' }>): void {
    const node = step.node;
    const [, wName, bName] = step.inputs;
    const weights = wName ? this.plan.constants.get(wName) : undefined;
    const bias = bName ? this.plan.constants.get(bName) : undefined;
    if (!weights || weights.dtype !== 'float32' || weights.shape.length !== 4 || (bName && (!bias || bias.dtype !== 'float32'))) return;
    const [cIn, cOut, kh, kw] = weights.shape as [number, number, number, number];
    const same = (attr: string, want: number[]) => {
      const v = node.getInts(attr);
      return !v || (v.length === want.length && v.every((d, i) => d === want[i]));
    };
    if (node.getInt('group', 1) !== 1 || node.getString('auto_pad', 'NOTSET') !== 'NOTSET' || node.getInts('output_shape') ||
      !same('kernel_shape', [kh, kw]) || !same('dilations', [1, 1]) || !same('pads', [0, 0, 0, 0]) || !same('output_padding', [0, 0]) ||
      !same('strides', [kh, kw]) || (bias && bias.data.length !== cOut)) return;
    const exp = this.library.exports;
    const N = kw * cOut;
    const w = weights.data as Float32Array;
    const size = exp.slimc_packed_b_size_f32(cIn, N);
    const packed: number[] = [];
    const src = this.library.alloc(cIn * N * 4);
    for (let ky = 0; ky < kh; ky++) {
      const b = new Float32Array(cIn * N);
      for (let ci = 0; ci < cIn; ci++)
        for (let kx = 0; kx < kw; kx++)
          for (let co = 0; co < cOut; co++) b[ci * N + kx * cOut + co] = w[((ci * cOut + co) * kh + ky) * kw + kx]!;
      const ptr = this.own(size);
      this.weightBytes += size;
      this.library.write(src, b);
      exp.slimc_pack_b_f32(cIn, N, src, N, 1, ptr);
      packed.push(ptr);
    }
    this.library.free(src);
    const biasData = bias && Float32Array.from({ length: N }, (_, n) => (bias.data as Float32Array)[n % cOut]!);
    this.convTransposes.set(step, { packed, bias: biasData ? this.ownData(biasData) : 0, cIn, cOut, kh, kw });
  }

  /** Pairs each conv-q8 whose output only a lut-q8 reads (on the same codes) with that table. */
  private findFusedTables(): void {
    const readers = new Map<string, PlanStep[]>();
    for (const step of this.plan.steps) for (const name of stepInputs(step)) readers.set(name, [...(readers.get(name) ?? []), step]);
    const outputs = new Set(this.plan.outputs);
    for (const step of this.plan.steps) {
      if (step.kind !== 'conv-q8' || outputs.has(step.output)) continue;
      const users = readers.get(step.output) ?? [];
      const lut = users[0];
      if (users.length !== 1 || lut?.kind !== 'lut-q8' || lut.input !== step.output || (lut.rank ?? 0) > 4 ||
        lut.inputQuant.type !== step.outputQuant.type) continue;
      this.tableAfter.set(step, lut);
      this.fusedTables.add(lut);
    }
  }

  // ---- run time: slots ----

  private noteWasmSize(): void {
    this.wasmPeak = Math.max(this.wasmPeak, this.library.exports.memory.buffer.byteLength);
  }

  /** A region of `bytes` in the activation arena (which grows, keeping its contents, if needed). */
  private allocate(bytes: number): number {
    let offset: number;
    let needed: number;
    if (this.planned) {
      const { plan } = this.planned;
      const k = this.planned.next++;
      if (k >= plan.sizes.length || plan.sizes[k] !== alignUp(bytes)) throw new PlanMismatch();
      offset = plan.offsets[k]!;
      needed = plan.peak;
    } else {
      offset = this.allocator.allocate(bytes);
      needed = this.allocator.highWater;
      if (this.recording) {
        this.recording.open.set(offset, this.recording.intervals.length);
        const now = this.clock++;
        this.recording.intervals.push({ size: alignUp(bytes), start: now, end: now });
      }
    }
    if (needed > this.arenaCapacity) {
      // The contents wait on the JS heap while the old region is freed before the new one is
      // taken: the allocator can then place the new region over the old one (and the holes next
      // to it) instead of above it, so WebAssembly memory holds the arena once, not old + new.
      const capacity = Math.max(needed, Math.ceil(this.arenaCapacity * ARENA_GROWTH));
      const kept = this.arenaBase ? this.library.heapU8.slice(this.arenaBase, this.arenaBase + this.arenaCapacity) : null;
      if (this.arenaBase) this.library.free(this.arenaBase);
      this.arenaBase = this.library.alloc(capacity);
      if (kept) this.library.heapU8.set(kept, this.arenaBase);
      this.arenaCapacity = capacity;
      this.noteWasmSize();
    }
    return offset;
  }

  /** A fresh arena slot; `nhwc` flags its data as laid out NHWC (every slot has the same fields). */
  private newSlot(dtype: DType, shape: readonly number[], nhwc = false): ArenaSlot {
    const bytes = shapeSize(shape) * dtypeByteSize(dtype);
    return { offset: this.allocate(bytes), bytes, dtype, shape: [...shape], nhwc };
  }

  /** A tensor into a fresh slot (copied), strings kept on the host. */
  private store(t: Tensor): Slot {
    if (t.dtype === 'string') return { host: t };
    const data = t.data as TypedArray;
    // a view of wasm memory would be detached by a growth during allocate: copy it out first
    const src = data.buffer === this.library.exports.memory.buffer ? data.slice() : data;
    const slot = this.newSlot(t.dtype, t.shape);
    this.library.heapU8.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), this.arenaBase + slot.offset);
    return slot;
  }

  private release(slots: Map<string, Slot>, name: string): void {
    const slot = slots.get(name);
    if (!slot) return;
    slots.delete(name);
    if ('offset' in slot) this.releaseBuffer(slot);
  }

  private releaseBuffer(slot: ArenaSlot): void {
    if (this.planned) return; // planned offsets already account for lifetimes
    this.allocator.release(slot.offset, slot.bytes);
    const open = this.recording?.open.get(slot.offset);
    if (open !== undefined) {
      this.recording!.intervals[open]!.end = this.clock++;
      this.recording!.open.delete(slot.offset);
    }
  }

  private slotOf(slots: Map<string, Slot>, name: string, step: PlanStep | undefined): Slot {
    const slot = slots.get(name);
    if (slot) return slot;
    const c = this.plan.constants.get(name);
    if (c) return { host: c };
    throw planError('value has no tensor (not computed before its use)', step, name);
  }

  /** A view (or, with `copy`, a copy) of a value; views are valid until the next allocation. */
  private read(slots: Map<string, Slot>, name: string, step: PlanStep | undefined, copy = false): Tensor {
    const slot = this.slotOf(slots, name, step);
    if ('host' in slot) return slot.host;
    if (slot.nhwc) {
      // an observer looks at a value kept NHWC: give it the logical NCHW layout (a kernel transpose
      // into scratch, copied out)
      const nchw = this.newSlot(slot.dtype, slot.shape);
      this.transpose(slot, nchw, slot.shape, dtypeByteSize(slot.dtype), NCHW_FROM_NHWC);
      const data = dataFromBytes(slot.dtype, this.library.heapU8.subarray(this.ptr(nchw), this.ptr(nchw) + nchw.bytes), shapeSize(slot.shape), true);
      this.releaseBuffer(nchw);
      return { dtype: slot.dtype, shape: slot.shape, data };
    }
    const bytes = this.library.heapU8.subarray(this.arenaBase + slot.offset, this.arenaBase + slot.offset + slot.bytes);
    return { dtype: slot.dtype, shape: slot.shape, data: dataFromBytes(slot.dtype, bytes, shapeSize(slot.shape), copy) };
  }

  /** The arena slot of an activation (kernels cannot read host tensors), NCHW unless `keepNhwc`. */
  private arenaSlot(slots: Map<string, Slot>, name: string, step: PlanStep, dtypes: readonly DType[], keepNhwc = false): ArenaSlot {
    let slot = this.slotOf(slots, name, step);
    if ('host' in slot) {
      // a constant activation operand: place it in the arena for this run
      slot = this.store(slot.host);
      slots.set(name, slot);
    }
    if (!('offset' in slot)) throw planError('string tensor given to a kernel', step, name);
    if (!dtypes.includes(slot.dtype)) throw planError(`expected ${dtypes.join(' or ')}, got ${slot.dtype}`, step, name);
    if (slot.nhwc && !keepNhwc) {
      // a reader that needs NCHW: convert once, later readers get the NCHW copy
      const nchw = this.newSlot(slot.dtype, slot.shape);
      this.transpose(slot, nchw, slot.shape, dtypeByteSize(slot.dtype), NCHW_FROM_NHWC);
      this.releaseBuffer(slot);
      slots.set(name, nchw);
      return nchw;
    }
    return slot;
  }

  private ptr(slot: { offset: number }): number {
    return this.arenaBase + slot.offset;
  }

  // ---- run time: steps ----

  private execute(step: PlanStep, slots: Map<string, Slot>): void {
    switch (step.kind) {
      case 'interp':
        return this.runInterpreted(step, slots);
      case 'conv-f32':
      case 'conv-q8':
        return this.runConv(step, slots);
      case 'gemm-f32':
      case 'gemm-q8':
      case 'matmul-i32':
        return this.runGemm(step, slots);
      case 'add-q8':
      case 'mul-q8':
        return this.runBinary(step, slots);
      case 'concat-q8':
        return this.runConcat(step, slots);
      case 'lut-q8':
        if (this.fuseTables && this.fusedTables.has(step)) return; // its convolution applied it
        return this.runLookup(step, slots);
      case 'lut-f32':
        return this.runLookup(step, slots);
      case 'pool-q8':
        return this.runPool(step, slots);
    }
  }

  private runInterpreted(step: Extract<PlanStep, { kind: 'interp' }>, slots: Map<string, Slot>): void {
    if (this.runElementwise(step, slots)) return;
    const op = step.node.qualifiedOp;
    this.interpretedOps.set(op, (this.interpretedOps.get(op) ?? 0) + 1);
    this.stepInterpreted = true;
    for (const name of step.inputs) {
      const slot = name ? slots.get(name) : undefined;
      if (slot && 'offset' in slot && slot.nhwc) this.arenaSlot(slots, name!, step, [slot.dtype]);
    }
    const ins = step.node.inputs.map((_, i) => {
      const name = step.inputs[i];
      return name ? this.read(slots, name, step) : null;
    });
    const captured = new Map<string, Tensor>();
    for (const name of step.inputs.slice(step.node.inputs.length)) if (name) captured.set(name, this.read(slots, name, step));
    const outs = runNode(step.node, ins, this.plan.opset, (v) => captured.get(v.name));
    step.outputs.forEach((name, i) => {
      const t = outs[i];
      if (!name) return;
      if (!t) throw new SlimcError('internal', `kernel produced no output ${i}`);
      slots.set(name, this.store(t));
    });
  }

  /** Float elementwise ops of common shapes straight on arena buffers (elementwise.ts); false to use the interpreter. */
  private runElementwise(step: Extract<PlanStep, { kind: 'interp' }>, slots: Map<string, Slot>): boolean {
    const node = step.node;
    const output = step.outputs[0];
    if (!output || step.outputs.length !== 1 || node.domain) return false;
    const float = (name: string | null | undefined) => {
      if (!name) return undefined;
      const slot = this.slotOf(slots, name, step);
      const t = 'host' in slot ? slot.host : undefined;
      if ('host' in slot ? t!.dtype !== 'float32' : slot.dtype !== 'float32') return undefined;
      return { slot, shape: 'host' in slot ? slot.host.shape : slot.shape };
    };
    const exp = this.library.exports;
    if (node.op === 'QuantizeLinear' || node.op === 'DequantizeLinear') return this.runQuantizeLinear(step, slots);
    if (node.op === 'Pow') {
      // x^2 (LayerNorm's variance) as x * x: the interpreter's Math.pow(x, 2) is the exact double
      // product (fdlibm returns x * x for y = 2), rounded once to float32 as the float32 product is
      const exponent = step.inputs[1] ? this.plan.constants.get(step.inputs[1]) : undefined;
      const x = float(step.inputs[0]);
      if (!x || !exponent || exponent.data.length !== 1 || Number(exponent.data[0]) !== 2 || step.inputs.length !== 2) return false;
      const xSlot = this.arenaSlot(slots, step.inputs[0]!, step, ['float32'], true);
      const n = shapeSize(x.shape);
      const out = this.newSlot('float32', x.shape, xSlot.nhwc === true);
      exp.slimc_binary_f32(BINARY_CODES.Mul!, n, this.ptr(xSlot), this.ptr(xSlot), 1, n, this.ptr(out));
      slots.set(output, out);
      return true;
    }
    if (BINARY_OPS.has(node.op)) {
      const a = float(step.inputs[0]);
      const b = float(step.inputs[1]);
      if (!a || !b || step.inputs.length !== 2) return false;
      const [na, nb] = [shapeSize(a.shape), shapeSize(b.shape)];
      const swapped = nb > na || (nb === na && b.shape.length > a.shape.length);
      const [big, small] = swapped ? [b, a] : [a, b];
      const layout = blockBroadcast(big.shape, small.shape);
      if (!layout) return false;
      const n = Math.max(na, nb);
      const [bigName, smallName] = swapped ? [step.inputs[1]!, step.inputs[0]!] : [step.inputs[0]!, step.inputs[1]!];
      let bigSlot = this.arenaSlot(slots, bigName, step, ['float32'], true);
      let smallSlot = this.arenaSlot(slots, smallName, step, ['float32'], true);
      // NHWC data stays NHWC when the other side is NHWC too (same size) or varies along one dim only
      // (a scalar, a per-channel vector: its elements are in the same order in both layouts)
      let nhwcLayout: { inner: number; period: number } | null = null;
      if (bigSlot.nhwc && (na === nb ? smallSlot.nhwc : small.shape.filter((d) => d !== 1).length <= 1)) {
        const aligned = [...new Array<number>(Math.max(0, 4 - small.shape.length)).fill(1), ...small.shape];
        const [n0, c0, h0, w0] = big.shape as [number, number, number, number];
        nhwcLayout = na === nb ? { inner: 1, period: n } : blockBroadcast([n0, h0, w0, c0], [aligned[0]!, aligned[2]!, aligned[3]!, aligned[1]!]);
      }
      if (!nhwcLayout) {
        bigSlot = this.arenaSlot(slots, bigName, step, ['float32']);
        smallSlot = this.arenaSlot(slots, smallName, step, ['float32']);
      }
      const used = nhwcLayout ?? layout;
      const out = this.newSlot('float32', big.shape, nhwcLayout !== null);
      const code = BINARY_CODES[swapped ? `${node.op}-swapped` : node.op]!;
      // a scalar is one run over everything
      const [inner, period] = used.period === 1 ? [n, 1] : [used.inner, used.period];
      exp.slimc_binary_f32(code, n, this.ptr(bigSlot), this.ptr(smallSlot), inner, period, this.ptr(out));
      slots.set(output, out);
      return true;
    }
    if (node.op === 'Resize') return this.runResizeNearest(step, slots);
    if (node.op === 'BatchNormalization') return this.runBatchNorm(step, slots);
    if (node.op === 'Softmax') {
      const x = float(step.inputs[0]);
      if (!x || x.shape.length === 0 || step.inputs.length !== 1) return false;
      const rank = x.shape.length;
      const size = (from: number, to: number) => shapeSize(x.shape.slice(from, to));
      let axis = node.getInt('axis', this.plan.opset < 13 ? 1 : -1);
      if (axis < 0) axis += rank;
      if (axis < 0 || axis >= rank) return false; // the interpreter reports it
      // before opset 13 the input is coerced to 2-D at `axis`
      const [outer, dim, inner] = this.plan.opset < 13 ? [size(0, axis), size(axis, rank), 1] : [size(0, axis), x.shape[axis]!, size(axis + 1, rank)];
      const xSlot = this.arenaSlot(slots, step.inputs[0]!, step, ['float32']);
      const out = this.newSlot('float32', x.shape);
      exp.slimc_softmax_f32(outer, dim, inner, this.ptr(xSlot), this.ptr(out));
      slots.set(output, out);
      return true;
    }
    if (node.op === 'ConvTranspose') return this.runConvTranspose(step, slots);
    if (node.op === 'Concat') return this.runConcatCopy(step, slots);
    if (node.op === 'MatMul') return this.runMatMulF32(step, slots);
    if (node.op === 'Transpose' || node.op === 'Slice') return this.runGather(step, slots);
    if (node.op === 'ReduceMean') return this.runMeanLastAxis(step, slots);
    if (node.op === 'MaxPool' || node.op === 'AveragePool') return this.runPoolF32(step, slots);
    if (node.op === 'GlobalAveragePool') {
      const x = float(step.inputs[0]);
      if (!x || x.shape.length < 3) return false;
      const xSlot = this.arenaSlot(slots, step.inputs[0]!, step, ['float32'], true);
      const [batch, channels] = [x.shape[0]!, x.shape[1]!];
      const out = this.newSlot('float32', [batch, channels, ...x.shape.slice(2).map(() => 1)]);
      exp.slimc_global_avgpool_f32(batch, channels, shapeSize(x.shape) / Math.max(batch * channels, 1), xSlot.nhwc ? 1 : 0, this.ptr(xSlot),
        this.ptr(out));
      slots.set(output, out);
      return true;
    }
    let bounds: [number, number] | undefined;
    if (node.op === 'Clip') {
      if (this.plan.opset < 11) bounds = [node.getFloat('min', -Infinity), node.getFloat('max', Infinity)];
      else {
        const bound = (i: number, dflt: number) => {
          const name = step.inputs[i];
          if (!name) return dflt;
          const c = this.plan.constants.get(name);
          return c && c.dtype === 'float32' && c.data.length === 1 ? (c.data as Float32Array)[0]! : undefined;
        };
        const [lo, hi] = [bound(1, -Infinity), bound(2, Infinity)];
        if (lo === undefined || hi === undefined) return false;
        bounds = [lo, hi];
      }
    }
    const x = float(step.inputs[0]);
    if (!x) return false;
    const n = shapeSize(x.shape);
    const kernelArgs = unaryKernelArgs(node, bounds);
    if (kernelArgs) {
      const xSlot = this.arenaSlot(slots, step.inputs[0]!, step, ['float32'], true);
      const out = this.newSlot('float32', x.shape, xSlot.nhwc === true);
      exp.slimc_unary_f32(kernelArgs[0], n, this.ptr(xSlot), kernelArgs[1], kernelArgs[2], kernelArgs[3], kernelArgs[4], this.ptr(out));
      slots.set(output, out);
      return true;
    }
    return false;
  }

  /**
   * Float MatMul of two activations (attention's Q.K^T and weights.V): per matrix of the batch, B
   * packed into arena scratch, then the float GEMM (float32 sums in k order; the interpreter sums
   * in double: within 1e-5 relative). Batch dims equal on both sides, or B 2-D; false otherwise.
   */
  private runMatMulF32(step: Extract<PlanStep, { kind: 'interp' }>, slots: Map<string, Slot>): boolean {
    const [aName, bName] = step.inputs;
    if (!aName || !bName || step.inputs.length !== 2 || step.outputs.length !== 1) return false;
    const [a0, b0] = [this.slotOf(slots, aName, step), this.slotOf(slots, bName, step)];
    if (!('offset' in a0) || !('offset' in b0) || a0.dtype !== 'float32' || b0.dtype !== 'float32') return false;
    const [as, bs] = [a0.shape, b0.shape];
    if (as.length < 2 || bs.length < 2 || (bs.length > 2 && (bs.length !== as.length || bs.slice(0, -2).some((d, i) => d !== as[i])))) return false;
    const [M, K] = [as[as.length - 2]!, as[as.length - 1]!];
    const [K2, N] = [bs[bs.length - 2]!, bs[bs.length - 1]!];
    if (K !== K2) return false;
    const a = this.arenaSlot(slots, aName, step, ['float32']);
    const b = this.arenaSlot(slots, bName, step, ['float32']);
    const batches = shapeSize(as.slice(0, -2));
    const out = this.newSlot('float32', [...as.slice(0, -2), M, N]);
    const exp = this.library.exports;
    const packed = this.newSlot('float32', [exp.slimc_packed_b_size_f32(K, N) / 4]);
    for (let i = 0; i < batches; i++) {
      if (i === 0 || bs.length > 2) exp.slimc_pack_b_f32(K, N, this.ptr(b) + (bs.length > 2 ? i * K * N * 4 : 0), N, 1, this.ptr(packed));
      exp.slimc_gemm_f32(M, N, K, this.ptr(a) + i * M * K * 4, K, this.ptr(packed), 0, -Infinity, Infinity, this.ptr(out) + i * M * N * 4, N);
    }
    this.releaseBuffer(packed);
    slots.set(step.outputs[0]!, out);
    return true;
  }

  /**
   * Transpose (any permutation) and Slice (constant starts, ends, axes and positive steps) of a
   * numeric tensor as one strided gather (slimc_gather_strided) in the logical layout: the result
   * holds the same elements the interpreter's does. False for other forms (the interpreter runs them).
   */
  private runGather(step: Extract<PlanStep, { kind: 'interp' }>, slots: Map<string, Slot>): boolean {
    const node = step.node;
    const name = step.inputs[0];
    if (!name || step.outputs.length !== 1) return false;
    const found = this.slotOf(slots, name, step);
    const [dtype, shape] = 'host' in found ? [found.host.dtype, found.host.shape] : [found.dtype, found.shape];
    const rank = shape.length;
    if (dtype === 'string' || rank < 1 || rank > 8) return false;
    const es = dtypeByteSize(dtype);
    const strides = shape.map((_, k) => shapeSize(shape.slice(k + 1)) * es);
    let outShape: number[];
    let srcStrides: number[];
    let offset = 0;
    if (node.op === 'Transpose') {
      const perm = node.getInts('perm') ?? shape.map((_, k) => rank - 1 - k);
      if (perm.length !== rank || new Set(perm).size !== rank || perm.some((p) => p < 0 || p >= rank)) return false;
      outShape = perm.map((p) => shape[p]!);
      srcStrides = perm.map((p) => strides[p]!);
    } else {
      const old = this.plan.opset < 10;
      const ints = (i: number, attr: string): number[] | undefined => {
        if (old) return node.getInts(attr)?.slice();
        const n = step.inputs[i];
        const t = n ? this.plan.constants.get(n) : undefined;
        return t ? Array.from(toFloat64(t)) : undefined;
      };
      const [starts, ends] = [ints(1, 'starts'), ints(2, 'ends')];
      const hasAxes = old ? node.getInts('axes') !== undefined : !!step.inputs[3];
      const axes = hasAxes ? ints(3, 'axes') : starts?.map((_, i) => i);
      const steps = !old && step.inputs[4] ? ints(4, '') : starts?.map(() => 1);
      if (!starts || !ends || !axes || !steps || [ends, axes, steps].some((a) => a.length !== starts.length) || steps.some((k) => k < 1)) return false;
      outShape = [...shape];
      srcStrides = [...strides];
      const seen = new Set<number>();
      for (let i = 0; i < starts.length; i++) {
        const axis = axes[i]! < 0 ? axes[i]! + rank : axes[i]!;
        if (axis < 0 || axis >= rank || seen.has(axis)) return false;
        seen.add(axis);
        const d = shape[axis]!;
        const clampTo = (v: number) => Math.min(d, Math.max(0, v < 0 ? v + d : v));
        const [from, to] = [clampTo(starts[i]!), clampTo(ends[i]!)];
        outShape[axis] = Math.max(0, Math.ceil((to - from) / steps[i]!));
        srcStrides[axis] = strides[axis]! * steps[i]!;
        offset += from * strides[axis]!;
      }
    }
    const x = this.arenaSlot(slots, name, step, [dtype]);
    const out = this.newSlot(dtype, outShape);
    const params = this.library.view(Int32Array, this.geometryPtr, GEOMETRY_LENGTH);
    params.set(outShape);
    params.set(srcStrides, 8);
    if (shapeSize(outShape) > 0) this.library.exports.slimc_gather_strided(rank, this.geometryPtr, this.geometryPtr + 32, es, this.ptr(x) + offset, this.ptr(out));
    slots.set(step.outputs[0]!, out);
    return true;
  }

  /** ReduceMean of float data over its last axis only (LayerNorm), as the interpreter sums (slimc_mean_rows_f32); false otherwise. */
  private runMeanLastAxis(step: Extract<PlanStep, { kind: 'interp' }>, slots: Map<string, Slot>): boolean {
    const node = step.node;
    const name = step.inputs[0];
    const found = name ? this.slotOf(slots, name, step) : undefined;
    if (!found || !('offset' in found) || found.dtype !== 'float32' || found.shape.length < 1 || step.outputs.length !== 1) return false;
    const rank = found.shape.length;
    let axes: number[] | undefined;
    if (this.plan.opset < 18) axes = node.getInts('axes')?.slice();
    else if (step.inputs[1]) {
      const t = this.plan.constants.get(step.inputs[1]);
      axes = t ? Array.from(toFloat64(t)) : undefined;
    }
    if (!axes || axes.length !== 1 || (axes[0]! < 0 ? axes[0]! + rank : axes[0]!) !== rank - 1) return false;
    const dim = found.shape[rank - 1]!;
    if (dim < 1) return false;
    const x = this.arenaSlot(slots, name!, step, ['float32']);
    const outShape = node.getInt('keepdims', 1) === 1 ? [...x.shape.slice(0, -1), 1] : x.shape.slice(0, -1);
    const out = this.newSlot('float32', outShape);
    this.library.exports.slimc_mean_rows_f32(shapeSize(x.shape) / dim, dim, this.ptr(x), this.ptr(out));
    slots.set(step.outputs[0]!, out);
    return true;
  }

  /**
   * Concat of numeric tensors as copies of contiguous runs (slimc_copy_runs), any element type:
   * on axis 1 of 4-D data kept NHWC, a run per pixel and input, the result staying NHWC; otherwise
   * in the logical layout, a run per index before the axis. False for shapes that do not fit
   * (the interpreter reports them).
   */
  private runConcatCopy(step: Extract<PlanStep, { kind: 'interp' }>, slots: Map<string, Slot>): boolean {
    const names = step.inputs;
    if (step.outputs.length !== 1 || !step.outputs[0] || names.length === 0 || names.some((n) => !n)) return false;
    const found = names.map((n) => this.slotOf(slots, n!, step));
    const dtype = 'host' in found[0]! ? found[0].host.dtype : found[0]!.dtype;
    const shapes = found.map((s) => ('host' in s ? s.host.shape : s.shape));
    const rank = shapes[0]!.length;
    let axis = step.node.getInt('axis', 0);
    if (axis < 0) axis += rank;
    if (dtype === 'string' || axis < 0 || axis >= rank ||
      found.some((s, i) => ('host' in s ? s.host.dtype : s.dtype) !== dtype || shapes[i]!.length !== rank ||
        shapes[i]!.some((d, k) => k !== axis && d !== shapes[0]![k]))) return false;
    const outShape = shapes[0]!.map((d, k) => (k === axis ? shapes.reduce((n, s) => n + s[axis]!, 0) : d));
    // NHWC on axis 1 when some input is kept NHWC and the others are too or have one layout (C == 1 or H * W == 1)
    const sameInBoth = (shape: readonly number[]) => shape[1] === 1 || shape[2]! * shape[3]! === 1;
    const nhwc = rank === 4 && axis === 1 && found.some((s) => 'offset' in s && s.nhwc) &&
      found.every((s, i) => ('offset' in s && s.nhwc) || sameInBoth(shapes[i]!));
    const parts = names.map((n) => this.arenaSlot(slots, n!, step, [dtype], nhwc));
    const es = dtypeByteSize(dtype);
    const out = this.newSlot(dtype, outShape, nhwc && !sameInBoth(outShape));
    // a run per pixel (NHWC) or per index before the axis; each input's run is its share of the row
    const runs = nhwc ? outShape[0]! * outShape[2]! * outShape[3]! : shapeSize(outShape.slice(0, axis));
    const rowBytes = (shapeSize(outShape) / Math.max(runs, 1)) * es;
    let at = 0;
    for (const part of parts) {
      const bytes = (shapeSize(part.shape) / Math.max(runs, 1)) * es;
      if (bytes > 0 && runs > 0) this.library.exports.slimc_copy_runs(runs, bytes, this.ptr(part), bytes, this.ptr(out) + at, rowBytes);
      at += bytes;
    }
    slots.set(step.outputs[0]!, out);
    return true;
  }

  /** Resize of 4-D float data, nearest / asymmetric / floor with integer H and W factors (upsampling in FPNs); false otherwise. */
  private runResizeNearest(step: Extract<PlanStep, { kind: 'interp' }>, slots: Map<string, Slot>): boolean {
    const node = step.node;
    if (node.getString('mode', 'nearest') !== 'nearest' || node.getString('coordinate_transformation_mode', 'half_pixel') !== 'asymmetric' ||
      node.getString('nearest_mode', 'round_prefer_floor') !== 'floor') return false;
    const [xName] = step.inputs;
    const x = xName ? this.slotOf(slots, xName, step) : undefined;
    if (!x || !('offset' in x) || x.dtype !== 'float32' || x.shape.length !== 4) return false;
    const constant = (i: number) => {
      const name = step.inputs[i];
      return name ? this.plan.constants.get(name) : undefined;
    };
    const scales = constant(this.plan.opset < 11 ? 1 : 2);
    const sizes = this.plan.opset < 11 ? undefined : constant(3);
    let factors: number[] | undefined;
    if (scales && scales.data.length === 4) factors = Array.from(toFloat64(scales));
    else if (sizes && sizes.data.length === 4) factors = Array.from(toFloat64(sizes), (d, i) => d / x.shape[i]!);
    if (!factors || factors[0] !== 1 || factors[1] !== 1 || !Number.isInteger(factors[2]) || !Number.isInteger(factors[3]) ||
      factors[2]! < 1 || factors[3]! < 1) return false;
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const [fh, fw] = [factors[2]!, factors[3]!];
    const out = this.newSlot('float32', [n, c, h * fh, w * fw], x.nhwc === true);
    this.library.exports.slimc_resize_nearest_f32(n, c, h, w, fh, fw, x.nhwc ? 1 : 0, this.ptr(x), this.ptr(out));
    slots.set(step.outputs[0]!, out);
    return true;
  }

  /** Inference BatchNormalization of float data (N, C, ...) with constant parameters, NCHW or NHWC; false otherwise. */
  private runBatchNorm(step: Extract<PlanStep, { kind: 'interp' }>, slots: Map<string, Slot>): boolean {
    const node = step.node;
    if (node.getInt('training_mode', 0) !== 0 || step.outputs.filter((o) => o).length !== 1 || step.inputs.length !== 5) return false;
    const params = step.inputs.slice(1).map((name) => (name ? this.plan.constants.get(name) : undefined));
    const x = step.inputs[0] ? this.slotOf(slots, step.inputs[0], step) : undefined;
    if (!x || !('offset' in x) || x.dtype !== 'float32' || x.shape.length < 2) return false;
    const channels = x.shape[1]!;
    if (params.some((t) => !t || t.data.length !== channels || (t.dtype !== 'float32' && t.dtype !== 'float64'))) return false;
    const [scale, bias, mean, variance] = params.map((t) => toFloat64(t!)) as [Float64Array, Float64Array, Float64Array, Float64Array];
    const eps = node.getFloat('epsilon', 1e-5);
    // folded as the interpreter folds them, in double
    const folded = new Float64Array(2 * channels);
    for (let c = 0; c < channels; c++) {
      folded[c] = scale[c]! / Math.sqrt(variance[c]! + eps);
      folded[channels + c] = bias[c]! - mean[c]! * folded[c]!;
    }
    const coefficients = this.newSlot('float64', [2 * channels]);
    new Float64Array(this.library.exports.memory.buffer, this.ptr(coefficients), 2 * channels).set(folded);
    const out = this.newSlot('float32', x.shape, x.nhwc === true);
    const batch = x.shape[0]!;
    this.library.exports.slimc_channel_affine_f32(batch, channels, shapeSize(x.shape) / Math.max(batch * channels, 1), x.nhwc ? 1 : 0,
      this.ptr(x), this.ptr(coefficients), this.ptr(coefficients) + 8 * channels, this.ptr(out));
    this.releaseBuffer(coefficients);
    slots.set(step.outputs[0]!, out);
    return true;
  }

  /** Float 2-D MaxPool (no Indices output) or AveragePool, ceil_mode 0, on NHWC data, which it leaves NHWC; false otherwise. */
  private runPoolF32(step: Extract<PlanStep, { kind: 'interp' }>, slots: Map<string, Slot>): boolean {
    const node = step.node;
    const kernel = node.getInts('kernel_shape');
    const pads = node.getInts('pads') ?? [0, 0, 0, 0];
    const strides = node.getInts('strides') ?? [1, 1];
    const dilations = node.getInts('dilations') ?? [1, 1];
    const autoPad = node.getString('auto_pad', 'NOTSET');
    if (!kernel || kernel.length !== 2 || pads.length !== 4 || strides.length !== 2 || dilations.length !== 2 ||
      node.getInt('ceil_mode', 0) !== 0 || step.outputs.length !== 1 || !['NOTSET', 'VALID', 'SAME_UPPER', 'SAME_LOWER'].includes(autoPad)) return false;
    const [xName] = step.inputs;
    const x = xName ? this.slotOf(slots, xName, step) : undefined;
    if (!x || !('offset' in x) || x.dtype !== 'float32' || x.shape.length !== 4) return false;
    const window: WindowAttrs = { kernel: [kernel[0]!, kernel[1]!], strides: [strides[0]!, strides[1]!], dilations: [dilations[0]!, dilations[1]!],
      pads: [pads[0]!, pads[1]!, pads[2]!, pads[3]!], autoPad, group: 1 };
    const input = this.nhwcOf(this.arenaSlot(slots, xName!, step, ['float32'], true), 4);
    const [n, c] = x.shape as [number, number];
    const [oh, ow] = this.writeGeometry(x.shape, c, window, step);
    const out = this.nhwcSlot('float32', [n, c, oh, ow]);
    if (node.op === 'MaxPool') this.library.exports.slimc_maxpool_f32(this.geometryPtr, this.ptr(input.slot), this.ptr(out));
    else this.library.exports.slimc_avgpool_f32(this.geometryPtr, this.ptr(input.slot), node.getInt('count_include_pad', 0) === 1 ? 1 : 0, this.ptr(out));
    if (input.scratch) this.releaseBuffer(input.slot);
    slots.set(step.outputs[0]!, out);
    return true;
  }

  /** A ConvTranspose prepared by prepareConvTranspose, on NHWC data, which it leaves NHWC; false otherwise. */
  private runConvTranspose(step: Extract<PlanStep, { kind: 'interp' }>, slots: Map<string, Slot>): boolean {
    const form = this.convTransposes.get(step);
    const xName = step.inputs[0];
    if (!form || !xName) return false;
    const x = this.slotOf(slots, xName, step);
    if (!('offset' in x) || x.dtype !== 'float32' || x.shape.length !== 4 || x.shape[1] !== form.cIn) return false;
    const input = this.nhwcOf(this.arenaSlot(slots, xName, step, ['float32'], true), 4);
    const { cIn, cOut, kh, kw } = form;
    const [n, , h, w] = x.shape as [number, number, number, number];
    const out = this.nhwcSlot('float32', [n, cOut, h * kh, w * kw]);
    const exp = this.library.exports;
    const N = kw * cOut;
    for (let b = 0; b < n; b++)
      for (let y = 0; y < h; y++) {
        const a = this.ptr(input.slot) + ((b * h + y) * w * cIn) * 4;
        for (let ky = 0; ky < kh; ky++) {
          const c = this.ptr(out) + ((b * h * kh + y * kh + ky) * w * kw * cOut) * 4;
          exp.slimc_gemm_f32(w, N, cIn, a, cIn, form.packed[ky]!, form.bias, -Infinity, Infinity, c, N);
        }
      }
    if (input.scratch) this.releaseBuffer(input.slot);
    slots.set(step.outputs[0]!, out);
    return true;
  }


  /** Per-tensor QuantizeLinear / DequantizeLinear with constant parameters (elementwise.ts); false otherwise. */
  private runQuantizeLinear(step: Extract<PlanStep, { kind: 'interp' }>, slots: Map<string, Slot>): boolean {
    const node = step.node;
    const [xName, scaleName, zpName] = step.inputs;
    const scale = scaleName ? this.plan.constants.get(scaleName) : undefined;
    const zp = zpName ? this.plan.constants.get(zpName) : undefined;
    if (!xName || !scale || scale.dtype !== 'float32' || scale.data.length !== 1 || (zpName && (!zp || zp.data.length !== 1))) return false;
    if (node.getInt('block_size', 0) !== 0 || node.getInt('saturate', 1) !== 1) return false;
    const x = this.slotOf(slots, xName, step);
    if (!('offset' in x)) return false;
    const s = (scale.data as Float32Array)[0]!;
    const z = zp ? Number((zp.data as Int8Array)[0]) : 0;
    const n = shapeSize(x.shape);
    if (node.op === 'QuantizeLinear') {
      const type = zp ? zp.dtype : node.getInt('output_dtype', 0) === 0 ? 'uint8' : undefined;
      if (x.dtype !== 'float32' || (type !== 'int8' && type !== 'uint8')) return false;
      const out = this.newSlot(type, x.shape, x.nhwc === true);
      const [lo, hi] = integerRange(type);
      this.library.exports.slimc_quantize_f32(n, this.ptr(x), s, z, lo, hi, type === 'int8' ? 1 : 0, this.ptr(out));
      slots.set(step.outputs[0]!, out);
      return true;
    }
    if ((x.dtype !== 'int8' && x.dtype !== 'uint8') || (zp && zp.dtype !== x.dtype)) return false;
    const out = this.newSlot('float32', x.shape, x.nhwc === true);
    this.library.exports.slimc_dequantize_q8(n, this.ptr(x), x.dtype === 'int8' ? 1 : 0, z, s, this.ptr(out));
    slots.set(step.outputs[0]!, out);
    return true;
  }

  /** Writes the NCHW geometry of a conv/pool step into the scratch geometry array; returns output H, W and pads top, left. */
  private writeGeometry(shape: readonly number[], outChannels: number, window: WindowAttrs, step: PlanStep): [number, number, number, number] {
    if (shape.length !== 4) throw planError(`expected a 4-D NCHW input, got [${shape.join(',')}]`, step);
    const [n, c, h, w] = shape as [number, number, number, number];
    const [kh, kw] = window.kernel;
    const [sh, sw] = window.strides;
    const [dh, dw] = window.dilations;
    let [pt, pl, pb, pr] = window.pads;
    if (window.autoPad === 'VALID') pt = pl = pb = pr = 0;
    if (window.autoPad === 'SAME_UPPER' || window.autoPad === 'SAME_LOWER') {
      const same = (size: number, k: number, s: number, d: number): [number, number] => {
        const total = Math.max(0, (Math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size);
        const small = Math.floor(total / 2);
        return window.autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
      };
      [pt, pb] = same(h, kh, sh, dh);
      [pl, pr] = same(w, kw, sw, dw);
    }
    const oh = Math.floor((h + pt + pb - dh * (kh - 1) - 1) / sh) + 1;
    const ow = Math.floor((w + pl + pr - dw * (kw - 1) - 1) / sw) + 1;
    if (oh < 1 || ow < 1) throw planError(`window does not fit the input [${shape.join(',')}]`, step);
    if (c % window.group !== 0) throw planError(`${window.group} groups do not divide ${c} channels`, step);
    const geometry = [n, h, w, c, outChannels, kh, kw, window.group, sh, sw, dh, dw, pt, pl, pb, pr];
    this.library.view(Int32Array, this.geometryPtr, GEOMETRY_LENGTH).set(geometry);
    return [oh, ow, pt, pl];
  }

  /** NCHW <-> NHWC between two arena slots of 4-byte or 1-byte elements. */
  private transpose(src: { offset: number }, dst: { offset: number }, shape: readonly number[], elementBytes: number, direction: number): void {
    const [n, c, h, w] = shape as [number, number, number, number];
    this.library.exports.slimc_transpose_layout(n, c, h * w, elementBytes, direction === NCHW_FROM_NHWC ? 1 : 0, this.ptr(src), this.ptr(dst));
  }

  private runConv(step: Extract<KernelStep, { kind: 'conv-f32' | 'conv-q8' }>, slots: Map<string, Slot>): void {
    const p = this.prepared.get(step)!;
    const isFloat = step.kind === 'conv-f32';
    const x = this.arenaSlot(slots, step.input, step, isFloat ? ['float32'] : [step.inputQuant.type], !p.depthwise);
    if (x.shape.length !== 4 || x.shape[1] !== p.K) {
      throw planError(`expected an NCHW input with ${p.K} channels, got [${x.shape.join(',')}]`, step, step.input);
    }
    const [oh, ow, pt, pl] = this.writeGeometry(x.shape, p.N, step.window, step);
    const [n, , h, w] = x.shape as [number, number, number, number];
    if (p.depthwise) {
      const out = this.newSlot('float32', [n, p.N, oh, ow]);
      const [lo, hi] = floatClamp(step.clamp);
      this.library.exports.slimc_depthwise_conv_f32(this.geometryPtr, this.ptr(x), p.weights, p.bias, lo, hi, this.ptr(out));
      slots.set(step.output, out);
      return;
    }
    const table = !isFloat && this.fuseTables ? this.tableAfter.get(step) : undefined;
    const outType: DType = isFloat ? 'float32' : (table ?? step).outputQuant.type;
    const elementBytes = isFloat ? 4 : 1;
    const input = this.nhwcOf(x, elementBytes);
    const nhwcIn = input.slot;
    this.noteOutputAllocation(step);
    const nhwcOut = this.nhwcSlot(outType, [n, p.N, oh, ow]);
    if (isFloat) {
      const [lo, hi] = floatClamp(step.clamp);
      this.library.exports.slimc_conv_f32(this.geometryPtr, this.ptr(nhwcIn), p.weights, p.bias, lo, hi, this.ptr(nhwcOut));
    } else {
      const [lo, hi] = quantClamp(step.clamp, step.outputQuant);
      this.library.exports.slimc_conv_q8(this.geometryPtr, this.ptr(nhwcIn), signed(step.inputQuant), step.inputQuant.zeroPoint,
        p.weights, p.bias, p.multipliers, p.shifts, p.perChannel, step.outputQuant.zeroPoint, lo, hi, signed(step.outputQuant),
        table ? this.prepared.get(table)!.weights : 0, this.ptr(nhwcOut));
    }
    slots.set(table ? table.output : step.output, nhwcOut);
    if (input.scratch) this.releaseBuffer(nhwcIn);
  }

  private runGemm(step: Extract<KernelStep, { kind: 'gemm-f32' | 'gemm-q8' | 'matmul-i32' }>, slots: Map<string, Slot>): void {
    const p = this.prepared.get(step)!;
    const isFloat = step.kind === 'gemm-f32';
    const x = this.arenaSlot(slots, step.input, step, isFloat ? ['float32'] : [step.inputQuant.type]);
    // a 1-D input is one row (MatMul drops the row dim again; Gemm requires 2-D, checked by the interpreter's rules)
    if (x.shape.length < 1 || x.shape[x.shape.length - 1] !== p.K) {
      throw planError(`input [${x.shape.join(',')}] does not end in K = ${p.K}`, step, step.input);
    }
    const M = shapeSize(x.shape) / p.K;
    const outShape = [...x.shape.slice(0, -1), p.N];
    const out = this.newSlot(isFloat ? 'float32' : step.kind === 'matmul-i32' ? 'int32' : step.outputQuant.type, outShape);
    const exp = this.library.exports;
    if (step.kind === 'matmul-i32') {
      exp.slimc_gemm_q8_i32(M, p.N, p.K, this.ptr(x), p.K, signed(step.inputQuant), step.inputQuant.zeroPoint, p.weights, 0, this.ptr(out), p.N);
    } else if (isFloat) {
      const [lo, hi] = floatClamp(step.clamp);
      exp.slimc_gemm_f32(M, p.N, p.K, this.ptr(x), p.K, p.weights, p.bias, lo, hi, this.ptr(out), p.N);
    } else {
      const [lo, hi] = quantClamp(step.clamp, step.outputQuant);
      exp.slimc_gemm_q8(M, p.N, p.K, this.ptr(x), p.K, signed(step.inputQuant), step.inputQuant.zeroPoint, p.weights, p.bias,
        p.multipliers, p.shifts, p.perChannel, step.outputQuant.zeroPoint, lo, hi, signed(step.outputQuant), this.ptr(out), p.N);
    }
    slots.set(step.output, out);
  }

  private runBinary(step: Extract<KernelStep, { kind: 'add-q8' | 'mul-q8' }>, slots: Map<string, Slot>): void {
    const p = this.prepared.get(step)!;
    let a = this.arenaSlot(slots, step.a, step, [step.aQuant.type]);
    let b = this.arenaSlot(slots, step.b, step, [step.bQuant.type]);
    let [aq, bq] = [step.aQuant, step.bQuant];
    let [am, as, bm, bs] = p.params as [number, number, number, number];
    // the kernels broadcast only their second operand: both ops commute, so swap a scalar a
    if (a.bytes < b.bytes) {
      [a, b, aq, bq, am, as, bm, bs] = [b, a, bq, aq, bm, bs, am, as];
    }
    const n = shapeSize(a.shape);
    const nb = shapeSize(b.shape);
    if (nb !== n && nb !== 1) throw planError(`cannot add [${b.shape.join(',')}] to [${a.shape.join(',')}]`, step);
    const out = this.newSlot(step.outputQuant.type, a.shape.length >= b.shape.length ? a.shape : b.shape);
    const [lo, hi] = quantClamp(step.clamp, step.outputQuant);
    if (step.kind === 'mul-q8') {
      const [multiplier, shift] = p.params as [number, number];
      this.library.exports.slimc_mul_q8(n, this.ptr(a), signed(aq), aq.zeroPoint, this.ptr(b), nb === n ? 1 : 0, signed(bq), bq.zeroPoint,
        multiplier, shift, step.outputQuant.zeroPoint, lo, hi, signed(step.outputQuant), this.ptr(out));
      slots.set(step.output, out);
      return;
    }
    const [, , , , leftShift, om, os] = p.params as number[];
    this.library.exports.slimc_add_q8(n, this.ptr(a), signed(aq), aq.zeroPoint, am, as, this.ptr(b), nb === n ? 1 : 0, signed(bq),
      bq.zeroPoint, bm, bs, leftShift!, om!, os!, step.outputQuant.zeroPoint, lo, hi, signed(step.outputQuant), this.ptr(out));
    slots.set(step.output, out);
  }

  /** Concatenation as rows x cols copies: rows = product of dims before the axis, cols = the rest. */
  private runConcat(step: Extract<KernelStep, { kind: 'concat-q8' }>, slots: Map<string, Slot>): void {
    const p = this.prepared.get(step)!;
    const parts = step.inputs.map((name, i) => this.arenaSlot(slots, name, step, [step.inputQuants[i]!.type]));
    const first = parts[0]!.shape;
    const rank = first.length;
    const axis = step.axis < 0 ? step.axis + rank : step.axis;
    if (axis < 0 || axis >= rank) throw planError(`axis ${step.axis} is out of range for rank ${rank}`, step);
    for (const part of parts) {
      if (part.shape.length !== rank || part.shape.some((d, i) => i !== axis && d !== first[i])) {
        throw planError(`cannot concatenate [${part.shape.join(',')}] with [${first.join(',')}] on axis ${axis}`, step);
      }
    }
    const outShape = first.map((d, i) => (i === axis ? parts.reduce((n, part) => n + part.shape[axis]!, 0) : d));
    const out = this.newSlot(step.outputQuant.type, outShape);
    const rows = shapeSize(first.slice(0, axis));
    const totalCols = shapeSize(outShape) / Math.max(rows, 1);
    const [lo, hi] = quantClamp(step.clamp, step.outputQuant);
    let column = 0;
    parts.forEach((part, i) => {
      const cols = shapeSize(part.shape) / Math.max(rows, 1);
      const q = step.inputQuants[i]!;
      if (cols > 0 && rows > 0) {
        this.library.exports.slimc_rescale_q8(rows, cols, this.ptr(part), cols, signed(q), q.zeroPoint, p.params[2 * i]!, p.params[2 * i + 1]!,
          this.ptr(out) + column, totalCols, signed(step.outputQuant), step.outputQuant.zeroPoint, lo, hi);
      }
      column += cols;
    });
    slots.set(step.output, out);
  }

  /** A 256-entry table indexed by the input codes, elementwise: NHWC data stays NHWC. */
  private runLookup(step: Extract<KernelStep, { kind: 'lut-q8' | 'lut-f32' }>, slots: Map<string, Slot>): void {
    const x = this.arenaSlot(slots, step.input, step, [step.inputQuant.type], true);
    const rank = step.rank ?? 0;
    const shape = x.shape.length < rank ? [...new Array<number>(rank - x.shape.length).fill(1), ...x.shape] : x.shape;
    const isFloat = step.kind === 'lut-f32';
    this.noteOutputAllocation(step);
    const out = this.newSlot(isFloat ? 'float32' : step.outputQuant.type, shape, x.nhwc === true);
    const apply = isFloat ? this.library.exports.slimc_lut_apply_f32 : this.library.exports.slimc_lut_apply_q8;
    apply(shapeSize(x.shape), this.ptr(x), this.prepared.get(step)!.weights, this.ptr(out));
    slots.set(step.output, out);
  }

  private runPool(step: Extract<KernelStep, { kind: 'pool-q8' }>, slots: Map<string, Slot>): void {
    const p = this.prepared.get(step)!;
    const x = this.arenaSlot(slots, step.input, step, [step.inputQuant.type], true);
    if (x.shape.length !== 4) throw planError(`expected a 4-D NCHW input, got [${x.shape.join(',')}]`, step, step.input);
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const exp = this.library.exports;
    const [lo, hi] = quantClamp(step.clamp, step.outputQuant);
    const input = this.nhwcOf(x, 1);
    const nhwcIn = input.slot;
    let out: ArenaSlot;
    if (step.pool === 'global-average') {
      out = this.newSlot(step.outputQuant.type, [n, c, 1, 1]);
      exp.slimc_global_avgpool_q8(n, h * w, c, this.ptr(nhwcIn), signed(step.inputQuant), step.inputQuant.zeroPoint,
        step.inputQuant.scale, step.outputQuant.scale, step.outputQuant.zeroPoint, lo, hi, signed(step.outputQuant), this.ptr(out));
    } else {
      const [oh, ow] = this.writeGeometry(x.shape, c, { ...step.window!, group: 1 }, step);
      const nhwcOut = this.nhwcSlot(step.outputQuant.type, [n, c, oh, ow]);
      if (step.pool === 'max') exp.slimc_maxpool_q8(this.geometryPtr, this.ptr(nhwcIn), signed(step.inputQuant), this.ptr(nhwcOut));
      else {
        exp.slimc_avgpool_q8(this.geometryPtr, this.ptr(nhwcIn), signed(step.inputQuant), step.inputQuant.zeroPoint,
          step.countIncludePad ? 1 : 0, p.multipliers, p.shifts, step.outputQuant.zeroPoint, lo, hi, signed(step.outputQuant),
          this.ptr(nhwcOut));
      }
      out = nhwcOut;
    }
    if (input.scratch) this.releaseBuffer(nhwcIn);
    slots.set(step.output, out);
  }
}

/** enum slimc_binary_op by op; `-swapped`: the broadcast operand is the left one. */
const BINARY_CODES: Record<string, number> = {
  Add: 0, Sub: 1, Mul: 2, Div: 3, 'Add-swapped': 0, 'Sub-swapped': 4, 'Mul-swapped': 2, 'Div-swapped': 5,
};

/** slimc_unary_f32 arguments [op, alpha, beta, lo, hi] for the activations it computes; undefined for others. */
function unaryKernelArgs(node: Node, bounds: [number, number] | undefined): [number, number, number, number, number] | undefined {
  switch (node.op) {
    case 'Relu':
      return [0, 0, 0, 0, Infinity];
    case 'Clip':
      return bounds && [0, 0, 0, bounds[0], bounds[1]];
    case 'HardSigmoid':
      return [1, node.getFloat('alpha', 0.2), node.getFloat('beta', 0.5), 0, 0];
    case 'HardSwish':
      return [2, 0, 0, 0, 0];
    case 'Sigmoid':
      return [3, 0, 0, 0, 0];
    default:
      return undefined;
  }
}

/** A kernel step's profile key: its kind, for convolutions with the window and depthwise or grouped. */
function profileKey(step: KernelStep, plan: Plan): string {
  if (step.kind !== 'conv-f32' && step.kind !== 'conv-q8') return step.kind;
  const [kh, kw] = step.window.kernel;
  const [sh, sw] = step.window.strides;
  const groups = step.window.group;
  const cout = plan.constants.get(step.weight)?.shape[0];
  const form = groups === 1 ? '' : groups === cout ? ' depthwise' : ' grouped';
  return `${step.kind} ${kh}x${kw}${sh > 1 || sw > 1 ? ` s${sh}` : ''}${form}`;
}

/** `slot` flagged as holding NHWC data when `nhwc`. */
function signed(q: QuantOperand): number {
  return q.type === 'int8' ? 1 : 0;
}

function floatClamp(clamp: Clamp): [number, number] {
  return [clamp[0] ?? -Infinity, clamp[1] ?? Infinity];
}

function quantClamp(clamp: Clamp, q: QuantOperand): [number, number] {
  const [typeMin, typeMax] = integerRange(q.type);
  return [Math.max(clamp[0] ?? typeMin, typeMin), Math.min(clamp[1] ?? typeMax, typeMax)];
}

/** For each step, the activations it is the last reader of (graph outputs are never released early). */
function lastReaders(plan: Plan): string[][] {
  const last = new Map<string, number>();
  plan.inputs.forEach((v) => last.set(v.name, -1));
  plan.steps.forEach((step, i) => {
    for (const name of [...stepInputs(step), ...stepOutputs(step)]) last.set(name, i);
  });
  for (const name of plan.outputs) last.delete(name);
  const out: string[][] = plan.steps.map(() => []);
  for (const [name, i] of last) if (i >= 0) out[i]!.push(name);
  // a graph input nobody reads is released after the first step
  for (const [name, i] of last) if (i < 0 && out.length) out[0]!.push(name);
  return out;
}
