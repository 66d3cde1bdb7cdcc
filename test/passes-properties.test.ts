/**
 * Property tests: random graphs through each canonicalization pass keep the interpreter's outputs
 * (and the output names), verify clean after every pass, and a second run changes nothing.
 */
import { afterAll, describe, expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { type Graph, type Model, type Value, cloneModel, interpret, verify } from '@slimc/ir';
import { Compiler, builtinPlugin } from '@slimc/passes';
import { buildModel, f32, f32Type, float, i64, int, ints, maxRelativeDiff, op, seededFloats, tensorAttr } from './passes-support.js';

interface Step {
  kind: number;
  a: number;
  b: number;
  seed: number;
}

const KINDS = 16;

/** Builds a graph from a recipe: every value has shape [1, C, H, W]; operands are picked from earlier values. */
function buildRandomModel(c: number, h: number, w: number, steps: Step[], outputs: number[]): Model {
  return buildModel(13, (g: Graph) => {
    const type = f32Type(1, c, h, w);
    const x = g.addInput('x', type);
    const values: Value[] = [x];
    const pick = (k: number) => values[k % values.length]!;
    const full = (seed: number) => g.addConstant('k', f32([1, c, h, w], seededFloats(c * h * w, seed, 0.5, 1.5)));
    const perChannel = (seed: number) => g.addConstant('pc', f32([c, 1, 1], seededFloats(c, seed, 0.5, 1.5)));
    const batchNorm = (input: Value, seed: number) => {
      const p = (k: number, lo: number, hi: number) => g.addConstant('bn', f32([c], seededFloats(c, seed + k, lo, hi)));
      return op(g, 'BatchNormalization', [input, p(1, 0.5, 2), p(2, -1, 1), p(3, -0.5, 0.5), p(4, 0.2, 2)], { epsilon: float(1e-5) }, type);
    };
    for (const s of steps) {
      // Half the time, chain onto the latest value so Conv -> BatchNormalization/Mul/Add pairs occur.
      const a = s.a % 2 ? values[values.length - 1]! : pick(s.a >> 1);
      const b = pick(s.b);
      let v: Value;
      switch (s.kind % KINDS) {
        case 0:
          v = op(g, ['Relu', 'Neg', 'Sigmoid', 'Tanh', 'Abs'][s.seed % 5]!, [a], {}, type);
          break;
        case 1:
          v = op(g, ['Add', 'Mul', 'Sub'][s.seed % 3]!, [a, b], {}, type);
          break;
        case 2:
          v = op(g, s.seed % 2 ? 'Mul' : 'Add', [a, s.seed % 4 < 2 ? perChannel(s.seed) : full(s.seed)], {}, type);
          break;
        case 3:
          v = op(g, 'Identity', [a], {}, type);
          break;
        case 4:
          v = op(g, 'Reshape', [a, g.addConstant('shape', i64([4], s.seed % 2 ? [0, 0, 0, -1] : [1, c, h, w]))], {}, type);
          break;
        case 5:
          v = op(g, 'Transpose', [a], { perm: ints(0, 1, 2, 3) }, type);
          break;
        case 6:
          v = op(g, 'Cast', [a], { to: int(1) }, type);
          break;
        case 7:
        case 15: {
          const weight = g.addConstant('w', f32([c, c, 1, 1], seededFloats(c * c, s.seed, -1, 1)));
          v = op(g, 'Conv', s.seed % 2 ? [a, weight] : [a, weight, g.addConstant('bias', f32([c], seededFloats(c, s.seed + 1)))], {}, type);
          // Often followed right away by what fold-batchnorm folds.
          if (s.seed % 3 === 1) v = op(g, s.seed % 4 < 2 ? 'Mul' : 'Add', [perChannel(s.seed + 2), v], {}, type);
          if (s.seed % 3 === 2) v = batchNorm(v, s.seed);
          break;
        }
        case 8:
          v = batchNorm(a, s.seed);
          break;
        case 9: {
          // A constant subtree: folds to one constant.
          const k = op(g, 'Constant', [], { value: tensorAttr(f32([c, 1, 1], seededFloats(c, s.seed, 0.5, 1))) });
          v = op(g, 'Mul', [a, op(g, 'Add', [k, perChannel(s.seed + 1)])], {}, type);
          break;
        }
        case 10: {
          // Shape arithmetic on a static shape: folds to a constant Reshape target.
          const shape = op(g, 'Shape', [a]);
          const head = op(g, 'Slice', [shape, g.addConstant('s0', i64([1], [0])), g.addConstant('s1', i64([1], [2]))]);
          v = op(g, 'Reshape', [a, op(g, 'Concat', [head, g.addConstant('m1', i64([2], [h, -1]))], { axis: int(0) })], {}, type);
          break;
        }
        case 11: {
          // A duplicate of the latest node (same op, attributes, operands): CSE merges it.
          const last = a.producer;
          v = last ? g.addNode({ op: last.op, inputs: last.inputs, attrs: last.attrs, outputs: [{ name: 'dup', type }] }).output(0) : op(g, 'Relu', [a], {}, type);
          break;
        }
        case 12:
          v = op(g, 'Add', [a, g.addConstant('same', f32([1], [s.seed % 3]))], {}, type);
          break;
        case 13:
          v = op(g, 'Expand', [a, g.addConstant('shape', i64([2], [h, w]))], {}, type);
          break;
        case 14:
          v = op(g, 'Slice', [a, g.addConstant('s', i64([2], [0, 0])), g.addConstant('e', i64([2], [h, 2 ** 31 - 1])), g.addConstant('ax', i64([2], [2, -1]))], {}, type);
          break;
        default:
          throw new Error('unreachable');
      }
      values.push(v);
    }
    const outs = new Set<Value>([values[values.length - 1]!, ...outputs.map(pick)]);
    for (const v of outs) if (v !== x) g.addOutput(v);
    if (g.outputs.length === 0) g.addOutput(op(g, 'Relu', [x], {}, type));
  });
}

const recipe = fc.record({
  c: fc.integer({ min: 1, max: 3 }),
  h: fc.integer({ min: 1, max: 3 }),
  w: fc.integer({ min: 1, max: 3 }),
  steps: fc.array(fc.record({ kind: fc.nat(KINDS - 1), a: fc.nat(50), b: fc.nat(50), seed: fc.nat(1000) }), { minLength: 1, maxLength: 14 }),
  outputs: fc.array(fc.nat(50), { maxLength: 3 }),
});

/** How often each pass changed something, to check that the generator exercises it. */
const changedRuns = new Map<string, number>();

describe.each(['fold-constants', 'eliminate-dead-code', 'eliminate-identity', 'fold-batchnorm', 'deduplicate', 'canonicalize'])('%s', (pipeline) => {
  test.prop([recipe], { numRuns: 60 })('keeps outputs and names, verifies clean, and is idempotent', async ({ c, h, w, steps, outputs }) => {
    const original = buildRandomModel(c, h, w, steps, outputs);
    expect(verify(original)).toEqual([]);
    const inputs = { x: f32([1, c, h, w], seededFloats(c * h * w, 99)) };
    const before = interpret(original.graph, inputs);
    const model = cloneModel(original);
    const compiler = new Compiler({ verifyEach: true }).use(builtinPlugin);
    const first = await compiler.run(model, pipeline);
    if (first.passes[0]!.changed) changedRuns.set(pipeline, (changedRuns.get(pipeline) ?? 0) + 1);
    expect(verify(model)).toEqual([]);
    expect(model.graph.outputs.map((v) => v.name)).toEqual(original.graph.outputs.map((v) => v.name));
    expect(maxRelativeDiff(interpret(model.graph, inputs), before)).toBeLessThan(1e-5);
    const second = await compiler.run(model, pipeline);
    expect(second.passes[0]!.changed).toBe(false);
  });
});

afterAll(() => {
  // Random recipes hit every pass's rewrites in a good share of the runs (60 per pass).
  for (const pass of ['fold-constants', 'eliminate-dead-code', 'eliminate-identity', 'fold-batchnorm', 'deduplicate', 'canonicalize']) {
    expect(changedRuns.get(pass) ?? 0, pass).toBeGreaterThan(10);
  }
  console.log('runs in which each pass changed the graph (of 60):', Object.fromEntries(changedRuns));
});
