/**
 * The quantize pass's `preprocess` option on an image folder: a preset, the same preset spelled
 * out as fields, and the same spec as an API object calibrate to the same grids; other fields give
 * other grids; a bad spec is rejected before anything runs.
 */
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Model } from '@slimc/ir';
import { Compiler } from '../core/compiler.js';
import { builtinPlugin } from '../builtin.js';
import { PADDLE_OCR_CLS_PREPROCESS } from '../quantize/data/preprocess.js';
import { buildModel, f32, f32Type, ints, op, seededFloats } from '../../../../test/passes-support.js';

const CALIB_DIR = fileURLToPath(new URL('../../../../test/data/ocr/calib', import.meta.url));
let samples = '';

beforeAll(async () => {
  // three lines keep the test quick; calibration reads every image of the folder
  samples = await mkdtemp(join(tmpdir(), 'slimc-preprocess-'));
  const images = (await readdir(CALIB_DIR)).filter((f) => f.endsWith('.png')).sort().slice(0, 3);
  for (const f of images) await copyFile(join(CALIB_DIR, f), join(samples, f));
});
afterAll(() => rm(samples, { recursive: true, force: true }));

/** x: [1, 3, 48, 192] (a paddle-cls line) -> 1x1 Conv -> Relu. */
function lineNet(): Model {
  return buildModel(13, (g) => {
    const x = g.addInput('x', f32Type(1, 3, 48, 192));
    const w = g.addConstant('w', f32([2, 3, 1, 1], seededFloats(6, 21, -1, 1)));
    const y = op(g, 'Conv', [x, w], { kernel_shape: ints(1, 1) }, f32Type(1, 2, 48, 192));
    g.addOutput(op(g, 'Relu', [y], {}, f32Type(1, 2, 48, 192)));
  });
}

/** Scale and zero point of every QuantizeLinear, by the name of its output. */
async function grids(preprocess: unknown): Promise<Record<string, [number, number]>> {
  const m = lineNet();
  await new Compiler().use(builtinPlugin).run(m, [{ name: 'quantize', options: { samples, preprocess } }]);
  const out: Record<string, [number, number]> = {};
  for (const n of m.graph.allNodes()) {
    if (n.op === 'QuantizeLinear') out[n.output(0).name] = [Number(n.input(1)!.constant!.data[0]), Number(n.input(2)!.constant!.data[0])];
  }
  return out;
}

const PADDLE_CLS_FIELDS = 'height:48;width:192;keep-aspect:true;pad-to:192;scale:1/255;mean:0.5;std:0.5;channels:bgr;layout:nchw';

describe('quantize preprocess option', () => {
  test('a preset, its fields and its object calibrate alike; other fields differ', async () => {
    const preset = await grids('paddle-cls');
    expect(Object.keys(preset).length).toBe(2);
    expect(await grids(PADDLE_CLS_FIELDS)).toEqual(preset);
    expect(await grids({ ...PADDLE_OCR_CLS_PREPROCESS })).toEqual(preset);
    // x/255 in [0, 1] instead of [-1, 1]: another input grid
    expect((await grids('paddle-cls;mean:0;std:1')).x_q).not.toEqual(preset.x_q);
  });

  test('a bad spec is an error naming the option, from the pipeline text too', async () => {
    const compiler = new Compiler().use(builtinPlugin);
    expect(() => compiler.resolvePipeline(`quantize(samples=${JSON.stringify(samples)},preprocess=paddle-cls;std:0)`)).toThrow(/pass quantize, option preprocess.*std must not be 0/);
    expect(() => compiler.resolvePipeline('quantize(preprocess=resize:48)')).toThrow(/option preprocess.*resize: expected HxW/);
    expect(compiler.resolvePipeline('quantize(preprocess=resize:48x192;mean:0.5;std:0.5)')[0]!.options.preprocess).toBe('resize:48x192;mean:0.5;std:0.5');
  });
});
