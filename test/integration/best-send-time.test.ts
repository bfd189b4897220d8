import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { type SendingWorkers, startSendingWorkers, waitForCampaign } from '../helpers/sending-workers.js';
import { until } from '../helpers/until.js';

// A campaign sent at each customer's best hour, through the API, the real workers and an SMTP
// sink: each row is due at the customer's preferred local hour within 24 hours (their own opens
// and clicks, or the population's when they have none), only due rows are mailed, and the rest
// go out through the ordinary top-ups once their hour comes.

let h: Harness;
let rig: SendingWorkers | undefined;
let shop: ShopFixture;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 60, h.deps.config.OFFERFLOW_SECRET);
  rig = await startSendingWorkers(h);
});
afterAll(async () => {
  await rig?.close();
  await h?.close();
});

const localHour = (at: Date, timeZone: string) =>
  Number(new Intl.DateTimeFormat('en-GB', { timeZone, hour: 'numeric', hourCycle: 'h23' }).format(at));

/** `n` human opens of a customer on past days at `hour` o'clock in `timeZone`. */
async function opensAt(customerId: number, timeZone: string, hour: number, n: number): Promise<void> {
  await h.db.sql`
    insert into contact_events (customer_id, kind, machine, at)
    select ${customerId}, 'opened', false,
      ((date_trunc('day', now() at time zone ${timeZone}) - make_interval(days => d) + make_interval(hours => ${hour}) + interval '10 minutes')
        at time zone ${timeZone})
    from generate_series(1, ${n}) d`;
}

const mailedAddresses = async (campaignId: number): Promise<Set<string>> =>
  new Set((await rig!.mailsOf(campaignId)).map((m) => (m.to as { text: string }).text));

describe('a campaign sent at each customer’s best hour', () => {
  it('plans each row at the customer’s preferred local hour within 24 hours and mails each when due', async () => {
    const ids = [...shop.eligible.keys()];
    const [paris, tokyo, popular] = ids as [number, number, number];
    const now = new Date();
    await h.db.sql`update customers set timezone = 'Europe/Paris' where id = ${paris}`;
    await h.db.sql`update customers set timezone = 'Asia/Tokyo' where id = ${tokyo}`;
    await h.db.sql`update customers set timezone = 'Not/AZone' where id = ${ids[3]!}`;
    // Paris opens at this very hour of theirs; Tokyo six hours from now of theirs; the
    // population (one very active customer, in UTC) three hours from now.
    const parisHour = localHour(now, 'Europe/Paris');
    const tokyoHour = (localHour(now, 'Asia/Tokyo') + 6) % 24;
    const popHour = (now.getUTCHours() + 3) % 24;
    await opensAt(paris, 'Europe/Paris', parisHour, 30);
    await opensAt(tokyo, 'Asia/Tokyo', tokyoHour, 30);
    await opensAt(popular, 'UTC', popHour, 120);

    const res = await h.post('/v1/campaigns', {
      name: 'Best hour',
      segment_id: shop.segmentId,
      template_id: shop.templateId,
      offers_per_email: 1,
      send_at_best_hour: true,
      from: { address: 'offers@shop.example' },
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const { id, send_at_best_hour } = await json(res);
    expect(send_at_best_hour).toBe(true);
    expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);

    const rowsOf = () =>
      h.db.sql<{ customer_id: number; status: string; send_at: Date | null; created_at: Date }[]>`
        select customer_id, status, send_at, created_at from messages where campaign_id = ${id} order by customer_id`;
    const rows = await until(async () => {
      const r = await rowsOf();
      return r.length === shop.eligible.size + shop.suppressed.size && r;
    }, 30_000);
    const row = (c: number) => rows.find((r) => r.customer_id === c)!;
    for (const r of rows.filter((x) => x.status !== 'suppressed')) {
      expect(r.send_at).not.toBeNull();
      expect(r.send_at!.getTime()).toBeGreaterThanOrEqual(r.created_at.getTime() - 60_000);
      expect(r.send_at!.getTime() - r.created_at.getTime()).toBeLessThan(24 * 3_600_000);
    }
    // Paris is at its hour now (unless the hour turned between the opens and the planning): due at once.
    if (localHour(row(paris).created_at, 'Europe/Paris') === parisHour) {
      expect(localHour(row(paris).send_at!, 'Europe/Paris')).toBe(parisHour);
      expect(row(paris).send_at!.getTime()).toBeLessThanOrEqual(row(paris).created_at.getTime() + 1000);
    }
    expect(localHour(row(tokyo).send_at!, 'Asia/Tokyo')).toBe(tokyoHour);
    // No history (and an unknown timezone counts as UTC): the population's hour.
    expect(row(ids[3]!).send_at!.getUTCHours()).toBe(popHour);
    expect(row(ids[4]!).send_at!.getUTCHours()).toBe(popHour);

    // What is due now is mailed; what is not waits.
    const due = rows.filter((r) => r.status !== 'suppressed' && r.send_at!.getTime() <= Date.now());
    const addressOf = (c: number) => shop.eligible.get(c)!.email;
    if (due.length > 0) {
      await until(async () => (await mailedAddresses(id)).size >= due.length, 30_000);
    }
    // Give the senders and several reconciler ticks the chance to send too early.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const early = await mailedAddresses(id);
    expect(early.has(addressOf(tokyo))).toBe(false);
    expect(early.has(addressOf(ids[4]!))).toBe(false);
    expect(early.size).toBe(due.length);
    expect((await json(await h.get(`/v1/campaigns/${id}`))).status).toBe('sending');

    // Their hour comes (moved here rather than waited for): the ordinary top-ups send them.
    await h.db.sql`update messages set send_at = now() - interval '1 second'
      where campaign_id = ${id} and status = 'queued'`;
    await waitForCampaign(h, id);
    const all = await mailedAddresses(id);
    expect(all.size).toBe(shop.eligible.size);
    expect(all.has(addressOf(tokyo))).toBe(true);
  });

  it('refuses a send_at_best_hour that is not a boolean, naming the field', async () => {
    const res = await h.post('/v1/campaigns', {
      name: 'Bad',
      segment_id: shop.segmentId,
      template_id: shop.templateId,
      send_at_best_hour: 'yes',
    });
    expect(res.status).toBe(422);
    expect(JSON.stringify(await res.json())).toContain('send_at_best_hour');
  });
});
