import type { Db } from '../db/sql.js';
import type { ContactPolicy, ContactPolicyPatchInput } from './schema.js';

// The workspace's contact policy: one row of contact_policy_settings, read by every claim (in
// the claim's own statement, so a send pays no extra round trip) and edited via /v1/settings.

/** The policy as the claim reads it (minutes after local midnight for the quiet hours). */
export interface PolicySettings {
  daily_cap: number | null;
  weekly_cap: number | null;
  quiet_start_minute: number | null;
  quiet_end_minute: number | null;
  complaint_suspension_days: number;
  default_timezone: string;
}

export const OFF: PolicySettings = {
  daily_cap: null,
  weekly_cap: null,
  quiet_start_minute: null,
  quiet_end_minute: null,
  complaint_suspension_days: 0,
  default_timezone: 'UTC',
};

const hhmm = (minute: number) =>
  `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
const minuteOf = (time: string) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

/** The settings as the API shows them. */
export function policyView(s: PolicySettings): ContactPolicy {
  return {
    daily_cap: s.daily_cap,
    weekly_cap: s.weekly_cap,
    quiet_hours:
      s.quiet_start_minute === null || s.quiet_end_minute === null
        ? null
        : { start: hhmm(s.quiet_start_minute), end: hhmm(s.quiet_end_minute) },
    complaint_suspension_days: s.complaint_suspension_days,
    default_timezone: s.default_timezone,
  };
}

/** Reads the policy (the row exists from the migration on). */
export async function readPolicySettings(db: Db): Promise<PolicySettings> {
  const [row] = await db<PolicySettings[]>`
    -- The workspace's contact policy.
    select daily_cap, weekly_cap, quiet_start_minute, quiet_end_minute, complaint_suspension_days, default_timezone
    from contact_policy_settings where id`;
  return row ?? OFF;
}

/** Applies a validated patch: fields absent are kept, `null` turns a cap or the quiet hours off. */
export async function writePolicySettings(db: Db, patch: ContactPolicyPatchInput): Promise<void> {
  const current = await readPolicySettings(db);
  const quiet =
    patch.quiet_hours === undefined
      ? { start: current.quiet_start_minute, end: current.quiet_end_minute }
      : patch.quiet_hours === null
        ? { start: null, end: null }
        : { start: minuteOf(patch.quiet_hours.start), end: minuteOf(patch.quiet_hours.end) };
  const next = {
    daily_cap: patch.daily_cap === undefined ? current.daily_cap : patch.daily_cap,
    weekly_cap: patch.weekly_cap === undefined ? current.weekly_cap : patch.weekly_cap,
    quiet_start_minute: quiet.start,
    quiet_end_minute: quiet.end,
    complaint_suspension_days: patch.complaint_suspension_days ?? current.complaint_suspension_days,
    default_timezone: patch.default_timezone ?? current.default_timezone,
  };
  await db`
    -- Replaces the policy row with the patched values.
    update contact_policy_settings set ${db(next)}, updated_at = now() where id`;
}
