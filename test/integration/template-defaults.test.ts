import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

// POST /v1/templates/defaults on a fresh install: the shipped templates appear once.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h.close());

describe('POST /v1/templates/defaults', () => {
  it('adds the shipped templates a fresh install lacks, once; an edited one is kept', async () => {
    expect((await json(await h.get('/v1/templates'))).data).toEqual([]);
    const first = await h.post('/v1/templates/defaults', undefined, { role: 'marketer' });
    expect(first.status).toBe(200);
    const { created, existing } = await json(first);
    expect(created).toHaveLength(5);
    expect(existing).toEqual([]);
    const list = (await json(await h.get('/v1/templates'))).data as {
      id: number;
      name: string;
      version: number;
    }[];
    expect(list.map((t) => t.name).sort()).toEqual([...created].sort());
    expect(list.every((t) => t.version === 1)).toBe(true);
    // A marketer edits one; installing again adds nothing and leaves the edit alone.
    const welcome = list.find((t) => /welcome/i.test(t.name))!;
    const edited = await h.patch(`/v1/templates/${welcome.id}`, { subject: 'Bienvenue chez nous' });
    expect(edited.status).toBe(200);
    const again = await json(await h.post('/v1/templates/defaults'));
    expect(again).toEqual({ created: [], existing: expect.arrayContaining(created) });
    const kept = await json(await h.get(`/v1/templates/${welcome.id}`));
    expect(kept).toMatchObject({ version: 2, subject: 'Bienvenue chez nous' });
    expect((await json(await h.get('/v1/templates'))).data).toHaveLength(5);
  });

  it('has a button on the UI’s template list for marketers', async () => {
    const { session, csrf } = await signInToUi(h, 'marketer');
    const listed = await (await h.app.request('/ui/templates', { headers: { cookie: session } })).text();
    expect(listed).toContain('Add the shipped templates that are missing');
    const res = await h.app.request('/ui/templates/defaults', {
      method: 'POST',
      headers: { cookie: session, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf }),
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/ui/templates?added=0');
    const after = await (
      await h.app.request('/ui/templates?added=0', { headers: { cookie: session } })
    ).text();
    expect(after).toContain('The shipped templates are all here already.');
    const analyst = (await signInToUi(h, 'analyst')).session;
    const readOnly = await (await h.app.request('/ui/templates', { headers: { cookie: analyst } })).text();
    expect(readOnly).not.toContain('id="install-defaults"');
  });

  it('is for the roles that design templates', async () => {
    expect((await h.post('/v1/templates/defaults', undefined, { role: 'analyst' })).status).toBe(403);
    expect((await h.post('/v1/templates/defaults', undefined, { role: 'integrator' })).status).toBe(403);
  });
});
