import { LRUCache } from 'lru-cache';
import type { Db } from '../db/sql.js';
import { AppError, type FieldError, invalid, notFound } from '../http/problem.js';
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
import { type ProductBlock, productBlocksIn } from './products-block.js';
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
  /** The `{{> products}}` blocks of the version: the feeds a render loads for its recipient. */
  productBlocks: ProductBlock[];
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
    productBlocks: productBlocksIn(`${row.subject}\n${row.html}\n${row.text_template ?? ''}`),
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
 * Data a source is tried on when it is saved: nothing at all, then a customer with lists, offers
 * and an order, so that loops and conditions run once. A source that throws on either (a name
 * Handlebars resolves to one of its own internals, say) would fail every preview and send: it is
 * refused at save instead.
 */
const TRIAL_DATA: RenderData[] = [
  {},
  {
    customer: {
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: 'ada@example.com',
      locale: 'en',
      hobbies: ['chess', 'rowing'],
      preferred_categories: ['garden'],
      attributes: { tier: 'gold' },
    },
    offers: [
      { offer_id: 1, title: 'Offer', text: 'Text', image_url: null, url: 'https://example.com', code: 'C1' },
    ],
    unsubscribe_url: 'https://example.com/u',
    preferences_url: 'https://example.com/u/p',
    campaign: { name: 'Campaign' },
    order: { ref: 'o-1', total: 10, lines: [{ sku: 's', category: 'c', quantity: 1, amount: 10 }] },
  },
];

let compiles: boolean | undefined;
/**
 * Whether this runtime may generate code from strings. Handlebars compiles a template with
 * `new Function`, which Cloudflare Workers forbid while handling a request (so this is asked
 * then, not at start-up): there (the edge build, which never renders) a source is checked by
 * the policy and precompiled to a string only.
 */
function canCompile(): boolean {
  if (compiles === undefined) {
    try {
      compiles = new Function('return true')() === true;
    } catch {
      compiles = false;
    }
  }
  return compiles;
}

/** A 422 naming `path` for what a render (or compile) threw. */
function renderError(path: string, error: unknown) {
  const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error);
  return invalid([{ path, message: `cannot be rendered: ${message}` }]);
}

/** Runs `render` on each trial data set; what it throws becomes a 422 naming `path`. */
function tryRenders(path: string, render: (data: RenderData) => unknown): void {
  for (const data of TRIAL_DATA) {
    try {
      render(data);
    } catch (error) {
      throw renderError(path, error);
    }
  }
}

/**
 * Checks a saved template version renders (see TRIAL_DATA): throws a 422 naming `path` when it
 * does not. Versions are checked by the policy first; this catches what only running shows.
 */
export function checkVersionRenders(
  row: Pick<VersionRow, 'subject' | 'preheader' | 'html' | 'text_template'>,
  path = 'mjml',
): void {
  // At the edge compileTemplateSource's precompile is as far as a check can go.
  if (!canCompile()) return;
  let version: CompiledVersion | undefined;
  tryRenders(path, (data) => {
    version ??= compileVersion({ template_id: 0, version: 0, ...row });
    renderForCustomer(version, data);
  });
}

/**
 * The one way to use a Handlebars source outside a template version (an A/B variant's subject,
 * and any text a trigger or journey step carries): checked like a template's fields (the same
 * policy, then tried in the same environment), compiled in the same isolated environment with
 * the same helpers, and rendered on bounded data under the same render budget. Throws a 422
 * naming `path` when the source would be refused in a template. `oneLine` makes it a header
 * (a subject line): line breaks folded, at most MAX_SUBJECT_CHARS.
 */
export function compileTemplateText(
  source: string,
  path: string,
  options: { oneLine?: boolean } = {},
): (data: RenderData) => string {
  const errors = checkHandlebars(source, path);
  if (errors.length > 0) throw invalid(errors);
  const compileOptions = { ...COMPILE_OPTIONS, noEscape: true };
  if (!canCompile()) {
    try {
      textEnv.precompile(source, compileOptions);
    } catch (error) {
      throw renderError(path, error);
    }
  }
  const template = textEnv.compile(source, compileOptions);
  const render = (data: RenderData) => {
    const context = boundData(data);
    const out = withBudget(DEFAULT_LIMITS, () => template(context, RUNTIME_OPTIONS));
    return options.oneLine ? oneLine(out) : out;
  };
  if (canCompile()) tryRenders(path, render);
  return render;
}

/** The errors of a Handlebars source checked as compileTemplateText checks it; empty when it is valid. */
export function templateTextErrors(source: string, path: string): FieldError[] {
  try {
    compileTemplateText(source, path);
    return [];
  } catch (error) {
    if (error instanceof AppError && error.errors) return error.errors;
    throw error;
  }
}

/** A subject line on its own (an A/B variant's): compileTemplateText as a header. */
export const compileSubject = (source: string, path = 'subject') =>
  compileTemplateText(source, path, { oneLine: true });

/**
 * Mail clients show a few dozen characters of a subject; RFC 5322 limits a header line to 998.
 * Longer subjects are cut (a loop over customer data could otherwise make one of megabytes).
 */
export const MAX_SUBJECT_CHARS = 998;

/** A header holds one line: line breaks from data would otherwise end it. */
function oneLine(s: string): string {
  const line = (s.includes('\n') || s.includes('\r') ? s.replace(/\s*[\r\n]+\s*/g, ' ') : s).trim();
  if (line.length <= MAX_SUBJECT_CHARS) return line;
  // Never cut a surrogate pair in two.
  const end = /[\uD800-\uDBFF]/.test(line[MAX_SUBJECT_CHARS - 1] ?? '')
    ? MAX_SUBJECT_CHARS - 1
    : MAX_SUBJECT_CHARS;
  return line.slice(0, end).trimEnd();
}

/** Missing fields and false blocks leave runs of blank lines in the text part: keep at most one. */
const tidyText = (s: string) => (s.includes('\n\n\n') ? s.replace(/\n{3,}/g, '\n\n') : s).trim();
