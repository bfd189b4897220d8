import type { Db } from '../db/sql.js';
import type { Definition } from './schema.js';

// The per-step report of a journey (all versions, or one): for each step id, how many entries
// reached it, how many wait there now, which way they went, the mail it sent and what came of
// it, how many ended there and how many reached the goal while there; totals beside.

export interface StepReport {
  type: string;
  entered: number;
  waiting: number;
  /** Step runs by outcome: then/else, path_<i>/holdout, on_event/on_timeout, queued/suppressed… */
  outcomes: Record<string, number>;
  sent: number;
  opened: number;
  clicked: number;
  exited: number;
  goal_reached: number;
  revenue: number;
}

export interface JourneyReport {
  journey_id: number;
  version: number | null;
  entered: number;
  active: number;
  completed: number;
  exited: number;
  goal_reached: number;
  /** Conversions: entries that reached the goal. */
  conversions: number;
  revenue: number;
  steps: Record<string, StepReport>;
}

/** The report, over the steps of every version counted (a step id keeps its meaning across versions). */
export async function journeyReport(
  sql: Db,
  journey: { id: number; definitions: Definition[] },
  version: { id: number; version: number } | null,
): Promise<JourneyReport> {
  const inVersion = (column: string) => (version ? sql`and ${sql(column)} = ${version.id}` : sql``);
  // Step runs by step and outcome.
  const runs = await sql<{ step: string; outcome: string | null; n: number }[]>`
    select step, outcome, count(*)::int as n from journey_step_runs
    where journey_id = ${journey.id} ${inVersion('version_id')} group by step, outcome`;
  // Entries by where they are (or ended) and how.
  const entries = await sql<{ step: string | null; status: string; n: number; revenue: number }[]>`
    select step, status, count(*)::int as n, coalesce(sum(goal_revenue), 0)::float8 as revenue
    from journey_entries where journey_id = ${journey.id} ${inVersion('version_id')} group by step, status`;
  // Mail by step: sent, and opened or clicked at least once (each message counted once).
  const mail = await sql<{ step: string; sent: number; opened: number; clicked: number }[]>`
    select m.journey_step as step,
      count(*) filter (where m.status = 'sent')::int as sent,
      count(*) filter (where exists (select 1 from contact_events e
        where e.message_id = m.id and e.customer_id = m.customer_id and e.kind = 'opened'))::int as opened,
      count(*) filter (where exists (select 1 from contact_events e
        where e.message_id = m.id and e.customer_id = m.customer_id and e.kind = 'clicked'))::int as clicked
    from messages m where m.journey_id = ${journey.id} ${inVersion('journey_version_id')}
    group by m.journey_step`;

  const steps: Record<string, StepReport> = {};
  const stepOf = (id: string) => {
    let s = steps[id];
    if (!s) {
      const type = journey.definitions.flatMap((d) => d.steps).find((x) => x.id === id)?.type ?? 'unknown';
      s = {
        type,
        entered: 0,
        waiting: 0,
        outcomes: {},
        sent: 0,
        opened: 0,
        clicked: 0,
        exited: 0,
        goal_reached: 0,
        revenue: 0,
      };
      steps[id] = s;
    }
    return s;
  };
  for (const d of journey.definitions) for (const step of d.steps) stepOf(step.id);
  for (const r of runs) {
    const s = stepOf(r.step);
    s.entered += r.n;
    const key = r.outcome ?? 'ran';
    s.outcomes[key] = (s.outcomes[key] ?? 0) + r.n;
  }
  const report: JourneyReport = {
    journey_id: journey.id,
    version: version?.version ?? null,
    entered: 0,
    active: 0,
    completed: 0,
    exited: 0,
    goal_reached: 0,
    conversions: 0,
    revenue: 0,
    steps,
  };
  for (const e of entries) {
    report.entered += e.n;
    if (e.status === 'active') report.active += e.n;
    if (e.status === 'completed') report.completed += e.n;
    if (e.status === 'exited') report.exited += e.n;
    if (e.status === 'goal') {
      report.goal_reached += e.n;
      report.revenue += e.revenue;
    }
    if (e.step === null) continue;
    const s = stepOf(e.step);
    // Entries at a step they have not run (a wait, or ended there early) reached it too; a
    // completed entry's exit step is counted by its run.
    if (e.status !== 'completed') s.entered += e.n;
    if (e.status === 'active') s.waiting += e.n;
    if (e.status === 'completed' || e.status === 'exited') s.exited += e.n;
    if (e.status === 'goal') {
      s.goal_reached += e.n;
      s.revenue += e.revenue;
    }
  }
  report.conversions = report.goal_reached;
  for (const m of mail) Object.assign(stepOf(m.step), { sent: m.sent, opened: m.opened, clicked: m.clicked });
  return report;
}
