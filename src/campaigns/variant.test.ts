import { describe, expect, it } from 'vitest';
import { assignVariant } from './variant.js';

describe('assignVariant', () => {
  const variants = [
    { name: 'A', weight: 3 },
    { name: 'B', weight: 1 },
  ];

  it('is deterministic per (campaign, customer)', () => {
    for (let id = 1; id < 200; id++) {
      expect(assignVariant(variants, 9, id).name).toBe(assignVariant(variants, 9, id).name);
    }
  });

  it('follows the weights', () => {
    let a = 0;
    for (let id = 1; id <= 20_000; id++) if (assignVariant(variants, 1, id).name === 'A') a++;
    expect(a / 20_000).toBeGreaterThan(0.72);
    expect(a / 20_000).toBeLessThan(0.78);
  });

  it('never picks a zero-weight variant', () => {
    const withZero = [
      { name: 'A', weight: 1 },
      { name: 'B', weight: 0 },
    ];
    for (let id = 1; id < 500; id++) expect(assignVariant(withZero, 3, id).name).toBe('A');
  });
});
