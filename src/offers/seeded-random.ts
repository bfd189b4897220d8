// Seeded randomness: the learning ranker draws from its posteriors with a generator seeded per
// (scope, customer), so a re-planned page decides the same and tests are reproducible. The demo
// shop and the simulations use the same generator.

/** A small, fast, seedable PRNG (mulberry32): uniform on [0, 1). */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed from a text (FNV-1a): `campaign:12:customer:345` always seeds the same. */
export function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
