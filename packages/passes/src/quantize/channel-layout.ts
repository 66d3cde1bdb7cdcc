/**
 * Per-channel addressing of a flat row-major tensor: with a channel axis, the elements form
 * `outer` blocks of `channels` runs of `inner` contiguous elements, so loops can walk channels
 * without a division per element.
 */
import { SlimcError } from '@slimc/ir';

/** Per-channel layout of a flat row-major tensor: `outer` blocks of `channels` runs of `inner` elements. */
export interface ChannelLayout {
  outer: number;
  channels: number;
  inner: number;
}

/** The channel layout of `shape` along `axis` (negative axes count from the end). */
export function channelLayout(shape: readonly number[], axis: number, field = 'axis'): ChannelLayout {
  const rank = shape.length;
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new SlimcError('invalid-argument', `axis ${axis} is out of range for shape [${shape.join(',')}]`, { field });
  }
  let outer = 1;
  let inner = 1;
  for (let i = 0; i < a; i++) outer *= shape[i]!;
  for (let i = a + 1; i < rank; i++) inner *= shape[i]!;
  return { outer, channels: shape[a]!, inner };
}

/** `channelLayout`, checked against the number of elements actually present. */
export function channelLayoutOf(shape: readonly number[], axis: number, length: number, field = 'axis'): ChannelLayout {
  const layout = channelLayout(shape, axis, field);
  if (layout.outer * layout.channels * layout.inner !== length) {
    throw new SlimcError('invalid-argument', `shape [${shape.join(',')}] does not match ${length} elements`, { field: 'shape' });
  }
  return layout;
}

/** One value per channel: a scalar broadcast to all channels, or an array checked for length. */
export function valuesPerChannel(v: number | ArrayLike<number>, channels: number, field: string): ArrayLike<number> {
  if (typeof v === 'number') return new Array<number>(channels).fill(v);
  if (v.length !== channels) {
    throw new SlimcError('invalid-argument', `expected ${channels} values (one per channel), got ${v.length}`, { field });
  }
  return v;
}
