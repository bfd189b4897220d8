import type { Db } from '../db/sql.js';
import type { Definition } from './schema.js';

// The journeys' SQL: journeys and their versions. Entries and step runs are in entry-store.ts.

export type JourneyStatus = 'draft' | 'active' | 'paused' | 'archived';

export interface JourneyRow {
  id: number;
  name: string;
  status: JourneyStatus;
  version_id: number;
  version: number;
  definition: Definition;
  activated_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface VersionWrite {
  definition: Definition;
  listens: string[];
  step_subjects: { name: string; subject: string }[];
  step_senders: Record<string, number>;
  activated: boolean;
}

const journeyColumns = (sql: Db) => sql`
  j.id, j.name, j.status, j.version_id, v.version, v.definition, v.activated_at, j.created_at, j.updated_at`;

/** Creates a journey with its first version (a draft). */
export async function insertJourney(sql: Db, name: string, write: VersionWrite): Promise<JourneyRow> {
  const [journey] = await sql<{ id: number }[]>`insert into journeys (name) values (${name}) returning id`;
  await insertVersion(sql, journey!.id, write);
  return (await findJourney(sql, journey!.id))!;
}

/** Adds the next version of a journey and makes it the one new entries take. */
export async function insertVersion(sql: Db, journeyId: number, write: VersionWrite): Promise<number> {
  const [row] = await sql<{ id: number }[]>`
    insert into journey_versions (journey_id, version, definition, listens, step_subjects, step_senders, activated_at)
    values (${journeyId},
      (select coalesce(max(version), 0) + 1 from journey_versions where journey_id = ${journeyId}),
      ${sql.json(write.definition as never)}, ${write.listens}, ${sql.json(write.step_subjects as never)},
      ${sql.json(write.step_senders as never)}, ${write.activated ? sql`now()` : null})
    returning id`;
  await sql`update journeys set version_id = ${row!.id}, updated_at = now() where id = ${journeyId}`;
  return row!.id;
}

/** Rewrites a version never activated (a draft's edits do not make versions). */
export async function updateVersion(sql: Db, versionId: number, write: VersionWrite): Promise<void> {
  await sql`
    update journey_versions set definition = ${sql.json(write.definition as never)}, listens = ${write.listens},
      step_subjects = ${sql.json(write.step_subjects as never)}, step_senders = ${sql.json(write.step_senders as never)},
      activated_at = ${write.activated ? sql`now()` : null}
    where id = ${versionId}`;
}

/** A journey with its current version; `lock` holds the row for the transaction. */
export async function findJourney(sql: Db, id: number, lock = false): Promise<JourneyRow | undefined> {
  const [row] = await sql<JourneyRow[]>`
    select ${journeyColumns(sql)} from journeys j join journey_versions v on v.id = j.version_id
    where j.id = ${id} and j.deleted_at is null ${lock ? sql`for update of j` : sql``}`;
  return row;
}

/** A page of journeys, newest first. */
export async function listJourneys(
  sql: Db,
  input: { limit: number; beforeId?: number; status?: JourneyStatus | undefined },
): Promise<JourneyRow[]> {
  return sql<JourneyRow[]>`
    select ${journeyColumns(sql)} from journeys j join journey_versions v on v.id = j.version_id
    where j.deleted_at is null
      ${input.beforeId ? sql`and j.id < ${input.beforeId}` : sql``}
      ${input.status ? sql`and j.status = ${input.status}` : sql``}
    order by j.id desc limit ${input.limit + 1}`;
}

/** Renames a journey. */
export async function renameJourney(sql: Db, id: number, name: string): Promise<void> {
  await sql`update journeys set name = ${name}, updated_at = now() where id = ${id}`;
}

/** Sets a journey's status. */
export async function setJourneyStatus(sql: Db, id: number, status: JourneyStatus): Promise<void> {
  await sql`update journeys set status = ${status}, updated_at = now() where id = ${id}`;
}

/** Soft-deletes a journey (its history stays). */
export async function markJourneyDeleted(sql: Db, id: number): Promise<boolean> {
  const rows = await sql`
    update journeys set deleted_at = now(), status = 'archived', updated_at = now()
    where id = ${id} and deleted_at is null returning id`;
  return rows.length > 0;
}

/** A version's definition, its journey and the journey's status (what a due step needs). */
export interface VersionFacts {
  version_id: number;
  version: number;
  journey_id: number;
  journey_name: string;
  status: JourneyStatus;
  definition: Definition;
  /** The version new entries take. */
  current: boolean;
}

/** The versions still in play (their journey active or paused) that listen to any of `keys`. */
export async function versionsListening(sql: Db, keys: readonly string[]): Promise<VersionFacts[]> {
  if (keys.length === 0) return [];
  return sql<VersionFacts[]>`
    select v.id as version_id, v.version, j.id as journey_id, j.name as journey_name, j.status, v.definition,
      j.version_id = v.id as current
    from journey_versions v join journeys j on j.id = v.journey_id
    where j.status in ('active', 'paused') and j.deleted_at is null and v.activated_at is not null
      and v.listens && ${keys as string[]}::text[]`;
}

/** Versions by id, with their journey's status. */
export async function versionsByIds(sql: Db, ids: readonly number[]): Promise<Map<number, VersionFacts>> {
  if (ids.length === 0) return new Map();
  const rows = await sql<VersionFacts[]>`
    select v.id as version_id, v.version, j.id as journey_id, j.name as journey_name, j.status, v.definition,
      j.version_id = v.id as current
    from journey_versions v join journeys j on j.id = v.journey_id
    where v.id = any(${ids as number[]}::bigint[])`;
  return new Map(rows.map((r) => [r.version_id, r]));
}

/** Whether any journey still in play listens to this key (`purchase`, `event:<name>`). */
export async function anyJourneyListens(sql: Db, key: string): Promise<boolean> {
  const [row] = await sql<{ found: boolean }[]>`
    select exists (
      select 1 from journey_versions v join journeys j on j.id = v.journey_id
      where j.status in ('active', 'paused') and j.deleted_at is null and ${key} = any(v.listens)) as found`;
  return row?.found ?? false;
}

/** Every version of a journey, oldest first. */
export async function journeyVersions(
  sql: Db,
  journeyId: number,
): Promise<{ id: number; version: number; definition: Definition }[]> {
  return sql<{ id: number; version: number; definition: Definition }[]>`
    select id, version, definition from journey_versions where journey_id = ${journeyId} order by version`;
}

/** The current versions of active journeys entered by a date attribute (what the date scan runs). */
export async function versionsEnteredByDate(sql: Db): Promise<VersionFacts[]> {
  return sql<VersionFacts[]>`
    select v.id as version_id, v.version, j.id as journey_id, j.name as journey_name, j.status, v.definition,
      true as current
    from journeys j join journey_versions v on v.id = j.version_id
    where j.status = 'active' and j.deleted_at is null and v.activated_at is not null
      and v.definition -> 'entry' ? 'date_attribute'
    order by j.id`;
}
