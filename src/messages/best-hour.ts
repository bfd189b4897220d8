import type { Db } from '../db/sql.js';
import { customerTouchHours, populationTouchHours } from './store.js';

// Best send time: each customer's preferred hour of the day (in their timezone) from their own
// human opens and clicks, shrunk toward the population's when they have little history, and the
// next instant within 24 hours at which it is that hour for them.

/** Opens and clicks by local hour, 24 counts. */
export type HourCounts = readonly number[];

/** Pseudo-events of the population's profile a customer's own counts are added to. */
export const SHRINK_STRENGTH = 8;

/** Each hour's weight with its two neighbours (an open at 8:59 and one at 9:01 agree). */
function smooth(counts: HourCounts): number[] {
  return Array.from(
    { length: 24 },
    (_, h) => 0.5 * (counts[h] ?? 0) + 0.25 * ((counts[(h + 23) % 24] ?? 0) + (counts[(h + 1) % 24] ?? 0)),
  );
}

/**
 * The customer's preferred hour: the peak of their own counts plus `strength` events spread as
 * the population's are (so with no history it is the population's peak; with a long one, theirs).
 * Ties go to the earlier hour. With no data at all: 10 (a common morning default).
 */
export function preferredHour(own: HourCounts, population: HourCounts, strength = SHRINK_STRENGTH): number {
  const popTotal = population.reduce((a, b) => a + b, 0);
  const mine = smooth(own);
  const pop = smooth(population);
  let best = -1;
  let bestScore = 0;
  for (let h = 0; h < 24; h++) {
    const score = mine[h]! + (popTotal > 0 ? (strength * pop[h]!) / popTotal : 0);
    if (score > bestScore) {
      best = h;
      bestScore = score;
    }
  }
  return best === -1 ? 10 : best;
}

/** A timezone Intl knows, or UTC. */
function zoneOrUtc(timeZone: string | null | undefined): string {
  if (!timeZone) return 'UTC';
  try {
    new Intl.DateTimeFormat('en-GB', { timeZone });
    return timeZone;
  } catch {
    return 'UTC';
  }
}

/**
 * The first instant at or after `now` when it is `hour`:00 in `timeZone` (within the next 24
 * hours), or `now` itself during that hour. An unknown timezone counts as UTC.
 */
export function nextAtLocalHour(now: Date, hour: number, timeZone: string | null | undefined): Date {
  const parts = new Intl.DateTimeFormat('en-GB', {
    timeZone: zoneOrUtc(timeZone),
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
    hourCycle: 'h23',
  }).formatToParts(now);
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const localHour = part('hour');
  if (localHour === hour) return now;
  const hoursAhead = (hour - localHour + 24) % 24;
  const intoHour = (part('minute') * 60 + part('second')) * 1000 + now.getMilliseconds();
  // Whole hours ahead from the start of the current local hour (offsets are whole or half hours,
  // so the local hour starts when the UTC clock's minutes match the local ones).
  return new Date(now.getTime() - intoHour + hoursAhead * 3_600_000);
}

/** How far back opens and clicks count toward the preferred hour. */
export const HISTORY_DAYS = 180;

/** The population's profile by local hour (read once per planner run). */
export const populationHours = (sql: Db) => populationTouchHours(sql, HISTORY_DAYS);

/**
 * When to send each of these customers' mail: at their preferred hour within 24 hours of `now`,
 * in their timezone, their own history shrunk toward `population` (populationHours).
 */
export async function bestSendTimes(
  sql: Db,
  customerIds: readonly number[],
  now: Date,
  population: HourCounts,
): Promise<Map<number, Date>> {
  const out = new Map<number, Date>();
  if (customerIds.length === 0) return out;
  const own = await customerTouchHours(sql, customerIds, HISTORY_DAYS);
  for (const id of customerIds) {
    const entry = own.get(id);
    const hour = preferredHour(entry?.hours ?? [], population);
    out.set(id, nextAtLocalHour(now, hour, entry?.timezone));
  }
  return out;
}
