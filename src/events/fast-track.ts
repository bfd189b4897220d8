import type { EventInput } from './schema.js';

// The hot path of POST /v1/events: a batch of 10,000 track calls. Validating each with the zod
// schema (a discriminated union with transforms and refinements) cost about a third of the
// request and most of its garbage. This hand-compiled check accepts exactly the plain, valid
// track calls TrackEventSchema accepts and returns what it would return; anything else (another
// type, an email to check, any doubt at all) returns undefined and goes through zod, which
// alone writes the error messages. src/events/fast-track.test.ts holds it to zod for all inputs.

const MAX_ID = 200;
const MAX_NAME = 200;
const MAX_KEY = 200;
const MAX_TIMESTAMP = 64;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const BAD = Symbol('bad');

/** A Segment id as the schema reads it (text of 1..200 without NUL, or a number), or `bad`. */
function idOf(v: unknown): string | null | undefined | typeof BAD {
  if (v === undefined || v === null) return v;
  if (typeof v === 'string') return v.length >= 1 && v.length <= MAX_ID && !v.includes('\u0000') ? v : BAD;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : BAD;
  return BAD;
}

/** A free JSON bag (properties, context): an object whose keys are at most 200 characters. */
function isBag(v: unknown): v is Record<string, unknown> {
  if (!isPlainObject(v)) return false;
  // `__proto__` as an own key: zod copies bags key by key, which would not keep it.
  if (Object.hasOwn(v, '__proto__')) return false;
  for (const key in v) if (key.length > MAX_KEY) return false;
  return true;
}

/** The parsed track call, as TrackEventSchema would give it, or undefined to ask zod. */
export function fastTrack(value: unknown): EventInput | undefined {
  if (!isPlainObject(value) || value.type !== 'track') return undefined;
  const { event, properties, context, timestamp, email } = value;
  if (email !== undefined) return undefined; // the email check is zod's own
  if (
    typeof event !== 'string' ||
    event.length < 1 ||
    event.length > MAX_NAME ||
    event.includes('\u0000') ||
    event.trim() !== event
  )
    return undefined;
  if (properties !== undefined && !isBag(properties)) return undefined;
  if (context !== undefined && !isBag(context)) return undefined;
  if (
    timestamp !== undefined &&
    (typeof timestamp !== 'string' || timestamp.length > MAX_TIMESTAMP || Number.isNaN(Date.parse(timestamp)))
  )
    return undefined;
  const userId = idOf(value.userId);
  const anonymousId = idOf(value.anonymousId);
  const messageId = idOf(value.messageId);
  if (userId === BAD || anonymousId === BAD || messageId === BAD || messageId === null) return undefined;
  // Only the keys given, like zod's output (which drops keys the schema does not know).
  const out: Record<string, unknown> = { type: 'track', event };
  if (properties !== undefined) out.properties = properties;
  if (userId !== undefined) out.userId = userId;
  if (anonymousId !== undefined) out.anonymousId = anonymousId;
  if (timestamp !== undefined) out.timestamp = timestamp;
  if (messageId !== undefined) out.messageId = messageId;
  if (context !== undefined) out.context = context;
  return out as EventInput;
}
