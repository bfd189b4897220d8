import { convert, type HtmlToTextOptions } from 'html-to-text';
import { Parser } from 'htmlparser2';
import mjml2html from 'mjml';
import { type FieldError, invalid } from '../http/problem.js';
import { COMPILE_OPTIONS, htmlEnv, textEnv } from './environment.js';
import { checkHandlebars } from './policy.js';

export interface TemplateSource {
  subject: string;
  preheader: string | null;
  mjml: string;
}

export interface CompiledSource {
  /** The MJML compiled to HTML, Handlebars expressions intact. */
  html: string;
  /** The plain-text part as a Handlebars template, or null when it is made per recipient. */
  text_template: string | null;
}

/** How the plain-text part is made from HTML, at save and (fallback) per recipient. */
export const TEXT_OPTIONS: HtmlToTextOptions = {
  wordwrap: false,
  // html-to-text walks the tree recursively: past a few thousand levels it overflows the stack.
  // Saved templates nest at most MAX_NESTING deep (plus MJML's own tables); this also bounds HTML
  // that data put into a render (a triple-stash), where deeper content is dropped from the text.
  limits: { maxDepth: 256 },
  selectors: [
    { selector: 'img', format: 'skip' },
    // the preheader (mj-preview) is hidden preview text, not part of the message
    { selector: 'div[style*="display:none"]', format: 'skip' },
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } })),
  ],
};

export const htmlToText = (html: string): string => convert(html, TEXT_OPTIONS);

/** How deep elements (MJML and HTML alike) may nest in a template's MJML. */
export const MAX_NESTING = 100;

const PREVIEW = '<mj-preview>{{@preheader}}</mj-preview>';

/**
 * Validates a template (Handlebars syntax and policy of every field, MJML strictly) and compiles
 * the MJML to HTML once. Throws a 422 listing every problem with its line and column; returns
 * only when the version is safe to store.
 */
export async function compileTemplateSource(source: TemplateSource): Promise<CompiledSource> {
  const errors: FieldError[] = [
    ...checkHandlebars(source.subject, 'subject'),
    ...(source.preheader ? checkHandlebars(source.preheader, 'preheader') : []),
    ...checkHandlebars(source.mjml, 'mjml'),
  ];
  const structure = scanMjml(source.mjml);
  errors.push(...structure.errors);
  if (errors.length > 0) throw invalid(errors);

  const prepared = withPreview(source.mjml, structure, Boolean(source.preheader));
  const input = prepared.input;
  let html: string;
  try {
    // Includes would read files on the server: they are refused above and ignored here.
    const result = await mjml2html(input, {
      validationLevel: 'strict',
      ignoreIncludes: true,
      keepComments: false,
    });
    html = result.html;
  } catch (error) {
    throw invalid(mjmlErrors(error, source.mjml));
  }

  const lost = lostExpressions(input, html);
  if (lost.length > 0) throw invalid(lost.map((l) => expressionError(l, prepared, source.mjml)));
  try {
    htmlEnv.precompile(html, COMPILE_OPTIONS);
  } catch (error) {
    throw invalid([
      { path: 'mjml', message: `the compiled HTML is not a valid template: ${(error as Error).message}` },
    ]);
  }
  return { html, text_template: deriveTextTemplate(html) };
}

interface MjmlStructure {
  errors: FieldError[];
  /** Offset just after `<mjml …>` and after `<mj-head …>`, where the preview is inserted. */
  afterMjml?: number;
  afterHead?: number;
  hasPreview: boolean;
}

/**
 * MJML's own parser forgives unclosed and mismatched tags (it guesses); strict means we don't.
 * Scans the mj-* tags with the same HTML parser and reports each one that is not closed.
 */
function scanMjml(mjml: string): MjmlStructure {
  const out: MjmlStructure = { errors: [], hasPreview: false };
  const open: Array<{ name: string; at: number }> = [];
  const lines = lineStarts(mjml);
  const fail = (at: number, message: string) =>
    out.errors.push({ path: 'mjml', message, ...position(lines, at) });
  let depth = 0;
  let tooDeep = false;
  const parser: Parser = new Parser(
    {
      onopentag(name) {
        if (++depth > MAX_NESTING && !tooDeep) {
          tooDeep = true;
          fail(parser.startIndex, `elements nest more than ${MAX_NESTING} deep`);
        }
        if (!isMjmlTag(name)) return;
        open.push({ name, at: parser.startIndex });
        if (name === 'mjml' && out.afterMjml === undefined) out.afterMjml = parser.endIndex + 1;
        if (name === 'mj-head' && out.afterHead === undefined) out.afterHead = parser.endIndex + 1;
        if (name === 'mj-preview') out.hasPreview = true;
        if (name === 'mj-include')
          fail(parser.startIndex, 'mj-include is not supported: paste the content instead');
      },
      onclosetag(name, isImplied) {
        depth--;
        if (!isMjmlTag(name)) return;
        const tag = open.pop();
        // htmlparser2 reports `<x />` as an implied close too: that one ends the tag it opened.
        const selfClosed = tag?.at === parser.startIndex && mjml[parser.endIndex - 1] === '/';
        if (isImplied && tag && !selfClosed) fail(tag.at, `<${name}> is not closed`);
      },
    },
    {
      recognizeSelfClosing: true,
      lowerCaseTags: false,
      lowerCaseAttributeNames: false,
      decodeEntities: false,
    },
  );
  parser.write(mjml);
  parser.end();
  if (out.afterMjml === undefined) fail(0, 'an MJML document starts with <mjml>');
  return out;
}

const isMjmlTag = (name: string) => name === 'mjml' || name.startsWith('mj-');

interface Prepared {
  input: string;
  /** Where text was inserted into the source, and how much, to map positions back. */
  insertedAt: number;
  inserted: number;
}

/** Adds `<mj-preview>` (the hidden preheader) unless the author wrote one. */
function withPreview(mjml: string, s: MjmlStructure, hasPreheader: boolean): Prepared {
  if (!hasPreheader || s.hasPreview || s.afterMjml === undefined)
    return { input: mjml, insertedAt: 0, inserted: 0 };
  const at = s.afterHead ?? s.afterMjml;
  const text = s.afterHead !== undefined ? PREVIEW : `<mj-head>${PREVIEW}</mj-head>`;
  return { input: mjml.slice(0, at) + text + mjml.slice(at), insertedAt: at, inserted: text.length };
}

/** MJML strict validation errors carry a line and a tag; the column is where that tag starts. */
function mjmlErrors(error: unknown, source: string): FieldError[] {
  const details = (error as { errors?: Array<{ line?: number; message: string; tagName?: string }> }).errors;
  if (!Array.isArray(details) || details.length === 0) {
    return [{ path: 'mjml', message: `not valid MJML: ${(error as Error).message ?? 'parsing failed'}` }];
  }
  const lines = source.split('\n');
  return details.map((d) => {
    const text = d.line ? lines[d.line - 1] : undefined;
    const col = text && d.tagName ? text.indexOf(`<${d.tagName}`) : -1;
    return {
      path: 'mjml',
      message: d.tagName ? `<${d.tagName}>: ${d.message}` : d.message,
      ...(d.line ? { line: d.line } : {}),
      ...(col >= 0 ? { column: col + 1 } : {}),
    };
  });
}

const EXPRESSION = /\{\{\{?[\s\S]*?\}\}\}?/g;

/**
 * Every Handlebars expression of the source must come out of MJML unchanged: text outside
 * mj-text/mj-raw is dropped by MJML and attributes may be re-quoted. Returns the offsets (in
 * the source) of those that did not survive.
 */
function lostExpressions(source: string, html: string): number[] {
  const produced = new Map<string, number>();
  for (const m of html.matchAll(EXPRESSION)) produced.set(m[0], (produced.get(m[0]) ?? 0) + 1);
  const lost: number[] = [];
  for (const m of source.matchAll(EXPRESSION)) {
    const left = produced.get(m[0]) ?? 0;
    if (left > 0) produced.set(m[0], left - 1);
    else lost.push(m.index);
  }
  return lost;
}

function expressionError(at: number, prepared: Prepared, original: string): FieldError {
  const expr = prepared.input.slice(at).match(EXPRESSION)?.[0] ?? '';
  const offset = at >= prepared.insertedAt + prepared.inserted ? at - prepared.inserted : at;
  return {
    path: 'mjml',
    message: `${expr} does not survive MJML: put expressions inside mj-text, mj-button or mj-raw, and block helpers around components in mj-raw`,
    ...position(lineStarts(original), offset),
  };
}

/**
 * The plain-text part, derived once from the compiled HTML with its expressions in place and
 * rendered per recipient by Handlebars (html-to-text per recipient would cost more than the
 * whole HTML render). When the conversion breaks the template, the text is made per recipient.
 */
function deriveTextTemplate(html: string): string | null {
  const text = htmlToText(html);
  try {
    textEnv.precompile(text, { ...COMPILE_OPTIONS, noEscape: true });
    return text;
  } catch {
    return null;
  }
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function position(starts: number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - (starts[lo] ?? 0) + 1 };
}
