import type { IncrementalReport } from './report.js';

/** The columns a report's CSV adds for its incremental section (after its metric columns). */
export const INCREMENTAL_COLUMNS = [
  'customers',
  'lift_absolute',
  'lift_relative',
  'lift_ci95_low',
  'lift_ci95_high',
  'revenue_lift_absolute',
  'revenue_lift_ci95_low',
  'revenue_lift_ci95_high',
  'verdict',
];

/**
 * The incremental section as CSV rows beside the last-touch ones: `incremental_treated` and
 * `incremental_holdout` (customers, converters, revenue, and per customer: conversion_rate and
 * revenue_per_recipient), then `incremental_lift` with the lifts, their intervals and the verdict.
 */
export function incrementalCsvRows(inc: IncrementalReport): Record<string, unknown>[] {
  const group = (section: string, g: IncrementalReport['treated']) => ({
    section,
    key: '',
    name: `${inc.window_days} days`,
    customers: g.customers,
    conversions: g.conversions,
    revenue: g.revenue,
    conversion_rate: g.conversion_rate ?? '',
    revenue_per_recipient: g.revenue_per_customer ?? '',
  });
  return [
    group('incremental_treated', inc.treated),
    group('incremental_holdout', inc.holdout),
    {
      section: 'incremental_lift',
      key: '',
      name: `${inc.window_days} days`,
      lift_absolute: inc.lift.absolute ?? '',
      lift_relative: inc.lift.relative ?? '',
      lift_ci95_low: inc.lift.ci95?.[0] ?? '',
      lift_ci95_high: inc.lift.ci95?.[1] ?? '',
      revenue_lift_absolute: inc.revenue_lift.absolute ?? '',
      revenue_lift_ci95_low: inc.revenue_lift.ci95?.[0] ?? '',
      revenue_lift_ci95_high: inc.revenue_lift.ci95?.[1] ?? '',
      verdict: inc.verdict,
    },
  ];
}
