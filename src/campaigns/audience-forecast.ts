import type { Config } from '../config.js';
import type { Db } from '../db/sql.js';
import { controlGroupInForce } from '../holdouts/assign.js';
import { decideRecipients } from '../messages/recipients.js';
import { segmentMatchesAmong } from '../segments/audience.js';
import { countLiveCustomers, selectSampleCustomers } from '../segments/store.js';
import { segmentRule } from './store.js';

/**
 * Customers the forecast reads at most. With more live customers than this it reads a simple
 * random sample of this many (the first by a hash of the id) and scales its counts. What the
 * forecast costs grows with what it reads (the rule's aggregates, then the recipients step:
 * facts, an HMAC per address, the suppression list), so this bounds the launch page whatever
 * the size of the base; 1,000 puts a proportion within about 3 points (95 %).
 */
export const FORECAST_SCAN_LIMIT = 1_000;

/**
 * Live customers counted exactly below about this many (as the sample estimates them): a scan of
 * up to 50,000 rows, 10-20 ms. Past it, the number is the sample's estimate (liveFromSample),
 * which costs nothing more and is off by about 3 %, the sample's own error on a proportion.
 */
export const LIVE_COUNT_CAP = 50_000;

export interface AudienceForecast {
  /** Customers of the segment now. */
  audience: number;
  /** Of them, who would get the mail. */
  mailable: number;
  /** Who would be suppressed, by reason, most first. */
  suppressed: Array<{ reason: string; count: number }>;
  /** Who would be held out (global control group, the campaign's own holdout), by reason. */
  held_out: Array<{ reason: string; count: number }>;
  /** Customers of the segment read; less than `audience` when the counts are estimated. */
  scanned: number;
  estimated: boolean;
}

const sorted = (counts: Map<string, number>) =>
  [...counts].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count);

/** hashint8 spans the int4 range: 2^32 values from -2^31. */
const HASH_SPACE = 2 ** 32;
const HASH_MIN = -(2 ** 31);

/**
 * How many live customers there are, from the sample alone: its `k` customers are those with the
 * k smallest hashes, and the k-th smallest of N uniform hashes sits near k/N of the hash space,
 * so (k - 1) / (share of the space up to it) estimates N without bias (the k-minimum-values
 * estimator; relative error about 1/sqrt(k - 2), 3 % at k = 1,000). Bounded whatever N is.
 */
export function liveFromSample(hashes: readonly number[]): number {
  const k = hashes.length;
  if (k < 2) return k;
  const kth = Math.max(...hashes);
  const share = (kth - HASH_MIN + 1) / HASH_SPACE;
  return Math.round((k - 1) / share);
}

/**
 * What a launch now would do with the campaign's audience, without writing anything: the
 * segment's rule as the planner evaluates it, through the one recipients step (suppression
 * reasons, then holdouts), offers not decided. The control group is the one in force (a launch
 * may renew it first). Up to `scanLimit` live customers every one is read, so the forecast is
 * what the planner then writes; past it, a random sample of that many is read and the counts
 * scaled to the live customers. Undefined when the campaign has no live segment.
 */
export async function forecastAudience(
  deps: { sql: Db; config: Pick<Config, 'OFFERFLOW_SECRET' | 'MARKETING_LEGAL_BASIS'> },
  campaign: { id: number; segment_id: number | null; holdout_percent: number },
  options: { now: Date; scanLimit?: number; liveCountCap?: number },
): Promise<AudienceForecast | undefined> {
  if (campaign.segment_id === null) return undefined;
  const limit = options.scanLimit ?? FORECAST_SCAN_LIMIT;
  // One more than the limit tells whether the sample is everyone.
  const [rule, group, read] = await Promise.all([
    segmentRule(deps.sql, campaign.segment_id),
    controlGroupInForce(deps.sql),
    selectSampleCustomers(deps.sql, limit + 1),
  ]);
  if (rule === undefined) return undefined;
  const sampled = read.length > limit;
  const sample = sampled ? read.slice(0, limit) : read;
  // Counted beside the rule and the recipients step; only a sample needs it.
  const cap = options.liveCountCap ?? LIVE_COUNT_CAP;
  const live = sampled ? liveCustomers(deps.sql, sample, cap) : Promise.resolve(sample.length);
  live.catch(() => {}); // awaited below
  const ids = await segmentMatchesAmong(
    deps.sql,
    rule,
    sample.map((c) => c.id),
    { now: options.now },
  );
  const controlGroup = group && group.percent > 0 ? group : null;
  // The recipients step as the planner runs it (suppression reasons, then holdouts), over all
  // the customers read at once: nothing is written, so there is no page to commit.
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
  const suppressed = new Map<string, number>();
  const held = new Map<string, number>();
  for (const r of rows) {
    const counts = r.status === 'suppressed' ? suppressed : r.status === 'holdout' ? held : undefined;
    if (counts && r.suppressed_reason)
      counts.set(r.suppressed_reason, (counts.get(r.suppressed_reason) ?? 0) + 1);
  }
  const scale = sample.length > 0 ? (await live) / sample.length : 0;
  const scaled = (counts: Map<string, number>) =>
    new Map([...counts].map(([k, v]) => [k, Math.round(v * scale)] as const));
  const audience = Math.round(ids.length * scale);
  const s = scaled(suppressed);
  const h = scaled(held);
  const out = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  return {
    audience,
    mailable: Math.max(0, audience - out(s) - out(h)),
    suppressed: sorted(s),
    held_out: sorted(h),
    scanned: ids.length,
    estimated: sampled,
  };
}

/** Live customers: estimated from the sample, counted exactly when that says there are few. */
async function liveCustomers(sql: Db, sample: ReadonlyArray<{ hash: number }>, cap: number): Promise<number> {
  const estimate = liveFromSample(sample.map((c) => c.hash));
  return estimate < cap ? countLiveCustomers(sql) : estimate;
}
