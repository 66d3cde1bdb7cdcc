/**
 * Sample sources: model input feeds read lazily, one sample at a time, from a folder.
 *
 * A folder holds one of three layouts (mixing them is an error):
 *   - ONNX test-data layout: `test_data_set_N/input_K.pb` (TensorProto files). One sample per
 *     `test_data_set_N` (in order of N), one input per `input_K.pb` (in order of K), keyed by the
 *     tensor's own name, or by `inputNames[K]` when the file has none.
 *   - NumPy arrays: `*.npy`, one single-input sample per file (in file-name order), keyed by
 *     `inputName`.
 *   - Images: `*.png`, `*.jpg`, `*.jpeg`, `*.webp`, `*.tif(f)`; one single-input sample per file
 *     (in file-name order), preprocessed by the `PreprocessSpec` and keyed by `inputName`.
 * `inputName` comes from the options, else from the spec.
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { SlimcError, type Tensor } from '@slimc/ir';
import { readNpy, readTensorProto } from '@slimc/backends';
import { decodeImage } from './image.js';
import { preprocessImage, type PreprocessSpec } from './preprocess.js';

export interface SampleOptions {
  /** Input name for single-input layouts (images, .npy); overrides `spec.inputName`. */
  inputName?: string;
  /** Input names by position, for `.pb` tensors that carry no name. */
  inputNames?: readonly string[];
  /** Stop after this many samples. */
  limit?: number;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp', '.tif', '.tiff']);
const TEST_DATA_SET = /^test_data_set_(\d+)$/;
const INPUT_PB = /^input_(\d+)\.pb$/;

/** The samples in `dir` as input feeds (see the module comment for the layouts). */
export async function* loadSamples(dir: string, spec?: PreprocessSpec, options: SampleOptions = {}): AsyncGenerator<Record<string, Tensor>> {
  const entries = await listDir(dir);
  const sets = entries.filter((e) => e.isDirectory() && TEST_DATA_SET.test(e.name)).map((e) => e.name);
  const files = entries.filter((e) => e.isFile()).map((e) => e.name).sort();
  const npys = files.filter((f) => extname(f).toLowerCase() === '.npy');
  const images = files.filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()));
  const kinds = [sets.length && 'test_data_set_N folders', npys.length && '.npy files', images.length && 'images'].filter(Boolean);
  if (kinds.length === 0) throw new SlimcError('invalid-argument', 'no samples: expected test_data_set_N folders, .npy files or images', { field: 'samples', value: dir });
  if (kinds.length > 1) throw new SlimcError('invalid-argument', `mixed sample layouts (${kinds.join(', ')})`, { field: 'samples', value: dir });

  const limit = options.limit ?? Infinity;
  let count = 0;
  if (sets.length) {
    sets.sort((a, b) => indexOf(a, TEST_DATA_SET) - indexOf(b, TEST_DATA_SET));
    for (const set of sets) {
      if (count++ >= limit) return;
      yield await readTestDataSet(join(dir, set), options.inputNames);
    }
    return;
  }
  const inputName = options.inputName ?? spec?.inputName;
  if (!inputName) throw new SlimcError('invalid-argument', 'single-input samples need an input name (options.inputName or spec.inputName)', { field: 'inputName', value: dir });
  if (npys.length) {
    for (const f of npys) {
      if (count++ >= limit) return;
      const path = join(dir, f);
      yield { [inputName]: readNpy(await readFile(path), path) };
    }
    return;
  }
  if (!spec) throw new SlimcError('invalid-argument', 'image samples need a preprocessing spec', { field: 'spec', value: dir });
  for (const f of images) {
    if (count++ >= limit) return;
    yield { [inputName]: preprocessImage(await decodeImage(join(dir, f)), spec).tensor };
  }
}

/** Collects every sample of `loadSamples` into an array. */
export async function collectSamples(dir: string, spec?: PreprocessSpec, options?: SampleOptions): Promise<Record<string, Tensor>[]> {
  const out: Record<string, Tensor>[] = [];
  for await (const s of loadSamples(dir, spec, options)) out.push(s);
  return out;
}

async function readTestDataSet(setDir: string, inputNames: readonly string[] | undefined): Promise<Record<string, Tensor>> {
  const pbs = (await listDir(setDir)).filter((e) => e.isFile() && INPUT_PB.test(e.name)).map((e) => e.name);
  if (pbs.length === 0) throw new SlimcError('invalid-argument', 'no input_K.pb files', { field: 'samples', value: setDir });
  pbs.sort((a, b) => indexOf(a, INPUT_PB) - indexOf(b, INPUT_PB));
  const feed: Record<string, Tensor> = {};
  for (const pb of pbs) {
    const path = join(setDir, pb);
    const { name, tensor } = readTensorProto(await readFile(path), path);
    const key = name || inputNames?.[indexOf(pb, INPUT_PB)];
    if (!key) throw new SlimcError('invalid-argument', 'tensor has no name and no inputNames entry for its position', { field: 'samples', value: path });
    if (key in feed) throw new SlimcError('invalid-argument', `input "${key}" given twice`, { field: 'samples', value: path });
    feed[key] = tensor;
  }
  return feed;
}

async function listDir(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    throw new SlimcError('invalid-argument', `cannot read sample folder: ${(cause as Error).message}`, { field: 'samples', value: dir }, { cause });
  }
}

function indexOf(name: string, pattern: RegExp): number {
  return Number(pattern.exec(name)![1]);
}
