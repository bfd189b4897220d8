import { LRUCache } from 'lru-cache';
import type { Db } from '../db/sql.js';
import { invalid, notFound } from '../http/problem.js';
import { DEFAULT_LIMITS, endBudget, type RenderLimits, startBudget, withBudget } from './budget.js';
import { htmlToText } from './compile.js';
import { boundData, type RenderData } from './data.js';
import {
  COMPILE_OPTIONS,
  OFFERS_PARTIALS,
  RUNTIME_OPTIONS,
  renderEnvironment,
  renderedParts,
  resetParts,
  textEnv,
} from './environment.js';
import { languageOf, resolveLocale } from './locale.js';
import { checkHandlebars } from './policy.js';
import { buildProgram, helpersUsed, parseVersion } from './program.js';
import { selectLatestVersionNumber, selectVersion, type VersionRow } from './store.js';

export type { RenderLimits } from './budget.js';
export { RenderLimitError } from './budget.js';
export type { RenderData, RenderOffer } from './data.js';
export { installDefaultTemplates } from './defaults.js';

type Compiled = HandlebarsTemplateDelegate<Record<string, unknown>>;

/** One template version, compiled: per recipient only Handlebars runs, one call per email. */
export interface CompiledVersion {
  template_id: number;
  version: number;
  /** The render program for a language (see program.ts), compiled on first use. */
  forLanguage(language: string): Compiled;
  /** True when the text part is made from each rendered HTML (see compile.ts). */
  textFromHtml: boolean;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

/** Past this many languages a version stops specializing (each program is a few hundred kB). */
const MAX_LANGUAGES = 32;

/** Compiles a stored version (its MJML was compiled to HTML at save). */
export function compileVersion(
  row: Pick<VersionRow, 'template_id' | 'version' | 'subject' | 'preheader' | 'html' | 'text_template'>,
): CompiledVersion {
  const parsed = parseVersion(row);
  const programs = new Map<string, Compiled>();
  const forLanguage = (language: string): Compiled => {
    let compiled = programs.get(language);
    if (!compiled) {
      const program = buildProgram(parsed, OFFERS_PARTIALS, language);
      compiled = renderEnvironment(helpersUsed(program)).compile(program, COMPILE_OPTIONS);
      if (programs.size < MAX_LANGUAGES) programs.set(language, compiled);
    }
    return compiled;
  };
  const compiled: CompiledVersion = {
    template_id: row.template_id,
    version: row.version,
    forLanguage,
    textFromHtml: row.text_template === null,
  };
  // Handlebars compiles lazily on first call: do it now for the default language, so that a
  // broken version fails here and not in the middle of a send.
  renderForCustomer(compiled, {});
  return compiled;
}

/** Versions are immutable, so a compiled version never goes stale: only memory bounds the cache. */
const cache = new LRUCache<string, CompiledVersion>({ max: 500 });

/**
 * The compiled version of a template (the latest when `version` is omitted), from an in-process
 * LRU cache keyed by template id and version. Throws 404 when there is no such version.
 */
export async function loadTemplateVersion(
  sql: Db,
  templateId: number,
  version?: number,
): Promise<CompiledVersion> {
  const n = version ?? (await selectLatestVersionNumber(sql, templateId));
  if (n === undefined) throw notFound(`template ${templateId}`);
  const key = `${templateId}:${n}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const row = await selectVersion(sql, templateId, n);
  if (!row) throw notFound(`version ${n} of template ${templateId}`);
  const compiled = compileVersion(row);
  cache.set(key, compiled);
  return compiled;
}

/**
 * Renders one email for one recipient: subject, HTML and plain text. Only Handlebars runs, on a
 * bounded copy of the data, with HTML escaping on and prototype access off; missing fields render
 * empty. Throws RenderLimitError (a 422) when the template exceeds its budget.
 */
export function renderForCustomer(
  version: CompiledVersion,
  data: RenderData,
  limits: RenderLimits = DEFAULT_LIMITS,
): RenderedEmail {
  const context = boundData(data);
  const customer = context.customer as Record<string, unknown> | undefined;
  const render = version.forLanguage(languageOf(resolveLocale(customer?.locale ?? context.locale)));
  const previous = startBudget(limits);
  try {
    resetParts();
    const html = render(context, RUNTIME_OPTIONS);
    const parts = renderedParts();
    const text = version.textFromHtml ? htmlToText(html) : tidyText(parts.text);
    return { subject: oneLine(parts.subject), html, text };
  } finally {
    endBudget(previous);
  }
}

/**
 * A subject line on its own (an A/B variant's, say), checked like a template's subject (a 422
 * naming `path` when it is not valid) and rendered with the same sandbox and limits.
 */
export function compileSubject(source: string, path = 'subject'): (data: RenderData) => string {
  const errors = checkHandlebars(source, path);
  if (errors.length > 0) throw invalid(errors);
  const template = textEnv.compile(source, { ...COMPILE_OPTIONS, noEscape: true });
  return (data) => {
    const context = boundData(data);
    return withBudget(DEFAULT_LIMITS, () => oneLine(template(context, RUNTIME_OPTIONS)));
  };
}

/** A header holds one line: line breaks from data would otherwise end it. */
const oneLine = (s: string) =>
  (s.includes('\n') || s.includes('\r') ? s.replace(/\s*[\r\n]+\s*/g, ' ') : s).trim();

/** Missing fields and false blocks leave runs of blank lines in the text part: keep at most one. */
const tidyText = (s: string) => (s.includes('\n\n\n') ? s.replace(/\n{3,}/g, '\n\n') : s).trim();
