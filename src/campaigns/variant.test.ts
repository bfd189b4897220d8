import { describe, expect, it } from 'vitest';
import { assignVariant, inTestCell } from './variant.js';

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

describe('inTestCell', () => {
  it('takes about the given share, the same customers each time, independently of the variant', () => {
    const variants = [
      { name: 'A', weight: 1 },
      { name: 'B', weight: 1 },
    ];
    let cell = 0;
    let cellA = 0;
    for (let id = 1; id <= 20_000; id++) {
      expect(inTestCell(4, id, 20)).toBe(inTestCell(4, id, 20));
      if (!inTestCell(4, id, 20)) continue;
      cell++;
      if (assignVariant(variants, 4, id).name === 'A') cellA++;
    }
    expect(cell / 20_000).toBeGreaterThan(0.19);
    expect(cell / 20_000).toBeLessThan(0.21);
    expect(cellA / cell).toBeGreaterThan(0.46);
    expect(cellA / cell).toBeLessThan(0.54);
  });

  it('grows with the share: a customer in a 10 % cell is in the 30 % cell', () => {
    for (let id = 1; id <= 2000; id++) if (inTestCell(8, id, 10)) expect(inTestCell(8, id, 30)).toBe(true);
  });
});
