import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Sql } from '../db/sql.js';
import { compileTemplateSource } from './compile.js';
import { insertTemplate, insertVersion, selectExistingNames } from './store.js';

/**
 * The default templates folder: `templates/<file>.mjml` with `templates/<file>.json` beside it.
 * Resolved on use, not at import: the Workers bundle imports this module and has no file URL.
 */
export const defaultTemplatesDir = (): string => fileURLToPath(new URL('../../templates/', import.meta.url));

export interface DefaultTemplate {
  /** The file name without extension, e.g. `welcome`. */
  file: string;
  name: string;
  subject: string;
  preheader: string | null;
  mjml: string;
}

/** Reads the shipped templates (front matter in the JSON beside each MJML file). */
export async function readDefaultTemplates(dir = defaultTemplatesDir()): Promise<DefaultTemplate[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.mjml')).sort();
  return Promise.all(
    files.map(async (f) => {
      const file = f.slice(0, -'.mjml'.length);
      const [mjml, meta] = await Promise.all([
        readFile(`${dir}/${f}`, 'utf8'),
        readFile(`${dir}/${file}.json`, 'utf8').then((s) => JSON.parse(s) as Partial<DefaultTemplate>),
      ]);
      if (!meta.name || !meta.subject) throw new Error(`templates/${file}.json needs a name and a subject`);
      return { file, name: meta.name, subject: meta.subject, preheader: meta.preheader ?? null, mjml };
    }),
  );
}

/**
 * Creates the default templates that do not exist yet (by name), each as version 1; existing
 * ones, edited or not, are left alone. Safe to run concurrently. Returns the names created.
 */
export async function installDefaultTemplates(sql: Sql): Promise<string[]> {
  const defaults = await readDefaultTemplates();
  const existing = await selectExistingNames(
    sql,
    defaults.map((d) => d.name),
  );
  const created: string[] = [];
  for (const d of defaults) {
    if (existing.has(d.name)) continue;
    const compiled = await compileTemplateSource(d);
    const made = await sql.begin(async (tx) => {
      const template = await insertTemplate(tx, d.name, true);
      if (!template) return false;
      await insertVersion(tx, template.id, 1, {
        subject: d.subject,
        preheader: d.preheader,
        mjml: d.mjml,
        ...compiled,
      });
      return true;
    });
    if (made) created.push(d.name);
  }
  return created;
}
