/**
 * Properties of ONNX export/import on random well-formed models: export (with value_info for every
 * typed value) then import reproduces the model exactly as printGraph shows it, and a second round
 * trip with the default value_info (the values the imported file declared) yields identical bytes.
 */
import { expect } from 'vitest';
import { fc, test } from '@fast-check/vitest';
import { printGraph } from '@slimc/ir';
import { decodeOnnx, encodeOnnx } from '@slimc/backends';
import { arbModelRecipe, buildModel } from './onnx-arbitraries.js';

test.prop([arbModelRecipe], { numRuns: 150 })('import(export(model)) prints like the model', (recipe) => {
  const model = buildModel(recipe);
  const bytes = encodeOnnx(model, { valueInfo: 'all' });
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

test.prop([arbModelRecipe], { numRuns: 50 })('by default only declared types are written: types known only in memory are not', (recipe) => {
  const model = buildModel(recipe);
  const imported = decodeOnnx(encodeOnnx(model));
  for (const n of imported.graph.allNodes()) {
    for (const v of n.outputs) {
      // a graph output carries its own type; a doc string or non-tensor type keeps its value_info entry
      if (!v || v.isGraphOutput || v.docString !== undefined || v.opaqueType) continue;
      expect(v.type, v.name).toBeUndefined();
    }
  }
});
