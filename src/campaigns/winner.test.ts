import { describe, expect, it } from 'vitest';
import { meanDifferenceZTest, twoProportionZTest } from '../reports/stats.js';
import { abStateOf, chooseWinner, type VariantOutcome } from './winner.js';

const outcome = (variant: string, over: Partial<VariantOutcome> = {}): VariantOutcome => ({
  variant,
  sent: 100,
  delivered: 100,
  opens: 0,
  clicks: 0,
  conversions: 0,
  revenue: 0,
  revenue_sq: 0,
  ...over,
});

describe('chooseWinner', () => {
  it('takes the leader when it is better at 95 %, with the z-test’s p-value', () => {
    const decision = chooseWinner({
      variants: ['A', 'B'],
      outcomes: [outcome('A', { clicks: 10 }), outcome('B', { clicks: 30 })],
      metric: 'click_rate',
      fallback: 'A',
    });
    const test = twoProportionZTest(30, 100, 10, 100)!;
    expect(decision).toMatchObject({
      winner: 'B',
      reason: 'significant',
      leader: 'B',
      runner_up: 'A',
      p_value: test.p_value,
      z: test.z,
      confidence: 0.95,
    });
    expect(decision.p_value).toBeLessThan(0.05);
    expect(decision.observed).toEqual([
      { variant: 'A', sent: 100, delivered: 100, value: 0.1 },
      { variant: 'B', sent: 100, delivered: 100, value: 0.3 },
    ]);
    expect(decision.detail).toContain('B 30.0 % vs A 10.0 %');
  });

  it('without significance takes the better observed rate, and records why', () => {
    const decision = chooseWinner({
      variants: ['A', 'B'],
      outcomes: [outcome('A', { opens: 20 }), outcome('B', { opens: 24 })],
      metric: 'open_rate',
    });
    expect(decision.winner).toBe('B');
    expect(decision.reason).toBe('not_significant');
    expect(decision.p_value).toBeCloseTo(twoProportionZTest(24, 100, 20, 100)!.p_value, 12);
    expect(decision.p_value).toBeGreaterThan(0.05);
  });

  it('without significance sends the fallback variant when there is one', () => {
    const decision = chooseWinner({
      variants: ['A', 'B'],
      outcomes: [outcome('A', { opens: 20 }), outcome('B', { opens: 24 })],
      metric: 'open_rate',
      fallback: 'A',
    });
    expect(decision).toMatchObject({ winner: 'A', reason: 'fallback', leader: 'B' });
  });

  it('rates over delivered messages: bounces do not count against a variant', () => {
    // A: 10 clicks of 50 delivered (50 bounced) = 20 %; B: 15 of 100 = 15 %.
    const decision = chooseWinner({
      variants: ['A', 'B'],
      outcomes: [outcome('A', { delivered: 50, clicks: 10 }), outcome('B', { clicks: 15 })],
      metric: 'click_rate',
    });
    expect(decision.leader).toBe('A');
    expect(decision.observed[0]!.value).toBe(0.2);
  });

  it('breaks a tie, and a test with no data, by the campaign’s order of variants', () => {
    const empty = chooseWinner({ variants: ['B', 'A'], outcomes: [], metric: 'conversion_rate' });
    expect(empty).toMatchObject({ winner: 'B', reason: 'no_difference', p_value: null });
    expect(empty.observed).toEqual([
      { variant: 'B', sent: 0, delivered: 0, value: 0 },
      { variant: 'A', sent: 0, delivered: 0, value: 0 },
    ]);
    const withFallback = chooseWinner({
      variants: ['B', 'A'],
      outcomes: [],
      metric: 'conversion_rate',
      fallback: 'A',
    });
    expect(withFallback).toMatchObject({ winner: 'A', reason: 'fallback' });
  });

  it('tests the leader against the runner-up among three variants', () => {
    const decision = chooseWinner({
      variants: ['A', 'B', 'C'],
      outcomes: [outcome('A', { clicks: 5 }), outcome('B', { clicks: 40 }), outcome('C', { clicks: 38 })],
      metric: 'click_rate',
    });
    expect(decision).toMatchObject({ leader: 'B', runner_up: 'C', winner: 'B', reason: 'not_significant' });
  });

  it('compares revenue per recipient with Welch’s test over sent messages', () => {
    // A: 100 sent, 10 buy 50 each; B: 100 sent, 30 buy 50 each.
    const a = outcome('A', { conversions: 10, revenue: 500, revenue_sq: 10 * 2500 });
    const b = outcome('B', { conversions: 30, revenue: 1500, revenue_sq: 30 * 2500 });
    const decision = chooseWinner({
      variants: ['A', 'B'],
      outcomes: [a, b],
      metric: 'revenue_per_recipient',
    });
    const test = meanDifferenceZTest(
      { n: 100, sum: 1500, sum_sq: 75_000 },
      { n: 100, sum: 500, sum_sq: 25_000 },
    )!;
    expect(decision).toMatchObject({ winner: 'B', reason: 'significant', p_value: test.p_value });
    expect(decision.observed.map((o) => o.value)).toEqual([5, 15]);
  });

  it('takes a marketer’s choice, keeping the figures', () => {
    const decision = chooseWinner({
      variants: ['A', 'B'],
      outcomes: [outcome('A', { clicks: 10 }), outcome('B', { clicks: 30 })],
      metric: 'click_rate',
      chosen: 'A',
    });
    expect(decision).toMatchObject({ winner: 'A', reason: 'marketer_choice', leader: 'B' });
    expect(decision.p_value).toBeLessThan(0.05);
  });

  it('needs two variants', () => {
    expect(() => chooseWinner({ variants: ['A'], outcomes: [], metric: 'click_rate' })).toThrow(
      /two variants/,
    );
  });
});

describe('abStateOf', () => {
  const base = {
    status: 'draft' as const,
    ab_test: { test_percent: 10, window_hours: 1, metric: 'click_rate' as const },
    ab_window_started_at: null,
    ab_window_ends_at: null,
    ab_decided_at: null,
    ab_decision: null,
  };

  it('tells the phase from the status and the decision', () => {
    expect(abStateOf({ ...base, ab_test: null })).toBeNull();
    expect(abStateOf(base)?.phase).toBe('pending');
    expect(abStateOf({ ...base, status: 'scheduled' })?.phase).toBe('pending');
    expect(abStateOf({ ...base, status: 'sending' })?.phase).toBe('testing');
    expect(abStateOf({ ...base, status: 'paused' })?.phase).toBe('testing');
    expect(abStateOf({ ...base, status: 'cancelled' })?.phase).toBe('cancelled');
    const decision = chooseWinner({ variants: ['A', 'B'], outcomes: [], metric: 'click_rate' });
    const at = new Date('2025-01-01T10:00:00Z');
    expect(
      abStateOf({
        ...base,
        status: 'sent',
        ab_decided_at: at,
        ab_decision: { ...decision, decided_by: 'window' },
      }),
    ).toMatchObject({
      phase: 'winner_chosen',
      winner: 'A',
      decided_at: at.toISOString(),
      decided_by: 'window',
    });
  });
});
