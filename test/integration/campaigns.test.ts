import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCampaign } from '../../src/campaigns/plan.js';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { verifyToken } from '../../src/tracking/tokens.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink;
let workers: RunningWorkers | undefined;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 60, h.deps.config.OFFERFLOW_SECRET);
  sink = await startSmtpSink({ keepInMemory: true });
});
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await h?.close();
});

const draft = (over: Record<string, unknown> = {}) => ({
  name: 'Spring',
  segment_id: shop.segmentId,
  template_id: shop.templateId,
  offers_per_email: 2,
  variants: [
    { name: 'A', weight: 1 },
    { name: 'B', weight: 1, subject: 'Hello {{customer.first_name}}' },
  ],
  from: { address: 'offers@shop.example', name: 'Shop' },
  ...over,
});

describe('campaign API', () => {
  it('creates, reads, edits and lists drafts', async () => {
    const res = await h.post('/v1/campaigns', draft());
    expect(res.status).toBe(201);
    const created = await json(res);
    expect(created).toMatchObject({
      status: 'draft',
      template_version: null,
      from: { address: 'offers@shop.example' },
    });
    const patched = await json(await h.patch(`/v1/campaigns/${created.id}`, { throttle_per_second: 50 }));
    expect(patched).toMatchObject({ throttle_per_second: 50, name: 'Spring', offers_per_email: 2 });
    const got = await json(await h.get(`/v1/campaigns/${created.id}`));
    expect(got.progress).toMatchObject({ total: 0, counts: { sent: 0 } });
    const list = await json(await h.get('/v1/campaigns?limit=1'));
    expect(list.data).toHaveLength(1);
    expect((await h.delete(`/v1/campaigns/${created.id}`)).status).toBe(204);
    expect((await h.get(`/v1/campaigns/${created.id}`)).status).toBe(404);
  });

  it('rejects bad input with 422 naming the field, and writes nothing', async () => {
    const before = (await h.db.sql`select count(*)::int as n from campaigns`)[0]!.n;
    const cases: [Record<string, unknown>, string][] = [
      [
        draft({
          variants: [
            { name: 'A', weight: 1 },
            { name: 'A', weight: 2 },
          ],
        }),
        'variants.1.name',
      ],
      [draft({ segment_id: 999_999 }), 'segment_id'],
      [draft({ template_version: 99 }), 'template_version'],
      [draft({ variants: [{ name: 'A', weight: 1, subject: '{{#if}' }] }), 'variants.0.subject'],
      [draft({ surprise: true }), 'surprise'],
      [draft({ throttle_per_second: 0 }), 'throttle_per_second'],
    ];
    for (const [body, path] of cases) {
      const res = await h.post('/v1/campaigns', body);
      expect(res.status, path).toBe(422);
      expect((await json(res)).errors.map((e: { path: string }) => e.path)).toContain(path);
    }
    expect((await h.db.sql`select count(*)::int as n from campaigns`)[0]!.n).toBe(before);
  });

  it('enforces the status machine with 409 and the roles with 403', async () => {
    const { id } = await json(
      await h.post('/v1/campaigns', draft({ schedule_at: new Date(Date.now() + 3_600_000).toISOString() })),
    );
    expect((await h.post(`/v1/campaigns/${id}/resume`)).status).toBe(409);
    const launched = await json(await h.post(`/v1/campaigns/${id}/launch`));
    expect(launched).toMatchObject({ status: 'scheduled', template_version: 1 });
    const again = await h.post(`/v1/campaigns/${id}/launch`);
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toBe('application/problem+json');
    expect((await h.patch(`/v1/campaigns/${id}`, { name: 'x' })).status).toBe(409);
    expect((await h.delete(`/v1/campaigns/${id}`)).status).toBe(409);
    expect((await json(await h.post(`/v1/campaigns/${id}/pause`))).status).toBe('paused');
    expect((await json(await h.post(`/v1/campaigns/${id}/resume`))).status).toBe('scheduled');
    expect((await json(await h.post(`/v1/campaigns/${id}/cancel`))).status).toBe('cancelled');
    expect((await h.post(`/v1/campaigns/${id}/cancel`)).status).toBe(409);
    expect((await h.post('/v1/campaigns', draft(), { role: 'analyst' })).status).toBe(403);
    expect((await h.get(`/v1/campaigns/${id}`, { role: 'analyst' })).status).toBe(200);
  });
});

describe('a campaign end to end', () => {
  it('sends each eligible customer exactly one email with their offers, and suppresses the rest', async () => {
    const config = { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url };
    workers = await startWorkers({
      config,
      roles: ['planner', 'sender', 'reconciler'],
      env: {
        QUEUE_PREFIX: h.queuePrefix,
        RECONCILE_INTERVAL_MS: '500',
        SEND_CONCURRENCY: '10',
        WORKER_LOCK_MS: '5000',
      },
      logger: h.deps.logger,
    });
    const { id } = await json(await h.post('/v1/campaigns', draft()));
    expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
    let campaign: any;
    for (let i = 0; i < 200; i++) {
      campaign = await json(await h.get(`/v1/campaigns/${id}`));
      if (campaign.status === 'sent') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(campaign.status).toBe('sent');
    expect(campaign.progress.counts.sent).toBe(shop.eligible.size);
    expect(campaign.progress.counts.suppressed).toBe(shop.suppressed.size);

    // A second planner run adds no row and no mail.
    await planCampaign({ ...h.deps, jobs: h.dispatcher }, id);
    const { n } = (
      await h.db.sql<{ n: number }[]>`select count(*)::int as n from messages where campaign_id = ${id}`
    )[0]!;
    expect(n).toBe(shop.eligible.size + shop.suppressed.size);

    const reasons = await h.db.sql<{ customer_id: number; suppressed_reason: string }[]>`
      select customer_id, suppressed_reason from messages where campaign_id = ${id} and status = 'suppressed'`;
    expect(new Map(reasons.map((r) => [r.customer_id, r.suppressed_reason]))).toEqual(shop.suppressed);

    await new Promise((r) => setTimeout(r, 200));
    const mails = await Promise.all(sink.messages.map((raw) => simpleParser(raw)));
    const rows = await h.db.sql<{ id: number; customer_id: number; offer_ids: number[]; variant: string }[]>`
      select id, customer_id, offer_ids, variant from messages where campaign_id = ${id} and status = 'sent'`;
    const byAddress = new Map(mails.map((m) => [(m.to as { text: string }).text, m]));
    expect(mails).toHaveLength(shop.eligible.size);
    for (const row of rows) {
      const who = shop.eligible.get(row.customer_id)!;
      const mail = byAddress.get(who.email)!;
      expect(mail, who.email).toBeDefined();
      expect(mail.messageId).toMatch(new RegExp(`^<m${row.id}\\.c${id}\\.\\w+@shop\\.example>$`));
      const header = (key: string) =>
        mail.headerLines.find((l) => l.key === key)?.line.replace(/\r?\n\s*/g, ' ') ?? '';
      expect(header('list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
      expect(header('list-unsubscribe')).toMatch(/<http:\/\/localhost:\d+\/u\/[\w-]{32}>, <mailto:/);
      expect(mail.html).toContain(who.first_name);
      if (row.variant === 'B') expect(mail.subject).toBe(`Hello ${who.first_name}`);
      expect(row.offer_ids.length).toBeGreaterThan(0);
      const distinct = new Set(
        [...(mail.html as string).matchAll(/\/t\/c\/([\w-]{32}(?:\.[\w-]+)?)/g)].map((m) => m[1]!),
      );
      const tokens = [...distinct].map((t) => verifyToken(h.deps.config.OFFERFLOW_SECRET, 'click', t));
      expect(tokens.length).toBe(row.offer_ids.length);
      expect(tokens.every((t) => t?.messageId === row.id)).toBe(true);
    }
    const { events } = (
      await h.db.sql<{ events: number }[]>`
      select count(*)::int as events from contact_events where campaign_id = ${id} and kind = 'sent'`
    )[0]!;
    expect(events).toBe(shop.eligible.size);
    const { impressions } = (
      await h.db.sql<{ impressions: number }[]>`
      select count(*)::int as impressions from offer_impressions where campaign_id = ${id}`
    )[0]!;
    expect(impressions).toBe(rows.reduce((sum, r) => sum + r.offer_ids.length, 0));
  });
});
