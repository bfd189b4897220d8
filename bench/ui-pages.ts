import { loadavg } from 'node:os';
import { pino } from 'pino';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { Sql } from '../src/db/sql.js';
import { createApiKey } from '../src/http/api-keys.js';
import { installDefaultTemplates } from '../src/templates/render.js';
import { type Bench, type BenchResult, time, withScratchDatabase } from './harness.js';

// UI pages with 100,000 customers (3 purchases and ~6 contact events each, 10 campaigns of 10,000
// messages): each page through app.request with a signed-in session (session check, in-process API
// calls, SQL, JSX rendering), median of 5 after a warm-up. Baseline: GET /v1/customers/{id} as JSON,
// the cheapest authenticated read of the same stack. The budget is 200 ms per page.
//
// Then the customer search box over 1,000,000 customers (or the scale's count, if larger) with
// accented names, in a database of its own: names typed without accents, an external id
// fragment, an exact email, a typo. Same baseline, measured in that database.
// BENCH_UI_PAGES=search runs only that part, BENCH_UI_PAGES=pages only the first,
// BENCH_UI_PAGES=forecast only the launch forecast: the fragment and the API behind it (with the
// load average beside each figure, and whether the forecast was read exactly or sampled).
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const CUSTOMERS = Math.max(2_000, Math.round(100_000 * SCALE));
const SEARCH_CUSTOMERS = Math.max(1_000_000, CUSTOMERS);
const PART = process.env.BENCH_UI_PAGES ?? 'all';
const RUNS = 5;
const BUDGET_MS = 200;

/** The pages' data at the scale; exported so that a profile can seed the same database. */
export async function seed(sql: Sql) {
  await sql`
    insert into customers (external_id, email, first_name, last_name, locale)
    select 'b' || i, 'person' || i || '@example.org', 'Name' || i, 'Bench', 'en-GB'
    from generate_series(1, ${CUSTOMERS}) i`;
  await sql`
    insert into purchases (external_line_id, customer_id, order_ref, sku, category, quantity, amount, currency, purchased_at)
    select 'l' || c.id || '-' || k, c.id, 'o' || c.id || '-' || k, 'sku' || k, (array['garden','books','wine'])[1 + k % 3],
           1, 10 + (c.id % 90), 'EUR', now() - make_interval(days => ((c.id + k * 17) % 300)::int)
    from customers c cross join generate_series(1, 3) k`;
  await sql`insert into consents (customer_id, purpose, granted, source) select id, 'marketing_email', true, 'bench' from customers`;
  await sql`
    insert into offers (name, title, category, priority, fallback)
    select 'offer ' || i, 'Offer ' || i, (array['garden','books','wine'])[1 + i % 3], i, i = 1 from generate_series(1, 20) i`;
  await installDefaultTemplates(sql);
  const [segment] = await sql<{ id: number }[]>`
    insert into segments (name, rule) values ('big spenders', ${sql.json({ '>': [{ var: 'total_spent' }, 100] } as never)}) returning id`;
  const campaigns = await sql<{ id: number }[]>`
    insert into campaigns (name, status, segment_id, launched_at, variants)
    select 'campaign ' || i, 'sent', ${segment!.id}, now() - make_interval(days => i::int),
           '[{"name":"A","weight":50},{"name":"B","weight":50}]'::jsonb
    from generate_series(1, 10) i returning id`;
  const per = Math.floor(CUSTOMERS / 10);
  for (const [n, cmp] of campaigns.entries()) {
    await sql`
      insert into messages (campaign_id, customer_id, variant, offer_ids, status, sent_at)
      select ${cmp.id}, c.id, case when c.id % 2 = 0 then 'A' else 'B' end, array[1 + c.id % 20, 1 + (c.id + 5) % 20]::bigint[],
             'sent', now() - make_interval(days => ${n + 1}::int)
      from customers c where c.id > ${n * per} and c.id <= ${(n + 1) * per}`;
    await sql`
      insert into contact_events (customer_id, kind, message_id, campaign_id, offer_id, data, at)
      select m.customer_id, k.kind, m.id, m.campaign_id, case when k.kind <> 'sent' then m.offer_ids[1] end,
             case when k.kind = 'converted' then jsonb_build_object('revenue', 20 + m.id % 50) else '{}'::jsonb end,
             m.sent_at + make_interval(hours => k.h::int)
      from messages m cross join (values ('sent', 0), ('opened', 1), ('clicked', 2), ('converted', 3)) k(kind, h)
      where m.campaign_id = ${cmp.id}
        and (k.kind = 'sent' or (k.kind = 'opened' and m.id % 3 = 0) or (k.kind = 'clicked' and m.id % 9 = 0)
             or (k.kind = 'converted' and m.id % 27 = 0))`;
  }
  await sql`
    insert into contact_events (customer_id, kind, text, author, at)
    select id, 'note', 'Called about order', 'bench', now() - interval '2 days' from customers`;
  // A draft to the same segment: its launch checklist forecasts the audience (recipients step).
  const [draft] = await sql<{ id: number }[]>`
    insert into campaigns (name, status, segment_id, template_id) values ('draft', 'draft', ${segment!.id},
      (select min(id) from templates)) returning id`;
  await sql`analyze`;
  return { segmentId: segment!.id, campaignId: campaigns[0]!.id, draftId: draft!.id };
}

async function median(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await time(fn));
  times.sort((a, b) => a - b);
  return times[Math.floor(RUNS / 2)]! * 1000;
}

/** Signs in through the login form with an admin key: the session cookie and the key. */
async function signIn(app: ReturnType<typeof createApp>, sql: Sql) {
  const key = (await createApiKey(sql, { name: 'bench', role: 'admin' })).key;
  const form = await app.request('/ui/login');
  const login = form.headers.getSetCookie()[0]!.split(';')[0]!;
  const signed = await app.request('/ui/login', {
    method: 'POST',
    headers: { cookie: login, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _login: login.split('=')[1]!, key }),
  });
  const cookie = signed.headers
    .getSetCookie()
    .find((c) => c.startsWith('offerflow_session='))!
    .split(';')[0]!;
  return { key, cookie };
}

const getter =
  (app: ReturnType<typeof createApp>) => (path: string, headers: Record<string, string>) => async () => {
    const res = await app.request(path, { headers });
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
    await res.arrayBuffer();
  };

const FIRST_NAMES = [
  'Élodie',
  'Elodie',
  'Zoë',
  'François',
  'Jérôme',
  'Chloé',
  'Anaïs',
  'Léa',
  'Noël',
  'Maël',
  'Hélène',
  'Günther',
  'Jürgen',
  'Søren',
  'José',
  'Inès',
  'Paul',
  'Marie',
  'Jean',
  'Luc',
];
const LAST_NAMES = [
  'Martin',
  'Bernard',
  'Dubois',
  'Thomas',
  'Robert',
  'Richard',
  'Petit',
  'Durand',
  'Leroy',
  'Moreau',
  'Simon',
  'Laurent',
  'Lefèvre',
  'Michel',
  'García',
  'Müller',
  'Schröder',
  'Ångström',
  'Núñez',
  'Østergård',
  'Martinez',
  'Bonnet',
  'Dupont',
  'Lambert',
  'Fontaine',
  'Rousseau',
  'Vincent',
  'Muller',
  'Fournier',
  'Girard',
  'André',
  'Mercier',
  'Blanc',
  'Guérin',
  'Boyer',
  'Garnier',
  'Chevalier',
  'François',
  'Legrand',
  'Gauthier',
];

async function searchAtScale(config: ReturnType<typeof loadConfig>): Promise<BenchResult[]> {
  return withScratchDatabase('search', 8, async (sql) => {
    // One statement: names cycle through 20 first × 40 last names, external ids are demo-NNNNNNN.
    await sql`
      insert into customers (external_id, email, first_name, last_name, locale)
      select 'demo-' || lpad(i::text, 7, '0'), 'person' || i || '@example.org',
             (${FIRST_NAMES}::text[])[1 + i % ${FIRST_NAMES.length}],
             (${LAST_NAMES}::text[])[1 + (i / ${FIRST_NAMES.length}) % ${LAST_NAMES.length}], 'fr-FR'
      from generate_series(1, ${SEARCH_CUSTOMERS}) i`;
    await sql`vacuum analyze customers`;
    const app = createApp({ sql, config, logger: pino({ level: 'silent' }), clock: () => new Date() });
    const { key, cookie } = await signIn(app, sql);
    const get = getter(app);
    const someone = Math.floor(SEARCH_CUSTOMERS / 2);
    const baseline = await median(get(`/v1/customers/${someone}`, { authorization: `Bearer ${key}` }));
    const searches: Array<[string, string]> = [
      ['name typed without accents', 'Elodie Martin'],
      ['name, words reversed', 'martin elodie'],
      ['external id fragment', '0616'],
      ['exact email', `person${someone}@example.org`],
      ['typo (close spellings)', 'Elodi Martn'],
    ];
    const results: BenchResult[] = [];
    for (const [label, q] of searches) {
      const ms = await median(get(`/ui/customers?q=${encodeURIComponent(q)}`, { cookie }));
      results.push({
        name: `ui page: customer search, ${label}`,
        value: ms,
        unit: 'ms',
        baseline: 'GET /v1/customers/{id} (JSON)',
        baseline_value: baseline,
        ratio: baseline / ms,
        notes: {
          customers: SEARCH_CUSTOMERS,
          q,
          budget_ms: BUDGET_MS,
          within_budget: ms < BUDGET_MS ? 'yes' : 'NO',
        },
      });
    }
    return results;
  });
}

const bench: Bench = {
  name: 'ui-pages',
  async run(): Promise<BenchResult[]> {
    const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent' } as Record<string, string>);
    const pages = PART === 'search' ? [] : await pagesAtScale(config);
    const search = PART === 'pages' || PART === 'forecast' ? [] : await searchAtScale(config);
    return [...pages, ...search];
  },
};

async function pagesAtScale(config: ReturnType<typeof loadConfig>): Promise<BenchResult[]> {
  return withScratchDatabase('ui', 8, async (sql) => {
    const { segmentId, campaignId, draftId } = await seed(sql);
    const app = createApp({ sql, config, logger: pino({ level: 'silent' }), clock: () => new Date() });
    const { key, cookie } = await signIn(app, sql);
    const get = getter(app);
    const customerId = Math.floor(CUSTOMERS / 2);
    const baseline = await median(get(`/v1/customers/${customerId}`, { authorization: `Bearer ${key}` }));
    const pages: Array<[string, string]> = [
      ['dashboard', '/ui'],
      ['customer search', `/ui/customers?q=Name${customerId}`],
      ['customer search (fragment)', '/ui/customers?q=ame12'],
      ['customer card', `/ui/customers/${customerId}`],
      ['segment (with live count)', `/ui/segments/${segmentId}`],
      ['campaign report', `/ui/campaigns/${campaignId}`],
      ['campaigns list', '/ui/campaigns'],
      ['template editor', '/ui/templates/1'],
      ['launch checklist', `/ui/campaigns/${draftId}/launch`],
      ['launch forecast (fragment after the checklist)', `/ui/campaigns/${draftId}/forecast`],
    ];
    const forecastApi = `/v1/campaigns/${draftId}/audience`;
    const results: BenchResult[] = [];
    // The load average with each figure: on a shared machine it moves the figures more than a change.
    const notes = (ms: number) => ({
      customers: CUSTOMERS,
      budget_ms: BUDGET_MS,
      within_budget: ms < BUDGET_MS ? 'yes' : 'NO',
      load_1m: loadavg()[0]!.toFixed(1),
    });
    for (const [label, path] of pages) {
      if (PART === 'forecast' && !path.endsWith('/forecast')) continue;
      const ms = await median(get(path, { cookie }));
      results.push({
        name: `ui page: ${label}`,
        value: ms,
        unit: 'ms',
        baseline: 'GET /v1/customers/{id} (JSON)',
        baseline_value: baseline,
        ratio: baseline / ms,
        notes: notes(ms),
      });
    }
    // The API behind the fragment, and what it answered: read exactly or estimated from a sample.
    const ms = await median(get(forecastApi, { authorization: `Bearer ${key}` }));
    const res = await app.request(forecastApi, { headers: { authorization: `Bearer ${key}` } });
    const answer = (await res.json()) as { audience: number; scanned: number; estimated: boolean };
    results.push({
      name: 'api: launch forecast (GET /v1/campaigns/{id}/audience)',
      value: ms,
      unit: 'ms',
      baseline: 'GET /v1/customers/{id} (JSON)',
      baseline_value: baseline,
      ratio: baseline / ms,
      notes: {
        ...notes(ms),
        audience: answer.audience,
        scanned: answer.scanned,
        estimated: String(answer.estimated),
      },
    });
    return results;
  });
}

export default bench;
