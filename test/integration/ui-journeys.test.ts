import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { countsLine } from '../../src/ui/journey-graph.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';
import { signInToUi } from '../helpers/ui-session.js';

// The UI's journey pages over the API: a marketer creates a journey, adds steps of each kind
// through forms (no JSON but a branch's rule), sees the graph drawn with the report's counts,
// activates and pauses it; a refused save comes back with each error beside its field and
// nothing stored; an analyst reads but cannot change.

let h: Harness;
let session: string;
let csrf: string;
let templateId: number;

beforeAll(async () => {
  h = await createHarness();
  await installDefaultTemplates(h.db.sql);
  const [t] = await h.db.sql<{ id: number }[]>`select id from templates order by id limit 1`;
  templateId = t!.id;
  ({ session, csrf } = await signInToUi(h, 'marketer'));
});
afterAll(async () => h?.close());

const post = (path: string, fields: Record<string, string>, cookie = session) =>
  h.app.request(path, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ _csrf: csrf, ...fields }),
  });
const html = async (path: string, cookie = session) =>
  (await h.app.request(path, { headers: { cookie } })).text();
const definition = async (id: number) => json(await h.get(`/v1/journeys/${id}`));

describe('journey pages', () => {
  it('builds wait → send_email → exit from forms, draws it, activates and pauses it', async () => {
    const created = await post('/ui/journeys', {
      name: 'Cart reminder',
      entry_kind: 'event',
      'entry.event': 'cart_updated',
      re_entry: 'after_exit',
      goal_kind: 'purchase',
    });
    expect(created.status).toBe(303);
    const id = Number(/\/ui\/journeys\/(\d+)/.exec(created.headers.get('location')!)![1]);
    expect(await definition(id)).toMatchObject({
      entry: { event: 'cart_updated' },
      re_entry: 'after_exit',
      goal: { purchase: {} },
      start: 'end',
    });

    const form = await html(`/ui/journeys/${id}/steps/new?type=send_email`);
    expect(form).toContain('name="template_id"');
    expect(form).toContain('At the start (before end)');
    expect(
      (
        await post(`/ui/journeys/${id}/steps?type=send_email`, {
          id: 'remind',
          place: 'start',
          template_id: String(templateId),
          subject: 'Your cart',
          offers_per_email: '2',
          next: 'end',
        })
      ).status,
    ).toBe(303);
    expect(
      (
        await post(`/ui/journeys/${id}/steps?type=wait`, {
          id: 'pause',
          place: 'start',
          duration: '2',
          duration_unit: '3600',
          next: 'remind',
        })
      ).status,
    ).toBe(303);
    const saved = await definition(id);
    expect(saved.start).toBe('pause');
    expect(saved.steps).toEqual([
      { id: 'end', type: 'exit' },
      {
        id: 'remind',
        type: 'send_email',
        template_id: templateId,
        subject: 'Your cart',
        offers_per_email: 2,
        next: 'end',
      },
      { id: 'pause', type: 'wait', seconds: 7200, next: 'remind' },
    ]);

    // A branch placed on the wait's arrow, then an edit of the wait.
    expect(
      (
        await post(`/ui/journeys/${id}/steps?type=branch`, {
          id: 'big_spender',
          place: 'pause|next',
          rule: '{">=": [{"var": "customer.total_spent"}, 100]}',
          // biome-ignore lint/suspicious/noThenProperty: a branch step's field, named as the API names it.
          then: 'remind',
          else: 'end',
        })
      ).status,
    ).toBe(303);
    expect((await definition(id)).steps.find((s: { id: string }) => s.id === 'pause').next).toBe(
      'big_spender',
    );
    const edited = await post(`/ui/journeys/${id}/steps/pause`, {
      duration: '30',
      duration_unit: '60',
      next: 'big_spender',
    });
    expect(edited.status, await edited.clone().text()).toBe(303);
    expect((await definition(id)).steps.find((s: { id: string }) => s.id === 'pause').seconds).toBe(1800);

    const journeyPage = await html(`/ui/journeys/${id}`);
    expect(journeyPage).toContain('<svg class="journey-graph"');
    for (const step of ['pause', 'big_spender', 'remind', 'end'])
      expect(journeyPage).toContain(`data-step="${step}"`);
    expect(journeyPage).toContain('0 entered');
    expect(journeyPage).toContain('>yes<');

    expect((await post(`/ui/journeys/${id}/lifecycle`, { action: 'activate' })).status).toBe(303);
    expect((await definition(id)).status).toBe('active');
    // The counts on the graph come from the report.
    const [c] = await h.db.sql<
      { id: number }[]
    >`insert into customers (external_id) values ('ui-j') returning id`;
    const [v] = await h.db.sql<{ id: number }[]>`select version_id as id from journeys where id = ${id}`;
    await h.db
      .sql`insert into journey_entries (journey_id, version_id, customer_id, entry_key, step, next_run_at, seq)
      values (${id}, ${v!.id}, ${c!.id}, 'ui', 'pause', now() + interval '1 hour', 1)`;
    await h.db.sql`insert into journey_step_runs (entry_id, seq, journey_id, version_id, step, outcome)
      select id, 0, journey_id, version_id, 'pause', 'waited' from journey_entries where entry_key = 'ui'`;
    const report = await json(await h.get(`/v1/journeys/${id}/report`));
    expect(report.steps.pause.waiting).toBe(1);
    expect(countsLine(report.steps.pause)).toMatch(/^\d+ entered · 1 waiting$/);
    expect(await html(`/ui/journeys/${id}`)).toContain(`>${countsLine(report.steps.pause)}</text>`);
    expect((await post(`/ui/journeys/${id}/lifecycle`, { action: 'pause' })).status).toBe(303);
    expect((await definition(id)).status).toBe('paused');
    expect(await html('/ui/journeys')).toContain('Cart reminder');
  });

  it('a refused step comes back with each error beside its field, and nothing is stored', async () => {
    const created = await post('/ui/journeys', {
      name: 'Refusals',
      entry_kind: 'purchase',
      re_entry: 'never',
    });
    const id = Number(/\/ui\/journeys\/(\d+)/.exec(created.headers.get('location')!)![1]);
    const before = await definition(id);

    const noTemplate = await post(`/ui/journeys/${id}/steps?type=send_email`, {
      id: 'mail',
      place: 'start',
      template_id: '999999',
      next: 'end',
    });
    expect(noTemplate.status).toBe(422);
    const body = await noTemplate.text();
    expect(body).toMatch(/id="f-template_id"[^>]*aria-invalid="true"/);
    expect(body).toContain('id="f-template_id-err"');
    expect(body).toContain('no such template');

    const badWait = await post(`/ui/journeys/${id}/steps?type=wait`, {
      id: 'bad id!',
      place: 'start',
      duration: '0',
      duration_unit: '1',
      next: 'end',
    });
    expect(badWait.status).toBe(422);
    const waitBody = await badWait.text();
    expect(waitBody).toMatch(/id="f-duration"[^>]*aria-invalid="true"/);
    expect(waitBody).toMatch(/id="f-id"[^>]*aria-invalid="true"/);

    const badRule = await post(`/ui/journeys/${id}/steps?type=branch`, {
      id: 'b',
      place: 'start',
      rule: '{"nope": []}',
      // biome-ignore lint/suspicious/noThenProperty: a branch step's field, named as the API names it.
      then: 'end',
      else: 'end',
    });
    expect(badRule.status).toBe(422);
    expect(await badRule.text()).toMatch(/id="f-rule"[^>]*aria-invalid="true"/);
    const notJson = await post(`/ui/journeys/${id}/steps?type=branch`, {
      id: 'b',
      place: 'start',
      rule: '{oops',
      // biome-ignore lint/suspicious/noThenProperty: a branch step's field, named as the API names it.
      then: 'end',
      else: 'end',
    });
    expect(notJson.status).toBe(422);
    expect(await notJson.text()).toContain('not valid JSON');

    const badEntry = await post(`/ui/journeys/${id}`, {
      name: 'Refusals',
      entry_kind: 'date_attribute',
      'entry.date_attribute': 'nothing_declared',
      re_entry: 'never',
    });
    expect(badEntry.status).toBe(422);
    expect(await badEntry.text()).toMatch(/id="f-entry-date_attribute"[^>]*aria-invalid="true"/);
    expect(await definition(id)).toEqual(before);
  });

  it('an analyst sees the journey and its graph but no form', async () => {
    const created = await post('/ui/journeys', {
      name: 'Read only',
      entry_kind: 'purchase',
      re_entry: 'never',
    });
    const id = Number(/\/ui\/journeys\/(\d+)/.exec(created.headers.get('location')!)![1]);
    const analyst = (await signInToUi(h, 'analyst')).session;
    const seen = await html(`/ui/journeys/${id}`, analyst);
    expect(seen).toContain('<svg class="journey-graph"');
    expect(seen).not.toContain('step-form');
    expect(seen).not.toContain('New journey');
    expect((await post(`/ui/journeys/${id}/lifecycle`, { action: 'activate' }, analyst)).status).toBe(403);
  });
});
