/**
 * Properties of ONNX export/import on random well-formed models: export then import reproduces
 * the model exactly as printGraph shows it, and a second round trip yields identical bytes.
 */
import { expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { printGraph } from '@slimc/ir';
import { decodeOnnx, encodeOnnx } from '@slimc/backends';
import { arbModelRecipe, buildModel } from './onnx-arbitraries.js';

test.prop([arbModelRecipe], { numRuns: 150 })('import(export(model)) prints like the model', (recipe) => {
  const model = buildModel(recipe);
  const bytes = encodeOnnx(model);
  const imported = decodeOnnx(bytes);
  expect(printGraph(imported.graph)).toBe(printGraph(model.graph));
  expect([...imported.opsetImports]).toEqual([...model.opsetImports]);
  const again = encodeOnnx(imported);
  expect(Buffer.compare(Buffer.from(again), Buffer.from(bytes))).toBe(0);
});

test.prop([arbModelRecipe, fc.boolean()], { numRuns: 50 })('export without value_info still imports', (recipe, valueInfo) => {
  const model = buildModel(recipe);
  const imported = decodeOnnx(encodeOnnx(model, { valueInfo }));
  expect(imported.graph.nodeCount).toBe(model.graph.nodeCount);
  expect(imported.graph.outputs.map((v) => v.name)).toEqual(model.graph.outputs.map((v) => v.name));
});
