import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastTrack } from './fast-track.js';
import { EventInputSchema } from './schema.js';

// The compiled check must never disagree with the schema: whatever it accepts, zod accepts and
// parses to the same value; whatever zod refuses, it leaves to zod (so the messages are zod's).

/** Strings near every limit the schema has: empty, spaces around, NUL, 200 and 201 long. */
const edgyString = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.constantFrom('', ' cart', 'cart ', 'a\u0000b', 'x'.repeat(200), 'x'.repeat(201), '__proto__'),
  fc.constantFrom('2026-03-01T10:00:00Z', 'not a date', '2026-03-01', 'x'.repeat(65)),
);
const edgyValue = fc.oneof(
  edgyString,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant([]),
  fc.constant({}),
);
const bag = fc.oneof(
  fc.dictionary(fc.oneof(fc.string({ maxLength: 4 }), fc.constant('k'.repeat(201))), fc.jsonValue(), {
    maxKeys: 3,
  }),
  fc.constant(JSON.parse('{"__proto__": {"a": 1}}')),
  edgyValue,
);
/** Mostly a valid value, sometimes one at or past a limit. */
const mostly = <T>(valid: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: valid, weight: 4 }, { arbitrary: edgyValue as fc.Arbitrary<unknown>, weight: 1 });
const idArb = fc.oneof(fc.string({ minLength: 1, maxLength: 10 }), fc.integer());
const trackish = fc.record(
  {
    type: fc.oneof({ arbitrary: fc.constant('track'), weight: 6 }, { arbitrary: edgyValue, weight: 1 }),
    event: mostly(fc.stringMatching(/^[a-z_]{1,12}$/)),
    properties: mostly(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue(), { maxKeys: 4 })),
    context: bag,
    userId: mostly(idArb),
    anonymousId: mostly(idArb),
    messageId: mostly(idArb),
    timestamp: mostly(fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
    email: fc.oneof({ arbitrary: fc.constant(undefined), weight: 6 }, { arbitrary: edgyValue, weight: 1 }),
    extra: edgyValue,
  },
  { requiredKeys: ['type'] },
);

describe('fastTrack', () => {
  it('accepts only what the schema accepts, and gives what it gives', () => {
    let accepted = 0;
    fc.assert(
      // What a body can hold: the value as JSON gives it back (no undefined, no NaN).
      fc.property(trackish, (generated) => {
        const value: unknown = JSON.parse(JSON.stringify(generated));
        const fast = fastTrack(value);
        if (fast === undefined) return;
        accepted++;
        const zod = EventInputSchema.safeParse(value);
        expect(zod.success).toBe(true);
        expect(fast).toStrictEqual(zod.data);
      }),
      { numRuns: 3000 },
    );
    // The generator reaches the accepting side, not only the refusals.
    expect(accepted).toBeGreaterThan(10);
  });

  it('takes the usual track call of a batch', () => {
    const call = {
      type: 'track',
      event: 'cart_updated',
      userId: 'c1',
      messageId: 'm-1',
      timestamp: '2026-03-01T10:00:00.000Z',
      properties: { cart_url: 'https://shop.example/c/1', value: 12 },
      context: { library: { name: 'analytics.js' } },
      sentAt: '2026-03-01T10:00:01.000Z',
    };
    expect(fastTrack(call)).toStrictEqual(EventInputSchema.parse(call));
    expect(fastTrack({ ...call, userId: 42 })).toMatchObject({ userId: '42' });
  });

  it('leaves every doubtful call to the schema', () => {
    for (const call of [
      { type: 'track', event: ' padded', userId: 'c1' },
      { type: 'track', event: 'e', userId: '' },
      { type: 'track', event: 'e', email: 'ana@example.com' },
      { type: 'track', event: 'e', messageId: null },
      { type: 'track', event: 'e', timestamp: 'yesterday' },
      { type: 'track', event: 'e', properties: [] },
      { type: 'identify', userId: 'c1' },
    ])
      expect(fastTrack(call), JSON.stringify(call)).toBeUndefined();
  });
});
