import { z } from '@hono/zod-openapi';

// Field builders shared by request schemas. PostgreSQL rejects NUL in text and jsonb, so every
// string refuses it here, where the error can still name the field.
const hasNoNul = (value: string) => !value.includes('\u0000');

/** A string of at most `max` characters, without NUL. */
export const text = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine(hasNoNul, 'must not contain NUL characters');

/** A non-empty string of at most `max` characters, without NUL. */
export const requiredText = (max: number) => text(max).min(1, 'must not be empty');

/** A lower-case identifier: `marketing_email`, `health`, `newsletter.weekly`. */
export const slug = (max = 64) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .regex(/^[a-z][a-z0-9_.:-]*$/, 'must start with a-z and use only a-z, 0-9, _ . : -');

/**
 * A query parameter holding a comma-separated list (`kinds=purchase,call`): the items, trimmed,
 * each checked by `item`; an empty list or a bad item is one error naming the parameter.
 */
export const commaList = <T extends z.ZodType<string>>(item: T, message: string) =>
  z
    .string()
    .max(500)
    .transform((value, ctx) => {
      const items = value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean);
      if (items.length === 0 || items.some((part) => !item.safeParse(part).success)) {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return items as z.output<T>[];
    });

/** An ISO 8601 date-time with an offset (`2025-03-01T10:00:00Z`). */
export const isoDateTime = () =>
  z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time with an offset' });

/** An ISO 8601 calendar date (`1985-04-12`). */
export const isoDate = () => z.iso.date({ message: 'must be an ISO 8601 date (YYYY-MM-DD)' });

/** Remembers answers of a costly check (Intl constructors take tens of µs; batches repeat values). */
function memo(check: (value: string) => boolean): (value: string) => boolean {
  const known = new Map<string, boolean>();
  return (value) => {
    let answer = known.get(value);
    if (answer === undefined) {
      answer = check(value);
      if (known.size < 10_000) known.set(value, answer);
    }
    return answer;
  };
}

const isTimeZone = memo((value) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
});

const isLocale = memo((value) => {
  try {
    return Intl.getCanonicalLocales(value).length === 1;
  } catch {
    return false;
  }
});

/** An IANA time zone name the runtime knows (`Europe/Paris`). */
export const timeZone = () =>
  z.string().max(64).refine(isTimeZone, 'must be an IANA time zone such as Europe/Paris');

/** A BCP 47 language tag (`fr-FR`). */
export const locale = () =>
  z.string().max(35).refine(isLocale, 'must be a BCP 47 language tag such as fr-FR');

const CURRENCIES = new Set(Intl.supportedValuesOf('currency'));

/** An ISO 4217 currency code (`EUR`). */
export const currency = () =>
  z
    .string()
    .length(3, 'must be a 3-letter ISO 4217 code')
    .refine((value) => CURRENCIES.has(value), 'must be an ISO 4217 currency code such as EUR');
