import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventInputSchema } from './schema.js';
import { parseEventInput } from './validate.js';

// The compiled check must give zod's answer for every input: the same valid rows with the same
// data, and the same refusals (which zod then explains).
const text = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom(
    '',
    ' cart',
    'cart ',
    'cart_updated',
    'x'.repeat(200),
    'x'.repeat(201),
    'a\u0000b',
    '😀'.repeat(100),
    '😀'.repeat(101),
  ),
);
const id = fc.oneof(
  text,
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constant(null),
  fc.boolean(),
);
const timestamp = fc.oneof(
  fc.constantFrom('2026-03-01T10:00:00Z', 'nope', '', '2026-13-45T00:00:00Z', 'x'.repeat(65)),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  fc.integer(),
);
const bag = fc.oneof(
  fc.dictionary(
    fc.oneof(fc.string({ maxLength: 3 }), fc.constant('k'.repeat(201))),
    fc.jsonValue({ maxDepth: 2 }),
  ),
  fc.constantFrom(null, [], 'text', 1),
);
const email = fc.oneof(
  fc.constantFrom('ana@example.com', 'bad', 'a@b.c', 'É@x.com', `${'a'.repeat(250)}@x.com`),
  fc.emailAddress(),
);
const anyField = {
  type: fc.constantFrom('track', 'page', 'screen', 'identify', 'group', 'alias', 'other', 1),
  event: fc.oneof(text, fc.integer()),
  name: fc.oneof(text, fc.integer()),
  userId: id,
  anonymousId: id,
  messageId: id,
  timestamp,
  properties: bag,
  context: bag,
  email,
  extra: text,
};
// Mostly valid calls (most random rows are refused at once, which says little about the compiled
// path), with any field possibly replaced by any value.
const validField = {
  type: fc.constantFrom('track', 'page', 'screen'),
  event: fc.string({ minLength: 1, maxLength: 8 }).filter((v) => v.trim() === v && !v.includes('\u0000')),
  userId: fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.integer()),
  messageId: fc.string({ minLength: 1, maxLength: 8 }),
  timestamp: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  properties: fc.dictionary(fc.string({ maxLength: 3 }), fc.jsonValue({ maxDepth: 2 })),
};
const call = fc.oneof(
  fc.record(anyField, { requiredKeys: [] }),
  fc
    .tuple(
      fc.record(validField, { requiredKeys: ['type', 'event'] }),
      fc.record(anyField, { requiredKeys: [] }),
      fc.integer({ min: 0, max: 2 }),
    )
    .map(([valid, other, n]) => ({ ...valid, ...Object.fromEntries(Object.entries(other).slice(0, n)) })),
);

describe('parseEventInput', () => {
  it('answers as zod does for any JSON call', () => {
    fc.assert(
      fc.property(call, (generated) => {
        // What JSON.parse would hand over.
        const value = JSON.parse(JSON.stringify(generated));
        const compiled = parseEventInput(value);
        const zod = EventInputSchema.safeParse(value);
        expect(compiled.success).toBe(zod.success);
        if (compiled.success && zod.success) expect(compiled.data).toEqual(zod.data);
        if (!compiled.success && !zod.success) expect(compiled.error.issues).toEqual(zod.error.issues);
      }),
      { numRuns: 3000 },
    );
  });

  it('gives a track call its ids as text and drops unknown fields, like zod', () => {
    const value = {
      type: 'track',
      event: 'cart_updated',
      userId: 42,
      messageId: 'm-1',
      extra: 1,
      properties: { a: 1 },
    };
    expect(parseEventInput(value)).toEqual({
      success: true,
      data: { type: 'track', event: 'cart_updated', userId: '42', messageId: 'm-1', properties: { a: 1 } },
    });
  });
});
