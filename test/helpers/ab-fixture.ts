import { expect } from 'vitest';
import { sendOutWinner } from '../../src/campaigns/ab-send.js';
import { planCampaign } from '../../src/campaigns/plan.js';
import type { ShopFixture } from './campaign-fixtures.js';
import { type Harness, json } from './harness.js';

/** Marks a campaign's queued rows sent (as the sender would), with a sent event each. */
async function markQueuedSent(h: Harness, id: number) {
  const sql = h.db.sql;
  const rows = await sql<{ id: number; customer_id: number; variant: string | null }[]>`
    update messages set status = 'sent', sent_at = now() where campaign_id = ${id} and status = 'queued'
    returning id, customer_id, variant`;
  for (const m of rows)
    await sql`insert into contact_events (customer_id, kind, message_id, campaign_id)
      values (${m.customer_id}, 'sent', ${m.id}, ${id})`;
  return rows;
}

/**
 * An A/B campaign through the real planner, decision and send-out, without SMTP: the test cell
 * is marked sent, variant B's recipients click, then `decide` chooses the winner and the rest
 * of the audience is sent it. `decide: false` leaves it in its test window.
 */
export async function seedAbCampaign(
  h: Harness,
  shop: ShopFixture,
  options: { name: string; decide: boolean },
): Promise<number> {
  const deps = { ...h.deps, jobs: h.dispatcher };
  const created = await h.post('/v1/campaigns', {
    name: options.name,
    segment_id: shop.segmentId,
    template_id: shop.templateId,
    variants: [
      { name: 'A', weight: 1, subject: 'Alpha {{customer.first_name}}' },
      { name: 'B', weight: 1, subject: 'Beta {{customer.first_name}}' },
    ],
    ab_test: { test_percent: 50, window_hours: 4, metric: 'click_rate' },
  });
  expect(created.status).toBe(201);
  const { id } = await json(created);
  expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
  await planCampaign(deps, id);
  const cell = await markQueuedSent(h, id);
  for (const m of cell.filter((r) => r.variant === 'B'))
    await h.db.sql`insert into contact_events (customer_id, kind, message_id, campaign_id)
      values (${m.customer_id}, 'clicked', ${m.id}, ${id})`;
  if (!options.decide) return id;
  expect((await h.post(`/v1/campaigns/${id}/send-winner`, { variant: 'B' })).status).toBe(200);
  await sendOutWinner(deps, id);
  await markQueuedSent(h, id);
  return id;
}
