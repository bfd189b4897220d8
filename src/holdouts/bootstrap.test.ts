import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bootstrapRevenueLift } from './bootstrap.js';

// The bootstrap interval's rules for any data: seeded (the same data give the same interval),
// it holds the estimate, it follows the currency (revenues scaled, interval scaled), and it
// stays within its budget or declines.

const group = fc
  .record({
    customers: fc.integer({ min: 20, max: 3000 }),
    revenues: fc.array(fc.double({ min: 0.5, max: 5000, noNaN: true }), { minLength: 2, maxLength: 60 }),
  })
  .filter((g) => g.revenues.length <= g.customers);

const mean = (g: { customers: number; revenues: number[] }) =>
  g.revenues.reduce((a, b) => a + b, 0) / g.customers;

describe('the bootstrap interval of revenue lift', () => {
  it('is reproducible, holds the estimate and scales with the revenues', () => {
    fc.assert(
      fc.property(group, group, fc.double({ min: 0.01, max: 100, noNaN: true }), (t, h, k) => {
        const options = { replicates: 299 };
        const a = bootstrapRevenueLift(t, h, options);
        // Declined only for a reason the contract names (too little spread to studentize).
        if (!a) return true;
        expect(bootstrapRevenueLift(t, h, options)).toEqual(a);
        const diff = mean(t) - mean(h);
        const slack = 1e-9 * (1 + Math.abs(diff));
        expect(a.ci95[0]).toBeLessThanOrEqual(diff + slack);
        expect(a.ci95[1]).toBeGreaterThanOrEqual(diff - slack);
        expect(a.p_value).toBeGreaterThan(0);
        expect(a.p_value).toBeLessThanOrEqual(1);
        const scaled = bootstrapRevenueLift(
          { customers: t.customers, revenues: t.revenues.map((r) => r * k) },
          { customers: h.customers, revenues: h.revenues.map((r) => r * k) },
          options,
        );
        expect(scaled).not.toBeNull();
        expect(scaled!.ci95[0]).toBeCloseTo(a.ci95[0] * k, 6);
        expect(scaled!.ci95[1]).toBeCloseTo(a.ci95[1] * k, 6);
        return true;
      }),
      { numRuns: 60, seed: 29 },
    );
  });

  it('declines when a group has fewer than two customers with revenue, or the budget allows too few replicates', () => {
    const t = { customers: 100, revenues: [10, 20, 30] };
    expect(bootstrapRevenueLift(t, { customers: 100, revenues: [5] })).toBeNull();
    expect(bootstrapRevenueLift(t, { customers: 100, revenues: [5, 9] }, { budget: 1000 })).toBeNull();
    // 999 asked; replicates that drew nobody with revenue in a group have no spread and are left out.
    const full = bootstrapRevenueLift(t, { customers: 100, revenues: [5, 9] })!;
    expect(full.replicates).toBeGreaterThan(900);
    expect(full.replicates).toBeLessThanOrEqual(999);
  });
});
