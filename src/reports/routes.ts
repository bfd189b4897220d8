import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { AbStateSchema } from '../campaigns/schema.js';
import { INCREMENTAL_COLUMNS, incrementalCsvRows } from '../holdouts/csv.js';
import { incrementalReport } from '../holdouts/report.js';
import { IncrementalSchema, WindowDays } from '../holdouts/schema.js';
import type { App, AppEnv } from '../http/env.js';
import { notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, notFoundResponse } from '../http/route.js';
import { campaignReport, withRates } from './campaign-report.js';
import { toCsv } from './csv.js';
import { revenueByCurrency, unconverted } from './currency.js';
import { findCampaign, offersReport, scopeTimeseries } from './store.js';

const tags = ['reports'];

export const Format = z
  .enum(['json', 'csv'])
  .optional()
  .openapi({ description: 'csv also with Accept: text/csv' });
export const IncludeMachine = z
  .stringbool()
  .default(false)
  .openapi({ description: 'Count proxy prefetches and link scanners as opens and clicks' });

export const MetricsSchema = z.object({
  sent: z.number().int(),
  delivered: z.number().int(),
  bounced: z.number().int(),
  opens: z.number().int().openapi({ description: 'Distinct messages opened (a click counts as an open)' }),
  clicks: z.number().int().openapi({ description: 'Distinct messages clicked' }),
  conversions: z.number().int().openapi({ description: 'Distinct messages that converted' }),
  revenue: z.number(),
  open_rate: z.number().openapi({ description: 'opens / delivered' }),
  click_rate: z.number().openapi({ description: 'clicks / delivered' }),
  click_to_open_rate: z.number(),
  conversion_rate: z.number().openapi({ description: 'conversions / delivered' }),
  revenue_per_recipient: z.number().openapi({ description: 'revenue / sent' }),
});

/** Revenue per currency beside the converted totals: nothing a missing rate leaves out is hidden. */
export const CurrencyFields = {
  currency: z.string().openapi({ description: 'Every `revenue` is in this currency (REPORT_CURRENCY)' }),
  revenue_by_currency: z
    .array(
      z.object({
        currency: z.string(),
        revenue: z.number().openapi({ description: 'In that currency, as recorded' }),
        converted: z.number().nullable().openapi({
          description: 'In the report currency; null when no rate converts it (see POST /v1/currency-rates)',
        }),
      }),
    )
    .openapi({ description: 'Conversions’ revenue per currency' }),
  unconverted_currencies: z
    .array(z.string())
    .openapi({ description: 'Currencies without a rate: their revenue is not in `revenue`' }),
};

export const CampaignReportSchema = z
  .object({
    campaign: z.object({ id: z.number().int(), name: z.string(), status: z.string() }),
    include_machine: z.boolean(),
    ...CurrencyFields,
    totals: MetricsSchema,
    variants: z.array(MetricsSchema.extend({ variant: z.string().nullable() })),
    offers: z.array(MetricsSchema.extend({ offer_id: z.number().int(), name: z.string().nullable() })),
    ab: z
      .object({
        metric: z.enum(['open', 'click', 'conversion']),
        confidence: z.number(),
        leader: z.string(),
        runner_up: z.string(),
        z: z.number().nullable(),
        p_value: z.number().nullable().openapi({ description: 'Two-sided pooled two-proportion z-test' }),
        winner: z.string().nullable().openapi({ description: 'The leader when p < 0.05' }),
      })
      .nullable()
      .openapi({ description: 'Over the test cell when the campaign has an A/B test' }),
    ab_test: AbStateSchema.pick({
      phase: true,
      winner: true,
      reason: true,
      detail: true,
      p_value: true,
      window_ends_at: true,
      decided_at: true,
      decided_by: true,
    })
      .extend({
        metric: z.string(),
        test_percent: z.number(),
        test_cell: z.object({
          totals: MetricsSchema,
          variants: z.array(MetricsSchema.extend({ variant: z.string().nullable() })),
        }),
        winner_send_out: MetricsSchema.extend({ variant: z.string().nullable() })
          .nullable()
          .openapi({ description: 'The rest of the audience, sent the winner; null until it is sent' }),
      })
      .nullable()
      .openapi({
        description:
          'A/B test with winner send-out: where it stands, why the winner won, the test cell against the send-out',
      }),
    incremental: IncrementalSchema,
    recommendations: z
      .object({
        totals: z.object({ clicks: z.number().int(), conversions: z.number().int(), revenue: z.number() }),
        products: z.array(
          z.object({
            sku: z.string(),
            product_id: z.number().int().nullable(),
            title: z.string().nullable(),
            shown: z.number().int().openapi({ description: 'Sent messages whose products blocks showed it' }),
            clicks: z.number().int().openapi({ description: 'Messages in which it was clicked' }),
            conversions: z
              .number()
              .int()
              .openapi({ description: 'Purchases of it attributed to a message that recommended it' }),
            revenue: z.number(),
            click_rate: z.number().openapi({ description: 'clicks / shown' }),
            conversion_rate: z.number().openapi({ description: 'conversions / shown' }),
          }),
        ),
      })
      .openapi({ description: 'What the `{{> products}}` blocks earned, per recommended product' }),
    replacements: z
      .object({
        total: z
          .number()
          .int()
          .openapi({ description: 'Offer places left out at send time, over all mails' }),
        offers: z.array(
          z.object({
            offer_id: z.number().int(),
            name: z.string().nullable(),
            mails: z.number().int().openapi({ description: 'Sent mails it was planned for and left out of' }),
            reasons: z.object({
              codes_exhausted: z.number().int().openapi({ description: 'Its unique code pool was empty' }),
              no_product: z
                .number()
                .int()
                .openapi({ description: "The customer's product was gone (out of stock, inactive, bought)" }),
            }),
            replaced_by: z.array(
              z.object({ offer_id: z.number().int(), name: z.string().nullable(), mails: z.number().int() }),
            ),
            not_replaced: z
              .number()
              .int()
              .openapi({ description: 'Mails in which no other offer was eligible for its place' }),
          }),
        ),
      })
      .openapi({
        description:
          'Planned offers the sender left out of mails (their code pool ran dry, their product was gone), why, and which offers took over',
      }),
  })
  .openapi('CampaignReport');

/** One bucket of a timeseries, for campaigns and triggers alike. */
export const TimeseriesBucketSchema = z.object({
  bucket: z.string(),
  sent: z.number().int(),
  opens: z.number().int(),
  clicks: z.number().int(),
  bounces: z.number().int(),
  conversions: z.number().int(),
  revenue: z.number(),
  unsubscribes: z.number().int(),
});

/** The timeseries CSV's columns: the bucket schema's fields, in order. */
export const TIMESERIES_COLUMNS = Object.keys(TimeseriesBucketSchema.shape);

/** Timeseries rows as the API answers them: buckets as ISO 8601 strings. */
export const timeseriesData = <T extends { bucket: string | Date }>(rows: readonly T[]) =>
  rows.map((r): Record<string, unknown> & Omit<T, 'bucket'> & { bucket: string } => ({
    ...r,
    bucket: new Date(r.bucket).toISOString(),
  }));

export const TimeseriesSchema = z
  .object({
    campaign_id: z.number().int(),
    interval: z.enum(['hour', 'day']),
    currency: z.string().openapi({ description: 'What `revenue` is in (REPORT_CURRENCY)' }),
    data: z.array(TimeseriesBucketSchema),
  })
  .openapi('CampaignTimeseries');

export const OfferReportSchema = z
  .object({
    ...CurrencyFields,
    data: z.array(
      z.object({
        offer_id: z.number().int(),
        name: z.string(),
        category: z.string().nullable(),
        campaigns: z.number().int(),
        shown: z.number().int().openapi({ description: 'Sent messages that showed the offer' }),
        clicks: z.number().int(),
        conversions: z.number().int(),
        revenue: z.number(),
        click_rate: z.number().openapi({ description: 'clicks / shown' }),
        conversion_rate: z.number().openapi({ description: 'conversions / shown' }),
      }),
    ),
    next_cursor: z.string().nullable(),
  })
  .openapi('OfferReport');

export const reportResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema }, 'text/csv': { schema: z.string() } },
});

const campaign = defineRoute({
  method: 'get',
  path: '/v1/reports/campaigns/{id}',
  roles: ACCESS.reports,
  tags,
  summary: 'A campaign’s totals, by variant and by offer, with the A/B verdict',
  request: {
    params: IdParam,
    query: z.object({
      format: Format,
      include_machine: IncludeMachine,
      ab_metric: z.enum(['open', 'click', 'conversion']).default('click'),
      window_days: WindowDays,
    }),
  },
  responses: { 200: reportResponse(CampaignReportSchema, 'The report'), ...notFoundResponse },
});

const timeseries = defineRoute({
  method: 'get',
  path: '/v1/reports/campaigns/{id}/timeseries',
  roles: ACCESS.reports,
  tags,
  summary: 'A campaign’s activity per hour or day (UTC)',
  request: {
    params: IdParam,
    query: z.object({
      format: Format,
      include_machine: IncludeMachine,
      interval: z.enum(['hour', 'day']).default('day'),
    }),
  },
  responses: { 200: reportResponse(TimeseriesSchema, 'The series'), ...notFoundResponse },
});

export const OfferIncrementalSchema = z
  .object({ offer: z.object({ id: z.number().int(), name: z.string() }), incremental: IncrementalSchema })
  .openapi('OfferIncrementalReport');

const offerIncremental = defineRoute({
  method: 'get',
  path: '/v1/reports/offers/{id}',
  roles: ACCESS.reports,
  tags,
  summary:
    'An offer’s own effect: customers shown it against those in its holdout, who were sent the next-ranked offer instead',
  request: { params: IdParam, query: z.object({ format: Format, window_days: WindowDays }) },
  responses: { 200: reportResponse(OfferIncrementalSchema, 'The report'), ...notFoundResponse },
});

const offers = defineRoute({
  method: 'get',
  path: '/v1/reports/offers',
  roles: ACCESS.reports,
  tags,
  summary: 'Each offer across campaigns: shown, clicks, conversions, revenue',
  request: { query: z.object({ format: Format, include_machine: IncludeMachine }) },
  responses: { 200: reportResponse(OfferReportSchema, 'The report') },
});

export function wantsCsv(c: Context<AppEnv>, format: string | undefined): boolean {
  return format === 'csv' || (format === undefined && /\btext\/csv\b/.test(c.req.header('accept') ?? ''));
}

export function csvResponse(body: string, filename: string): Response {
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${filename}"`,
    },
  });
}

export const METRIC_COLUMNS = [
  'sent',
  'delivered',
  'bounced',
  'opens',
  'clicks',
  'conversions',
  'revenue',
  'open_rate',
  'click_rate',
  'click_to_open_rate',
  'conversion_rate',
  'revenue_per_recipient',
];

/** Campaign, timeseries and offer reports (JSON, or CSV with formulas neutralized). */
export function registerReportRoutes(app: App): void {
  app.openapi(campaign, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const report = await campaignReport(c.var.deps.sql, id, {
      includeMachine: q.include_machine,
      abMetric: q.ab_metric,
      currency: c.var.deps.config.REPORT_CURRENCY,
      windowDays: q.window_days,
    });
    if (wantsCsv(c, q.format)) {
      const rows = [
        { section: 'total', key: '', name: report.campaign.name, ...report.totals },
        ...report.variants.map((v) => ({
          section: 'variant',
          key: v.variant ?? '',
          name: v.variant ?? '',
          ...v,
        })),
        ...report.offers.map(({ name, ...o }) => ({
          section: 'offer',
          key: String(o.offer_id),
          name: name ?? '',
          ...o,
        })),
        ...(report.ab_test?.test_cell.variants ?? []).map((v) => ({
          section: 'ab_test_cell',
          key: v.variant ?? '',
          name: v.variant ?? '',
          ...v,
        })),
        ...(report.ab_test?.winner_send_out
          ? [
              {
                section: 'ab_winner_send_out',
                key: report.ab_test.winner_send_out.variant ?? '',
                name: report.ab_test.winner_send_out.variant ?? '',
                ...report.ab_test.winner_send_out,
              },
            ]
          : []),
        ...report.recommendations.products.map((p) => ({
          section: 'recommended_product',
          key: p.sku,
          name: p.title ?? '',
          sent: p.shown,
          clicks: p.clicks,
          conversions: p.conversions,
          revenue: p.revenue,
          click_rate: p.click_rate,
          conversion_rate: p.conversion_rate,
        })),
        ...incrementalCsvRows(report.incremental),
      ];
      return csvResponse(
        toCsv(['section', 'key', 'name', ...METRIC_COLUMNS, ...INCREMENTAL_COLUMNS], rows),
        `campaign-${id}.csv`,
      ) as never;
    }
    return c.json(report, 200);
  });

  app.openapi(timeseries, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const sql = c.var.deps.sql;
    const [head, rows] = await Promise.all([
      findCampaign(sql, id),
      scopeTimeseries(
        sql,
        { campaign_id: id },
        q.interval,
        q.include_machine,
        c.var.deps.config.REPORT_CURRENCY,
      ),
    ]);
    if (!head) throw notFound(`Campaign ${id}`);
    const data = timeseriesData(rows);
    if (wantsCsv(c, q.format)) {
      return csvResponse(toCsv(TIMESERIES_COLUMNS, data), `campaign-${id}-${q.interval}.csv`) as never;
    }
    return c.json(
      { campaign_id: id, interval: q.interval, currency: c.var.deps.config.REPORT_CURRENCY, data },
      200,
    );
  });

  app.openapi(offerIncremental, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const sql = c.var.deps.sql;
    const [offer] = await sql<{ id: number; name: string }[]>`select id, name from offers where id = ${id}`;
    if (!offer) throw notFound(`Offer ${id}`);
    const incremental = await incrementalReport(
      sql,
      { offer_id: id },
      { windowDays: q.window_days, currency: c.var.deps.config.REPORT_CURRENCY },
    );
    if (wantsCsv(c, q.format)) {
      return csvResponse(
        toCsv(
          ['section', 'key', 'name', ...METRIC_COLUMNS, ...INCREMENTAL_COLUMNS],
          incrementalCsvRows(incremental),
        ),
        `offer-${id}.csv`,
      ) as never;
    }
    return c.json({ offer, incremental }, 200);
  });

  app.openapi(offers, async (c) => {
    const q = c.req.valid('query');
    const currency = c.var.deps.config.REPORT_CURRENCY;
    const [rows, byCurrency] = await Promise.all([
      offersReport(c.var.deps.sql, q.include_machine, currency),
      revenueByCurrency(c.var.deps.sql, { any_offer: true }, currency),
    ]);
    const data = rows.map((r) => {
      const { click_rate, conversion_rate } = withRates({
        ...r,
        sent: r.shown,
        delivered: r.shown,
        bounced: 0,
        opens: 0,
      });
      return { ...r, click_rate, conversion_rate };
    });
    if (wantsCsv(c, q.format)) {
      const columns = [
        'offer_id',
        'name',
        'category',
        'campaigns',
        'shown',
        'clicks',
        'conversions',
        'revenue',
        'click_rate',
        'conversion_rate',
      ];
      return csvResponse(toCsv(columns, data), 'offers.csv') as never;
    }
    return c.json(
      {
        currency,
        revenue_by_currency: byCurrency,
        unconverted_currencies: unconverted(byCurrency),
        data,
        next_cursor: null,
      },
      200,
    );
  });
}
