import { suppressionReasons } from '../messages/suppression.js';
import { dateEntryCandidates } from './entry-store.js';
import { enter } from './events.js';
import type { JourneyDeps } from './runner.js';
import { type VersionFacts, versionsEnteredByDate } from './store.js';

// Entry by a date attribute (a renewal date, a birthday): the journey worker's repeatable
// `date-scan` job enters, at the clock's now, the customers whose date (plus the offset) is
// today in their timezone once their local hour has come. The entry key names the occurrence
// (`date:<attribute>:<YYYY-MM-DD>`), and journey_entries is unique per journey, key and
// customer, so a scan run often, late, twice or on several workers at once enters nobody twice
// for the same occurrence; re-entry rules still apply between occurrences.

/** Suppression reasons that keep a customer out of a journey, not just out of its mail. */
const NEVER_ENTER = new Set(['erased', 'unsubscribed']);

const PAGE = 1000;

/** Enters one version's customers due now; returns how many entered. */
async function scanVersion(deps: JourneyDeps, version: VersionFacts, now: Date): Promise<number> {
  const entry = version.definition.entry;
  if (!('date_attribute' in entry)) return 0;
  let afterId = 0;
  let total = 0;
  for (;;) {
    const rows = await dateEntryCandidates(deps.sql, {
      journeyId: version.journey_id,
      attribute: entry.date_attribute,
      offsetDays: entry.offset_days ?? 0,
      atLocalHour: entry.at_local_hour ?? 0,
      yearly: entry.yearly ?? false,
      now,
      afterId,
      limit: PAGE,
    });
    if (rows.length === 0) return total;
    // The one suppression step decides who unsubscribed (a withdrawn consent, a listed address).
    const reasons = await suppressionReasons(
      deps.sql,
      deps.config,
      rows.map((r) => r.customer_id),
    );
    // A customer gone since the page was read has no reason at all: they do not enter either.
    const admitted = rows.filter((r) => {
      const reason = reasons.get(r.customer_id);
      return reason !== undefined && (reason === null || !NEVER_ENTER.has(reason));
    });
    total += await enter(
      deps,
      [version],
      admitted.map((r) => ({
        journey_id: version.journey_id,
        version_id: version.version_id,
        customer_id: r.customer_id,
        // dateEntryCandidates leaves out who holds this key already.
        entry_key: `date:${entry.date_attribute}:${r.occurrence}`,
        event: {
          attribute: entry.date_attribute,
          date: r.value,
          occurrence: r.occurrence,
          offset_days: entry.offset_days ?? 0,
        },
        step: version.definition.start,
      })),
      now,
    );
    afterId = rows[rows.length - 1]!.customer_id;
    if (rows.length < PAGE) return total;
  }
}

/** The date scan: every active journey entered by a date attribute, at the clock's now. */
export async function scanDateEntries(deps: JourneyDeps): Promise<{ journeys: number; entered: number }> {
  const now = deps.clock();
  const versions = await versionsEnteredByDate(deps.sql);
  let entered = 0;
  for (const version of versions) entered += await scanVersion(deps, version, now);
  return { journeys: versions.length, entered };
}
