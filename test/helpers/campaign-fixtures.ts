import type { Sql } from '../../src/db/sql.js';
import { emailHash } from '../../src/messages/suppression.js';
import { installDefaultTemplates } from '../../src/templates/render.js';

export interface ShopFixture {
  segmentId: number;
  templateId: number;
  offerIds: number[];
  /** Customers who may be mailed, by id, with their address and first name. */
  eligible: Map<number, { email: string; first_name: string }>;
  /** Customers who must be suppressed, by id, with the reason expected. */
  suppressed: Map<number, string>;
}

/** Rows per statement: columns travel as one array parameter each, so any count fits. */
const PAGE = 20_000;

/**
 * A shop straight in SQL for campaign tests and benches: `n` customers who bought something,
 * most opted in; a few opted out, never asked, without an address, or hard-bounced earlier.
 * Rows go in pages of column arrays (`unnest`), a handful of parameters per statement whatever
 * `n` (one parameter per value stopped at PostgreSQL's 65,535 near 6,000 customers).
 */
export async function seedCampaignShop(sql: Sql, n: number, secret: string): Promise<ShopFixture> {
  const eligible = new Map<number, { email: string; first_name: string }>();
  const suppressed = new Map<number, string>();
  for (let from = 0; from < n; from += PAGE) {
    const indexes = Array.from({ length: Math.min(PAGE, n - from) }, (_, k) => from + k);
    const emailOf = (i: number) => (i % 50 === 7 ? null : `person${i + 1}@example.org`);
    const customers = await sql<
      { id: number; external_id: string; email: string | null; first_name: string }[]
    >`
      insert into customers (external_id, email, first_name, last_name, locale)
      select * from unnest(
        ${indexes.map((i) => `c${i + 1}`)}::text[], ${indexes.map(emailOf)}::text[],
        ${indexes.map((i) => `Name${i + 1}`)}::text[], ${indexes.map(() => 'Tester')}::text[],
        ${indexes.map((i) => (i % 2 ? 'fr-FR' : 'en-GB'))}::text[])
      returning id, external_id, email, first_name`;
    const consent = { customer: [] as number[], granted: [] as boolean[] };
    const purchase = {
      customer: [] as number[],
      category: [] as string[],
      amount: [] as number[],
      at: [] as string[],
    };
    /** Hex of each address hash (bytea in the table). */
    const bounced: string[] = [];
    for (const c of customers) {
      const i = Number(c.external_id.slice(1)) - 1;
      purchase.customer.push(c.id);
      purchase.category.push(i % 3 ? 'garden' : 'books');
      purchase.amount.push(20 + (i % 7) * 30);
      purchase.at.push(new Date(Date.now() - 86_400_000 * (1 + (i % 60))).toISOString());
      const grant = (granted: boolean) => {
        consent.customer.push(c.id);
        consent.granted.push(granted);
      };
      if (!c.email) {
        grant(true);
        suppressed.set(c.id, 'no_email');
      } else if (i % 50 === 11) {
        grant(false);
        suppressed.set(c.id, 'unsubscribed');
      } else if (i % 50 === 23) {
        suppressed.set(c.id, 'no_consent');
      } else if (i % 50 === 31) {
        grant(true);
        bounced.push(emailHash(secret, c.email).toString('hex'));
        suppressed.set(c.id, 'hard_bounce');
      } else {
        grant(true);
        eligible.set(c.id, { email: c.email, first_name: c.first_name });
      }
    }
    if (consent.customer.length) {
      await sql`
        insert into consents (customer_id, purpose, granted, source)
        select customer_id, 'marketing_email', granted::boolean, 'test'
        from unnest(${consent.customer}::bigint[], ${consent.granted.map(String)}::text[]) as t(customer_id, granted)`;
    }
    await sql`
      insert into purchases (external_line_id, customer_id, category, amount, purchased_at)
      select 'l' || customer_id, customer_id, category, amount, purchased_at
      from unnest(${purchase.customer}::bigint[], ${purchase.category}::text[], ${purchase.amount}::numeric[],
                  ${purchase.at}::timestamptz[]) as t(customer_id, category, amount, purchased_at)`;
    if (bounced.length) {
      await sql`
        insert into suppressions (email_hash, reason, source)
        select decode(hex, 'hex'), 'hard_bounce', 'test' from unnest(${bounced}::text[]) as t(hex)`;
    }
  }
  const offers = await sql<{ id: number }[]>`
    insert into offers ${sql([
      {
        name: 'garden',
        title: 'Garden -20%',
        url: 'https://shop.example/garden',
        code: 'G20',
        category: 'garden',
        eligibility: sql.json({ '>': [{ var: ['spend_by_category.garden', 0] }, 0] } as never),
        priority: 5,
        fallback: false,
      },
      {
        name: 'books',
        title: 'Books 3 for 2',
        url: 'https://shop.example/books',
        code: 'B32',
        category: 'books',
        eligibility: sql.json({ '>': [{ var: ['spend_by_category.books', 0] }, 0] } as never),
        priority: 4,
        fallback: false,
      },
      {
        name: 'fallback',
        title: 'Free delivery',
        url: 'https://shop.example/free',
        code: 'FREE',
        category: null,
        eligibility: null,
        priority: 1,
        fallback: true,
      },
    ])} returning id`;
  await installDefaultTemplates(sql);
  const [template] = await sql<
    { id: number }[]
  >`select id from templates where name ilike '%offer%' order by id limit 1`;
  const [segment] = await sql<{ id: number }[]>`
    insert into segments (name, rule) values ('buyers', ${sql.json({ '>': [{ var: 'orders_count' }, 0] } as never)}) returning id`;
  return {
    segmentId: segment!.id,
    templateId: template!.id,
    offerIds: offers.map((o) => o.id),
    eligible,
    suppressed,
  };
}
