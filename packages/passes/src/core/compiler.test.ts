import { describe, expect, test } from 'vitest';
import { SlimcError, printGraph } from '@slimc/ir';
import { buildModel, f32, f32Type, op } from '../../../../test/passes-support.js';
import { Compiler, referenceInterpreter, type PipelineStep } from './compiler.js';
import { definePass, definePlugin } from './pass.js';
import { PatternSet, applyPatternsGreedily, definePattern } from './pattern.js';
import { builtinPlugin } from '../builtin.js';

/** Neg(Neg(x)) ==> x */
const cancelDoubleNeg = definePattern({
  name: 'cancel-double-neg',
  root: 'Neg',
  match(n, m) {
    const inner = m.producer(n.input(0), 'Neg');
    if (!inner) return m.fail('operand is not a Neg');
    if (!m.canReplaceValue(n.output(0), inner.input(0)!)) return m.fail('graph output');
    return { x: inner.input(0)! };
  },
  rewrite: (n, { x }, rw) => rw.replaceOp(n, [x]),
});

function negChain(length: number) {
  return buildModel(13, (g) => {
    let v = g.addInput('x', f32Type(2));
    for (let i = 0; i < length; i++) v = op(g, 'Neg', [v]);
    g.addOutput(op(g, 'Relu', [v]));
  });
}

describe('greedy driver', () => {
  test('re-queues what a rewrite changes, so a long chain collapses in one run', () => {
    const m = negChain(2000);
    const r = applyPatternsGreedily(m, PatternSet.of(cancelDoubleNeg));
    expect(r.fired['cancel-double-neg']).toBe(1000);
    // Each rewrite leaves the inner Neg dead; the driver erases it before any pattern sees it.
    expect(r.deadErased).toBe(1000);
    expect([...m.graph.nodes()].map((n) => n.op)).toEqual(['Relu']);
  });

  test('a set that never converges hits the guard, which names the patterns that kept firing', () => {
    const flip = (from: string, to: string) =>
      definePattern({
        name: `${from}-to-${to}`,
        root: from,
        match: () => ({}),
        rewrite: (n, _c, rw) => {
          const y = rw.createNode({ op: to, inputs: [n.input(0)], outputs: ['y'] }, n);
          rw.replaceAllUsesWith(n.output(0), y.output(0));
          rw.eraseNode(n);
        },
      });
    const m = buildModel(13, (g) => g.addOutput(op(g, 'Abs', [op(g, 'Relu', [g.addInput('x', f32Type(2))])])));
    const set = PatternSet.of(flip('Relu', 'Sigmoid'), flip('Sigmoid', 'Relu'));
    expect(() => applyPatternsGreedily(m, set, { pass: 'flip-flop' })).toThrow(/did not converge.*Relu-to-Sigmoid.*Sigmoid-to-Relu|did not converge.*Sigmoid-to-Relu.*Relu-to-Sigmoid/);
  });

  test('a rewrite re-queues the users of the values it replaces, not the other users of the values it reads', () => {
    // x feeds 500 Relus (live: graph outputs) and Neg(Neg(x)), which feeds 3 Abs. Cancelling the
    // Negs moves the Abs onto x, which cannot make a Relu match anything new: each Relu is tried
    // once (in the first sweep).
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2));
      for (let i = 0; i < 500; i++) g.addOutput(op(g, 'Relu', [x]));
      const negNeg = op(g, 'Neg', [op(g, 'Neg', [x])]);
      for (let i = 0; i < 3; i++) g.addOutput(op(g, 'Abs', [negNeg]));
    });
    const tried = new Map<string, number>();
    const probe = (root: string) => definePattern({ name: `probe-${root}`, root, benefit: 9, match: (_n, m) => m.fail('probe'), rewrite: () => {} });
    const r = applyPatternsGreedily(m, PatternSet.of(probe('Relu'), probe('Abs'), cancelDoubleNeg), {
      onMatchFailure: (p) => tried.set(p, (tried.get(p) ?? 0) + 1),
    });
    expect(r.fired).toEqual({ 'cancel-double-neg': 1 });
    expect(tried.get('probe-Relu')).toBe(500);
    // The Abs are tried in the first sweep and again once their operand is replaced.
    expect(tried.get('probe-Abs')).toBe(6);
    expect(m.graph.nodeList().filter((n) => n.op === 'Neg')).toEqual([]);
  });

  test('a created node is queued and matched, without re-queueing the other users of its operands', () => {
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2));
      for (let i = 0; i < 500; i++) g.addOutput(op(g, 'Relu', [x]));
      g.addOutput(op(g, 'Neg', [x]));
    });
    const negToSub = definePattern({
      name: 'neg-to-sub',
      root: 'Neg',
      match: () => ({}),
      rewrite: (n, _c, rw) => rw.replaceOpWithNew(n, { op: 'Sub', inputs: [rw.addConstant(n.graph, 'zero', f32([], [0])), n.input(0)] }),
    });
    const subToAdd = definePattern({
      name: 'sub-to-mul',
      root: 'Sub',
      match: (n, m) => (m.constant(n.input(0)) ? {} : m.fail('minuend is not a constant')),
      rewrite: (n, _c, rw) => rw.replaceOpWithNew(n, { op: 'Mul', inputs: [n.input(1), rw.addConstant(n.graph, 'minus_one', f32([], [-1]))] }),
    });
    let reluTries = 0;
    const probe = definePattern({ name: 'probe', root: 'Relu', match: (_n, m) => m.fail('probe'), rewrite: () => {} });
    const r = applyPatternsGreedily(m, PatternSet.of(probe, negToSub, subToAdd), { onMatchFailure: (p) => p === 'probe' && reluTries++ });
    // The Sub made by the first rewrite is matched by the second: the created node was queued.
    expect(r.fired).toEqual({ 'neg-to-sub': 1, 'sub-to-mul': 1 });
    expect(reluTries).toBe(500);
  });

  test('pattern sets compose without duplicates and index by benefit', () => {
    const other = definePattern({ name: 'other', root: 'Neg', benefit: 5, match: (_n, m) => m.fail('never'), rewrite: () => {} });
    const a = PatternSet.of(cancelDoubleNeg);
    const b = a.concat(PatternSet.of(cancelDoubleNeg, other), other);
    expect(b.names).toEqual(['cancel-double-neg', 'other']);
    expect(a.names).toEqual(['cancel-double-neg']);
    expect(b.without('other').names).toEqual(['cancel-double-neg']);
    // The higher-benefit pattern is tried first: its failure is seen before the match.
    const tried: string[] = [];
    applyPatternsGreedily(negChain(2), b, { onMatchFailure: (p) => tried.push(p) });
    expect(tried[0]).toBe('other');
  });
});

describe('Compiler', () => {
  test('hooks fire in documented order, taps ordered by stage', async () => {
    const calls: string[] = [];
    const compiler = new Compiler().use(builtinPlugin);
    compiler.use(
      definePlugin({
        name: 'observer',
        apply(c) {
          c.hooks.pipeline.tap({ name: 'late', stage: 10 }, (steps) => (calls.push('pipeline:late'), steps));
          c.hooks.pipeline.tap('early', (steps: PipelineStep[]) => {
            calls.push('pipeline:early');
            return [...steps, ...c.resolvePipeline('eliminate-dead-code')];
          });
          c.hooks.beforePass.tap('observer', (s) => void calls.push(`before:${s.pass.name}`));
          c.hooks.patterns.tap('observer', (set, info) => (calls.push(`patterns:${info.pass}`), set));
          c.hooks.afterPass.tap('observer', (s, _m, r) => void calls.push(`after:${s.pass.name}:${r.changed}`));
        },
      }),
    );
    const m = negChain(2);
    const report = await compiler.run(m, 'eliminate-identity');
    expect(calls).toEqual([
      'pipeline:early',
      'pipeline:late',
      'before:eliminate-identity',
      'patterns:eliminate-identity',
      'after:eliminate-identity:false',
      'before:eliminate-dead-code',
      'after:eliminate-dead-code:false',
    ]);
    expect(report.passes.map((p) => p.name)).toEqual(['eliminate-identity', 'eliminate-dead-code']);
    expect(Object.isFrozen(compiler.hooks)).toBe(true);
  });

  test('a plugin adds patterns to a pattern pass through the patterns hook', async () => {
    const compiler = new Compiler().use(builtinPlugin);
    compiler.use(
      definePlugin({
        name: 'neg-canceller',
        apply: (c) => c.hooks.patterns.tap('neg-canceller', (set, info) => (info.pass === 'eliminate-identity' ? set.add(cancelDoubleNeg) : set)),
      }),
    );
    const m = negChain(4);
    const report = await compiler.run(m, 'eliminate-identity,eliminate-dead-code');
    // The driver erases the inner Negs the cancellations leave dead.
    expect(report.passes[0]!.stats).toEqual({ 'cancel-double-neg': 2, 'dead-nodes-erased': 2 });
    expect(printGraph(m.graph)).toMatchInlineSnapshot(`
      "graph main(%x: float32[2]) -> (%relu) {
        %relu: ? = Relu(%x)
        return %relu
      }
      "
    `);
  });

  test('a pass that throws is reported as a SlimcError naming the pass', async () => {
    const compiler = new Compiler().use(builtinPlugin);
    compiler.use(
      definePlugin({
        name: 'broken-plugin',
        apply: (c) =>
          c.registerPass(
            definePass({
              name: 'explode',
              description: 'always throws',
              kind: 'graph',
              options: {},
              run: () => {
                throw new TypeError('cannot read properties of undefined');
              },
            }),
          ),
      }),
    );
    const err = await compiler.run(negChain(1), 'eliminate-dead-code,explode').catch((e) => e);
    expect(err).toBeInstanceOf(SlimcError);
    expect(err.kind).toBe('internal');
    expect(err.context.pass).toBe('explode');
    expect(err.message).toBe('pass explode: pass failed: cannot read properties of undefined');
  });

  test('a pattern that breaks the IR is caught by the verifier after its pass, naming the pass', async () => {
    const compiler = new Compiler().use(builtinPlugin);
    // Rewires Relu's operand to its own output: a cycle.
    const selfLoop = definePattern({
      name: 'self-loop',
      root: 'Relu',
      match: (n, m) => (n.input(0) === n.output(0) ? m.fail('already looped') : {}),
      rewrite: (n, _c, rw) => rw.setInput(n, 0, n.output(0)),
    });
    compiler.registerPass(definePass({ name: 'break-ir', description: 'makes a cycle', kind: 'pattern', options: {}, patterns: () => PatternSet.of(selfLoop) }));
    const err = await compiler.run(negChain(1), 'break-ir').catch((e) => e);
    expect(err).toBeInstanceOf(SlimcError);
    expect(err.context.pass).toBe('break-ir');
    expect(err.message).toMatch(/^pass break-ir/);
  });

  test('dumpAfter, timings and node counts in the report', async () => {
    const compiler = new Compiler({ dumpAfter: ['eliminate-dead-code'] }).use(builtinPlugin);
    const m = buildModel(13, (g) => {
      const x = g.addInput('x', f32Type(2));
      op(g, 'Relu', [x]);
      g.addOutput(op(g, 'Abs', [x]));
    });
    const report = await compiler.run(m, 'eliminate-dead-code');
    expect(report.passes[0]).toMatchObject({ name: 'eliminate-dead-code', changed: true, nodesBefore: 2, nodesAfter: 1 });
    expect(report.passes[0]!.ms).toBeGreaterThanOrEqual(0);
    expect(report.dumps['eliminate-dead-code']).toBe(printGraph(m.graph));
  });

  test('executor and calibrationData hooks: the first tap that answers wins', async () => {
    const compiler = new Compiler();
    const m = negChain(1);
    expect(compiler.executor(m, 'calibration')).toBe(referenceInterpreter);
    const fake = { name: 'fake', run: () => ({ y: f32([1], [7]) }) };
    compiler.hooks.executor.tap('fake', (req) => (req.purpose === 'calibration' ? fake : undefined));
    expect(compiler.executor(m, 'calibration')).toBe(fake);
    expect(compiler.executor(m, 'fold-constants')).toBe(referenceInterpreter);
    compiler.hooks.calibrationData.tapPromise('none', async () => undefined);
    compiler.hooks.calibrationData.tapPromise('samples', async (req) => Array.from({ length: req.count }, () => ({ x: f32([2], [1, 2]) })));
    const samples = await compiler.hooks.calibrationData.promise({ model: m, pass: 'quantize', count: 3 });
    expect(samples).toHaveLength(3);
    const out = await referenceInterpreter.run(m.graph, { x: f32([2], [1, -2]) }, { opset: 13 });
    expect(Array.from(out.relu!.data as Float32Array)).toEqual([0, 2]);
  });

  test('a plugin whose apply throws is named in the error', () => {
    const bad = definePlugin({
      name: 'bad-apply',
      apply: () => {
        throw new Error('missing dependency');
      },
    });
    expect(() => new Compiler().use(bad)).toThrow('plugin bad-apply failed to apply: missing dependency');
  });

  test('an invalid input model is reported as invalid-model before any pass runs', async () => {
    const m = negChain(1);
    m.graph.first!.setInput(0, m.graph.first!.output(0)); // a cycle
    const err = await new Compiler().use(builtinPlugin).run(m, 'eliminate-dead-code').catch((e) => e);
    expect(err).toBeInstanceOf(SlimcError);
    expect(err.kind).toBe('invalid-model');
    expect(err.context.pass).toBeUndefined();
  });

  test('registerPass refuses a second pass with the same name', () => {
    const compiler = new Compiler().use(builtinPlugin);
    const clash = definePass({ name: 'deduplicate', description: 'x', kind: 'graph', options: {}, run: () => ({ changed: false }) });
    expect(() => compiler.registerPass(clash)).toThrow('a pass named "deduplicate" is already registered');
  });
});
