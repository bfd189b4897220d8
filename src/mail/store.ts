import type { Variant } from '../campaigns/schema.js';
import type { Db } from '../db/sql.js';
import type { RenderableMessage } from './render-message.js';

// Queries of the mail module.

/**
 * A sent message as the hosted web version renders it again: its template version, offers and
 * variant, and the customer as they are now. Undefined when not sent or the customer is erased.
 */
export async function sentMessageForWebVersion(sql: Db, id: number): Promise<RenderableMessage | undefined> {
  const [row] = await sql<(RenderableMessage & { campaign_variants: Variant[] })[]>`
    select m.id, m.customer_id, m.trigger_id, m.journey_id, m.template_id, m.template_version, m.offer_ids,
      coalesce(m.variant, m.journey_step) as variant,
      coalesce(c.name, t.name, j.name) as campaign_name,
      coalesce(c.variants, jv.step_subjects, '[]'::jsonb) as campaign_variants,
      jsonb_build_object(
        'id', cu.id, 'external_id', cu.external_id, 'email', cu.email, 'first_name', cu.first_name,
        'last_name', cu.last_name, 'locale', cu.locale, 'timezone', cu.timezone, 'address', cu.address,
        'preferred_categories', cu.preferred_categories, 'hobbies', cu.hobbies, 'erased_at', cu.erased_at
      ) as customer
    from messages m
      left join campaigns c on c.id = m.campaign_id
      left join triggers t on t.id = m.trigger_id
      left join journeys j on j.id = m.journey_id
      left join journey_versions jv on jv.id = m.journey_version_id
      join customers cu on cu.id = m.customer_id
    where m.id = ${id} and m.status = 'sent' and cu.erased_at is null`;
  return row;
}

/**
 * The custom event that entered the customer into the journey a message belongs to, as a
 * trigger's email sees its event (`{{event.properties.cart_url}}`); undefined for other entries.
 */
export async function journeyMessageEvent(
  db: Db,
  messageId: number,
): Promise<{ name: string; properties: Record<string, unknown>; at: string } | undefined> {
  const [row] = await db<
    {
      event: { type?: string; name?: string; properties?: Record<string, unknown> } | null;
      entered_at: Date;
    }[]
  >`
    select e.event, e.entered_at from messages m join journey_entries e on e.id = m.journey_entry_id
    where m.id = ${messageId}`;
  if (row?.event?.type !== 'event') return undefined;
  return {
    name: String(row.event.name),
    properties: row.event.properties ?? {},
    at: row.entered_at.toISOString(),
  };
}
