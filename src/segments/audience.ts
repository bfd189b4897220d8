import type { Db } from '../db/sql.js';
import { compileRule } from '../rules/compile.js';
import { buildContexts } from '../rules/context.js';
import { countMatching, ruleToSql, selectMatchingAmong, selectMatchingIds } from '../rules/to-sql.js';
import { selectLiveCustomerIds } from './store.js';

export type Evaluation = 'sql' | 'stream';

/** Customers scanned per round when a rule runs in process. */
export const STREAM_PAGE = 1000;

/** True when the rule matches this context; a rule that throws for a customer does not match. */
function matches(rule: unknown, context: unknown): boolean {
  try {
    const result = compileRule(rule)(context);
    return Array.isArray(result) ? result.length > 0 : Boolean(result);
  } catch {
    return false;
  }
}

export interface AudienceOptions {
  afterId?: number;
  limit: number;
  now: Date;
  /** Force in-process evaluation (the differential test compares both paths). */
  evaluation?: Evaluation;
}

/** How a rule will run: `sql` when every operator has a translation, else `stream`. */
export function evaluationOf(sql: Db, rule: unknown, now: Date): Evaluation {
  return ruleToSql(sql, rule, now) ? 'sql' : 'stream';
}

/**
 * The next page of a segment's audience: live (not erased) customer ids in id order after
 * `afterId`. One SQL query when the rule translates, else customers streamed in pages.
 */
export async function segmentAudiencePage(
  sql: Db,
  rule: unknown,
  options: AudienceOptions,
): Promise<number[]> {
  const afterId = options.afterId ?? 0;
  const plan = options.evaluation === 'stream' ? null : ruleToSql(sql, rule, options.now);
  if (plan) return (await selectMatchingIds(sql, plan, afterId, options.limit)).map((r) => r.id);
  const out: number[] = [];
  let cursor = afterId;
  for (;;) {
    const ids = await selectLiveCustomerIds(sql, cursor, STREAM_PAGE);
    if (ids.length === 0) return out;
    const contexts = await buildContexts(sql, ids, options.now);
    for (const id of ids) {
      if (matches(rule, contexts.get(id))) {
        out.push(id);
        if (out.length >= options.limit) return out;
      }
    }
    cursor = ids[ids.length - 1] as number;
  }
}

/** How many customers a rule selects, and how it was evaluated. */
export async function countAudience(
  sql: Db,
  rule: unknown,
  options: { now: Date; evaluation?: Evaluation },
): Promise<{ count: number; evaluation: Evaluation }> {
  const plan = options.evaluation === 'stream' ? null : ruleToSql(sql, rule, options.now);
  if (plan) return { count: await countMatching(sql, plan), evaluation: 'sql' };
  let count = 0;
  let cursor = 0;
  for (;;) {
    const ids = await selectLiveCustomerIds(sql, cursor, STREAM_PAGE);
    if (ids.length === 0) return { count, evaluation: 'stream' };
    const contexts = await buildContexts(sql, ids, options.now);
    for (const id of ids) if (matches(rule, contexts.get(id))) count++;
    cursor = ids[ids.length - 1] as number;
  }
}

/**
 * Which of these customers the rule selects, live ones only, in id order: one SQL query when
 * the rule translates, else their contexts built and the rule run in process, a page at a
 * time. The launch forecast's read of its sample.
 */
export async function segmentMatchesAmong(
  sql: Db,
  rule: unknown,
  ids: readonly number[],
  options: { now: Date; evaluation?: Evaluation },
): Promise<number[]> {
  if (ids.length === 0) return [];
  const plan = options.evaluation === 'stream' ? null : ruleToSql(sql, rule, options.now);
  if (plan) return (await selectMatchingAmong(sql, plan, ids)).map((r) => r.id);
  const sorted = [...ids].sort((a, b) => a - b);
  const out: number[] = [];
  for (let from = 0; from < sorted.length; from += STREAM_PAGE) {
    const page = sorted.slice(from, from + STREAM_PAGE);
    // buildContexts leaves out customers who no longer exist; erased ones are left out here.
    const contexts = await buildContexts(sql, page, options.now);
    for (const id of page) {
      const context = contexts.get(id);
      if (context && !context.erased && matches(rule, context)) out.push(id);
    }
  }
  return out;
}
