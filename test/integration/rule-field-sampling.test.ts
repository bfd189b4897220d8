import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldCatalogue } from '../../src/rules/fields.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

// The field catalogue's value counts on a table too large to count on every open of the rule
// builder: above SAMPLE_ROWS rows they come from a repeatable sample, scaled up and flagged.
let h: Harness;
const CUSTOMERS = 60_000;
const LOCALES = ['de', 'en', 'fr'];

beforeAll(async () => {
  h = await createHarness();
  const sql = h.deps.sql;
  await sql`
    insert into customers (external_id, email, locale)
    select 's' || i, 's' || i || '@example.com', (array['de', 'en', 'fr'])[1 + i % 3]
    from generate_series(1, ${CUSTOMERS}) as i`;
  // The estimate the choice reads, as autovacuum would leave it.
  await sql`analyze customers`;
});
afterAll(async () => h.close());

type Field = {
  path: string;
  values?: { value: string; count: number; estimated?: boolean }[];
  values_complete?: boolean;
};

describe('value counts of a large table', () => {
  it('GET /v1/rules/fields estimates them from a sample, flagged, and never calls the list complete', async () => {
    const res = await h.get('/v1/rules/fields');
    expect(res.status).toBe(200);
    const locale = ((await json(res)).fields as Field[]).find((f) => f.path === 'locale')!;
    expect(locale.values_complete).toBe(false);
    expect(locale.values!.map((v) => v.value).sort()).toEqual(LOCALES);
    for (const v of locale.values!) {
      expect(v.estimated).toBe(true);
      // A third each; the sample reads about 50,000 of 60,000 rows in whole pages.
      expect(Math.abs(v.count - CUSTOMERS / 3)).toBeLessThan(CUSTOMERS / 3 / 5);
    }
  });

  it('reads the same sample twice (repeatable), and counts exactly below the threshold', async () => {
    const now = new Date();
    const sampled = async (sampleRows: number) =>
      (await fieldCatalogue(h.deps.sql, { scope: 'segment', now, sampleRows })).fields.find(
        (f) => f.path === 'locale',
      )!;
    const small = await sampled(3_000);
    expect(await sampled(3_000)).toEqual(small);
    expect(small.values!.every((v) => v.estimated)).toBe(true);
    const exact = await sampled(CUSTOMERS * 2);
    expect(exact.values).toEqual(LOCALES.map((value) => ({ value, count: CUSTOMERS / 3 })));
    expect(exact.values_complete).toBe(true);
  });
});
