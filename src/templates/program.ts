import Handlebars from 'handlebars';
import { message } from './locale.js';
import { DEFAULT_PRODUCTS_PER_BLOCK, productBlocksIn, productsSource } from './products-block.js';

type Program = hbs.AST.Program;
type Statement = hbs.AST.Statement;
/** A Handlebars AST node seen loosely: the fields this module and policy.ts read. */
export interface Node {
  type: string;
  loc?: hbs.AST.SourceLocation;
  path?: Node;
  params?: Node[];
  hash?: { pairs: Array<{ key?: string; value: Node }> };
  program?: Program;
  inverse?: Program;
  body?: Node[];
  name?: Node;
  parts?: string[];
  original?: unknown;
  value?: unknown;
  data?: boolean;
  escaped?: boolean;
}

/** The parts of a version the single render program is built from. */
export interface VersionSource {
  subject: string;
  preheader: string | null;
  html: string;
  /** Null: the text part is made from the rendered HTML instead. */
  text_template: string | null;
}

export interface PartialSources {
  html: string;
  text: string;
}

type Mode = 'html' | 'text';

/** Parsed once per version; the per-language programs are built from these. */
export interface ParsedVersion {
  subject: Program;
  preheader: Program | null;
  html: Program;
  text: Program | null;
}

const parse = (source: string): Program => Handlebars.parseWithoutProcessing(source);

export function parseVersion(source: VersionSource): ParsedVersion {
  return {
    subject: parse(source.subject),
    preheader: source.preheader ? parse(source.preheader) : null,
    html: parse(source.html),
    text: source.text_template === null ? null : parse(source.text_template),
  };
}

let parsedPartials: { html: Program; text: Program } | undefined;

/**
 * Builds the one Handlebars program a version renders with, for one language. Per recipient a
 * single template call then produces everything, which matters because each Handlebars call
 * costs a fixed set-up (helpers copied and wrapped) on top of the expressions:
 * - `{{#_part "subject"}}…{{/_part}}{{#_part "text"}}…{{/_part}}` come first and hand their
 *   output to the caller through the `_part` helper; the rest is the HTML;
 * - in the subject and text nothing is HTML-escaped and `{{> offers}}` is the text block;
 * - `{{@preheader}}` (in the HTML: the hidden preview) is replaced by the preheader itself;
 * - the `offers` partial is inlined, and `{{#lang}}` blocks and `{{t "key"}}` are resolved for
 *   the language, since they depend on nothing else: that is what compiling per language buys.
 * Only ASTs from Handlebars' own parser, and nodes made here from constants, are compiled.
 */
export function buildProgram(parsed: ParsedVersion, partials: PartialSources, language: string): Program {
  parsedPartials ??= { html: parse(partials.html), text: parse(partials.text) };
  const ctx = { language, preheader: parsed.preheader, subject: parsed.subject, partials: parsedPartials };
  const body: Statement[] = [part('subject', transform(parsed.subject, 'text', ctx))];
  if (parsed.text) body.push(part('text', transform(parsed.text, 'text', ctx)));
  body.push(...transform(parsed.html, 'html', ctx).body);
  return program(body);
}

interface Context {
  language: string;
  preheader: Program | null;
  subject: Program;
  partials: { html: Program; text: Program };
}

function transform(node: Program, mode: Mode, ctx: Context): Program {
  return { ...node, body: node.body.flatMap((s) => statement(s as Node, mode, ctx)) };
}

function statement(node: Node, mode: Mode, ctx: Context): Statement[] {
  switch (node.type) {
    case 'MustacheStatement': {
      const path = node.path as Node;
      const params = node.params as Node[];
      if (path.type === 'PathExpression' && path.original === 't' && params.length === 1 && !node.hash) {
        const key = params[0] as Node;
        if (key.type === 'StringLiteral') {
          const text = message(key.value as string, ctx.language);
          return [content(mode === 'html' ? Handlebars.escapeExpression(text) : text)];
        }
      }
      if (path.type === 'PathExpression' && path.data && path.original === '@preheader') {
        return ctx.preheader ? transform(ctx.preheader, mode, ctx).body : [];
      }
      // The subject line, where a template wants it again (<mj-title>: the <title> and aria-label).
      if (path.type === 'PathExpression' && path.data && path.original === '@subject') {
        return transform(ctx.subject, mode, ctx).body;
      }
      return [mode === 'text' ? ({ ...node, escaped: false } as Statement) : (node as Statement)];
    }
    case 'BlockStatement': {
      const path = node.path as Node;
      if (path.type === 'PathExpression' && path.original === 'lang') {
        const codes = (node.params as Node[]).map((p) => String(p.value ?? '').toLowerCase());
        const chosen = codes.includes(ctx.language) ? node.program : node.inverse;
        return chosen ? transform(chosen as Program, mode, ctx).body : [];
      }
      return [
        {
          ...node,
          program: node.program ? transform(node.program as Program, mode, ctx) : node.program,
          inverse: node.inverse ? transform(node.inverse as Program, mode, ctx) : node.inverse,
        } as Statement,
      ];
    }
    case 'ContentStatement':
      return mode === 'html' ? [withLanguage(node, ctx.language)] : [node as Statement];
    case 'PartialStatement': {
      // The policy admits `{{> offers}}` without arguments and `{{> products feed="…" count=N}}`.
      const name = (node.name as Node | undefined)?.original;
      if (name === 'products') {
        const pairs = node.hash?.pairs ?? [];
        const arg = (key: string) => pairs.find((p) => p.key === key)?.value.value;
        const block = productBlocksIn(
          `{{> products feed="${String(arg('feed') ?? 'bought_together')}" count=${Number(arg('count') ?? DEFAULT_PRODUCTS_PER_BLOCK)}}}`,
        )[0];
        return block ? transform(parse(productsSource(block, mode)), mode, ctx).body : [];
      }
      return transform(mode === 'html' ? ctx.partials.html : ctx.partials.text, mode, ctx).body;
    }
    default:
      return [node as Statement];
  }
}

/** MJML's hidden preheader: white text trips low-contrast filters, and it is hidden anyway. */
const PREVIEW_STYLE = 'display:none;font-size:1px;color:#ffffff;line-height:1px;';

/**
 * Static HTML as this language's program serves it: MJML's `lang="und"` becomes the
 * recipient's language (screen readers, translation offers, spam filters read it), and the
 * preheader loses its white colour. Versions stored before keep working: this runs at load.
 */
function withLanguage(node: Node, language: string): Statement {
  const value = node.value as string;
  if (!value.includes('lang="und"') && !value.includes(PREVIEW_STYLE)) return node as Statement;
  const fixed = value
    .replaceAll('lang="und"', `lang="${language.replace(/[^a-z-]/gi, '')}"`)
    .replaceAll(PREVIEW_STYLE, 'display:none;font-size:1px;line-height:1px;');
  return { ...node, value: fixed, original: fixed } as unknown as Statement;
}

const LOC = { source: undefined, start: { line: 1, column: 0 }, end: { line: 1, column: 0 } };
const NO_STRIP = { open: false, close: false };

const program = (body: Statement[]): Program =>
  ({ type: 'Program', body, blockParams: [], loc: LOC }) as unknown as Program;

const content = (value: string): Statement =>
  ({ type: 'ContentStatement', value, original: value, loc: LOC }) as unknown as Statement;

function part(name: 'subject' | 'text', body: Program): Statement {
  return {
    type: 'BlockStatement',
    path: { type: 'PathExpression', data: false, depth: 0, parts: ['_part'], original: '_part', loc: LOC },
    params: [{ type: 'StringLiteral', value: name, original: name, loc: LOC }],
    hash: undefined,
    program: body,
    inverse: undefined,
    openStrip: NO_STRIP,
    inverseStrip: NO_STRIP,
    closeStrip: NO_STRIP,
    loc: LOC,
  } as unknown as Statement;
}

/** Names of the helpers a program calls (block, mustache or subexpression). */
export function helpersUsed(root: Program): Set<string> {
  const used = new Set<string>();
  const visit = (node: Node | undefined): void => {
    if (!node) return;
    if (node.type === 'Program') for (const child of node.body ?? []) visit(child);
    if (node.path?.type === 'PathExpression' && typeof node.path.original === 'string')
      used.add(node.path.original);
    for (const p of node.params ?? []) visit(p);
    for (const pair of node.hash?.pairs ?? []) visit(pair.value);
    visit(node.program as Node | undefined);
    visit(node.inverse as Node | undefined);
  };
  visit(root as unknown as Node);
  return used;
}
