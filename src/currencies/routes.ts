import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { invalid } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, jsonBody, jsonResponse } from '../http/route.js';
import { type CurrencyRate, listRates, upsertRates } from './store.js';

const Code = z
  .string()
  .regex(/^[A-Za-z]{3}$/, 'must be an ISO 4217 code like EUR')
  .transform((v) => v.toUpperCase());
const Rate = z.number().positive().max(1e9).openapi({ example: 1.08 });

// Three ways to say the same thing, as rates come from a bank feed (a base and its quotes), a
// pair, or one currency against the report currency.
const RatesBody = z
  .union([
    z.strictObject({
      base: Code.openapi({ example: 'EUR' }),
      rates: z.record(Code, Rate).openapi({ example: { USD: 1.08, GBP: 0.85 } }),
    }),
    z.strictObject({ from: Code, to: Code, rate: Rate }),
    z.strictObject({
      currency: Code.openapi({ description: '1 of this currency is `rate` of the report currency' }),
      rate: Rate,
    }),
  ])
  .openapi('CurrencyRatesInput', {
    description:
      '`{base, rates}`: 1 base = rate of each quote; `{from, to, rate}`: 1 from = rate to; `{currency, rate}`: 1 currency = rate REPORT_CURRENCY',
  });

const RatesSchema = z
  .object({
    report_currency: z.string().openapi({ description: 'REPORT_CURRENCY: what reports add revenue in' }),
    data: z.array(
      z.object({
        base: z.string(),
        quote: z.string(),
        rate: z.number().openapi({ description: '1 base = rate quote' }),
        updated_at: z.string(),
      }),
    ),
  })
  .openapi('CurrencyRates');

const post = defineRoute({
  method: 'post',
  path: '/v1/currency-rates',
  tags: ['reports'],
  summary:
    'Set exchange rates: reports, the dashboard and offer results add revenue in REPORT_CURRENCY with them',
  description:
    'Revenue in a currency without a rate to REPORT_CURRENCY (either way round) is not added to `revenue`; reports list it per currency in `revenue_by_currency`.',
  roles: ACCESS.admin,
  request: { body: jsonBody(RatesBody) },
  responses: { 200: jsonResponse(RatesSchema, 'Every stored rate') },
});

const get = defineRoute({
  method: 'get',
  path: '/v1/currency-rates',
  tags: ['reports'],
  summary: 'The exchange rates reports use, and the report currency',
  roles: ACCESS.reports,
  responses: { 200: jsonResponse(RatesSchema, 'Every stored rate') },
});

const toJson = (reportCurrency: string, rows: CurrencyRate[]) => ({
  report_currency: reportCurrency,
  data: rows.map((r) => ({
    base: r.base,
    quote: r.quote,
    rate: r.rate,
    updated_at: r.updated_at.toISOString(),
  })),
});

export function registerCurrencyRoutes(app: App): void {
  app.openapi(post, async (c) => {
    const body = c.req.valid('json');
    const { sql, config, clock } = c.var.deps;
    const report = config.REPORT_CURRENCY;
    const [base, rates] =
      'rates' in body
        ? [body.base, body.rates]
        : 'from' in body
          ? [body.from, { [body.to]: body.rate }]
          : [body.currency, { [report]: body.rate }];
    if (Object.keys(rates).length === 0) {
      throw invalid([{ path: 'rates', in: 'body', message: 'give at least one rate' }]);
    }
    if (base in rates) {
      const path = 'rates' in body ? `rates.${base}` : 'from' in body ? 'to' : 'currency';
      throw invalid([{ path, in: 'body', message: `a rate from ${base} to itself is always 1` }]);
    }
    const rows = await sql.begin(async (tx) => {
      await upsertRates(tx, base, rates, clock());
      await audit(c, { action: 'currency-rates.set', entity: 'currency_rate', data: { base, rates } }, tx);
      return listRates(tx);
    });
    return c.json(toJson(report, rows), 200);
  });

  app.openapi(get, async (c) => {
    const { sql, config } = c.var.deps;
    return c.json(toJson(config.REPORT_CURRENCY, await listRates(sql)), 200);
  });
}
