import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h.close());

const section = (text: string) =>
  `<mj-section><mj-column><mj-text>${text}</mj-text></mj-column></mj-section>`;
const doc = (body: string) => `<mjml><mj-body>${body}${section('{{> offers}}')}</mj-body></mjml>`;

describe('partials', () => {
  it('pins the partial version a template was saved with, and lists the templates using it', async () => {
    const created = await h.post('/v1/partials', { name: 'header', mjml: section('Garden &amp; Co v1') });
    expect(created.status).toBe(201);
    const partial = await json(created);
    expect(partial).toMatchObject({ name: 'header', version: 1, used_by: [] });

    const res = await h.post('/v1/templates', {
      name: 'With header',
      subject: 'Hello',
      mjml: doc('<mj-wrapper css-class="partial:header"></mj-wrapper>'),
    });
    expect(res.status).toBe(201);
    const template = await json(res);
    expect(template.mjml).toContain('css-class="partial:header:1">');
    expect(template.mjml).toContain('Garden &amp; Co v1');

    // A new version of the partial: the saved template (and its mail) do not change.
    const edited = await json(
      await h.patch(`/v1/partials/${partial.id}`, { mjml: section('Garden &amp; Co v2') }),
    );
    expect(edited.version).toBe(2);
    expect(edited.used_by).toEqual([
      { template_id: template.id, template_name: 'With header', template_version: 1, partial_version: 1 },
    ]);
    const v1 = await json(await h.get(`/v1/templates/${template.id}/versions/1`));
    expect(v1.html).toContain('Garden &amp; Co v1');
    expect(v1.partials).toEqual([{ name: 'header', partial_id: partial.id, partial_version: 1 }]);

    // Saved again as it is, it keeps version 1; placed without a version, it takes the latest.
    const again = await json(await h.patch(`/v1/templates/${template.id}`, { subject: 'Hello again' }));
    expect(again.mjml).toContain('Garden &amp; Co v1');
    const latest = await json(
      await h.patch(`/v1/templates/${template.id}`, {
        mjml: doc('<mj-wrapper css-class="partial:header" />'),
      }),
    );
    expect(latest.mjml).toContain('css-class="partial:header:2">');
    expect(latest.mjml).toContain('Garden &amp; Co v2');
    const uses = await json(await h.get(`/v1/partials/${partial.id}`));
    expect(uses.used_by).toEqual([
      { template_id: template.id, template_name: 'With header', template_version: 3, partial_version: 2 },
    ]);
  });

  it('refuses an unknown partial, a bad partial and a taken name, naming the field', async () => {
    const unknown = await h.post('/v1/templates', {
      name: 'Unknown block',
      subject: 'x',
      mjml: doc('<mj-wrapper css-class="partial:nope"></mj-wrapper>'),
    });
    expect(unknown.status).toBe(422);
    expect((await json(unknown)).errors).toEqual([
      { path: 'mjml', message: 'there is no partial named nope' },
    ]);
    const bad = await h.post('/v1/partials', {
      name: 'footer',
      mjml: '<mj-section><mj-column><mj-text>x</mj-section>',
    });
    expect(bad.status).toBe(422);
    expect((await json(bad)).errors[0].path).toBe('mjml');
    const name = await h.post('/v1/partials', { name: 'Bad Name', mjml: section('x') });
    expect(name.status).toBe(422);
    expect((await json(name)).errors[0].path).toBe('name');
    const taken = await h.post('/v1/partials', { name: 'header', mjml: section('x') });
    expect(taken.status).toBe(409);
    expect(await h.db.sql`select count(*)::int as n from partials`).toEqual([{ n: 1 }]);
  });
});

describe('partial placements', () => {
  it('refuses more placements than an email needs, at once, whatever the source', async () => {
    const many = doc('<mj-wrapper css-class="partial:header"></mj-wrapper>'.repeat(51));
    const res = await h.post('/v1/templates', { name: 'Too many', subject: 'x', mjml: many });
    expect(res.status).toBe(422);
    expect((await json(res)).errors).toEqual([
      { path: 'mjml', message: 'at most 50 reusable blocks in one template' },
    ]);
    // Unclosed wrappers with long attribute runs: answered (a 422), not scanned quadratically.
    const crafted = `<mjml><mj-body>${'<mj-wrapper css-class="partial:header" '.repeat(40)}${' x'.repeat(200_000)}</mj-body></mjml>`;
    expect((await h.post('/v1/templates', { name: 'Crafted', subject: 'x', mjml: crafted })).status).toBe(
      422,
    );
  });
});
