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
    select m.id, m.customer_id, m.trigger_id, m.template_id, m.template_version, m.offer_ids, m.variant,
      coalesce(c.name, t.name) as campaign_name, coalesce(c.variants, '[]'::jsonb) as campaign_variants,
      jsonb_build_object(
        'id', cu.id, 'external_id', cu.external_id, 'email', cu.email, 'first_name', cu.first_name,
        'last_name', cu.last_name, 'locale', cu.locale, 'timezone', cu.timezone, 'address', cu.address,
        'preferred_categories', cu.preferred_categories, 'hobbies', cu.hobbies, 'erased_at', cu.erased_at
      ) as customer
    from messages m
      left join campaigns c on c.id = m.campaign_id
      left join triggers t on t.id = m.trigger_id
      join customers cu on cu.id = m.customer_id
    where m.id = ${id} and m.status = 'sent' and cu.erased_at is null`;
  return row;
}
