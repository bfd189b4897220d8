import { z } from '@hono/zod-openapi';
import { INCREMENTAL_COLUMNS, incrementalCsvRows } from '../holdouts/csv.js';
import { IncrementalSchema, WindowDays } from '../holdouts/schema.js';
import type { App } from '../http/env.js';
import { invalid, notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, notFoundResponse } from '../http/route.js';
import { toCsv } from './csv.js';
import {
  CurrencyFields,
  csvResponse,
  Format,
  IncludeMachine,
  METRIC_COLUMNS,
  MetricsSchema,
  reportResponse,
  TIMESERIES_COLUMNS,
  TimeseriesBucketSchema,
  timeseriesData,
  wantsCsv,
} from './routes.js';
import { type SentWindow, scopeTimeseries } from './store.js';
import { triggerReport, triggersReport } from './trigger-report.js';
import { findTrigger } from './trigger-store.js';

const tags = ['reports'];

const Window = {
  from: z.iso.datetime({ offset: true }).optional().openapi({
    description: 'Only messages sent at or after this time (activity at or after, for a series)',
  }),
  to: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ description: 'Only messages sent before this time (activity before, for a series)' }),
};

const TriggerInfoSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  event: z.string(),
  enabled: z.boolean(),
  deleted: z.boolean(),
});

export const TriggerReportSchema = z
  .object({
    trigger: TriggerInfoSchema,
    include_machine: z.boolean(),
    ...CurrencyFields,
    from: z.string().nullable(),
    to: z.string().nullable(),
    totals: MetricsSchema,
    offers: z.array(MetricsSchema.extend({ offer_id: z.number().int(), name: z.string().nullable() })),
    incremental: IncrementalSchema,
  })
  .openapi('TriggerReport');

export const TriggersReportSchema = z
  .object({
    currency: CurrencyFields.currency,
    data: z.array(TriggerInfoSchema.extend(MetricsSchema.shape)),
    next_cursor: z.string().nullable(),
  })
  .openapi('TriggersReport');

export const TriggerTimeseriesSchema = z
  .object({
    trigger_id: z.number().int(),
    interval: z.enum(['hour', 'day']),
    currency: CurrencyFields.currency,
    data: z.array(TimeseriesBucketSchema),
  })
  .openapi('TriggerTimeseries');

const one = defineRoute({
  method: 'get',
  path: '/v1/reports/triggers/{id}',
  roles: ACCESS.reports,
  tags,
  summary: 'What one trigger’s messages earned: totals and by offer',
  request: {
    params: IdParam,
    query: z.object({ format: Format, include_machine: IncludeMachine, window_days: WindowDays, ...Window }),
  },
  responses: { 200: reportResponse(TriggerReportSchema, 'The report'), ...notFoundResponse },
});

const all = defineRoute({
  method: 'get',
  path: '/v1/reports/triggers',
  roles: ACCESS.reports,
  tags,
  summary: 'Each trigger’s totals: sent, opens, clicks, conversions, revenue, rates',
  request: { query: z.object({ format: Format, include_machine: IncludeMachine, ...Window }) },
  responses: { 200: reportResponse(TriggersReportSchema, 'The report') },
});

const timeseries = defineRoute({
  method: 'get',
  path: '/v1/reports/triggers/{id}/timeseries',
  roles: ACCESS.reports,
  tags,
  summary: 'A trigger’s activity per hour or day (UTC)',
  request: {
    params: IdParam,
    query: z.object({
      format: Format,
      include_machine: IncludeMachine,
      interval: z.enum(['hour', 'day']).default('day'),
      ...Window,
    }),
  },
  responses: { 200: reportResponse(TriggerTimeseriesSchema, 'The series'), ...notFoundResponse },
});

/** The sent-time window of a query, 422 when it ends before it starts. */
function sentWindow(q: { from?: string | undefined; to?: string | undefined }): SentWindow {
  const window: SentWindow = {
    from: q.from === undefined ? undefined : new Date(q.from),
    to: q.to === undefined ? undefined : new Date(q.to),
  };
  if (window.from && window.to && window.to < window.from) {
    throw invalid([{ path: 'to', in: 'query', message: 'must not be before from' }]);
  }
  return window;
}

const TRIGGER_COLUMNS = ['id', 'name', 'event', 'enabled', 'deleted', ...METRIC_COLUMNS];

/** Reports grouped by trigger (JSON, or CSV with formulas neutralized). */
export function registerTriggerReportRoutes(app: App): void {
  app.openapi(all, async (c) => {
    const q = c.req.valid('query');
    const currency = c.var.deps.config.REPORT_CURRENCY;
    const data = await triggersReport(c.var.deps.sql, {
      includeMachine: q.include_machine,
      window: sentWindow(q),
      currency,
    });
    if (wantsCsv(c, q.format)) {
      return csvResponse(
        toCsv(
          TRIGGER_COLUMNS,
          data.map((row) => ({ ...row })),
        ),
        'triggers.csv',
      ) as never;
    }
    return c.json({ currency, data, next_cursor: null }, 200);
  });

  app.openapi(one, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const report = await triggerReport(c.var.deps.sql, id, {
      includeMachine: q.include_machine,
      window: sentWindow(q),
      currency: c.var.deps.config.REPORT_CURRENCY,
      windowDays: q.window_days,
    });
    if (wantsCsv(c, q.format)) {
      const rows = [
        { section: 'total', key: '', name: report.trigger.name, ...report.totals },
        ...report.offers.map(({ name, ...o }) => ({
          section: 'offer',
          key: String(o.offer_id),
          name: name ?? '',
          ...o,
        })),
        ...incrementalCsvRows(report.incremental),
      ];
      return csvResponse(
        toCsv(['section', 'key', 'name', ...METRIC_COLUMNS, ...INCREMENTAL_COLUMNS], rows),
        `trigger-${id}.csv`,
      ) as never;
    }
    return c.json(report, 200);
  });

  app.openapi(timeseries, async (c) => {
    const { id } = c.req.valid('param');
    const q = c.req.valid('query');
    const sql = c.var.deps.sql;
    const window = sentWindow(q);
    const [head, rows] = await Promise.all([
      findTrigger(sql, id),
      scopeTimeseries(
        sql,
        { trigger_id: id },
        q.interval,
        q.include_machine,
        c.var.deps.config.REPORT_CURRENCY,
        window,
      ),
    ]);
    if (!head) throw notFound(`Trigger ${id}`);
    const data = timeseriesData(rows);
    if (wantsCsv(c, q.format)) {
      return csvResponse(toCsv(TIMESERIES_COLUMNS, data), `trigger-${id}-${q.interval}.csv`) as never;
    }
    return c.json(
      { trigger_id: id, interval: q.interval, currency: c.var.deps.config.REPORT_CURRENCY, data },
      200,
    );
  });
}
