import type { Db } from '../db/sql.js';
import { notFound } from '../http/problem.js';
import { compileTemplateSource, type TemplateSource } from './compile.js';
import { insertPins } from './partial-store.js';
import { expandPartials } from './partials.js';
import { checkVersionRenders } from './render.js';
import {
  insertTemplate,
  insertVersion,
  lockTemplate,
  renameTemplate,
  selectTemplate,
  selectTemplatePage,
  selectVersion,
  type TemplateRow,
  type TemplateWithLatest,
  type VersionRow,
} from './store.js';

export interface TemplateInput extends TemplateSource {
  name: string;
}

export type TemplatePatch = Partial<TemplateInput>;

/** The API shape of a template: its latest version's content inline. */
export function templateView(row: TemplateWithLatest) {
  return {
    id: row.id,
    name: row.name,
    version: row.latest_version,
    subject: row.subject,
    preheader: row.preheader,
    mjml: row.mjml,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function versionView(row: VersionRow) {
  return {
    template_id: row.template_id,
    version: row.version,
    subject: row.subject,
    preheader: row.preheader,
    mjml: row.mjml,
    html: row.html,
    text_template: row.text_template,
    compiled_at: row.compiled_at.toISOString(),
    created_at: row.created_at.toISOString(),
  };
}

/**
 * Creates a template and its version 1 (call it in a transaction). The MJML is validated and
 * compiled before anything is written; a name in use is a 409.
 */
export async function createTemplate(tx: Db, raw: TemplateInput): Promise<TemplateWithLatest> {
  const expanded = await expandPartials(tx, raw.mjml);
  const input = { ...raw, mjml: expanded.mjml };
  const compiled = await compileTemplateSource(input);
  checkVersionRenders({ ...input, preheader: input.preheader ?? null, ...compiled });
  const template = (await insertTemplate(tx, input.name)) as TemplateRow;
  await insertVersion(tx, template.id, 1, { ...input, preheader: input.preheader ?? null, ...compiled });
  await insertPins(tx, template.id, 1, expanded.pins);
  return (await selectTemplate(tx, template.id)) as TemplateWithLatest;
}

/**
 * Renames and/or saves a new version (call it in a transaction): any of subject, preheader, mjml
 * makes version n+1 from the latest one with those fields replaced. Versions never change.
 */
export async function updateTemplate(tx: Db, id: number, patch: TemplatePatch): Promise<TemplateWithLatest> {
  const template = await lockTemplate(tx, id);
  if (!template) throw notFound(`template ${id}`);
  if (patch.name !== undefined && patch.name !== template.name) await renameTemplate(tx, id, patch.name);
  if (patch.subject !== undefined || patch.preheader !== undefined || patch.mjml !== undefined) {
    const latest = (await selectVersion(tx, id, template.latest_version)) as VersionRow;
    // The partials placed keep the versions written in their css-class (latest where none is).
    const expanded = await expandPartials(tx, patch.mjml ?? latest.mjml);
    const source: TemplateSource = {
      subject: patch.subject ?? latest.subject,
      preheader: patch.preheader !== undefined ? patch.preheader : latest.preheader,
      mjml: expanded.mjml,
    };
    // Compiled under the row lock: the save holding it decides the version number.
    const compiled = await compileTemplateSource(source);
    checkVersionRenders({ ...source, ...compiled });
    await insertVersion(tx, id, template.latest_version + 1, { ...source, ...compiled });
    await insertPins(tx, id, template.latest_version + 1, expanded.pins);
  }
  return (await selectTemplate(tx, id)) as TemplateWithLatest;
}

export async function getTemplate(sql: Db, id: number): Promise<TemplateWithLatest> {
  const row = await selectTemplate(sql, id);
  if (!row) throw notFound(`template ${id}`);
  return row;
}

export async function getVersion(sql: Db, id: number, version: number): Promise<VersionRow> {
  const row = await selectVersion(sql, id, version);
  if (!row) throw notFound(`version ${version} of template ${id}`);
  return row;
}

export async function listTemplates(sql: Db, afterId: number, limit: number) {
  return selectTemplatePage(sql, afterId, limit + 1);
}
