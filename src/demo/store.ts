import type { Db } from '../db/sql.js';

// The few queries of the demo: what is seeded already, and the summary it prints.

/** How many demo customers and purchases exist. */
export async function seededCounts(sql: Db): Promise<{ customers: number; purchases: number }> {
  const [row] = await sql<{ customers: number; purchases: number }[]>`
    select (select count(*) from customers where external_id like 'demo-%')::int as customers,
      (select count(*) from purchases where source = 'demo-shop')::int as purchases`;
  return row!;
}

/** Names of live offers already there. */
export async function offerNames(sql: Db): Promise<Set<string>> {
  const rows = await sql<{ name: string }[]>`select name from offers where deleted_at is null`;
  return new Set(rows.map((r) => r.name));
}

/** Sets the picture of the named offers (the demo's, by name). */
export async function setOfferImages(
  sql: Db,
  offers: Array<{ name: string; image_url: string }>,
): Promise<void> {
  for (const o of offers)
    await sql`update offers set image_url = ${o.image_url} where name = ${o.name} and image_url is distinct from ${o.image_url}`;
}

/** The demo segment's id, created when missing. */
export async function ensureSegment(sql: Db, segment: { name: string; rule: unknown }): Promise<number> {
  const [found] = await sql<{ id: number }[]>`
    select id from segments where name = ${segment.name} and deleted_at is null order by id limit 1`;
  if (found) return found.id;
  const [row] = await sql<{ id: number }[]>`
    insert into segments (name, description, rule)
    values (${segment.name}, 'Created by offerflow demo', ${sql.json(segment.rule as never)}) returning id`;
  return row!.id;
}

/** The demo's templates (the shipped defaults), newest version each. */
export async function templatesByName(
  sql: Db,
): Promise<{ id: number; name: string; latest_version: number }[]> {
  return sql<{ id: number; name: string; latest_version: number }[]>`
    select id, name, latest_version from templates where latest_version > 0 order by id`;
}

/** What a finished campaign did: counts by status/reason, by variant, and how many got each offer. */
export async function campaignSummary(sql: Db, campaignId: number) {
  const statuses = await sql<{ status: string; reason: string | null; n: number }[]>`
    select status, suppressed_reason as reason, count(*)::int as n from messages
    where campaign_id = ${campaignId} group by 1, 2 order by 3 desc`;
  const variants = await sql<{ variant: string; n: number }[]>`
    select variant, count(*)::int as n from messages
    where campaign_id = ${campaignId} and status = 'sent' group by 1 order by 1`;
  const offers = await sql<{ name: string; n: number }[]>`
    select o.name, count(*)::int as n
    from messages m cross join unnest(m.offer_ids) as x(offer_id) join offers o on o.id = x.offer_id
    where m.campaign_id = ${campaignId} and m.status = 'sent' group by o.name order by 2 desc, 1`;
  const [sample] = await sql<{ id: number; smtp_message_id: string; variant: string }[]>`
    select id, smtp_message_id, variant from messages
    where campaign_id = ${campaignId} and status = 'sent' order by id limit 1`;
  return { statuses, variants, offers, sample };
}

/** Sent messages of a campaign, with what the simulation needs. */
export async function sentMessages(sql: Db, campaignId: number) {
  return sql<{ id: number; customer_id: number; offer_ids: number[]; sent_at: Date }[]>`
    select id, customer_id, offer_ids, sent_at from messages
    where campaign_id = ${campaignId} and status = 'sent' order by id`;
}

/** Offers' categories by id. */
export async function offerCategories(sql: Db, ids: number[]): Promise<Map<number, string | null>> {
  const rows = await sql<{ id: number; category: string | null }[]>`
    select id, category from offers where id = any(${ids}::bigint[])`;
  return new Map(rows.map((r) => [r.id, r.category]));
}

/** The demo's thank-you trigger's id, when it exists (live). */
export async function findTriggerByName(sql: Db, name: string): Promise<number | undefined> {
  const [row] = await sql<{ id: number }[]>`
    select id from triggers where name = ${name} and deleted_at is null order by id limit 1`;
  return row?.id;
}

/** What a trigger did since a moment: its firings by outcome and its messages by status and reason. */
export async function triggerSince(sql: Db, triggerId: number, since: Date) {
  const firings = await sql<{ outcome: string; n: number }[]>`
    select outcome, count(*)::int as n from trigger_firings
    where trigger_id = ${triggerId} and at >= ${since} group by 1 order by 2 desc`;
  const messages = await sql<{ status: string; reason: string | null; n: number }[]>`
    select status, suppressed_reason as reason, count(*)::int as n from messages
    where trigger_id = ${triggerId} and created_at >= ${since} group by 1, 2 order by 3 desc`;
  return { firings, messages };
}

/** The demo journey of this name (not deleted), if any. */
export async function findJourneyByName(sql: Db, name: string): Promise<number | undefined> {
  const [row] = await sql<{ id: number }[]>`
    select id from journeys where name = ${name} and deleted_at is null order by id limit 1`;
  return row?.id;
}

/**
 * Shoppers for the cart simulation: mailable customers (an address and marketing consent) who
 * neither opened nor clicked this run's campaign, so that their orders are not its conversions.
 */
export async function cartShoppers(
  sql: Db,
  n: number,
  campaignId: number,
): Promise<{ id: number; external_id: string }[]> {
  return sql<{ id: number; external_id: string }[]>`
    select c.id, c.external_id from customers c
    where c.email is not null and c.erased_at is null and c.external_id is not null
      and not exists (select 1 from contact_events e where e.customer_id = c.id
        and e.campaign_id = ${campaignId} and e.kind in ('opened', 'clicked'))
      and (select k.granted from consents k where k.customer_id = c.id and k.purpose = 'marketing_email'
        order by k.at desc, k.id desc limit 1)
    order by c.id limit ${n}`;
}

/** What the journey did with the entries since `since`: inside, ordered within the wait, reminders sent. */
export async function journeyOutcomes(sql: Db, journeyId: number, since: Date) {
  const [row] = await sql<
    { entered: number; active: number; ordered: number; sent: number; pending_mail: number }[]
  >`
    select count(*)::int as entered,
      count(*) filter (where e.status = 'active')::int as active,
      count(*) filter (where e.step = 'ordered')::int as ordered,
      (select count(*)::int from messages m where m.journey_id = ${journeyId} and m.created_at >= ${since}
        and m.status = 'sent') as sent,
      (select count(*)::int from messages m where m.journey_id = ${journeyId} and m.created_at >= ${since}
        and m.status in ('queued', 'sending')) as pending_mail
    from journey_entries e where e.journey_id = ${journeyId} and e.entered_at >= ${since}`;
  return row!;
}
