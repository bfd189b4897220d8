import { localParts, zonedInstant } from '../triggers/schedule.js';

// Quiet hours: a local window (minutes after midnight, in the customer's zone) in which
// promotional mail waits. Pure, over the zone math of src/triggers/schedule.ts (Intl/ICU), so
// DST and odd offsets come out right and a test can pass any instant.

/** Whether a minute of the local day is inside [start, end), the window spanning midnight when start > end. */
export function inQuietWindow(minute: number, start: number, end: number): boolean {
  if (start === end) return false;
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

/**
 * When a message due at `now` may go out: null when `now` is outside the quiet window in
 * `timeZone`, else the first instant after `now` at which the window's end is read on the
 * customer's clock (later today or tomorrow).
 */
export function quietHoursEnd(now: Date, timeZone: string, start: number, end: number): Date | null {
  const p = localParts(now, timeZone);
  if (!inQuietWindow(p.hour * 60 + p.minute, start, end)) return null;
  for (let add = 0; add <= 2; add++) {
    const day = new Date(Date.UTC(p.year, p.month - 1, p.day + add));
    const at = new Date(
      zonedInstant(
        {
          year: day.getUTCFullYear(),
          month: day.getUTCMonth() + 1,
          day: day.getUTCDate(),
          hour: Math.floor(end / 60),
        },
        timeZone,
      ).getTime() +
        (end % 60) * 60_000,
    );
    const exact = readsAt(at, timeZone, end);
    if (exact.getTime() > now.getTime()) return exact;
  }
  return new Date(now.getTime() + 86_400_000);
}

/**
 * `at` moved to read exactly `minute` on the zone's clock when an offset change between the
 * guess and the answer left it off by the change (zonedInstant can land an hour early in a zone
 * whose offset changed that day, such as Pacific/Chatham); unchanged in a DST gap.
 */
function readsAt(at: Date, timeZone: string, minute: number): Date {
  const p = localParts(at, timeZone);
  let delta = (((minute - (p.hour * 60 + p.minute)) % 1440) + 1440) % 1440;
  if (delta > 720) delta -= 1440;
  if (delta === 0) return at;
  const moved = new Date(at.getTime() + delta * 60_000);
  const q = localParts(moved, timeZone);
  return q.hour * 60 + q.minute === minute ? moved : at;
}

/** The customer's local calendar day of an instant, `YYYY-MM-DD` (the caps count per local day). */
export function localDay(at: Date, timeZone: string): string {
  const p = localParts(at, timeZone);
  return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
}
