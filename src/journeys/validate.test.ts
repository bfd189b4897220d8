import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Definition, DefinitionSchema } from './schema.js';
import { definitionErrors } from './validate.js';

const abandonedCart: Definition = DefinitionSchema.parse({
  entry: { event: 'cart_updated' },
  re_entry: 'after_exit',
  goal: { purchase: {} },
  start: 'wait',
  steps: [
    { id: 'wait', type: 'wait', seconds: 2, next: 'spend' },
    {
      id: 'spend',
      type: 'branch',
      rule: { '>=': [{ var: 'customer.total_spent' }, 100] },
      then: 'vip',
      else: 'split',
    },
    {
      id: 'split',
      type: 'split',
      paths: [
        { weight: 50, next: 'mail' },
        { weight: 50, next: 'done', holdout: true },
      ],
    },
    { id: 'vip', type: 'send_email', template_id: 1, next: 'done' },
    { id: 'mail', type: 'send_email', template_id: 1, next: 'done' },
    { id: 'done', type: 'exit' },
  ],
});

const paths = (d: Definition) => definitionErrors(d).map((e) => e.path);

describe('definitionErrors', () => {
  it('accepts a whole journey', () => {
    expect(definitionErrors(abandonedCart)).toEqual([]);
  });

  it('names the step and the field of a missing next', () => {
    const d = structuredClone(abandonedCart);
    d.steps[3] = { id: 'vip', type: 'send_email', template_id: 1, next: 'nowhere' };
    const errors = definitionErrors(d);
    expect(errors.map((e) => e.path)).toEqual(['steps.3.next']);
    expect(errors[0]!.message).toContain('"vip"');
    expect(errors[0]!.message).toContain('"nowhere"');
  });

  it('refuses an unknown start, duplicate ids, bad weights and a wait with both durations', () => {
    expect(paths({ ...abandonedCart, start: 'x' })).toEqual(['start']);
    const d = structuredClone(abandonedCart);
    d.steps.push({ id: 'done', type: 'exit' });
    expect(paths(d)).toEqual(['steps.6.id']);
    const w = structuredClone(abandonedCart);
    w.steps[0] = { id: 'wait', type: 'wait', seconds: 2, until: { hour: 9 }, next: 'spend' };
    const split = w.steps[2] as Extract<Definition['steps'][number], { type: 'split' }>;
    split.paths[0]!.weight = 10;
    expect(paths(w)).toEqual(['steps.0.seconds', 'steps.2.paths']);
  });

  it('refuses unreachable steps', () => {
    const d = structuredClone(abandonedCart);
    d.steps.push({ id: 'orphan', type: 'exit' });
    expect(paths(d)).toEqual(['steps.6.id']);
  });

  it('refuses an invalid rule, naming the step', () => {
    const d = structuredClone(abandonedCart);
    (d.steps[1] as { rule: unknown }).rule = { no_such_operator: [1] };
    const errors = definitionErrors(d);
    expect(errors[0]!.path).toMatch(/^steps\.1\.rule/);
    expect(errors[0]!.message).toContain('"spend"');
  });

  it('accepts a cycle exactly when it passes through a wait (all chains)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 8 }), fc.nat(), (waits, back) => {
        const n = waits.length;
        const k = back % n;
        const steps = waits.map((wait, i) => {
          const next = i === n - 1 ? `s${k}` : `s${i + 1}`;
          return wait
            ? { id: `s${i}`, type: 'wait' as const, seconds: 1, next }
            : { id: `s${i}`, type: 'update_attribute' as const, key: 'k', value: i, next };
        });
        const d: Definition = { entry: { event: 'e' }, start: 's0', steps };
        const cycleHasWait = waits.slice(k).some(Boolean);
        expect(definitionErrors(d).length === 0).toBe(cycleHasWait);
      }),
    );
  });
});
