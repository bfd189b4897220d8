import type { Db } from '../db/sql.js';

export interface CurrencyRate {
  base: string;
  quote: string;
  rate: number;
  updated_at: Date;
}

/** Every stored rate, by pair. */
export async function listRates(sql: Db): Promise<CurrencyRate[]> {
  return sql<CurrencyRate[]>`select base, quote, rate, updated_at from currency_rates order by base, quote`;
}

/**
 * Stores rates from one base (1 base = rate quote), replacing those of the same pairs. The
 * reverse pair is dropped: one direction per pair, so the two can never disagree.
 */
export async function upsertRates(
  sql: Db,
  base: string,
  rates: Record<string, number>,
  at: Date,
): Promise<CurrencyRate[]> {
  const rows = Object.entries(rates).map(([quote, rate]) => ({ base, quote, rate, updated_at: at }));
  if (rows.length === 0) return [];
  await sql`
    delete from currency_rates
    where quote = ${base} and base = any(${rows.map((r) => r.quote)}::text[])`;
  return sql<CurrencyRate[]>`
    insert into currency_rates ${sql(rows)}
    on conflict (base, quote) do update set rate = excluded.rate, updated_at = excluded.updated_at
    returning base, quote, rate, updated_at`;
}
