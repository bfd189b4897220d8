import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorkers, startWorkers } from '../../src/cli/queue-workers.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { AppError } from '../../src/http/problem.js';
import { compileTemplateSource } from '../../src/templates/compile.js';
import { checkVersionRenders, templateTextErrors } from '../../src/templates/render.js';
import { type ShopFixture, seedCampaignShop } from '../helpers/campaign-fixtures.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { tableSnapshot } from '../helpers/table-snapshot.js';

// Every Handlebars source compiles in the one template sandbox: campaign variant subjects are
// refused at save exactly when a template's subject would be, and at send they render with the
// template helpers (no `log`) under the render budget.

let h: Harness;
let shop: ShopFixture;
let sink: SmtpSink;
let workers: RunningWorkers | undefined;

beforeAll(async () => {
  h = await createHarness();
  shop = await seedCampaignShop(h.db.sql, 6, h.deps.config.OFFERFLOW_SECRET);
  sink = await startSmtpSink({ keepInMemory: true });
  await h.keyFor('admin');
});
afterAll(async () => {
  await workers?.close();
  await sink?.close();
  await h?.close();
});

const campaign = (subject: string) => ({
  name: `subject ${Math.random()}`,
  segment_id: shop.segmentId,
  template_id: shop.templateId,
  offers_per_email: 1,
  variants: [{ name: 'A', weight: 1, subject }],
  from: { address: 'offers@shop.example' },
});

const NESTED_EACH = (depth: number) =>
  `${Array.from({ length: depth }, (_, i) => `{{#each ${'../'.repeat(i)}customer.hobbies}}`).join('')}x${'{{/each}}'.repeat(depth)}`;

describe('campaign variant subjects at save', () => {
  it('refuses what a template subject may not do, naming the variant, and stores nothing', async () => {
    for (const subject of [
      '{{log customer.email}}',
      '{{log}}',
      '{{helperMissing}}',
      '{{constructor.name}}',
      '{{lookup customer "__proto__"}}',
      '{{> layout}}',
      '{{#*inline "x"}}y{{/inline}}',
      NESTED_EACH(4),
      '{{#each}}x{{/each}}',
    ]) {
      const before = await tableSnapshot(h.db.sql);
      const res = await h.post('/v1/campaigns', campaign(subject));
      expect(res.status, subject).toBe(422);
      const problem = await json(res);
      expect(problem.errors[0], subject).toMatchObject({ path: 'variants.0.subject', in: 'body' });
      const after = await tableSnapshot(h.db.sql);
      expect(
        Object.keys(before).filter((t) => before[t] !== after[t]),
        subject,
      ).toEqual([]);
    }
  });

  it('accepts what a template subject accepts', async () => {
    const res = await h.post(
      '/v1/campaigns',
      campaign('{{greeting}} {{#lang "fr"}}Offres{{else}}Offers{{/lang}}'),
    );
    expect(res.status).toBe(201);
  });
});

/** The template sources a generated source is tried in: as a variant subject, and as a template's. */
const templateAccepts = async (subject: string): Promise<boolean> => {
  const source = {
    subject,
    preheader: null,
    mjml: '<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>',
  };
  try {
    const compiled = await compileTemplateSource(source);
    checkVersionRenders({ ...source, ...compiled });
    return true;
  } catch (error) {
    if (error instanceof AppError && error.status === 422) return false;
    throw error;
  }
};

const token = fc.constantFrom(
  'Hi ',
  '{{customer.first_name}}',
  '{{first_name}}',
  '{{log}}',
  '{{log customer}}',
  '{{helperMissing}}',
  '{{blockHelperMissing}}',
  '{{lookup}}',
  '{{lookup customer "email"}}',
  '{{money 3}}',
  '{{date}}',
  '{{t "unsubscribe"}}',
  '{{greeting}}',
  '{{_part}}',
  '{{constructor}}',
  '{{toString}}',
  '{{this.valueOf}}',
  '{{@root.customer.email}}',
  '{{#each customer.hobbies}}',
  '{{#if customer.first_name}}',
  '{{#with customer}}',
  '{{#lang "fr"}}',
  '{{else}}',
  '{{/each}}',
  '{{/if}}',
  '{{/with}}',
  '{{/lang}}',
  '{{> offers}}',
  '{{',
  '}}',
);

describe('one policy for every Handlebars source', () => {
  it('a source is refused as a variant subject exactly when a template refuses it as its subject', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(token, { maxLength: 8 }), async (tokens) => {
        const subject = tokens.join('') || 'x';
        const asVariant = templateTextErrors(subject, 'variants.0.subject').length === 0;
        expect(asVariant, subject).toBe(await templateAccepts(subject));
      }),
      { numRuns: 300 },
    );
  });
});

describe('campaign variant subjects at send', () => {
  it('run under the render budget: a loop over customer data fails the message, never a huge subject', async () => {
    // Three nested loops are allowed, and harmless on the sample data of the save.
    const created = await h.post('/v1/campaigns', campaign(NESTED_EACH(3)));
    expect(created.status).toBe(201);
    const { id } = await json(created);
    const hobbies = Array.from({ length: 100 }, (_, i) => `hobby${i}`);
    await h.db.sql`update customers set hobbies = ${hobbies}`;
    workers ??= await startWorkers({
      config: { ...h.deps.config, DATABASE_URL: h.db.url, SMTP_URL: sink.url },
      roles: ['planner', 'sender', 'reconciler'],
      env: { QUEUE_PREFIX: h.queuePrefix, RECONCILE_INTERVAL_MS: '300', WORKER_LOCK_MS: '5000' },
      logger: h.deps.logger,
    });
    expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
    let rows: { status: string; error: string | null }[] = [];
    for (let i = 0; i < 300; i++) {
      rows = await h.db.sql`select status, error from messages where campaign_id = ${id}`;
      if (rows.length > 0 && rows.every((r) => !['queued', 'sending'].includes(r.status))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const mailed = rows.filter((r) => r.status !== 'suppressed');
    expect(mailed.length).toBeGreaterThan(0);
    for (const row of mailed) {
      expect(row.status).toBe('failed');
      expect(row.error).toMatch(/render limits/);
    }
    const mine = sink.messages.filter((raw) =>
      raw.toString('latin1').includes(`X-Offerflow-Campaign: ${id}`),
    );
    expect(mine).toHaveLength(0);
  });

  it('a stored subject that uses `log` is not rendered with it (checked again at send)', async () => {
    const created = await h.post('/v1/campaigns', campaign('Hello'));
    const { id } = await json(created);
    // As a campaign saved before the check would hold it.
    await h.db.sql`
      update campaigns set variants = ${h.db.sql.json([{ name: 'A', weight: 1, subject: '{{log customer.email}}' }] as never)}
      where id = ${id}`;
    expect((await h.post(`/v1/campaigns/${id}/launch`)).status).toBe(200);
    let rows: { status: string; error: string | null }[] = [];
    for (let i = 0; i < 300; i++) {
      rows = await h.db.sql`select status, error from messages where campaign_id = ${id}`;
      if (rows.length > 0 && rows.every((r) => !['queued', 'sending'].includes(r.status))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const mailed = rows.filter((r) => r.status !== 'suppressed');
    expect(mailed.length).toBeGreaterThan(0);
    for (const row of mailed)
      expect(row).toMatchObject({ status: 'failed', error: expect.stringMatching(/log/) });
  });
});
