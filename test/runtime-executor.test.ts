/**
 * The runtime as the compiler's executor: a plugin taps `executor`, and a pass asking for one
 * (calibration) gets the WebAssembly runtime; results and observed values match the reference
 * interpreter.
 */
import { expect, test } from 'vitest';
import { loadOnnx, wasmExecutor } from '@slimc/backends';
import { Compiler, referenceInterpreter, type Executor } from '@slimc/passes';
import type { Tensor } from '@slimc/ir';
import { PADDLE_CLS } from './fixtures/models.js';
import { worstRelativeError } from './interpreter-oracle.js';

test('a tapped wasm executor runs the classifier like the interpreter, observed values included', async () => {
  const executor: Executor = wasmExecutor();
  const compiler = new Compiler();
  compiler.hooks.executor.tap('wasm-runtime', ({ purpose }) => (purpose === 'calibration' ? executor : undefined));
  const model = loadOnnx(PADDLE_CLS.path);
  expect(compiler.executor(model, 'calibration').name).toBe('wasm');
  expect(compiler.executor(model, 'evaluation')).toBe(referenceInterpreter);

  const inputs = PADDLE_CLS.inputs();
  const seen = new Map<string, Tensor>();
  const ours = await compiler.executor(model, 'calibration').run(model.graph, inputs, { opset: model.opset, observe: (v, t) => seen.set(v.name, t) });
  const want = new Map<string, Tensor>();
  const reference = await referenceInterpreter.run(model.graph, inputs, { opset: model.opset, observe: (v, t) => want.set(v.name, t) });
  for (const [name, t] of Object.entries(reference)) expect(worstRelativeError(ours[name]!, t)).toBeLessThanOrEqual(1e-4);
  expect([...seen.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [name, t] of want) if (t.dtype === 'float32') expect(worstRelativeError(seen.get(name)!, t), name).toBeLessThanOrEqual(1e-4);
});
