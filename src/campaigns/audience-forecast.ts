import type { Config } from '../config.js';
import type { Db } from '../db/sql.js';
import { controlGroupInForce } from '../holdouts/assign.js';
import { decideRecipients } from '../messages/recipients.js';
import { countAudience, evaluationOf, segmentAudiencePage } from '../segments/audience.js';
import { segmentRule } from './store.js';

/**
 * Customers the forecast reads at most; past it, the counts are scaled from what it read (the
 * first customers by id, so an estimate). Keeps the launch page within its budget on a large
 * audience: the recipients step costs about 10 ms per 1,000 customers.
 */
export const FORECAST_SCAN_LIMIT = 10_000;

export interface AudienceForecast {
  /** Customers of the segment now. */
  audience: number;
  /** Of them, who would get the mail. */
  mailable: number;
  /** Who would be suppressed, by reason, most first. */
  suppressed: Array<{ reason: string; count: number }>;
  /** Who would be held out (global control group, the campaign's own holdout), by reason. */
  held_out: Array<{ reason: string; count: number }>;
  /** Customers read; less than `audience` when the counts are estimated. */
  scanned: number;
  estimated: boolean;
}

const sorted = (counts: Map<string, number>) =>
  [...counts].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count);

/**
 * What a launch now would do with the campaign's audience, without writing anything: the
 * segment read as the planner reads it, through the one recipients step (suppression reasons,
 * then holdouts), offers not decided. The control group is the one in
 * force (a launch may renew it first). Undefined when the campaign has no live segment.
 */
export async function forecastAudience(
  deps: { sql: Db; config: Pick<Config, 'OFFERFLOW_SECRET' | 'MARKETING_LEGAL_BASIS'> },
  campaign: { id: number; segment_id: number | null; holdout_percent: number },
  options: { now: Date; scanLimit?: number },
): Promise<AudienceForecast | undefined> {
  if (campaign.segment_id === null) return undefined;
  const rule = await segmentRule(deps.sql, campaign.segment_id);
  if (rule === undefined) return undefined;
  const limit = options.scanLimit ?? FORECAST_SCAN_LIMIT;
  const group = (await controlGroupInForce(deps.sql)) ?? null;
  const controlGroup = group && group.percent > 0 ? group : null;
  const suppressed = new Map<string, number>();
  const held = new Map<string, number>();
  // The count of the whole segment is the costly part (every customer's aggregates). In SQL it
  // runs on its own connection beside the read of the first customers and their recipients
  // step, instead of after them; its answer is used only when the read hit the limit (else the
  // read saw everyone). A rule evaluated in process would compete for this thread: counted after.
  const count = () => countAudience(deps.sql, rule, { now: options.now });
  const early = evaluationOf(deps.sql, rule, options.now) === 'sql' ? count() : undefined;
  early?.catch(() => {}); // awaited below when needed, ignored otherwise
  const ids = await segmentAudiencePage(deps.sql, rule, { limit, now: options.now });
  // The recipients step as the planner runs it (suppression reasons, then holdouts), over all
  // the customers read at once: nothing is written, so there is no page to commit, and one call
  // is three queries where pages of 1,000 made thirty.
  const rows = await decideRecipients(
    deps,
    ids.map((customer_id) => ({ customer_id })),
    {
      now: options.now,
      placements: () => 0,
      holdout: {
        controlGroup,
        promotional: () => true,
        own: () => ({ key: `campaign:${campaign.id}`, percent: campaign.holdout_percent }),
      },
    },
  );
  for (const r of rows) {
    const counts = r.status === 'suppressed' ? suppressed : r.status === 'holdout' ? held : undefined;
    if (counts && r.suppressed_reason)
      counts.set(r.suppressed_reason, (counts.get(r.suppressed_reason) ?? 0) + 1);
  }
  const scanned = ids.length;
  const more = scanned >= limit;
  const audience = more ? (await (early ?? count())).count : scanned;
  const scale = scanned > 0 ? audience / scanned : 0;
  const scaled = (counts: Map<string, number>) =>
    new Map([...counts].map(([k, v]) => [k, Math.round(v * scale)] as const));
  const s = scaled(suppressed);
  const h = scaled(held);
  const out = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  return {
    audience,
    mailable: Math.max(0, audience - out(s) - out(h)),
    suppressed: sorted(s),
    held_out: sorted(h),
    scanned,
    estimated: audience > scanned,
  };
}
