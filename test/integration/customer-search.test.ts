import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchCustomers } from '../../src/customers/search.js';
import { createHarness, type Harness } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

/* The customer search box, through the UI page staff use, over real PostgreSQL (unaccent, pg_trgm). */
let h: Harness;
let session: string;
const ids: Record<string, number> = {};

beforeAll(async () => {
  h = await createHarness();
  const people: [string, string | null, string | null, string | null][] = [
    ['martin-1', 'Élodie', 'Martin', 'elodie.martin@example.com'],
    ['martin-2', 'Elodie', 'Martinez', 'e.martinez@example.com'],
    ['zoe', 'Zoë', 'Ångström', null],
    ['francois', 'FRANÇOIS', 'Lefèvre', 'f.lefevre@example.fr'],
    ['other', 'Paul', 'Durand', 'paul@example.com'],
  ];
  for (const [ext, first, last, email] of people) {
    const [row] = await h.db.sql<{ id: number }[]>`
      insert into customers (external_id, first_name, last_name, email) values (${ext}, ${first}, ${last}, ${email})
      returning id`;
    ids[ext] = row!.id;
  }
  // Internal id 616 and external id demo-0616 are two different people.
  await h.db.sql`select setval('customers_id_seq', 615)`;
  const [internal] = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, first_name, last_name) values ('crm-xyz', 'Internal', 'Sixteen') returning id`;
  ids.internal = internal!.id;
  const [external] = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, first_name, last_name) values ('demo-0616', 'External', 'Zero') returning id`;
  ids.demo = external!.id;
  await h.db.sql`
    insert into customers (external_id, first_name, last_name, erased_at)
    values ('erased-1', 'Élodie', 'Martin', now())`;
  session = (await signInToUi(h, 'sales')).session;
});
afterAll(async () => h?.close());

/** The customer ids a search lists on /ui/customers, in page order. */
async function searchPage(q: string): Promise<number[]> {
  const res = await h.app.request(`/ui/customers?q=${encodeURIComponent(q)}`, {
    headers: { cookie: session },
  });
  expect(res.status).toBe(200);
  const html = await res.text();
  const list = html.slice(html.indexOf('<ul class="list">'));
  return [...list.matchAll(/href="\/ui\/customers\/(\d+)"/g)].map((m) => Number(m[1]));
}

describe('customer search', () => {
  it('ignores accents and case', async () => {
    expect(await searchPage('Elodie Martin')).toEqual([ids['martin-1'], ids['martin-2']]);
    expect(await searchPage('élodie martin')).toEqual([ids['martin-1'], ids['martin-2']]);
    expect(await searchPage('zoe angstrom')).toEqual([ids.zoe]);
    expect(await searchPage('francois lefevre')).toEqual([ids.francois]);
    expect(await searchPage('LEFÈVRE')).toEqual([ids.francois]);
  });

  it('matches words in any order and fragments of names, emails and external ids', async () => {
    expect(await searchPage('Martin Elodie')).toEqual([ids['martin-1'], ids['martin-2']]);
    expect(await searchPage('martinez')).toEqual([ids['martin-2']]);
    expect(await searchPage('example.fr')).toEqual([ids.francois]);
  });

  it('puts an exact external id or email first', async () => {
    expect((await searchPage('elodie.martin@example.com'))[0]).toBe(ids['martin-1']);
    expect((await searchPage('ELODIE.MARTIN@example.com'))[0]).toBe(ids['martin-1']);
    expect((await searchPage('martin-2'))[0]).toBe(ids['martin-2']);
  });

  it('finds external id demo-0616 for q=0616 before internal id 616', async () => {
    expect(ids.internal).toBe(616);
    expect(await searchPage('0616')).toEqual([ids.demo, 616]);
    expect((await searchPage('616'))[0]).toBe(616);
  });

  it('offers close spellings when nothing contains the query', async () => {
    expect((await searchPage('Elodi Martn'))[0]).toBeDefined();
    expect(await searchPage('Elodi Martn')).toContain(ids['martin-1']);
  });

  it('never lists erased customers, and takes any text without error', async () => {
    const listed = await searchPage('Elodie Martin');
    expect(listed).not.toContain(undefined);
    const [erased] = await h.db.sql<
      { id: number }[]
    >`select id from customers where external_id = 'erased-1'`;
    expect(listed).not.toContain(erased!.id);
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 40, unit: 'binary' }), async (q) => {
        const hits = await searchCustomers(h.db.sql, q);
        expect(hits.map((x) => x.id)).not.toContain(erased!.id);
      }),
      { numRuns: 60 },
    );
  });

  it('uses the trigram index', async () => {
    // A handful of rows would be scanned: forbid that, in this transaction only.
    const plan = await h.db.sql.begin(async (tx) => {
      await tx`set local enable_seqscan = off`;
      return tx<{ 'QUERY PLAN': string }[]>`
        explain select id from customers c
        where c.erased_at is null
          and c.search_text like '%elodie%'`;
    });
    expect(plan.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/customers_search_trgm_idx/);
  });
});
