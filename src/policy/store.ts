import type { Db, Fragment } from '../db/sql.js';
import { lockedInIdOrder } from '../messages/ledger.js';

// The policy's queries over the send ledger and its counters. None needs a transaction: a
// count is one statement, and a capped one is a compare-and-set on the customer's day row
// (countSendIfUnchanged), so a restart of PostgreSQL mid-decision is only a failed statement.

/**
 * Whether the customer has a complaint within the suspension window before `now`, as SQL over
 * any row source (bound values, or an input relation's columns): the one complaint rule.
 */
function recentComplaint(db: Db, customerId: Fragment, now: Fragment, days: Fragment): Fragment {
  return db`(${days} > 0 and exists (select 1 from contact_events e
    where e.customer_id = ${customerId} and e.kind = 'complaint'
      and e.at > ${now} - make_interval(days => ${days}) and e.at <= ${now}))`;
}

export interface PolicyFacts {
  day_sent: number;
  week_sent: number;
  complained: boolean;
  /** Due promotional rows of the customer, not counted yet, with a higher priority than this one. */
  outranking: number;
}

/** What the caps and the suspension need to know about one customer at `now`. */
export async function policyFacts(
  tx: Db,
  input: {
    messageId: number;
    customerId: number;
    priority: number;
    day: string;
    now: Date;
    suspensionDays: number;
    countOutranking: boolean;
  },
): Promise<PolicyFacts> {
  const [row] = await tx<PolicyFacts[]>`
    -- Today's and the last 7 local days' counted sends, a recent complaint, the higher-priority rows due.
    select
      coalesce((select sent from contact_policy_counts
        where customer_id = ${input.customerId} and day = ${input.day}::date), 0)::int as day_sent,
      coalesce((select sum(sent) from contact_policy_counts
        where customer_id = ${input.customerId} and day > ${input.day}::date - 7 and day <= ${input.day}::date), 0)::int
        as week_sent,
      ${recentComplaint(tx, tx`${input.customerId}::bigint`, tx`${input.now}::timestamptz`, tx`${input.suspensionDays}::int`)}
        as complained,
      case when ${input.countOutranking} then (select count(*) from messages o
          left join campaigns oc on oc.id = o.campaign_id
          left join triggers ot on ot.id = o.trigger_id
        where o.customer_id = ${input.customerId} and o.id <> ${input.messageId}
          and o.status in ('queued', 'sending') and not o.policy_counted
          and (o.send_at is null or o.send_at <= ${input.now})
          and (o.campaign_id is null or oc.status = 'sending')
          and coalesce(o.category, oc.category, ot.category, 'promotional') = 'promotional'
          and coalesce(o.priority, oc.priority, ot.priority, 0) > ${input.priority}) else 0 end::int as outranking`;
  return row!;
}

export interface CountInput {
  messageId: number;
  customerId: number;
  day: string;
}

/** A count that first asks for the complaint suspension: none when `suspensionDays` is 0. */
export interface CountUnlessComplained extends CountInput {
  suspensionDays: number;
  now: Date;
}

/**
 * Counts claimed rows' sends against the caps, once per row, for many rows in one statement,
 * except those whose customer complained within their suspension window: those are left
 * uncounted and returned, for the policy to drop.
 */
export async function countSends(db: Db, inputs: readonly CountUnlessComplained[]): Promise<Set<number>> {
  if (inputs.length === 0) return new Set();
  const rows = inputs.map((i) => ({
    message_id: i.messageId,
    customer_id: i.customerId,
    day: i.day,
    suspension_days: i.suspensionDays,
    now: i.now.toISOString(),
  }));
  const ids = inputs.map((i) => i.messageId);
  const complained = await db<{ message_id: number }[]>`
    -- One more promotional send per row for its customer's local day; each row remembers it was
    -- counted. Counter rows are upserted in key order, so two batches never deadlock on them.
    with input as (
      select x.*, ${recentComplaint(db, db`x.customer_id`, db`x.now`, db`x.suspension_days`)} as complained
      from jsonb_to_recordset(${db.json(rows as never)}::jsonb)
        as x(message_id bigint, customer_id bigint, day date, suspension_days int, now timestamptz)
    ), marked as (
      update messages m set policy_counted = true
      from ${lockedInIdOrder(db, db`id = any(${ids}::bigint[]) and status = 'sending' and not policy_counted`)}
        join input i on i.message_id = locked.id and not i.complained
      where m.id = locked.id and m.status = 'sending' and not m.policy_counted
      returning i.customer_id, i.day
    ), counted as (
      insert into contact_policy_counts (customer_id, day, sent)
      select customer_id, day, count(*) from marked group by customer_id, day order by customer_id, day
      on conflict (customer_id, day) do update set sent = contact_policy_counts.sent + excluded.sent
    )
    select message_id from input where complained`;
  return new Set(complained.map((r) => r.message_id));
}

/**
 * Counts a claimed row's send only if the customer's count for the day is still `daySent`, the
 * value the cap decision was made on: a compare-and-set in one statement, which serialises the
 * decisions of one customer's concurrent sends without a lock or a transaction. `changed`: a
 * concurrent send was counted first, decide again; `gone`: the row is no longer this claim's.
 */
export async function countSendIfUnchanged(
  db: Db,
  input: CountInput & { daySent: number },
): Promise<'counted' | 'changed' | 'gone'> {
  const [row] = await db<{ mine: boolean; counted: boolean }[]>`
    -- The upsert reads the day row's latest version (not the statement's snapshot), so its
    -- condition sees every count committed before it. A cancel between the two CTEs' looks can
    -- leave the count one too high: a cap errs on the side of sending less, never more.
    with mine as (
      select id from messages where id = ${input.messageId} and status = 'sending' and not policy_counted
    ), counted as (
      insert into contact_policy_counts (customer_id, day, sent)
      select ${input.customerId}, ${input.day}::date, 1 from mine
      on conflict (customer_id, day) do update set sent = contact_policy_counts.sent + 1
        where contact_policy_counts.sent = ${input.daySent}
      returning sent
    ), marked as (
      update messages set policy_counted = true
      where id = ${input.messageId} and status = 'sending' and exists (select 1 from counted)
      returning id
    )
    select exists (select 1 from mine) as mine, exists (select 1 from counted) as counted`;
  if (!row?.mine) return 'gone';
  return row.counted ? 'counted' : 'changed';
}

/** Ends a claimed row the policy will not send: suppressed, with the policy's reason. */
export async function dropByPolicy(db: Db, id: number, reason: string): Promise<void> {
  await db`
    -- A claimed row the policy refused: suppressed with its reason, never sent.
    update messages set status = 'suppressed', suppressed_reason = ${reason}, policy_reason = ${reason},
      updated_at = now()
    where id = ${id} and status = 'sending'`;
}

/** Puts a claimed row back to queued until quiet hours end: due again then, its job woken. */
export async function holdByPolicy(db: Db, id: number, until: Date, reason: string): Promise<boolean> {
  const rows = await db`
    -- A claimed row held (quiet hours): queued again, due when the window ends.
    update messages set status = 'queued', send_at = ${until}, held_until = ${until},
      policy_reason = ${reason}, attempts = greatest(attempts - 1, 0), updated_at = now()
    where id = ${id} and status = 'sending' returning id`;
  return rows.length > 0;
}

/**
 * Held rows whose window has ended by `now`: their mark is cleared (so each is woken once) and
 * those still queued are returned with their campaign's send-queue facts.
 */
export async function takeDueHeldMessages(
  db: Db,
  now: Date,
  limit: number,
): Promise<{ id: number; campaign_id: number | null; throttle_per_second: number | null }[]> {
  return db<{ id: number; campaign_id: number | null; throttle_per_second: number | null }[]>`
    -- Rows held for quiet hours whose window ended: unmarked, and the queued ones returned.
    with due as (
      update messages m set held_until = null
      from (select id from messages where held_until <= ${now} order by id limit ${limit} for update skip locked) d
      where m.id = d.id
      returning m.id, m.status, m.campaign_id
    )
    select due.id, due.campaign_id, c.throttle_per_second from due
      left join campaigns c on c.id = due.campaign_id
    where due.status = 'queued' order by due.id`;
}
