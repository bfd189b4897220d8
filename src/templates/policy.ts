import Handlebars from 'handlebars';
import type { FieldError } from '../http/problem.js';
import { ALLOWED_HELPERS, ALLOWED_PARTIALS } from './environment.js';
import { MAX_PRODUCTS_PER_BLOCK, PRODUCT_FEEDS } from './products-block.js';

import type { Node } from './program.js';

/** Names that lead from data to code; Handlebars already blocks them at run time, we refuse them at save. */
const FORBIDDEN_NAMES = new Set([
  '__proto__',
  'constructor',
  'prototype',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
]);
/**
 * Helpers every Handlebars environment has that templates may not call: `log` writes to the
 * console, the `*Missing` hooks and `_part` (ours, see environment.ts) are internals. A bare
 * `{{log}}` or `{{helperMissing}}` would compile and then fail every render.
 */
const INTERNAL_HELPERS: ReadonlySet<string> = new Set(
  [...Object.keys(Handlebars.create().helpers), '_part'].filter((h) => !ALLOWED_HELPERS.has(h)),
);
/** Helpers that take an exact number of arguments. */
const ARITY = new Map<string, number>([
  ['if', 1],
  ['unless', 1],
  ['each', 1],
  ['with', 1],
  ['lookup', 2],
]);
/**
 * Expressions one source may hold. Outside loops nothing charges the render budget, so this is
 * what bounds the output there: each expression prints at most DATA_LIMITS.maxString characters.
 */
export const MAX_EXPRESSIONS = 2_000;
/** `{{#each}}` inside `{{#each}}` inside `{{#each}}` is as deep as a template may loop. */
export const MAX_EACH_DEPTH = 3;
const BLOCK_HELPERS = new Set(['if', 'unless', 'each', 'with', 'lang']);

/**
 * Parses a Handlebars source and checks it against what templates may do: only our helpers,
 * only the `offers` partial, no decorators or inline partials, no prototype names, bounded
 * loop nesting. Returns field errors with 1-based line and column; empty when all is well.
 */
export function checkHandlebars(source: string, path: string): FieldError[] {
  let ast: hbs.AST.Program;
  try {
    ast = Handlebars.parse(source);
  } catch (error) {
    return [parseError(error, path)];
  }
  const errors: FieldError[] = [];
  const fail = (node: Node, message: string) => {
    const start = node.loc?.start;
    errors.push({ path, message, ...(start ? { line: start.line, column: start.column + 1 } : {}) });
  };

  const checkPath = (node: Node) => {
    if (node.type !== 'PathExpression') return;
    const bad = (node.parts as string[]).find((p) => FORBIDDEN_NAMES.has(p));
    if (bad) fail(node, `\`${bad}\` may not be used in a template`);
  };
  const checkCall = (node: Node, block: boolean) => {
    const params = (node.params ?? []) as Node[];
    const hasArgs = params.length > 0 || (node.hash?.pairs?.length ?? 0) > 0;
    const callee = node.path as Node;
    if (callee.type !== 'PathExpression') {
      fail(node, 'a helper must be called by name');
      return;
    }
    const name = callee.original as string;
    const isHelper = ALLOWED_HELPERS.has(name);
    if (INTERNAL_HELPERS.has(name)) fail(callee, `\`${name}\` may not be used in a template`);
    else if (hasArgs && !isHelper) fail(callee, `unknown helper \`${name}\``);
    const arity = ARITY.get(name);
    if (isHelper && arity !== undefined && params.length !== arity)
      fail(callee, `\`${name}\` takes exactly ${arity === 1 ? 'one argument' : `${arity} arguments`}`);
    if (!isHelper) checkPath(callee);
    if (isHelper && BLOCK_HELPERS.has(name) !== block)
      fail(
        callee,
        block
          ? `\`${name}\` is not a block helper`
          : `\`${name}\` is a block helper: {{#${name} …}}…{{/${name}}}`,
      );
    if (name === 'lang' && (params.length === 0 || params.some((p) => p.type !== 'StringLiteral')))
      fail(callee, '`lang` takes one or more language codes as quoted strings: {{#lang "fr" "de"}}');
    for (const p of params) visit(p, 0);
    for (const pair of node.hash?.pairs ?? []) visit(pair.value, 0);
  };

  let expressions = 0;
  function visit(node: Node | null | undefined, eachDepth: number): void {
    if (!node) return;
    if (
      (node.type === 'MustacheStatement' || node.type === 'BlockStatement') &&
      ++expressions === MAX_EXPRESSIONS + 1
    )
      fail(node, `more than ${MAX_EXPRESSIONS} expressions`);
    switch (node.type) {
      case 'Program':
        for (const child of node.body as Node[]) visit(child, eachDepth);
        return;
      case 'MustacheStatement':
      case 'SubExpression':
        checkCall(node, false);
        return;
      case 'BlockStatement': {
        checkCall(node, true);
        const isEach = (node.path as Node).original === 'each';
        const depth = isEach ? eachDepth + 1 : eachDepth;
        if (isEach && depth > MAX_EACH_DEPTH)
          fail(node, `{{#each}} may not be nested more than ${MAX_EACH_DEPTH} deep`);
        visit(node.program, depth);
        visit(node.inverse, eachDepth);
        return;
      }
      case 'PartialStatement': {
        const name = node.name as Node;
        if (name.type !== 'PathExpression' || !ALLOWED_PARTIALS.has(name.original as string))
          fail(
            node,
            `unknown partial; available: ${[...ALLOWED_PARTIALS].map((p) => `{{> ${p}}}`).join(', ')}`,
          );
        if ((name.original as string) === 'products') {
          checkProductsArguments(node, fail);
          return;
        }
        if ((node.params?.length ?? 0) > 0 || (node.hash?.pairs?.length ?? 0) > 0)
          fail(node, 'partials take no arguments');
        return;
      }
      case 'PartialBlockStatement':
        fail(node, 'partial blocks ({{#> …}}) are not allowed');
        return;
      case 'DecoratorBlock':
      case 'Decorator':
        fail(node, 'decorators and inline partials are not allowed');
        return;
      case 'PathExpression':
        checkPath(node);
        return;
      case 'StringLiteral':
        if (FORBIDDEN_NAMES.has(node.value as string))
          fail(node, `\`${node.value}\` may not be used in a template`);
        return;
      default:
        return;
    }
  }
  visit(ast as unknown as Node, 0);
  return errors;
}

/**
 * Handlebars' own exceptions carry `lineNumber`/`column`; the generated parser's do not, but its
 * lexer keeps the location of the token it failed on.
 */
function parseError(error: unknown, path: string): FieldError {
  const e = error as { message?: string; lineNumber?: number; column?: number };
  const firstLine = String(e.message ?? 'invalid Handlebars').split('\n')[0] ?? '';
  if (typeof e.lineNumber === 'number') {
    return {
      path,
      message: firstLine.replace(/ - \d+:\d+$/, ''),
      line: e.lineNumber,
      column: (e.column ?? 0) + 1,
    };
  }
  const loc = (Handlebars as unknown as { Parser?: { lexer?: { yylloc?: Yylloc } } }).Parser?.lexer?.yylloc;
  const detail = String(e.message ?? '')
    .split('\n')
    .slice(3)
    .join(' ')
    .trim();
  return {
    path,
    message: `Handlebars syntax error${detail ? `: ${detail}` : ''}`,
    ...(loc ? { line: loc.first_line, column: loc.first_column + 1 } : {}),
  };
}

interface Yylloc {
  first_line: number;
  first_column: number;
}

/** `{{> products feed="…" count=N}}`: a known feed as a string, a count as a number, nothing else. */
function checkProductsArguments(node: Node, fail: (node: Node, message: string) => void): void {
  if ((node.params?.length ?? 0) > 0) fail(node, 'products takes only feed="…" and count=N');
  for (const pair of node.hash?.pairs ?? []) {
    const value = pair.value as Node;
    if (pair.key === 'feed') {
      if (
        value.type !== 'StringLiteral' ||
        !(PRODUCT_FEEDS as readonly string[]).includes(value.value as string)
      )
        fail(node, `feed must be one of ${PRODUCT_FEEDS.join(', ')}`);
    } else if (pair.key === 'count') {
      const n = value.value as number;
      if (value.type !== 'NumberLiteral' || !Number.isInteger(n) || n < 1 || n > MAX_PRODUCTS_PER_BLOCK)
        fail(node, `count must be a whole number from 1 to ${MAX_PRODUCTS_PER_BLOCK}`);
    } else fail(node, `products takes only feed="…" and count=N, not ${pair.key}`);
  }
}
