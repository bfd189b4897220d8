import { Ajv2020 } from 'ajv/dist/2020.js';
import { toJSONSchema, type z } from 'zod';
import {
  type EventInput,
  EventInputSchema,
  isTimestamp,
  isTrimmed,
  PageEventSchema,
  TrackEventSchema,
} from './schema.js';

// The validation of one Segment call on the ingestion's hot path. zod stays the one description
// of the contract (the OpenAPI document, the types and every error message come from it); the
// track, page and screen calls that make up the volume are first checked by ajv against the
// JSON Schema zod generates from the same schemas, compiled once. Why: zod's discriminated union
// cost about 110 ms per 10,000 track calls in the bench's batches against 11-35 ms for the
// compiled check (load 7 on 2 cores), and it copies each row's properties and context. A row
// the compiled check refuses, or that it cannot judge alone, goes to zod, so a bad row gets
// exactly zod's errors; validate.test.ts holds both paths to the same answer for any input.

// Lengths count code points in both (zod's max() and ajv's maxLength); formats are not checked:
// zod's email pattern is in the generated schema.
const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });

const compile = (schema: z.ZodType) =>
  ajv.compile(toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }));

/** The keys zod keeps of each call type (it drops the others), and the ids it turns into text. */
const TRACK_KEYS = Object.keys(TrackEventSchema.shape);
const PAGE_KEYS = Object.keys(PageEventSchema.shape);
const ID_KEYS = new Set(['userId', 'anonymousId', 'messageId']);

let checks: { track: ReturnType<typeof compile>; page: ReturnType<typeof compile> } | undefined;

/** The row as zod would give it, when the compiled check is enough to know it is valid. */
function compiledParse(value: unknown): EventInput | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const row = value as Record<string, unknown>;
  const type = row.type;
  checks ??= { track: compile(TrackEventSchema), page: compile(PageEventSchema) };
  const isTrack = type === 'track';
  if (!isTrack && type !== 'page' && type !== 'screen') return undefined;
  if (!(isTrack ? checks.track(row) : checks.page(row))) return undefined;
  // What a JSON Schema cannot say, zod's refinements, by the same predicates.
  if (isTrack && !isTrimmed(row.event as string)) return undefined;
  if (typeof row.timestamp === 'string' && !isTimestamp(row.timestamp)) return undefined;
  const out: Record<string, unknown> = { type };
  for (const key of isTrack ? TRACK_KEYS : PAGE_KEYS) {
    const field = row[key];
    if (field === undefined || key === 'type') continue;
    // Text fields refuse NUL (the body reader already refuses it anywhere): zod names the field.
    if (typeof field === 'string' && field.includes('\u0000')) return undefined;
    out[key] = ID_KEYS.has(key) && field !== null ? String(field) : field;
  }
  return out as EventInput;
}

/** zod's answer for one Segment call: from the compiled check when it is enough, else zod's own. */
export function parseEventInput(value: unknown): ReturnType<typeof EventInputSchema.safeParse> {
  const data = compiledParse(value);
  return data
    ? ({ success: true, data } as ReturnType<typeof EventInputSchema.safeParse>)
    : EventInputSchema.safeParse(value);
}
