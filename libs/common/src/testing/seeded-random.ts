/**
 * mulberry32: a small seeded PRNG for randomized specs and fuzz tests, so a failing case can
 * be replayed from its seed. Returns numbers in [0, 1). Not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One of `items`, chosen with `random` (a `seededRandom`, so a failing case can be replayed). */
export function pickWith(random: () => number): <T>(items: readonly T[]) => T {
  return (items) => items[Math.floor(random() * items.length)];
}
