import { describe, expect, test } from 'vitest';
import { fc, test as prop } from '@fast-check/vitest';
import { ALIGNMENT, ArenaAllocator, alignUp, planMemory, type LiveInterval } from './arena.js';

const arbIntervals = fc.array(
  fc.record({ size: fc.integer({ min: 1, max: 5000 }), start: fc.integer({ min: 0, max: 30 }), length: fc.integer({ min: 0, max: 10 }) })
    .map(({ size, start, length }): LiveInterval => ({ size, start, end: start + length })),
  { maxLength: 40 },
);

function overlaps(a: { offset: number; size: number }, b: { offset: number; size: number }): boolean {
  return a.offset < b.offset + alignUp(b.size) && b.offset < a.offset + alignUp(a.size);
}

describe('planMemory', () => {
  prop.prop([arbIntervals])('buffers live at the same time never share bytes; peak bounds every buffer', (intervals) => {
    const plan = planMemory(intervals);
    intervals.forEach((a, i) => {
      expect(plan.offsets[i]! % ALIGNMENT).toBe(0);
      expect(plan.offsets[i]! + alignUp(a.size)).toBeLessThanOrEqual(plan.peak);
      intervals.forEach((b, j) => {
        if (j <= i || a.end < b.start || b.end < a.start) return;
        expect(overlaps({ offset: plan.offsets[i]!, size: a.size }, { offset: plan.offsets[j]!, size: b.size })).toBe(false);
      });
    });
    expect(plan.peak).toBeGreaterThanOrEqual(plan.largestLiveSet);
  });

  test('a chain reuses two buffers; disjoint lifetimes share one offset', () => {
    // a -> b -> c -> d, each read only by the next: at most two live at once
    const chain = [0, 1, 2, 3].map((i) => ({ size: 1000, start: i, end: i + 1 }));
    const plan = planMemory(chain);
    expect(plan.peak).toBe(2 * alignUp(1000));
    expect(plan.largestLiveSet).toBe(2 * alignUp(1000));
    expect(plan.offsets[0]).toBe(plan.offsets[2]);
  });

  test('a small buffer fills the gap a freed one leaves rather than growing the region', () => {
    const plan = planMemory([
      { size: 4096, start: 0, end: 4 }, // long-lived
      { size: 4096, start: 0, end: 1 },
      { size: 1024, start: 2, end: 3 }, // fits where the second one was
    ]);
    expect(plan.peak).toBe(8192);
  });
});

describe('ArenaAllocator', () => {
  prop.prop([fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 4000 })), { maxLength: 60 })])(
    'live blocks never overlap, freeing everything empties the region', (ops) => {
      const arena = new ArenaAllocator();
      const live: { offset: number; size: number }[] = [];
      for (const [free, size] of ops) {
        if (free && live.length) {
          const block = live.splice(size % live.length, 1)[0]!;
          arena.release(block.offset, block.size);
          continue;
        }
        const block = { offset: arena.allocate(size), size };
        for (const other of live) expect(overlaps(block, other)).toBe(false);
        live.push(block);
        expect(block.offset + alignUp(size)).toBeLessThanOrEqual(arena.highWater);
      }
      expect(arena.peakLiveBytes).toBeLessThanOrEqual(arena.highWater);
      for (const block of live) arena.release(block.offset, block.size);
      expect(arena.liveBytes).toBe(0);
      expect(arena.allocate(1)).toBe(0);
    });

  test('best fit: the smallest hole that fits is taken', () => {
    const arena = new ArenaAllocator();
    const a = arena.allocate(4096);
    arena.allocate(64);
    const c = arena.allocate(1024);
    arena.allocate(64);
    arena.release(a, 4096);
    arena.release(c, 1024);
    expect(arena.allocate(1000)).toBe(c);
    expect(arena.allocate(4000)).toBe(a);
    expect(arena.highWater).toBe(4096 + 64 + 1024 + 64);
  });
});
