import { currentControlGroup } from '../holdouts/assign.js';
import { notFound } from '../http/problem.js';
import { decideRecipients } from '../messages/recipients.js';
import { learningFor } from '../offers/learning.js';
import { compileRule } from '../rules/compile.js';
import { buildContext } from '../rules/context.js';
import { branchOutcome, splitOutcome } from './decide.js';
import { pastEntries } from './entry-store.js';
import { listenKey, mayEnter } from './events.js';
import { stepMap } from './graph.js';
import type { JourneyDeps } from './runner.js';
import type { Step } from './schema.js';
import type { JourneyRow } from './store.js';
import { waitEndsAt } from './wait.js';

// The dry run: the path one customer would take through the current version now, and why at
// each step, computed with the runner's own decisions; nothing is written.

export interface PreviewStep {
  step: string;
  type: string;
  outcome: string;
  why: string;
  /** When a wait would end (were they to arrive now). */
  until?: string;
}

export interface JourneyPreview {
  would_enter: boolean;
  /** Why not, in the order checked: `not_active`, `entry_filter`, `inside`, `re_entry`. */
  reasons: string[];
  path: PreviewStep[];
  /** How the walk ends: `exit`, or `loop` when it comes back to a step already walked. */
  ends: 'exit' | 'loop';
}

/** What the journey would do for a customer (and an entering event) now, without writing anything. */
export async function previewJourney(
  deps: Pick<JourneyDeps, 'sql' | 'clock' | 'config'>,
  journey: JourneyRow,
  input: { customer_id: number; event?: Record<string, unknown> | undefined },
): Promise<JourneyPreview> {
  const now = deps.clock();
  const customer = await buildContext(deps.sql, input.customer_id, now);
  if (!customer) throw notFound(`Customer ${input.customer_id}`);
  const d = journey.definition;
  const event = input.event ?? null;
  const reasons: string[] = [];
  if (journey.status !== 'active') reasons.push('not_active');
  const entryFilter =
    'event' in d.entry ? d.entry.filter : 'purchase' in d.entry ? d.entry.purchase.filter : undefined;
  if (entryFilter !== undefined && entryFilter !== null) {
    let passed = false;
    try {
      passed = Boolean(compileRule(entryFilter)({ event, customer }));
    } catch {
      passed = false;
    }
    if (!passed) reasons.push('entry_filter');
  }
  const past = (await pastEntries(deps.sql, [journey.id], [input.customer_id])).get(
    `${journey.id}:${input.customer_id}`,
  );
  if (past?.live) reasons.push('inside');
  else if (!mayEnter(d.re_entry, past, now)) reasons.push('re_entry');

  const steps = stepMap(d);
  const path: PreviewStep[] = [];
  const walked = new Set<string>();
  let at = now;
  let current: string | null = d.start;
  const controlGroup = await currentControlGroup(deps.sql, now);
  while (current !== null) {
    if (walked.has(current)) return { would_enter: reasons.length === 0, reasons, path, ends: 'loop' };
    walked.add(current);
    const step: Step = steps.get(current)!;
    switch (step.type) {
      case 'wait': {
        at = waitEndsAt(at, step, customer.timezone);
        path.push({
          step: step.id,
          type: step.type,
          outcome: 'waited',
          why: 'waits',
          until: at.toISOString(),
        });
        current = step.next;
        break;
      }
      case 'wait_for_event': {
        at = new Date(at.getTime() + step.timeout_seconds * 1000);
        path.push({
          step: step.id,
          type: step.type,
          outcome: 'on_timeout',
          why: `waits up to ${step.timeout_seconds} s for ${listenKey(step.event)}; without it, on_timeout`,
          until: at.toISOString(),
        });
        current = step.on_timeout;
        break;
      }
      case 'branch': {
        const b = branchOutcome(step, { customer, event });
        path.push({
          step: step.id,
          type: step.type,
          outcome: b.outcome,
          why: b.error ? `the rule failed (${b.error}): else` : `the rule is ${b.outcome === 'then'}`,
        });
        current = b.next;
        break;
      }
      case 'split': {
        const s = splitOutcome(step, journey.id, input.customer_id);
        path.push({
          step: step.id,
          type: step.type,
          outcome: s.outcome,
          why: 'a stable hash of the customer',
        });
        current = s.next;
        break;
      }
      case 'send_email': {
        // Ranked as the step would rank (a dry run has no entry: its draws seeded apart).
        const learning = await learningFor(deps.sql, step.ranker, {
          offersPerEmail: step.offers_per_email ?? 0,
          seedKey: `journey:${journey.id}:preview:${step.id}`,
        });
        const [decided] = await decideRecipients(
          { sql: deps.sql, config: deps.config },
          [{ customer_id: input.customer_id }],
          {
            now,
            placements: () => step.offers_per_email ?? 0,
            missingReason: 'erased',
            holdout: {
              controlGroup,
              promotional: () => true,
              own: () => ({ key: `journey:${journey.id}`, percent: 0 }),
            },
            ...(learning ? { learning } : {}),
          },
        );
        const status = decided?.status ?? 'suppressed';
        path.push({
          step: step.id,
          type: step.type,
          outcome: status,
          why:
            status === 'queued'
              ? `template ${step.template_id}${decided?.offer_ids.length ? `, offers ${decided.offer_ids.join(', ')}` : ''}`
              : (decided?.suppressed_reason ?? 'erased'),
        });
        current = step.next;
        break;
      }
      case 'update_attribute':
        path.push({ step: step.id, type: step.type, outcome: 'updated', why: `sets ${step.key}` });
        current = step.next;
        break;
      case 'webhook':
        path.push({
          step: step.id,
          type: step.type,
          outcome: 'delivered',
          why: `endpoint ${step.endpoint_id}`,
        });
        current = step.next;
        break;
      case 'exit':
        path.push({ step: step.id, type: step.type, outcome: 'exit', why: 'the end' });
        current = null;
        break;
    }
  }
  return { would_enter: reasons.length === 0, reasons, path, ends: 'exit' };
}
