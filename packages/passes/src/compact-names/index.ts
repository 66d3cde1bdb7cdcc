/**
 * compact-names: gives every internal value a short generated name and drops node names, for a
 * smaller file to ship (a JavaScript minifier's renaming, for models). Computation is unchanged.
 *
 *   before:  %conv2d_450.tmp_0_float = Conv(%x_dequantized, %conv2d_0.w_0, %conv2d_450.tmp_0_bias) name="p2o.Conv.0"
 *            %conv2d_450.tmp_0_q = QuantizeLinear(%conv2d_450.tmp_0_float, %conv2d_450.tmp_0_scale, %zp_uint8_124)
 *   after:   %a = Conv(%7, %8, %9)
 *            %b = QuantizeLinear(%a, %c, %d)
 *
 * Names are base-36 counters in definition order (initializers, subgraph inputs, node outputs,
 * nested graphs where their node is), unique across the model, so a subgraph's reference to an
 * outer value stays unambiguous. Kept: the main graph's inputs and outputs (the model's
 * interface, which callers feed and read by name), and any name that GraphProto/ModelProto fields
 * slimc carries through without modelling them (value_info of unknown values, sparse
 * initializers, quantization annotations, training info) mention, since those refer to values by
 * name.
 *
 * The file loses what names told a reader: run `slimc compare` (which pairs float and quantized
 * tensors by name) and other diagnosis before this pass, and keep the named model for debugging.
 *
 * Preconditions: none. Idempotent up to the names it picks.
 */
import type { Graph, Model, Value } from '@slimc/ir';
import { definePass } from '../core/pass.js';

export interface CompactNamesStats {
  valuesRenamed: number;
  nodeNamesDropped: number;
  /** Bytes of names before and after (each value's name counted once). */
  nameBytesBefore: number;
  nameBytesAfter: number;
}

/** Every string anywhere inside `x` (objects, arrays), added to `into`. */
function collectStrings(x: unknown, into: Set<string>, depth = 0): void {
  if (depth > 64 || x === null || x === undefined) return;
  if (typeof x === 'string') into.add(x);
  else if (Array.isArray(x)) for (const y of x) collectStrings(y, into, depth + 1);
  else if (typeof x === 'object' && !ArrayBuffer.isView(x)) for (const y of Object.values(x)) collectStrings(y, into, depth + 1);
}

/** The values `g` defines (not those of nested graphs), in definition order. */
function* definedValues(g: Graph): Generator<Value> {
  yield* g.initializers;
  yield* g.inputs;
  for (const n of g.nodes()) for (const o of n.outputs) if (o) yield o;
}

export function compactNames(model: Model, options: { dropNodeNames: boolean }): CompactNamesStats {
  const main = model.graph;
  const kept = new Set<string>([...main.inputs, ...main.outputs].map((v) => v.name));
  collectStrings(model.extra, kept);
  for (const g of main.allGraphs()) collectStrings(g.extra, kept);

  const stats: CompactNamesStats = { valuesRenamed: 0, nodeNamesDropped: 0, nameBytesBefore: 0, nameBytesAfter: 0 };
  const seen = new Set<Value>();
  let counter = 0;
  const nextName = (): string => {
    let name: string;
    do name = (counter++).toString(36);
    while (kept.has(name));
    return name;
  };
  for (const g of main.allGraphs()) {
    for (const v of definedValues(g)) {
      if (seen.has(v)) continue;
      seen.add(v);
      stats.nameBytesBefore += v.name.length;
      if (!kept.has(v.name)) {
        v.name = nextName();
        main.names.claim(v.name);
        stats.valuesRenamed++;
      }
      stats.nameBytesAfter += v.name.length;
    }
    if (options.dropNodeNames) {
      for (const n of g.nodes()) {
        if (!n.name) continue;
        n.name = '';
        stats.nodeNamesDropped++;
      }
    }
  }
  return stats;
}

export const compactNamesPass = definePass({
  name: 'compact-names',
  description: "Rename internal values to short generated names and drop node names (the model's inputs and outputs keep theirs), for a smaller file",
  kind: 'graph',
  options: {
    nodes: { type: 'enum', values: ['drop', 'keep'], default: 'drop', description: 'node names: drop them or keep them' },
  },
  run(model, _ctx, options) {
    const stats = compactNames(model, { dropNodeNames: options.nodes === 'drop' });
    return {
      changed: stats.valuesRenamed + stats.nodeNamesDropped > 0,
      stats: {
        'values-renamed': stats.valuesRenamed,
        'node-names-dropped': stats.nodeNamesDropped,
        'name-bytes-before': stats.nameBytesBefore,
        'name-bytes-after': stats.nameBytesAfter,
      },
    };
  },
});
