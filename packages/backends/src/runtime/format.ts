/**
 * The `.slimc` file: a compiled plan and its weights (layout in docs/runtime-format.md).
 *
 *   offset 0   8 bytes  magic "SLIMCRT\0"
 *          8   u32      format version (2; version 1 files are read too)
 *         12   u32      flags (0)
 *         16   u32      plan offset (32)          20  u32  plan length (bytes of UTF-8 JSON)
 *         24   u32      weights offset (64-aligned) 28 u32  weights length
 *   then the plan JSON, zero padding to a multiple of 64, then the weights section: every constant
 *   tensor's little-endian bytes at a 64-aligned offset relative to the section start.
 * All integers little-endian. Weights are stored unpacked (kernel packing is private to a build).
 */
import {
  Graph,
  SlimcError,
  bytesOf,
  dataFromBytes,
  dtypeByteSize,
  shapeSize,
  type Attribute,
  type DType,
  type Model,
  type Node,
  type Tensor,
  type TypedArray,
} from '@slimc/ir';
import { alignUp } from './arena.js';
import { lowerModel, stepInputs, type LowerOptions, type Plan, type PlanStep, type PlanValue } from './plan.js';

export const SLIMC_MAGIC = 'SLIMCRT\0';
/** Version 2 added `lut-q8` steps with `fn: 'table'` and `lut-f32` steps; a version 1 file is a valid version 2 file. */
export const SLIMC_FORMAT_VERSION = 2;
const HEADER_BYTES = 32;

interface ConstantEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Byte offset in the weights section (absent for string tensors, stored inline). */
  offset?: number;
  strings?: string[];
}

type SerializedAttribute =
  | { kind: 'float' | 'int'; value: number }
  | { kind: 'string'; value: string }
  | { kind: 'floats' | 'ints'; value: number[] }
  | { kind: 'strings'; value: string[] }
  | { kind: 'tensor'; constant: string };

type SerializedStep =
  | Exclude<PlanStep, { kind: 'interp' }>
  | { kind: 'interp'; op: string; domain: string; name: string; attrs: Record<string, SerializedAttribute>;
      inputs: (string | null)[]; outputs: (string | null)[] };

interface PlanJson {
  opset: number;
  inputs: PlanValue[];
  outputs: string[];
  constants: ConstantEntry[];
  steps: SerializedStep[];
}

function formatError(detail: string): SlimcError {
  return new SlimcError('invalid-model', detail, { model: '.slimc' });
}

/** Lowers `model` and serializes the plan with its weights. */
export function compileForWasm(model: Model, options: LowerOptions = {}): Uint8Array {
  return serializePlan(lowerModel(model, options));
}

export function serializePlan(plan: Plan): Uint8Array {
  const constants = new Map(plan.constants);
  const steps = plan.steps.map((step): SerializedStep => {
    if (step.kind !== 'interp') return step;
    const attrs: Record<string, SerializedAttribute> = {};
    for (const [key, a] of step.node.attrs) attrs[key] = serializeAttribute(step.node, key, a, constants);
    return { kind: 'interp', op: step.node.op, domain: step.node.domain, name: step.node.name, attrs, inputs: step.inputs, outputs: step.outputs };
  });
  // only constants some step reads are stored
  const read = new Set(plan.steps.flatMap(stepInputs));
  for (const s of steps) if (s.kind === 'interp') for (const a of Object.values(s.attrs)) if ('constant' in a) read.add(a.constant);
  const entries: ConstantEntry[] = [];
  const payloads: Uint8Array[] = [];
  let weightsLength = 0;
  for (const [name, t] of constants) {
    if (!read.has(name)) continue;
    if (t.dtype === 'string') {
      entries.push({ name, dtype: t.dtype, shape: [...t.shape], strings: [...(t.data as string[])] });
      continue;
    }
    entries.push({ name, dtype: t.dtype, shape: [...t.shape], offset: weightsLength });
    const bytes = bytesOf(t.data as TypedArray);
    payloads.push(bytes);
    weightsLength += alignUp(bytes.byteLength);
  }
  const json: PlanJson = { opset: plan.opset, inputs: plan.inputs, outputs: plan.outputs, constants: entries, steps };
  const planBytes = new TextEncoder().encode(JSON.stringify(json));
  const weightsOffset = alignUp(HEADER_BYTES + planBytes.byteLength);
  const out = new Uint8Array(weightsOffset + weightsLength);
  const header = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) out[i] = SLIMC_MAGIC.charCodeAt(i);
  header.setUint32(8, SLIMC_FORMAT_VERSION, true);
  header.setUint32(12, 0, true);
  header.setUint32(16, HEADER_BYTES, true);
  header.setUint32(20, planBytes.byteLength, true);
  header.setUint32(24, weightsOffset, true);
  header.setUint32(28, weightsLength, true);
  out.set(planBytes, HEADER_BYTES);
  let offset = weightsOffset;
  for (const bytes of payloads) {
    out.set(bytes, offset);
    offset += alignUp(bytes.byteLength);
  }
  return out;
}

function serializeAttribute(node: Node, key: string, a: Attribute, constants: Map<string, Tensor>): SerializedAttribute {
  switch (a.kind) {
    case 'float':
    case 'int':
      return { kind: a.kind, value: a.value };
    case 'string':
      return { kind: 'string', value: a.value };
    case 'floats':
    case 'ints':
      return { kind: a.kind, value: [...a.value] };
    case 'strings':
      return { kind: 'strings', value: [...a.value] };
    case 'tensor': {
      const name = `${node.label}::${key}`;
      constants.set(name, a.value);
      return { kind: 'tensor', constant: name };
    }
    default:
      throw new SlimcError('unsupported', `attributes of kind ${a.kind} cannot be stored in a .slimc plan`, {
        node: node.label, op: node.qualifiedOp, field: `attribute ${key}`,
      });
  }
}

/** Reads a `.slimc` file back into a plan (fallback nodes rebuilt in a graph of their own). */
export function loadCompiled(bytes: Uint8Array): Plan {
  if (bytes.byteLength < HEADER_BYTES) throw formatError(`file of ${bytes.byteLength} bytes is shorter than the header`);
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (magic !== SLIMC_MAGIC) throw formatError('not a .slimc file (bad magic)');
  const header = new DataView(bytes.buffer, bytes.byteOffset, HEADER_BYTES);
  const version = header.getUint32(8, true);
  if (version < 1 || version > SLIMC_FORMAT_VERSION) throw formatError(`format version ${version} is not supported (expected 1 to ${SLIMC_FORMAT_VERSION})`);
  const [planOffset, planLength, weightsOffset, weightsLength] = [16, 20, 24, 28].map((o) => header.getUint32(o, true)) as [number, number, number, number];
  if (planOffset + planLength > bytes.byteLength || weightsOffset + weightsLength > bytes.byteLength || weightsOffset % 64 !== 0) {
    throw formatError('section bounds lie outside the file');
  }
  let json: PlanJson;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes.subarray(planOffset, planOffset + planLength))) as PlanJson;
  } catch (e) {
    throw formatError(`plan section is not JSON: ${(e as Error).message}`);
  }
  const constants = new Map<string, Tensor>();
  for (const c of json.constants) {
    const n = shapeSize(c.shape);
    if (c.strings) {
      constants.set(c.name, { dtype: 'string', shape: c.shape, data: c.strings });
      continue;
    }
    const start = weightsOffset + (c.offset ?? 0);
    const length = n * dtypeByteSize(c.dtype);
    if (start + length > weightsOffset + weightsLength) throw formatError(`constant ${c.name} lies outside the weights section`);
    // copy: the plan must not keep the whole file alive, and views need the dtype's alignment
    constants.set(c.name, { dtype: c.dtype, shape: c.shape, data: dataFromBytes(c.dtype, bytes.subarray(start, start + length), n, true) });
  }
  const graph = new Graph('slimc-plan');
  const steps = json.steps.map((s): PlanStep => {
    if (s.kind !== 'interp') return s;
    const attrs: [string, Attribute][] = Object.entries(s.attrs).map(([k, a]) => {
      if (a.kind !== 'tensor') return [k, a as Attribute];
      const t = constants.get(a.constant);
      if (!t) throw formatError(`attribute ${k} of ${s.name || s.op} names a missing constant`);
      return [k, { kind: 'tensor', value: t }];
    });
    // operands are placeholders: the runtime passes tensors to runNode positionally
    const inputs = s.inputs.map((name) => (name === null ? null : graph.addInput(name)));
    const node = graph.addNode({ op: s.op, domain: s.domain, name: s.name, inputs, outputs: s.outputs.map((o) => o ?? null), attrs });
    return { kind: 'interp', node, inputs: s.inputs, outputs: s.outputs };
  });
  return { opset: json.opset, inputs: json.inputs, outputs: json.outputs, constants, steps };
}
