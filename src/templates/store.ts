import type { Db } from '../db/sql.js';

export interface TemplateRow {
  id: number;
  name: string;
  latest_version: number;
  created_at: Date;
  updated_at: Date;
}

export interface VersionRow {
  template_id: number;
  version: number;
  subject: string;
  preheader: string | null;
  mjml: string;
  html: string;
  text_template: string | null;
  compiled_at: Date;
  created_at: Date;
}

/** A template with the content of its latest version. */
export type TemplateWithLatest = TemplateRow & Pick<VersionRow, 'subject' | 'preheader' | 'mjml'>;

// Creates a template row; on a name that exists, returns nothing (installDefaultTemplates relies on it).
export async function insertTemplate(
  sql: Db,
  name: string,
  ifAbsent = false,
): Promise<TemplateRow | undefined> {
  const rows = ifAbsent
    ? await sql<
        TemplateRow[]
      >`insert into templates (name) values (${name}) on conflict (name) do nothing returning *`
    : await sql<TemplateRow[]>`insert into templates (name) values (${name}) returning *`;
  return rows[0];
}

// Locks a template row for a save, so two saves never get the same version number.
export async function lockTemplate(sql: Db, id: number): Promise<TemplateRow | undefined> {
  const [row] = await sql<TemplateRow[]>`select * from templates where id = ${id} for update`;
  return row;
}

// Appends version n+1 and moves the template's latest_version to it.
export async function insertVersion(
  sql: Db,
  templateId: number,
  version: number,
  content: Pick<VersionRow, 'subject' | 'preheader' | 'mjml' | 'html' | 'text_template'>,
): Promise<VersionRow> {
  const [row] = await sql<VersionRow[]>`
    insert into template_versions (template_id, version, subject, preheader, mjml, html, text_template)
    values (${templateId}, ${version}, ${content.subject}, ${content.preheader}, ${content.mjml},
            ${content.html}, ${content.text_template})
    returning *`;
  await sql`update templates set latest_version = ${version}, updated_at = now() where id = ${templateId}`;
  return row as VersionRow;
}

// Renames a template.
export async function renameTemplate(sql: Db, id: number, name: string): Promise<void> {
  await sql`update templates set name = ${name}, updated_at = now() where id = ${id}`;
}

// One template with its latest version's content.
export async function selectTemplate(sql: Db, id: number): Promise<TemplateWithLatest | undefined> {
  const [row] = await sql<TemplateWithLatest[]>`
    select t.*, v.subject, v.preheader, v.mjml
    from templates t join template_versions v on v.template_id = t.id and v.version = t.latest_version
    where t.id = ${id}`;
  return row;
}

// A page of templates in id order (keyset), without their bodies.
export async function selectTemplatePage(
  sql: Db,
  afterId: number,
  limit: number,
): Promise<Array<TemplateRow & Pick<VersionRow, 'subject' | 'preheader'>>> {
  return sql`
    select t.*, v.subject, v.preheader
    from templates t join template_versions v on v.template_id = t.id and v.version = t.latest_version
    where t.id > ${afterId}
    order by t.id
    limit ${limit}`;
}

// One version, or the latest when version is undefined.
export async function selectVersion(
  sql: Db,
  templateId: number,
  version?: number,
): Promise<VersionRow | undefined> {
  const [row] =
    version === undefined
      ? await sql<VersionRow[]>`
          select v.* from templates t
          join template_versions v on v.template_id = t.id and v.version = t.latest_version
          where t.id = ${templateId}`
      : await sql<VersionRow[]>`
          select * from template_versions where template_id = ${templateId} and version = ${version}`;
  return row;
}

// The latest version number of a template (the cache holds versions, not templates).
export async function selectLatestVersionNumber(sql: Db, templateId: number): Promise<number | undefined> {
  const [row] = await sql<{ latest_version: number }[]>`
    select latest_version from templates where id = ${templateId} and latest_version > 0`;
  return row?.latest_version;
}

// Names of templates that exist among those given.
export async function selectExistingNames(sql: Db, names: string[]): Promise<Set<string>> {
  const rows = await sql<{ name: string }[]>`select name from templates where name = any(${names})`;
  return new Set(rows.map((r) => r.name));
}

// A customer as templates see it: the profile without erasure bookkeeping; null when erased.
export async function selectTemplateCustomers(sql: Db, ids: number[]): Promise<Record<string, unknown>[]> {
  return sql`
    select id, external_id, email, first_name, last_name, locale, timezone,
           to_char(birth_date, 'YYYY-MM-DD') as birth_date, address, family, occupation, income_band,
           education, preferences, preferred_categories, hobbies, social_handles, attributes,
           created_at
    from customers
    where id = any(${ids}) and erased_at is null`;
}

// Attribute keys that are special categories of personal data: never shown to a template.
export async function selectSensitiveAttributeKeys(sql: Db): Promise<string[]> {
  const rows = await sql<{ key: string }[]>`select key from attributes where sensitive`;
  return rows.map((r) => r.key);
}

// A few live offers to show in a preview when no decision engine is at hand.
export async function selectSampleOffers(
  sql: Db,
  limit: number,
  now: Date,
): Promise<Record<string, unknown>[]> {
  return sql`
    select id as offer_id, title, text, image_url, url, code
    from offers
    where deleted_at is null
      and (valid_from is null or valid_from <= ${now})
      and (valid_to is null or valid_to > ${now})
    order by priority desc, id
    limit ${limit}`;
}
