import type { Db } from '../db/sql.js';

export interface PartialRow {
  id: number;
  name: string;
  description: string | null;
  latest_version: number;
  mjml: string;
  created_at: Date;
  updated_at: Date;
}

export interface PartialUse {
  template_id: number;
  template_name: string;
  template_version: number;
  partial_version: number;
}

const WITH_LATEST = (sql: Db) => sql`
  select p.id, p.name, p.description, p.latest_version, v.mjml, p.created_at, p.updated_at
  from partials p join partial_versions v on v.partial_id = p.id and v.version = p.latest_version`;

// Creates a partial; a name in use is a unique violation (23505, a 409 through onError).
export async function insertPartial(sql: Db, name: string, description: string | null): Promise<number> {
  const [row] = await sql<{ id: number }[]>`
    insert into partials (name, description) values (${name}, ${description}) returning id`;
  return (row as { id: number }).id;
}

// Locks a partial for a save, so two saves never get the same version number.
export async function lockPartial(sql: Db, id: number) {
  const [row] = await sql<{ id: number; latest_version: number }[]>`
    select id, latest_version from partials where id = ${id} for update`;
  return row;
}

// Appends version n+1 of a partial and makes it the latest.
export async function insertPartialVersion(
  sql: Db,
  id: number,
  version: number,
  mjml: string,
): Promise<void> {
  await sql`insert into partial_versions (partial_id, version, mjml) values (${id}, ${version}, ${mjml})`;
  await sql`update partials set latest_version = ${version}, updated_at = now() where id = ${id}`;
}

// Changes a partial's description.
export async function updatePartialDescription(sql: Db, id: number, description: string | null) {
  await sql`update partials set description = ${description}, updated_at = now() where id = ${id}`;
}

// One partial with its latest version's MJML.
export async function selectPartial(sql: Db, id: number): Promise<PartialRow | undefined> {
  const [row] = await sql<PartialRow[]>`${WITH_LATEST(sql)} where p.id = ${id}`;
  return row;
}

// Every partial with its latest MJML, by name (the editor's blocks; a handful per install).
export function selectPartials(sql: Db) {
  return sql<PartialRow[]>`${WITH_LATEST(sql)} order by p.name limit 500`;
}

// The MJML of partials by name, at a given version or the latest (template saves expand them).
export async function selectPartialVersions(
  sql: Db,
  wanted: Array<{ name: string; version: number | null }>,
): Promise<Array<{ id: number; name: string; version: number; mjml: string; asked: number | null }>> {
  if (wanted.length === 0) return [];
  return sql`
    select p.id, p.name, v.version, v.mjml, w.version as asked
    from jsonb_to_recordset(${sql.json(wanted as never)}) as w(name text, version int)
    join partials p on p.name = w.name
    join partial_versions v on v.partial_id = p.id and v.version = coalesce(w.version, p.latest_version)`;
}

// Records the partial versions a template version was saved with.
export async function insertPins(
  sql: Db,
  templateId: number,
  version: number,
  pins: Array<{ partial_id: number; partial_version: number }>,
): Promise<void> {
  if (pins.length === 0) return;
  await sql`
    insert into template_version_partials ${sql(
      pins.map((p) => ({ template_id: templateId, version, ...p })),
    )} on conflict do nothing`;
}

// The templates whose latest version uses a partial, with the partial version each pinned.
export function selectPartialUses(sql: Db, partialId: number) {
  return sql<PartialUse[]>`
    select t.id as template_id, t.name as template_name, t.latest_version as template_version,
           u.partial_version
    from template_version_partials u
    join templates t on t.id = u.template_id and t.latest_version = u.version
    where u.partial_id = ${partialId}
    order by t.name`;
}

// The partial versions one template version pinned.
export function selectTemplatePins(sql: Db, templateId: number, version: number) {
  return sql<{ name: string; partial_id: number; partial_version: number }[]>`
    select p.name, u.partial_id, u.partial_version
    from template_version_partials u join partials p on p.id = u.partial_id
    where u.template_id = ${templateId} and u.version = ${version}
    order by p.name`;
}
