/**
 * slimc-plugin-fuse-hardswish: an example third-party plugin.
 *
 * HardSwish(x) = x * max(0, min(1, x/6 + 1/2)) (ONNX HardSwish-14). Exporters spell it two ways:
 *
 *   %h = HardSigmoid(%x) {alpha=1/6, beta=0.5};  %y = Mul(%x, %h)               (or Mul(%h, %x))
 *   %a = Add(%x, 3);  %c = Clip(%a, 0, 6);  %m = Mul(%x, %c);  %y = Div(%m, 6)   (PaddleOCR, paddle2onnx)
 *   ==>  %y = HardSwish(%x)
 *
 * Both are the same function; they differ from HardSwish only by float rounding (alpha is stored
 * as the float32 nearest 1/6; x * clip(x + 3, 0, 6) / 6 rounds after each step).
 *
 * Preconditions: default-domain opset >= 14 (HardSwish does not exist before); every intermediate
 * value has this chain as its only use (they disappear); the constants are exactly 3, 0, 6 and 6
 * (Clip bounds as inputs from opset 11, attributes before).
 *
 * The plugin registers the pass `fuse-hardswish` and also adds the pattern to `canonicalize`, so a
 * project that loads the plugin gets the fusion in the default pipeline.
 */
import { PatternSet, definePass, definePattern, definePlugin } from '@slimc/passes';

/** alpha as stored in float32 by exporters is within this of 1/6. */
const ALPHA_TOLERANCE = 1e-6;

/** Mul(x, HardSigmoid(x) {alpha=1/6, beta=0.5})  ==>  HardSwish(x) */
export const fuseHardSwish = definePattern({
  name: 'fuse-hardswish',
  root: 'Mul',
  benefit: 2,
  match(mul, m) {
    if (m.opset < 14) return m.fail('HardSwish needs opset 14');
    for (const [k, other] of [[0, 1], [1, 0]]) {
      const hs = m.producer(mul.input(k), 'HardSigmoid');
      if (!hs || hs.input(0) !== mul.input(other)) continue;
      if (Math.abs(hs.getFloat('alpha', 0.2) - 1 / 6) > ALPHA_TOLERANCE) return m.fail('alpha is not 1/6');
      if (hs.getFloat('beta', 0.5) !== 0.5) return m.fail('beta is not 0.5');
      if (!m.hasOneUse(hs.output(0))) return m.fail('HardSigmoid has other uses');
      return { x: hs.input(0), hardSigmoid: hs };
    }
    return m.fail('not x * HardSigmoid(x)');
  },
  rewrite(mul, { x, hardSigmoid }, rw) {
    rw.replaceOpWithNew(mul, { op: 'HardSwish', inputs: [x] });
    rw.eraseNode(hardSigmoid);
  },
});

/** The single number held by a constant operand, or undefined. */
function scalarOf(m, v) {
  const t = m.constant(v);
  return t && t.data.length === 1 ? Number(t.data[0]) : undefined;
}

/** The operand of binary `node` that is not `known`, when the other one is `known`. */
function otherOperand(node, known) {
  if (node.input(0) === known) return node.input(1);
  if (node.input(1) === known) return node.input(0);
  return undefined;
}

/** Div(Mul(x, Clip(Add(x, 3), 0, 6)), 6)  ==>  HardSwish(x) */
export const fuseClipHardSwish = definePattern({
  name: 'fuse-clip-hardswish',
  root: 'Div',
  benefit: 2,
  match(div, m) {
    if (m.opset < 14) return m.fail('HardSwish needs opset 14');
    if (scalarOf(m, div.input(1)) !== 6) return m.fail('divisor is not 6');
    const mul = m.producer(div.input(0), 'Mul');
    if (!mul || !m.hasOneUse(mul.output(0))) return m.fail('dividend is not a single-use Mul');
    for (const k of [0, 1]) {
      const clip = m.producer(mul.input(k), 'Clip');
      const x = mul.input(1 - k);
      if (!clip || !m.hasOneUse(clip.output(0))) continue;
      const [lo, hi] = m.opset >= 11 ? [scalarOf(m, clip.input(1)), scalarOf(m, clip.input(2))] : [clip.getFloat('min'), clip.getFloat('max')];
      if (lo !== 0 || hi !== 6) return m.fail('Clip bounds are not [0, 6]');
      const add = m.producer(clip.input(0), 'Add');
      if (!add || !m.hasOneUse(add.output(0))) return m.fail('Clip operand is not a single-use Add');
      if (scalarOf(m, otherOperand(add, x)) !== 3) return m.fail('not x + 3');
      return { x, chain: [mul, clip, add] };
    }
    return m.fail('not x * Clip(...)');
  },
  rewrite(div, { x, chain }, rw) {
    rw.replaceOpWithNew(div, { op: 'HardSwish', inputs: [x] });
    for (const n of chain) rw.eraseNode(n);
  },
});

export const fuseHardSwishPass = definePass({
  name: 'fuse-hardswish',
  description: 'Fuse x * HardSigmoid(x) and x * Clip(x + 3, 0, 6) / 6 into HardSwish (opset >= 14)',
  kind: 'pattern',
  options: {},
  patterns: () => PatternSet.of(fuseHardSwish, fuseClipHardSwish),
});

export default definePlugin({
  name: 'slimc-plugin-fuse-hardswish',
  apply(compiler) {
    compiler.registerPass(fuseHardSwishPass);
    compiler.hooks.patterns.tap('slimc-plugin-fuse-hardswish', (set, info) => (info.pass === 'canonicalize' ? set.concat(fuseHardSwish, fuseClipHardSwish) : set));
  },
});
