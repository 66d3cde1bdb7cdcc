/**
 * Activation memory of the runtime: one contiguous region of WebAssembly memory carved into
 * tensor buffers whose lifetimes follow the execution order.
 *
 * Two planners over the same model of a tensor, a live interval [first step, last step] and a size:
 *  - `ArenaAllocator`, online: buffers are requested in execution order and released after their
 *    last reader; a request takes the smallest free hole that fits (best fit), else extends the
 *    end. Used while running, when sizes are known only once the producer has run.
 *  - `planMemory`, offline: all intervals known up front (a second run with the same input
 *    shapes); greedy by size, largest first, each buffer at the lowest offset that overlaps no
 *    already placed buffer whose interval intersects its own. Its peak is never worse than the
 *    sum of the largest simultaneously live set's sizes by more than fragmentation.
 * Offsets are multiples of ALIGNMENT (a cache line, which also satisfies every SIMD and BigInt64
 * view).
 */

export const ALIGNMENT = 64;

export function alignUp(bytes: number): number {
  return Math.ceil(Math.max(bytes, 1) / ALIGNMENT) * ALIGNMENT;
}

/** Best-fit allocator over offsets [0, highWater); holes are kept sorted by offset and merged. */
export class ArenaAllocator {
  /** Free holes [offset, size], sorted by offset, never adjacent (merged on release). */
  private holes: { offset: number; size: number }[] = [];
  private end = 0;
  /** The largest end ever reached: the bytes the arena must hold. */
  highWater = 0;
  /** Bytes in use now, and the most ever in use at once. */
  liveBytes = 0;
  peakLiveBytes = 0;

  allocate(bytes: number): number {
    const size = alignUp(bytes);
    let best = -1;
    for (let i = 0; i < this.holes.length; i++) {
      const h = this.holes[i]!;
      if (h.size >= size && (best < 0 || h.size < this.holes[best]!.size)) best = i;
    }
    let offset: number;
    if (best >= 0) {
      const h = this.holes[best]!;
      offset = h.offset;
      if (h.size === size) this.holes.splice(best, 1);
      else this.holes[best] = { offset: h.offset + size, size: h.size - size };
    } else {
      // A hole touching the end can be extended instead of leaving it behind.
      const last = this.holes[this.holes.length - 1];
      if (last && last.offset + last.size === this.end) {
        this.holes.pop();
        offset = last.offset;
      } else {
        offset = this.end;
      }
      this.end = offset + size;
      this.highWater = Math.max(this.highWater, this.end);
    }
    this.liveBytes += size;
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
    return offset;
  }

  release(offset: number, bytes: number): void {
    const size = alignUp(bytes);
    this.liveBytes -= size;
    let i = 0;
    while (i < this.holes.length && this.holes[i]!.offset < offset) i++;
    this.holes.splice(i, 0, { offset, size });
    // merge with the next, then with the previous hole
    const next = this.holes[i + 1];
    if (next && offset + size === next.offset) {
      this.holes[i] = { offset, size: size + next.size };
      this.holes.splice(i + 1, 1);
    }
    const prev = this.holes[i - 1];
    if (prev && prev.offset + prev.size === offset) {
      prev.size += this.holes[i]!.size;
      this.holes.splice(i, 1);
    }
    // a hole at the end gives the space back
    const last = this.holes[this.holes.length - 1];
    if (last && last.offset + last.size === this.end) {
      this.holes.pop();
      this.end = last.offset;
    }
  }

  /** Starts a new run: everything free, statistics kept. */
  reset(): void {
    this.holes = [];
    this.end = 0;
    this.liveBytes = 0;
  }
}

export interface LiveInterval {
  /** Bytes. */
  size: number;
  /** First and last step (inclusive) during which the buffer must hold its tensor. */
  start: number;
  end: number;
}

export interface MemoryPlan {
  /** Byte offset of each interval's buffer (same order as the input). */
  offsets: number[];
  /** Bytes the region needs. */
  peak: number;
  /** The largest total size of buffers live at the same step (a lower bound on `peak`). */
  largestLiveSet: number;
}

/** Offline greedy best-fit by size (see the module comment). */
export function planMemory(intervals: readonly LiveInterval[]): MemoryPlan {
  const order = intervals.map((_, i) => i).sort((a, b) => intervals[b]!.size - intervals[a]!.size || a - b);
  const offsets = new Array<number>(intervals.length).fill(0);
  const placed: number[] = [];
  let peak = 0;
  for (const i of order) {
    const it = intervals[i]!;
    const size = alignUp(it.size);
    const conflicts = placed
      .filter((j) => intervals[j]!.start <= it.end && it.start <= intervals[j]!.end)
      .map((j) => ({ offset: offsets[j]!, end: offsets[j]! + alignUp(intervals[j]!.size) }))
      .sort((a, b) => a.offset - b.offset);
    // lowest gap between conflicting buffers that fits; best fit among gaps of the same extent
    let offset = 0;
    let bestGap = Infinity;
    let chosen = -1;
    for (const c of conflicts) {
      const gap = c.offset - offset;
      if (gap >= size && gap < bestGap) {
        bestGap = gap;
        chosen = offset;
      }
      offset = Math.max(offset, c.end);
    }
    offsets[i] = chosen >= 0 ? chosen : offset;
    peak = Math.max(peak, offsets[i]! + size);
    placed.push(i);
  }
  let largestLiveSet = 0;
  const steps = new Set(intervals.flatMap((it) => [it.start, it.end]));
  for (const s of steps) {
    let live = 0;
    for (const it of intervals) if (it.start <= s && s <= it.end) live += alignUp(it.size);
    largestLiveSet = Math.max(largestLiveSet, live);
  }
  return { offsets, peak, largestLiveSet };
}
