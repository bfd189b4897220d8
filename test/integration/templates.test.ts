import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { type SmtpSink, startSmtpSink } from '../../src/dev/smtp-sink.js';
import { installDefaultTemplates } from '../../src/templates/render.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
let sink: SmtpSink;

beforeAll(async () => {
  sink = await startSmtpSink({
    port: 0,
    host: '127.0.0.1',
    keepInMemory: true,
    rejectRecipient: (address) =>
      address.startsWith('nobody@') ? { code: 550, message: 'No such user' } : null,
  });
  const config = loadConfig({ ...process.env, LOG_LEVEL: 'silent', SMTP_URL: sink.url } as Record<
    string,
    string
  >);
  h = await createHarness({ config });
});
afterAll(async () => {
  await h.close();
  await sink.close();
});

const MJML = `<mjml>
  <mj-body width="600px">
    <mj-section>
      <mj-column>
        <mj-text>{{greeting}} {{money customer.credit "EUR"}}</mj-text>
        <mj-text>{{> offers}}</mj-text>
        <mj-text><a href="{{unsubscribe_url}}">{{t "unsubscribe"}}</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

const create = (body: Record<string, unknown>) =>
  h.post('/v1/templates', { subject: 'Hi {{customer.first_name}}', mjml: MJML, ...body });

async function countVersions(id?: number): Promise<number> {
  const [row] = id
    ? await h.deps.sql`select count(*)::int as n from template_versions where template_id = ${id}`
    : await h.deps.sql`select count(*)::int as n from template_versions`;
  return row?.n as number;
}

describe('templates API', () => {
  it('creates, reads, lists and versions a template; versions are immutable', async () => {
    const res = await create({ name: 'Newsletter', preheader: 'News for {{customer.first_name}}' });
    expect(res.status).toBe(201);
    const t = await json(res);
    expect(t).toMatchObject({
      name: 'Newsletter',
      version: 1,
      subject: 'Hi {{customer.first_name}}',
      mjml: MJML,
    });

    const patched = await h.patch(`/v1/templates/${t.id}`, { subject: 'Hello {{customer.first_name}}' });
    expect(patched.status).toBe(200);
    expect(await json(patched)).toMatchObject({
      version: 2,
      subject: 'Hello {{customer.first_name}}',
      preheader: 'News for {{customer.first_name}}',
    });

    const renamed = await json(await h.patch(`/v1/templates/${t.id}`, { name: 'Monthly news' }));
    expect(renamed).toMatchObject({ name: 'Monthly news', version: 2 });

    const v1 = await json(await h.get(`/v1/templates/${t.id}/versions/1`));
    expect(v1).toMatchObject({ template_id: t.id, version: 1, subject: 'Hi {{customer.first_name}}' });
    expect(v1.html).toContain('{{greeting}}');
    expect(v1.html).toContain('{{> offers}}');
    expect(v1.html).toContain('href="{{unsubscribe_url}}"');
    expect(v1.text_template).toContain('{{greeting}}');
    const v2 = await json(await h.get(`/v1/templates/${t.id}/versions/2`));
    expect(v2.subject).toBe('Hello {{customer.first_name}}');
    expect((await h.get(`/v1/templates/${t.id}/versions/3`)).status).toBe(404);

    const got = await json(await h.get(`/v1/templates/${t.id}`, { role: 'analyst' }));
    expect(got).toMatchObject({ id: t.id, name: 'Monthly news', version: 2 });

    await create({ name: 'Second' });
    const page1 = await json(await h.get('/v1/templates?limit=1'));
    expect(page1.data).toHaveLength(1);
    expect(page1.data[0].mjml).toBeUndefined();
    const page2 = await json(await h.get(`/v1/templates?limit=1&cursor=${page1.next_cursor}`));
    expect(page2.data[0].name).toBe('Second');
  });

  it('answers 409 for a name in use and 404 for an unknown template', async () => {
    await create({ name: 'Unique' });
    const dup = await create({ name: 'Unique' });
    expect(dup.status).toBe(409);
    expect((await h.get('/v1/templates/999999')).status).toBe(404);
    expect((await h.patch('/v1/templates/999999', { subject: 'x' })).status).toBe(404);
  });

  it('refuses invalid MJML with 422 and positions, storing nothing', async () => {
    const before = await countVersions();
    const bad = `<mjml>\n<mj-body>\n  <mj-section>\n    <mj-column>\n      <mj-text colour="red">x</mj-text>\n    </mj-column>\n  </mj-section>\n</mj-body>\n</mjml>`;
    const res = await create({ name: 'Bad MJML', mjml: bad });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect((await json(res)).errors).toEqual([
      { path: 'mjml', message: '<mj-text>: Attribute colour is illegal', line: 5, column: 7 },
    ]);
    expect(await countVersions()).toBe(before);
    const [row] = await h.deps.sql`select count(*)::int as n from templates where name = 'Bad MJML'`;
    expect(row?.n).toBe(0);
  });

  it('refuses invalid Handlebars with 422 and positions; a bad PATCH leaves the template as it was', async () => {
    const t = await json(await create({ name: 'Patched badly' }));
    const res = await h.patch(`/v1/templates/${t.id}`, {
      subject: 'Hi {{#if customer.first_name}}there',
      mjml: MJML.replace('{{greeting}}', '{{greeting}'),
    });
    expect(res.status).toBe(422);
    const errors = (await json(res)).errors;
    expect(errors.map((e: { path: string }) => e.path)).toEqual(['subject', 'mjml']);
    expect(errors[1]).toMatchObject({ line: 5, column: expect.any(Number) });
    expect(await countVersions(t.id)).toBe(1);
    expect((await json(await h.get(`/v1/templates/${t.id}`))).version).toBe(1);
  });

  it('refuses prototype access and unknown helpers at save', async () => {
    const res = await create({
      name: 'Sneaky',
      subject: '{{lookup this "constructor"}}',
      mjml: MJML.replace('{{greeting}}', '{{customer.__proto__}} {{constructor.name}}'),
    });
    expect(res.status).toBe(422);
    const errors = (await json(res)).errors;
    expect(errors).toEqual([
      { path: 'subject', message: expect.stringMatching(/constructor/), line: 1, column: 15 },
      { path: 'mjml', message: expect.stringMatching(/__proto__/), line: 5, column: 20 },
      { path: 'mjml', message: expect.stringMatching(/constructor/), line: 5, column: 43 },
    ]);
  });

  it('validates bodies strictly and checks roles', async () => {
    const res = await create({ name: 'X', extra: 1 });
    expect(res.status).toBe(422);
    expect((await json(res)).errors[0]).toMatchObject({ path: 'extra', message: 'unknown field' });
    expect(
      (await h.post('/v1/templates', { name: 'A', subject: 's', mjml: MJML }, { role: 'analyst' })).status,
    ).toBe(403);
    expect((await h.get('/v1/templates', { role: 'integrator' })).status).toBe(403);
    expect((await h.post('/v1/templates/1/preview', {}, { role: 'analyst' })).status).toBe(403);
  });
});

describe('preview and test-send', () => {
  let templateId: number;
  let customerId: number;

  beforeAll(async () => {
    templateId = (
      await json(await create({ name: 'Preview me', preheader: 'Just for {{customer.first_name}}' }))
    ).id;
    const [c] = await h.deps.sql`
      insert into customers (external_id, email, first_name, locale, attributes)
      values ('c-1', 'anna@example.com', 'Anna', 'de-DE', '{"credit": 12.5, "diagnosis": "secret"}')
      returning id`;
    customerId = c?.id as number;
    await h.deps
      .sql`insert into attributes (key, type, sensitive, purpose) values ('diagnosis', 'string', true, 'health')`;
    await h.deps.sql`
      insert into offers (name, title, text, url, code, priority)
      values ('o1', 'Gartenstühle', 'Zwei zum Preis von einem', 'https://shop.example.com/chairs', 'STUHL', 10)`;
  });

  it('previews with given data', async () => {
    const res = await h.post(`/v1/templates/${templateId}/preview`, {
      data: {
        customer: { first_name: 'Jo', locale: 'fr-FR', credit: 1234.5 },
        offers: [{ title: 'Soldes', url: 'https://t.example.com/c/1', code: 'ETE' }],
      },
    });
    expect(res.status).toBe(200);
    const out = await json(res);
    expect(out.subject).toBe('Hi Jo');
    expect(out.html).toMatch(/Bonjour Jo, 1\s234,50\s€/);
    expect(out.html).toContain('href="https://t.example.com/c/1"');
    expect(out.html).toContain('>Just for Jo</div>');
    expect(out.text).toContain('Soldes');
    expect(out.text).toContain('https://t.example.com/c/1');
  });

  it('previews for a customer: their profile without sensitive attributes, and their offers', async () => {
    const res = await h.post(`/v1/templates/${templateId}/preview`, {
      customer_id: customerId,
      data: { customer_extra: 1 },
    });
    expect(res.status).toBe(200);
    const out = await json(res);
    expect(out.subject).toBe('Hi Anna');
    expect(out.html).toContain('Hallo Anna,');
    expect(out.html).toContain('Gartenstühle');
    expect(out.html).toContain('Zum Angebot');
    expect(out.text).toContain('https://shop.example.com/chairs');
    const audit = await h.deps
      .sql`select * from audit_log where action = 'customer.read' and customer_id = ${customerId}`;
    expect(audit).toHaveLength(1);

    const sensitive = await json(
      await h.post('/v1/templates', {
        name: 'Leaky',
        subject: '[{{customer.attributes.diagnosis}}]',
        mjml: MJML,
      }),
    );
    const leak = await json(
      await h.post(`/v1/templates/${sensitive.id}/preview`, { customer_id: customerId }),
    );
    expect(leak.subject).toBe('[]');
  });

  it('answers 422 for an unknown customer, 404 for an unknown template or version', async () => {
    const res = await h.post(`/v1/templates/${templateId}/preview`, { customer_id: 987654 });
    expect(res.status).toBe(422);
    expect((await json(res)).errors[0]).toMatchObject({ path: 'customer_id' });
    expect((await h.post('/v1/templates/987654/preview', { data: {} })).status).toBe(404);
    expect((await h.post(`/v1/templates/${templateId}/preview`, { version: 9 })).status).toBe(404);
  });

  it('fails a runaway render safely with 422', async () => {
    const loop = await json(
      await h.post('/v1/templates', {
        name: 'Loops',
        subject: 's',
        mjml: MJML.replace(
          '{{greeting}}',
          '{{#each customer.hobbies}}{{#each ../customer.hobbies}}{{#each ../../customer.hobbies}}{{money 1}}{{/each}}{{/each}}{{/each}}',
        ),
      }),
    );
    const hobbies = Array.from({ length: 100 }, (_, i) => `h${i}`);
    const res = await h.post(`/v1/templates/${loop.id}/preview`, { data: { customer: { hobbies } } });
    expect(res.status).toBe(422);
    expect(await json(res)).toMatchObject({ type: expect.stringContaining('render-limit') });
  });

  it('sends a real test email over SMTP', async () => {
    const before = sink.messages.length;
    const res = await h.post(`/v1/templates/${templateId}/test-send`, {
      to: 'qa@example.com',
      customer_id: customerId,
    });
    expect(res.status).toBe(200);
    const result = await json(res);
    expect(result).toMatchObject({ accepted: ['qa@example.com'], rejected: [], subject: '[Test] Hi Anna' });
    expect(sink.messages.length).toBe(before + 1);
    const mail = await simpleParser(sink.messages[sink.messages.length - 1] as Buffer);
    expect(mail.subject).toBe('[Test] Hi Anna');
    expect(mail.messageId).toBe(result.message_id);
    expect((mail.to as { text: string }).text).toBe('qa@example.com');
    expect(mail.from?.text).toContain('offers@');
    expect(mail.html).toContain('Hallo Anna,');
    expect(mail.html).toContain('Gartenstühle');
    expect(mail.text).toContain('Hallo Anna,');
    expect(mail.text).toContain('STUHL');
    expect(mail.headers.get('x-offerflow-template')).toBe(String(templateId));
  });

  it('answers 422 naming `to` when the SMTP server refuses the address', async () => {
    const res = await h.post(`/v1/templates/${templateId}/test-send`, { to: 'nobody@example.com', data: {} });
    expect(res.status).toBe(422);
    expect((await json(res)).errors[0]).toMatchObject({
      path: 'to',
      message: expect.stringContaining('No such user'),
    });
    const bad = await h.post(`/v1/templates/${templateId}/test-send`, { to: 'not-an-address' });
    expect(bad.status).toBe(422);
  });
});

describe('installDefaultTemplates', () => {
  it('creates the five defaults once, by name', async () => {
    const first = await installDefaultTemplates(h.deps.sql);
    expect(first.sort()).toEqual([
      'Birthday',
      'Offers digest',
      'Post-purchase follow-up',
      'Welcome',
      'Win-back',
    ]);
    expect(await installDefaultTemplates(h.deps.sql)).toEqual([]);
    const rows = await h.deps.sql`select name, latest_version from templates where name = any(${first})`;
    expect(rows).toHaveLength(5);
    expect(rows.every((r) => r.latest_version === 1)).toBe(true);
  });
});
