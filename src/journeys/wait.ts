import { localParts, safeTimeZone, zonedInstant } from '../triggers/schedule.js';
import { WEEKDAYS } from './schema.js';

// When a wait step is over: after `seconds`, or at the next given local hour (and weekday) in the
// customer's timezone (UTC when unknown), reusing the triggers' zone arithmetic (DST from ICU).

/** The instant a wait that starts at `now` ends. */
export function waitEndsAt(
  now: Date,
  wait: { seconds?: number | undefined; until?: { hour: number; weekday?: string | undefined } | undefined },
  timeZone: string | null | undefined,
): Date {
  if (wait.seconds !== undefined) return new Date(now.getTime() + wait.seconds * 1000);
  const until = wait.until!;
  const zone = safeTimeZone(timeZone);
  const p = localParts(now, zone);
  const weekday = until.weekday === undefined ? null : WEEKDAYS.indexOf(until.weekday as never);
  for (let add = 0; add <= 8; add++) {
    const day = new Date(Date.UTC(p.year, p.month - 1, p.day + add));
    if (weekday !== null && day.getUTCDay() !== weekday) continue;
    const at = zonedInstant(
      { year: day.getUTCFullYear(), month: day.getUTCMonth() + 1, day: day.getUTCDate(), hour: until.hour },
      zone,
    );
    if (at.getTime() > now.getTime()) return at;
  }
  return new Date(now.getTime() + 7 * 86_400_000);
}
