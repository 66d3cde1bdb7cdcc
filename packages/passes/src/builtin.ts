/**
 * The passes slimc ships, registered the same way a third-party plugin registers its own.
 */
import { definePlugin, type Pass } from './core/pass.js';
import { foldConstantsPass } from './fold-constants/index.js';
import { eliminateDeadCodePass } from './eliminate-dead-code/index.js';
import { eliminateIdentityPass } from './eliminate-identity/index.js';
import { foldBatchNormPass } from './fold-batchnorm/index.js';
import { deduplicatePass } from './deduplicate/index.js';
import { canonicalizePass } from './canonicalize/index.js';
import { upgradeOpsetPass } from './upgrade-opset/index.js';
import { quantizePass } from './quantize-model/index.js';
import { cancelQdqPass } from './cancel-qdq/index.js';
import { foldFakeQuantPass } from './fold-fake-quant/index.js';
import { requantizePass } from './requantize/index.js';
import { convertFloat16Pass } from './convert-float16/index.js';
import { compactNamesPass } from './compact-names/index.js';

/** The default pipeline of `compile` and the CLI. */
export const DEFAULT_PIPELINE = 'canonicalize';

export const builtinPasses: readonly Pass<any>[] = Object.freeze([
  foldConstantsPass,
  eliminateDeadCodePass,
  eliminateIdentityPass,
  foldBatchNormPass,
  deduplicatePass,
  canonicalizePass,
  upgradeOpsetPass,
  quantizePass,
  cancelQdqPass,
  foldFakeQuantPass,
  requantizePass,
  convertFloat16Pass,
  compactNamesPass,
]);

export const builtinPlugin = definePlugin({
  name: 'slimc-builtin-passes',
  apply(compiler) {
    for (const p of builtinPasses) compiler.registerPass(p);
  },
});
