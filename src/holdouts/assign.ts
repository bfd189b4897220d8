import { createHash, randomBytes } from 'node:crypto';
import type { Db, Sql } from '../db/sql.js';

// Who is held out, by a stable hash of the customer: the same customer is in or out of the same
// holdout every time it is asked (a re-planned campaign, a trigger firing again), so holdouts are
// reproducible and an auditor can recompute them from the ids alone.

/** Where a hash of `key:customer` falls in [0, 100) (a journey's split uses it too). */
export function point(key: string, customerId: number): number {
  const digest = createHash('sha256').update(`${key}:${customerId}`).digest();
  return (digest.readUInt32BE(0) / 2 ** 32) * 100;
}

/** The hash key of a campaign's, a trigger's or an offer's own holdout. */
export type HoldoutKey = `campaign:${number}` | `trigger:${number}` | `offer:${number}` | `journey:${number}`;

/** Whether a customer is in the `percent` holdout of `key` (salted apart from the A/B test cell). */
export function inHoldout(key: HoldoutKey, customerId: number, percent: number): boolean {
  return percent > 0 && point(`holdout:${key}`, customerId) < percent;
}

/** The global control group in force: its id, percent and salt. */
export interface ControlGroup {
  id: number;
  percent: number;
  salt: string;
  started_at: Date;
}

/** Whether a customer is in a control group. */
export function inControlGroup(group: ControlGroup | null, customerId: number): boolean {
  return group !== null && group.percent > 0 && point(`control:${group.salt}`, customerId) < group.percent;
}

export interface HoldoutSettings {
  holdout_percent: number;
  refresh_days: number | null;
}

export async function readHoldoutSettings(sql: Db): Promise<HoldoutSettings & { updated_at: Date }> {
  const [row] = await sql<(HoldoutSettings & { updated_at: Date })[]>`
    select holdout_percent::float8 as holdout_percent, refresh_days, updated_at from holdout_settings where id`;
  return row ?? { holdout_percent: 0, refresh_days: null, updated_at: new Date(0) };
}

const newSalt = () => randomBytes(12).toString('hex');

/**
 * The control group in force at `now`, started or renewed when the settings ask for it: a group
 * of the configured percent, begun less than `refresh_days` ago. Null when the percent is 0.
 * Concurrent callers agree: the switch runs under an advisory lock and ends the old group in
 * the same transaction that starts the new one.
 */
export async function currentControlGroup(sql: Sql, now: Date): Promise<ControlGroup | null> {
  const settings = await readHoldoutSettings(sql);
  const current = await controlGroupInForce(sql);
  if (isCurrent(current, settings, now)) return current && current.percent > 0 ? current : null;
  return renewControlGroup(sql, now);
}

/** The control group not ended yet, as stored (no renewal: a read for forecasts). */
export async function controlGroupInForce(sql: Db): Promise<ControlGroup | undefined> {
  const [current] = await sql<ControlGroup[]>`
    select id, percent::float8 as percent, salt, started_at from control_groups where ended_at is null`;
  return current;
}

function isCurrent(group: ControlGroup | undefined, s: HoldoutSettings, now: Date): boolean {
  if (!group) return s.holdout_percent === 0;
  if (group.percent !== s.holdout_percent) return false;
  if (s.refresh_days === null) return true;
  return now.getTime() < group.started_at.getTime() + s.refresh_days * 86_400_000;
}

/**
 * Ends the group in force and starts one from the settings (none when the percent is 0): at a
 * refresh, when the percent changes, or when the operator asks (POST /v1/settings/control-group/refresh).
 */
export async function renewControlGroup(
  sql: Sql,
  now: Date,
  options: { force?: boolean } = {},
): Promise<ControlGroup | null> {
  return sql.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(7461234029)`;
    const settings = await readHoldoutSettings(tx);
    const [current] = await tx<ControlGroup[]>`
      select id, percent::float8 as percent, salt, started_at from control_groups where ended_at is null`;
    if (!options.force && isCurrent(current, settings, now))
      return current && current.percent > 0 ? current : null;
    if (current) await tx`update control_groups set ended_at = ${now} where id = ${current.id}`;
    if (settings.holdout_percent === 0) return null;
    const [group] = await tx<ControlGroup[]>`
      insert into control_groups (percent, salt, started_at)
      values (${settings.holdout_percent}, ${newSalt()}, ${now})
      returning id, percent::float8 as percent, salt, started_at`;
    return group!;
  });
}
