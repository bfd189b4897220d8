/**
 * Which imported purchase lines fire automations: `recent` (the default) only those bought
 * within IMPORT_TRIGGER_MAX_AGE_HOURS (an import of last year's orders mails nobody), `all`
 * every new line, `none` none (`offerflow import --no-triggers`).
 */
export const TRIGGER_MODES = ['recent', 'all', 'none'] as const;
export type TriggerMode = (typeof TRIGGER_MODES)[number];

/** The time before which a line is history for this import, or null when every line fires. */
export function historyCutoff(mode: TriggerMode, now: Date, maxAgeHours: number): Date | null {
  return mode === 'all' ? null : new Date(now.getTime() - maxAgeHours * 3600_000);
}

/** The lines that fire: all of them, or those bought at or after the cutoff. */
export function recentOnly<T extends { purchased_at?: Date | undefined }>(
  rows: readonly T[],
  cutoff: Date | null,
): T[] {
  if (cutoff === null) return [...rows];
  return rows.filter((r) => r.purchased_at !== undefined && r.purchased_at >= cutoff);
}
