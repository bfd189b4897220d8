import { describe, expect, it } from 'vitest';
import type { AppError } from '../http/problem.js';
import { compileTemplateSource } from './compile.js';

const doc = (body: string, head = '') =>
  `<mjml>${head}\n<mj-body>\n<mj-section>\n<mj-column>\n${body}\n</mj-column>\n</mj-section>\n</mj-body>\n</mjml>`;

async function errorsOf(source: { subject?: string; preheader?: string | null; mjml: string }) {
  try {
    await compileTemplateSource({ subject: 'Hi', preheader: null, ...source });
  } catch (error) {
    const e = error as AppError;
    expect(e.status).toBe(422);
    return e.errors ?? [];
  }
  throw new Error('expected a 422');
}

describe('compileTemplateSource', () => {
  it('keeps Handlebars intact through MJML: attributes, each blocks in mj-raw, the offers partial', async () => {
    const { html, text_template } = await compileTemplateSource({
      subject: '{{customer.first_name}}',
      preheader: 'Only for {{customer.first_name}}',
      mjml: doc(
        [
          '<mj-text>{{greeting}} <a href="{{unsubscribe_url}}">x</a></mj-text>',
          '<mj-button href="{{campaign.url}}">Go</mj-button>',
          '<mj-image src="{{customer.avatar}}" alt="{{customer.first_name}}" />',
          '<mj-raw>{{#each offers}}</mj-raw>',
          '<mj-text><a href="{{url}}">{{title}}</a> {{money price "EUR"}}</mj-text>',
          '<mj-raw>{{/each}}</mj-raw>',
          '<mj-text>{{> offers}}</mj-text>',
        ].join('\n'),
      ),
    });
    for (const expr of [
      'href="{{unsubscribe_url}}"',
      'href="{{campaign.url}}"',
      'src="{{customer.avatar}}"',
      'alt="{{customer.first_name}}"',
      '{{#each offers}}',
      '{{/each}}',
      'href="{{url}}"',
      '{{money price "EUR"}}',
      '{{> offers}}',
      '{{@preheader}}',
    ]) {
      expect(html).toContain(expr);
    }
    expect(html).toContain('max-width:600px');
    expect(text_template).toContain('{{#each offers}}');
    expect(text_template).toContain('{{> offers}}');
    expect(text_template).not.toContain('{{@preheader}}');
  });

  it('reports MJML validation errors with line and column, strictly', async () => {
    const errors = await errorsOf({ mjml: doc('<mj-text foo="bar">x</mj-text>\n  <mj-colum>y</mj-colum>') });
    expect(errors).toEqual([
      { path: 'mjml', message: '<mj-text>: Attribute foo is illegal', line: 5, column: 1 },
      { path: 'mjml', message: expect.stringContaining('mj-colum'), line: 6, column: 3 },
    ]);
  });

  it('refuses unclosed and mismatched MJML tags that MJML itself would guess around', async () => {
    const mismatched = await errorsOf({ mjml: doc('<mj-text>x</mj-column>') });
    expect(mismatched[0]).toEqual({ path: 'mjml', message: '<mj-text> is not closed', line: 5, column: 1 });
    const unclosed = await errorsOf({ mjml: '<mjml>\n<mj-body>\n  <mj-section>' });
    expect(unclosed.map((e) => [e.line, e.column])).toEqual([
      [3, 3],
      [2, 1],
      [1, 1],
    ]);
    expect(await errorsOf({ mjml: 'hello' })).toEqual([
      { path: 'mjml', message: 'an MJML document starts with <mjml>', line: 1, column: 1 },
    ]);
  });

  it('refuses mj-include, which would read files on the server', async () => {
    const errors = await errorsOf({ mjml: doc('<mj-include path="/etc/passwd" type="html" />') });
    expect(errors[0]).toMatchObject({
      path: 'mjml',
      message: expect.stringContaining('mj-include'),
      line: 5,
    });
  });

  it('reports Handlebars syntax errors in each field with line and column', async () => {
    const errors = await errorsOf({
      subject: 'Hello {{customer.first_name}',
      preheader: '{{#if a}}x',
      mjml: doc('<mj-text>\n  {{#each offers}}{{title}}{{/if}}</mj-text>'),
    });
    expect(errors).toEqual([
      { path: 'subject', message: expect.stringContaining('syntax error'), line: 1, column: 28 },
      { path: 'preheader', message: expect.stringContaining('syntax error'), line: 1, column: 11 },
      { path: 'mjml', message: "each doesn't match if", line: 6, column: 6 },
    ]);
  });

  it('names expressions MJML would drop (text outside mj-text)', async () => {
    const errors = await errorsOf({ mjml: doc('{{customer.first_name}}\n<mj-text>ok</mj-text>') });
    expect(errors).toEqual([
      {
        path: 'mjml',
        message: expect.stringContaining('{{customer.first_name}} does not survive MJML'),
        line: 5,
        column: 1,
      },
    ]);
  });

  it('refuses unknown helpers and partials, decorators, prototype names and deep loops', async () => {
    const errors = await errorsOf({
      subject: '{{lookup this "constructor"}}',
      mjml: doc(
        [
          '<mj-text>{{__proto__.x}} {{customer.constructor.name}} {{shell "ls"}} {{log customer}}</mj-text>',
          '<mj-text>{{> layout}} {{#*inline "x"}}y{{/inline}} {{#> offers}}z{{/offers}}</mj-text>',
          '<mj-text>{{#each a}}{{#each b}}{{#each c}}{{#each d}}deep{{/each}}{{/each}}{{/each}}{{/each}}</mj-text>',
          '<mj-text>{{money}} {{#money 1}}x{{/money}} {{if a}}</mj-text>',
        ].join('\n'),
      ),
    });
    const at = (line: number) => errors.filter((e) => e.line === line).map((e) => e.message);
    expect(errors.find((e) => e.path === 'subject')?.message).toMatch(/constructor/);
    expect(at(5)).toEqual([
      expect.stringMatching(/__proto__/),
      expect.stringMatching(/constructor/),
      'unknown helper `shell`',
      '`log` may not be used in a template',
    ]);
    expect(at(6)).toEqual([
      expect.stringMatching(/unknown partial/),
      expect.stringMatching(/decorators/),
      expect.stringMatching(/partial blocks/),
    ]);
    expect(at(7)).toEqual([expect.stringMatching(/nested more than 3/)]);
    expect(at(8)).toEqual([
      expect.stringMatching(/not a block helper/),
      expect.stringMatching(/is a block helper/),
    ]);
  });
});
