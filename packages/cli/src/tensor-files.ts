/**
 * Tensors on disk for `slimc run` and calibration: ONNX TensorProto `.pb` files in the
 * `test_data_set_N/input_K.pb` layout and numpy `.npy` files.
 *
 * Inputs are matched to graph inputs by the name stored in the `.pb` (or the `.npy` file stem), and
 * otherwise by the index K of `input_K`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { type Graph, type Tensor, invalidModel, SlimcError } from '@slimc/ir';
import { readNpy, readTensorProto, writeFileAtomic, writeNpy, writeTensorProto } from '@slimc/backends';

export interface NamedTensor {
  name: string;
  tensor: Tensor;
  file: string;
}

const INDEXED = /^(?:input|output)_(\d+)$/;

/** Reads every `.pb` / `.npy` file of `dir` (sorted by index, then name). */
export function readTensorDir(dir: string): NamedTensor[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new SlimcError('invalid-argument', `not a directory`, { field: '--inputs', value: dir });
  }
  // A test_data_set folder also holds the expected output_K files: they are not inputs.
  const files = readdirSync(dir).filter((f) => (f.endsWith('.pb') || f.endsWith('.npy')) && !/^output_\d+\./.test(f));
  if (files.length === 0) {
    const sets = readdirSync(dir).filter((f) => f.startsWith('test_data_set_'));
    const hint = sets.length ? ` (it holds ${sets.join(', ')}: pass one of those folders)` : '';
    throw new SlimcError('invalid-argument', `no .pb or .npy tensors in ${dir}${hint}`, { field: '--inputs' });
  }
  const key = (f: string) => {
    const m = INDEXED.exec(basename(f, extname(f)));
    return m ? Number(m[1]) : Number.MAX_SAFE_INTEGER;
  };
  files.sort((a, b) => key(a) - key(b) || (a < b ? -1 : 1));
  return files.map((f) => {
    const path = join(dir, f);
    const bytes = readFileSync(path);
    if (f.endsWith('.npy')) return { name: basename(f, '.npy'), tensor: readNpy(bytes, path), file: path };
    const { name, tensor } = readTensorProto(bytes, path);
    return { name: name || basename(f, '.pb'), tensor, file: path };
  });
}

/** Assigns files to graph inputs: by name first, then `input_K` by position among unassigned inputs. */
export function bindInputs(graphOrInputs: Graph | readonly { name: string }[], files: NamedTensor[], model: string): Record<string, Tensor> {
  const inputs = Array.isArray(graphOrInputs) ? graphOrInputs : (graphOrInputs as Graph).inputs.filter((v) => !v.isConstant);
  const byName = new Map(inputs.map((v) => [v.name, v]));
  const bound: Record<string, Tensor> = {};
  const rest: NamedTensor[] = [];
  for (const f of files) {
    if (byName.has(f.name) && !(f.name in bound)) bound[f.name] = f.tensor;
    else rest.push(f);
  }
  for (const f of rest) {
    const m = INDEXED.exec(f.name);
    const v = m ? inputs[Number(m[1])] : undefined;
    if (!v) throw invalidModel(`tensor file matches no graph input (inputs: ${inputs.map((i) => i.name).join(', ')})`, { model, field: f.file });
    if (v.name in bound) throw invalidModel(`graph input "${v.name}" is given twice`, { model, field: f.file });
    bound[v.name] = f.tensor;
  }
  const missing = inputs.filter((v) => !(v.name in bound));
  if (missing.length) {
    throw new SlimcError('invalid-argument', `no tensor given for graph input(s) ${missing.map((v) => `"${v.name}"`).join(', ')}`, { model, field: '--inputs' });
  }
  return bound;
}

/** Writes outputs as `output_K.pb` (named TensorProto) or `output_K.npy`, each file atomically. */
export function writeTensorDir(dir: string, outputs: [string, Tensor][], format: 'pb' | 'npy'): string[] {
  mkdirSync(dir, { recursive: true });
  return outputs.map(([name, t], k) => {
    const path = join(dir, `output_${k}.${format}`);
    writeFileAtomic(path, format === 'pb' ? writeTensorProto(t, name) : writeNpy(t));
    return path;
  });
}
