import { checkAttributes, loadAttributeRegistry } from '../customers/attributes.js';
import type { Db, Sql } from '../db/sql.js';
import { conflict, type FieldError, invalid, notFound } from '../http/problem.js';
import { assertSensitiveUseDeclared } from '../privacy/guard.js';
import { selectSegment } from '../segments/store.js';
import { senderExists } from '../senders/store.js';
import { templateLatest, templateVersionExists } from '../triggers/store.js';
import { selectEndpoint } from '../webhooks/store.js';
import { endEntriesOfJourney } from './entry-store.js';
import { listenKey } from './events.js';
import type { Definition, JourneyCreate, JourneyPatch } from './schema.js';
import {
  findJourney,
  insertJourney,
  insertVersion,
  type JourneyRow,
  markJourneyDeleted,
  renameJourney,
  setJourneyStatus,
  updateVersion,
  type VersionWrite,
} from './store.js';
import { assertValidDefinition } from './validate.js';

/** The API shape of a journey: its current version's definition. */
export function journeyView(row: JourneyRow) {
  const d = row.definition;
  return {
    id: row.id,
    name: row.name,
    status: row.status,
    version: row.version,
    entry: d.entry,
    re_entry: d.re_entry ?? 'never',
    goal: d.goal ?? null,
    start: d.start,
    steps: d.steps,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

const definitionOf = (input: Partial<Definition>, base?: Definition): Definition => ({
  entry: input.entry ?? base!.entry,
  re_entry: input.re_entry ?? base?.re_entry ?? 'never',
  goal: input.goal === undefined ? (base?.goal ?? null) : input.goal,
  start: input.start ?? base!.start,
  steps: input.steps ?? base!.steps,
});

/** What a version listens to: its entry event, the events its waits wait for, its goal. */
function listensOf(d: Definition): string[] {
  const keys = new Set<string>();
  if ('event' in d.entry) keys.add(listenKey(d.entry.event));
  if ('purchase' in d.entry) keys.add('purchase');
  if (d.goal && 'event' in d.goal) keys.add(listenKey(d.goal.event));
  if (d.goal && 'purchase' in d.goal) keys.add('purchase');
  for (const step of d.steps) if (step.type === 'wait_for_event') keys.add(listenKey(step.event));
  return [...keys];
}

/**
 * Checks what the definition refers to (templates, senders, webhook endpoints, segment, declared
 * attributes, sensitive data in rules) and, when `activate`, pins each send_email step's template
 * version to the latest. 422 naming the step's field on any problem.
 */
async function prepareVersion(tx: Db, d: Definition, activate: boolean): Promise<VersionWrite> {
  assertValidDefinition(d);
  const errors: FieldError[] = [];
  const registry =
    d.steps.some((s) => s.type === 'update_attribute') || 'date_attribute' in d.entry
      ? await loadAttributeRegistry(tx)
      : null;
  const steps = [];
  for (const [i, step] of d.steps.entries()) {
    const at = (field: string, message: string) =>
      errors.push({ path: `steps.${i}.${field}`, in: 'body', message: `step "${step.id}": ${message}` });
    if (step.type === 'send_email') {
      const latest = await templateLatest(tx, step.template_id);
      if (latest === undefined) at('template_id', 'no such template');
      else if (step.template_version !== undefined) {
        if (!(await templateVersionExists(tx, step.template_id, step.template_version)))
          at('template_version', 'no such version of the template');
      } else if (latest < 1) at('template_id', 'the template has no version yet');
      if (step.sender !== undefined && step.sender !== null && !(await senderExists(tx, step.sender)))
        at('sender', `no sender ${step.sender}`);
      // Pinned at activation: customers inside keep the version they were promised.
      steps.push(
        activate && step.template_version === undefined && latest
          ? { ...step, template_version: latest }
          : step,
      );
      continue;
    }
    if (step.type === 'webhook' && !(await selectEndpoint(tx, step.endpoint_id)))
      at('endpoint_id', `no webhook endpoint ${step.endpoint_id}`);
    if (step.type === 'update_attribute' && registry) {
      for (const e of checkAttributes(registry, { [step.key]: step.value }, 'x'))
        at(e.message.startsWith('unknown') ? 'key' : 'value', e.message);
    }
    steps.push(step);
  }
  if ('date_attribute' in d.entry && registry) {
    const declared = registry.get(d.entry.date_attribute);
    if (declared?.type !== 'date')
      errors.push({
        path: 'entry.date_attribute',
        in: 'body',
        message: declared
          ? `the attribute "${d.entry.date_attribute}" is a ${declared.type}, not a date`
          : `no attribute "${d.entry.date_attribute}" is declared (POST /v1/attributes)`,
      });
  }
  if ('segment_id' in d.entry && !(await selectSegment(tx, d.entry.segment_id)))
    errors.push({ path: 'entry.segment_id', in: 'body', message: `no segment ${d.entry.segment_id}` });
  if (errors.length > 0) throw invalid(errors);
  await assertSensitiveUseDeclared(tx, [
    ...('event' in d.entry ? [{ rule: d.entry.filter, field: 'entry.filter' }] : []),
    ...('purchase' in d.entry ? [{ rule: d.entry.purchase.filter, field: 'entry.purchase.filter' }] : []),
    ...d.steps.flatMap((s, i) =>
      s.type === 'branch'
        ? [{ rule: s.rule, field: `steps.${i}.rule` }]
        : s.type === 'wait_for_event'
          ? [{ rule: s.filter, field: `steps.${i}.filter` }]
          : [],
    ),
  ]);
  const definition = { ...d, steps } as Definition;
  const sends = definition.steps.filter((s) => s.type === 'send_email');
  return {
    definition,
    listens: listensOf(definition),
    step_subjects: sends.flatMap((s) => (s.subject ? [{ name: s.id, subject: s.subject }] : [])),
    step_senders: Object.fromEntries(sends.flatMap((s) => (s.sender ? [[s.id, s.sender]] : []))),
    activated: activate,
  };
}

/** Creates a journey (a draft: nobody enters until it is activated). */
export async function createJourney(sql: Sql, input: JourneyCreate): Promise<JourneyRow> {
  return sql.begin(async (tx) => {
    const write = await prepareVersion(tx, definitionOf(input), false);
    return insertJourney(tx, input.name, write);
  });
}

/**
 * Edits a journey. A draft's version is rewritten; once activated, an edit of the definition
 * adds a version (pinned at once) that new entries take, and customers inside finish on theirs.
 */
export async function updateJourney(sql: Sql, id: number, patch: JourneyPatch): Promise<JourneyRow> {
  return sql.begin(async (tx) => {
    const row = await findJourney(tx, id, true);
    if (!row) throw notFound(`Journey ${id}`);
    if (row.status === 'archived') throw conflict(`Journey ${id} is archived`, 'journey-archived');
    if (patch.name !== undefined) await renameJourney(tx, id, patch.name);
    const { name: _name, ...definitionPatch } = patch;
    if (Object.keys(definitionPatch).length > 0) {
      const live = row.activated_at !== null;
      const write = await prepareVersion(tx, definitionOf(definitionPatch, row.definition), live);
      if (live) await insertVersion(tx, id, write);
      else await updateVersion(tx, row.version_id, write);
    }
    return (await findJourney(tx, id))!;
  });
}

type Action = 'activate' | 'pause' | 'resume' | 'archive';

const ALLOWED: Record<Action, JourneyRow['status'][]> = {
  activate: ['draft'],
  pause: ['active'],
  resume: ['paused'],
  archive: ['draft', 'active', 'paused'],
};
const TARGET: Record<Action, JourneyRow['status']> = {
  activate: 'active',
  pause: 'paused',
  resume: 'active',
  archive: 'archived',
};

/**
 * Moves a journey along its lifecycle (409 from a status that does not allow it). Activation
 * pins the templates of the current version; archiving ends everyone's entry. Returns the row
 * and what the caller must hand to the queue afterwards (a segment entry, resumed entries).
 */
export async function transitionJourney(sql: Sql, id: number, action: Action): Promise<JourneyRow> {
  return sql.begin(async (tx) => {
    const row = await findJourney(tx, id, true);
    if (!row) throw notFound(`Journey ${id}`);
    if (!ALLOWED[action].includes(row.status))
      throw conflict(`Journey ${id} is ${row.status}: it cannot ${action}`, 'journey-status');
    if (action === 'activate') {
      await updateVersion(tx, row.version_id, await prepareVersion(tx, row.definition, true));
    }
    await setJourneyStatus(tx, id, TARGET[action]);
    if (action === 'archive') await endEntriesOfJourney(tx, id, 'archived');
    return (await findJourney(tx, id))!;
  });
}

/** Deletes a journey (soft: its history and report stay) and ends everyone's entry. */
export async function deleteJourney(sql: Sql, id: number): Promise<void> {
  await sql.begin(async (tx) => {
    if (!(await markJourneyDeleted(tx, id))) throw notFound(`Journey ${id}`);
    await endEntriesOfJourney(tx, id, 'deleted');
  });
}
