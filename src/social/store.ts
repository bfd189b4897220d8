import type { Db } from '../db/sql.js';

// Queries of the social inbound: matching a handle to a customer, creating a lead.

/**
 * The live customer whose social handles hold this channel:handle (normalised), oldest first;
 * a real customer before the lead made for the handle, once their profile holds it.
 */
export async function customerByHandle(sql: Db, key: string): Promise<number | undefined> {
  const [row] = await sql<{ id: number }[]>`
    select id from customers
    where social_handle_keys(social_handles) @> array[${key}]::text[] and erased_at is null
    order by external_id like 'social:%', id limit 1`;
  return row?.id;
}

/**
 * The lead for an unknown handle (external id `social:<channel>:<handle>`), created unless it
 * exists; `created` says which.
 */
export async function upsertLead(
  sql: Db,
  input: { externalId: string; channel: string; handle: string },
): Promise<{ id: number; created: boolean }> {
  const [row] = await sql<{ id: number; created: boolean }[]>`
    with inserted as (
      insert into customers (external_id, social_handles)
      values (${input.externalId}, ${sql.json({ [input.channel]: `@${input.handle}` })})
      on conflict (external_id) do nothing
      returning id
    )
    select id, true as created from inserted
    union all
    select id, false from customers where external_id = ${input.externalId}
    limit 1`;
  return row!;
}
