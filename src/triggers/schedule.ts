// When a trigger's message is due: a delay in hours, then optionally the next given hour of the
// customer's local day. Pure functions over Intl, so DST and odd offsets come from the ICU data.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** A valid IANA zone name, or UTC for null and unknown names. */
export function safeTimeZone(timeZone: string | null | undefined): string {
  if (!timeZone) return 'UTC';
  try {
    formatterFor(timeZone);
    return timeZone;
  } catch {
    return 'UTC';
  }
}

interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock reading of an instant in a zone. */
export function localParts(at: Date, timeZone: string): LocalParts {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(at)) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
  };
}

/** The zone's offset from UTC at an instant, in milliseconds. */
function offsetAt(at: Date, timeZone: string): number {
  const p = localParts(at, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(at.getTime() / 1000) * 1000;
}

/**
 * The instant a wall-clock time happens in a zone. A time skipped by a DST jump resolves to
 * the instant after the jump; an hour that happens twice resolves to its first occurrence.
 */
export function zonedInstant(
  local: { year: number; month: number; day: number; hour: number },
  timeZone: string,
): Date {
  const guess = Date.UTC(local.year, local.month - 1, local.day, local.hour);
  const first = guess - offsetAt(new Date(guess), timeZone);
  const second = guess - offsetAt(new Date(first), timeZone);
  return new Date(Math.min(first, second));
}

export interface TriggerDelay {
  delay_hours: number;
  local_hour: number | null;
}

/**
 * When a message fired at `now` is due: `delay_hours` later, then at the first `local_hour`:00
 * of the customer's zone at or after that (today or tomorrow).
 */
export function sendAtFor(now: Date, delay: TriggerDelay, timeZone: string | null): Date {
  const base = new Date(now.getTime() + delay.delay_hours * 3_600_000);
  if (delay.local_hour === null) return base;
  const zone = safeTimeZone(timeZone);
  const p = localParts(base, zone);
  for (let add = 0; add <= 2; add++) {
    const day = new Date(Date.UTC(p.year, p.month - 1, p.day + add));
    const at = zonedInstant(
      {
        year: day.getUTCFullYear(),
        month: day.getUTCMonth() + 1,
        day: day.getUTCDate(),
        hour: delay.local_hour,
      },
      zone,
    );
    if (at.getTime() >= base.getTime()) return at;
  }
  return base;
}
