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

/**
 * A small shop straight in SQL for campaign tests: `n` customers who bought something, most
 * opted in; a few opted out, never asked, without an address, or hard-bounced earlier.
 */
export async function seedCampaignShop(sql: Sql, n: number, secret: string): Promise<ShopFixture> {
  const rows = Array.from({ length: n }, (_, i) => ({
    external_id: `c${i + 1}`,
    email: i % 50 === 7 ? null : `person${i + 1}@example.org`,
    first_name: `Name${i + 1}`,
    last_name: 'Tester',
    locale: i % 2 ? 'fr-FR' : 'en-GB',
  }));
  const customers = await sql<{ id: number; email: string | null; first_name: string }[]>`
    insert into customers ${sql(rows)} returning id, email, first_name`;
  const eligible = new Map<number, { email: string; first_name: string }>();
  const suppressed = new Map<number, string>();
  const consents: { customer_id: number; purpose: string; granted: boolean; source: string }[] = [];
  const purchases: Record<string, unknown>[] = [];
  const bounced: string[] = [];
  customers.forEach((c, i) => {
    purchases.push({
      external_line_id: `l${c.id}`,
      customer_id: c.id,
      category: i % 3 ? 'garden' : 'books',
      amount: 20 + (i % 7) * 30,
      purchased_at: new Date(Date.now() - 86_400_000 * (1 + (i % 60))),
    });
    if (!c.email) {
      consents.push({ customer_id: c.id, purpose: 'marketing_email', granted: true, source: 'test' });
      suppressed.set(c.id, 'no_email');
    } else if (i % 50 === 11) {
      consents.push({ customer_id: c.id, purpose: 'marketing_email', granted: false, source: 'test' });
      suppressed.set(c.id, 'unsubscribed');
    } else if (i % 50 === 23) {
      suppressed.set(c.id, 'no_consent');
    } else if (i % 50 === 31) {
      consents.push({ customer_id: c.id, purpose: 'marketing_email', granted: true, source: 'test' });
      bounced.push(c.email);
      suppressed.set(c.id, 'hard_bounce');
    } else {
      consents.push({ customer_id: c.id, purpose: 'marketing_email', granted: true, source: 'test' });
      eligible.set(c.id, { email: c.email, first_name: c.first_name });
    }
  });
  if (consents.length) await sql`insert into consents ${sql(consents)}`;
  for (let i = 0; i < purchases.length; i += 1000)
    await sql`insert into purchases ${sql(purchases.slice(i, i + 1000))}`;
  for (const email of bounced) {
    await sql`insert into suppressions (email_hash, reason, source) values (${emailHash(secret, email)}, 'hard_bounce', 'test')`;
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
