/**
 * A stable text form of graphs, for golden tests and `slimc inspect --ir`.
 *
 *   graph main(%x: float32[N,3,224,224]) -> (%y) {
 *     const %w: float32[16,3,3,3] = [0.1, -0.2, ... 432 values] #1f3a9c0d
 *     %c: float32[N,16,222,222] = Conv(%x, %w, _) {kernel_shape=[3,3]}
 *     return %y
 *   }
 *
 * Omitted optional operands print as `_`. Constants print their first values and an FNV-1a hash of
 * their bytes, so equal text means equal data. Quantization parameters print as `q(scale, zp[, axis])`.
 */
import type { DType, TypedArray } from './dtype.js';
import { elementAsNumber, type Tensor } from './tensor.js';
import type { Attribute, Dim, Graph, Node, QuantParams, TensorType, Value } from './graph.js';

export interface PrintOptions {
  /** How many leading elements of a constant to show (default 4). */
  elements?: number;
  /** Print value types on node outputs (default true). */
  types?: boolean;
}

export function printGraph(g: Graph, opts: PrintOptions = {}): string {
  const lines: string[] = [];
  printInto(g, lines, '', opts);
  return lines.join('\n') + '\n';
}

function printInto(g: Graph, lines: string[], indent: string, opts: PrintOptions): void {
  const ins = g.inputs.map((v) => `${v}: ${typeText(v)}`).join(', ');
  lines.push(`${indent}graph ${g.name}(${ins}) -> (${g.outputs.map(String).join(', ')}) {`);
  const inner = indent + '  ';
  for (const c of g.initializers) lines.push(`${inner}const ${c}: ${typeText(c)} = ${tensorSummary(c.constant!, opts.elements ?? 4)}${quantText(c.quant)}`);
  for (const n of g.nodes()) printNode(n, lines, inner, opts);
  lines.push(`${inner}return ${g.outputs.map(String).join(', ')}`);
  lines.push(`${indent}}`);
}

function printNode(n: Node, lines: string[], indent: string, opts: PrintOptions): void {
  const outs = n.outputs
    .map((o) => (o ? (opts.types === false ? `${o}` : `${o}: ${typeText(o)}${quantText(o.quant)}`) : '_'))
    .join(', ');
  const args = n.inputs.map((v) => (v ? String(v) : '_')).join(', ');
  const plain: string[] = [];
  const graphs: [string, Graph][] = [];
  for (const [k, a] of [...n.attrs].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    if (a.kind === 'graph') graphs.push([k, a.value]);
    else if (a.kind === 'graphs') a.value.forEach((sg, i) => graphs.push([`${k}[${i}]`, sg]));
    else plain.push(`${k}=${attrText(a, opts)}`);
  }
  const name = n.name ? ` "${n.name}"` : '';
  const attrs = plain.length ? ` {${plain.join(', ')}}` : '';
  lines.push(`${indent}${outs} = ${n.qualifiedOp}${name}(${args})${attrs}${graphs.length ? ' {' : ''}`);
  if (graphs.length) {
    for (const [k, sg] of graphs) {
      lines.push(`${indent}  ${k}:`);
      printInto(sg, lines, indent + '    ', opts);
    }
    lines.push(`${indent}}`);
  }
}

export function typeText(v: Value): string {
  if (!v.type) return v.opaqueType ? 'opaque' : '?';
  return tensorTypeText(v.type);
}

export function tensorTypeText(t: TensorType): string {
  return t.shape ? `${t.dtype}[${t.shape.map(dimText).join(',')}]` : `${t.dtype}[*]`;
}

function dimText(d: Dim): string {
  return d === null ? '?' : String(d);
}

function quantText(q: QuantParams | undefined): string {
  if (!q) return '';
  const s = q.scale.length === 1 ? fmt(q.scale[0]!) : `[${q.scale.length} scales]`;
  const z = q.zeroPoint.length === 1 ? String(q.zeroPoint[0]) : `[${q.zeroPoint.length} zps]`;
  return ` q(${q.dtype}/${q.bits}b, ${s}, ${z}${q.axis !== undefined ? `, axis=${q.axis}` : ''})`;
}

function attrText(a: Attribute, opts: PrintOptions): string {
  switch (a.kind) {
    case 'float':
      return fmt(a.value);
    case 'int':
      return String(a.value);
    case 'string':
      return JSON.stringify(a.value);
    case 'floats':
      return `[${a.value.map(fmt).join(',')}]`;
    case 'ints':
      return `[${a.value.join(',')}]`;
    case 'strings':
      return `[${a.value.map((s) => JSON.stringify(s)).join(',')}]`;
    case 'tensor':
      return `${a.value.dtype}[${a.value.shape.join(',')}] ${tensorSummary(a.value, opts.elements ?? 4)}`;
    case 'tensors':
      return `[${a.value.map((t) => tensorSummary(t, opts.elements ?? 4)).join(', ')}]`;
    case 'opaque':
      return '<opaque>';
    case 'graph':
    case 'graphs':
      return '<graph>';
  }
}

function fmt(x: number): string {
  if (Number.isInteger(x)) return x.toFixed(1);
  return String(Math.fround(x) === x ? Number(x.toPrecision(8)) : x);
}

export function tensorSummary(t: Tensor, count: number): string {
  const n = t.data.length;
  const shown: string[] = [];
  for (let i = 0; i < Math.min(count, n); i++) {
    if (t.dtype === 'string') shown.push(JSON.stringify((t.data as string[])[i]));
    else if (t.dtype === 'int64' || t.dtype === 'uint64') shown.push(String((t.data as BigInt64Array)[i]));
    else shown.push(formatElement(t, i));
  }
  const more = n > count ? `, ... ${n} values` : '';
  return `[${shown.join(', ')}${more}] #${hashTensor(t)}`;
}

function formatElement(t: Tensor, i: number): string {
  const x = elementAsNumber(t, i);
  return isFloat(t.dtype) ? fmt(x) : String(x);
}

function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

/** FNV-1a (32-bit) of the tensor's bytes, as 8 hex digits. */
export function hashTensor(t: Tensor): string {
  let h = 0x811c9dc5;
  if (t.dtype === 'string') {
    for (const s of t.data as string[]) for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  } else {
    const d = t.data as TypedArray;
    const b = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}
