import { beforeAll, describe, expect, it } from 'vitest';
import { RenderLimitError } from './budget.js';
import { compileTemplateSource, type TemplateSource } from './compile.js';
import { type DefaultTemplate, readDefaultTemplates } from './defaults.js';
import {
  type CompiledVersion,
  compileSubject,
  compileVersion,
  type RenderData,
  renderForCustomer,
} from './render.js';

async function build(source: TemplateSource): Promise<CompiledVersion> {
  const compiled = await compileTemplateSource(source);
  return compileVersion({ template_id: 1, version: 1, ...source, ...compiled });
}

const doc = (body: string) =>
  `<mjml><mj-body><mj-section><mj-column>${body}</mj-column></mj-section></mj-body></mjml>`;

const OFFERS = [
  {
    offer_id: 1,
    title: 'Linen shirts <new>',
    text: 'Two for one & more',
    image_url: 'https://cdn.example.com/shirts.jpg',
    url: 'https://track.example.com/c/1?sig=a&b=1',
    code: 'LINEN2',
  },
  {
    offer_id: 2,
    title: 'Garden chairs',
    text: null,
    image_url: null,
    url: 'https://track.example.com/c/2',
    code: null,
  },
];

const LOCALES = {
  'fr-FR': {
    hello: 'Bonjour',
    money: /1\s234,50\s€/,
    date: '1 mars 2024',
    birthday: '12 mai 1990',
    cta: 'Voir l’offre',
    unsubscribe: 'Se désinscrire',
  },
  'en-GB': {
    hello: 'Hello',
    money: /€1,234\.50/,
    date: '1 March 2024',
    birthday: '12 May 1990',
    cta: 'See the offer',
    unsubscribe: 'Unsubscribe',
  },
  'de-DE': {
    hello: 'Hallo',
    money: /1\.234,50\s€/,
    date: '1. März 2024',
    birthday: '12. Mai 1990',
    cta: 'Zum Angebot',
    unsubscribe: 'Abmelden',
  },
} as const;

const decode = (html: string) =>
  html
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&#x3D;/g, '=');

describe('default templates', () => {
  let defaults: Array<DefaultTemplate & { compiled: CompiledVersion }>;
  beforeAll(async () => {
    defaults = await Promise.all(
      (await readDefaultTemplates()).map(async (d) => ({ ...d, compiled: await build(d) })),
    );
  });

  it('ship welcome, offers digest, post-purchase, win-back and birthday, each with an offers block', () => {
    expect(defaults.map((d) => d.file).sort()).toEqual([
      'birthday',
      'offers-digest',
      'post-purchase',
      'welcome',
      'win-back',
    ]);
    for (const d of defaults) {
      expect(d.mjml).toContain('{{> offers}}');
      expect(d.mjml).toContain('<mj-body width="600px"');
      // responsive: 600 px on a desktop, the viewport width on a phone
      const { html } = renderForCustomer(d.compiled, { offers: OFFERS });
      expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
      expect(html).toContain('max-width:600px');
      expect(html).toContain('@media only screen and (min-width:480px)');
      expect(html).toContain('max-width:550px;height:auto');
    }
  });

  for (const [locale, words] of Object.entries(LOCALES)) {
    for (const named of [true, false]) {
      for (const withOffers of [true, false]) {
        it(`render in ${locale}, ${named ? 'with' : 'without'} a first name, ${withOffers ? 'with' : 'without'} offers`, () => {
          const data: RenderData = {
            customer: {
              first_name: named ? 'Zoé' : null,
              locale,
              birth_date: '1990-05-12',
              timezone: 'Europe/Paris',
            },
            offers: withOffers ? OFFERS : [],
            unsubscribe_url: 'https://track.example.com/u/tok',
            preferences_url: 'https://track.example.com/p/tok',
            campaign: { name: 'Spring' },
            order: { ref: 'A-1001', total: 1234.5, currency: 'EUR', purchased_at: '2024-03-01T10:00:00Z' },
            last_order: { purchased_at: '2024-03-01T10:00:00Z' },
          };
          for (const d of defaults) {
            const { subject, html, text } = renderForCustomer(d.compiled, data);
            const plain = decode(html);
            expect(subject, d.file).not.toMatch(/\{\{|\n/);
            expect(html, d.file).not.toContain('{{');
            expect(text, d.file).not.toContain('{{');
            // greeting, with the localized fallback
            const greeting = named ? `${words.hello} Zoé,` : `${words.hello},`;
            expect(plain, d.file).toContain(greeting);
            expect(text, d.file).toContain(greeting);
            if (d.subject.includes('first_name')) expect(subject.includes('Zoé'), d.file).toBe(named);
            expect(text, d.file).toContain(words.unsubscribe);
            expect(html, d.file).toContain('href="https://track.example.com/u/tok"');
            // The title (and the body's aria-label) is the subject, never the internal campaign name.
            expect(html, d.file).toContain(`<title>${subject.replaceAll("'", '&#x27;')}</title>`);
            expect(html, d.file).not.toContain('Spring');
            expect(html, d.file).toMatch(new RegExp(`<html lang="${locale.slice(0, 2)}"`));
            expect(html, d.file).not.toContain('color:#ffffff;line-height:1px');
            // offers: titles escaped, tracked links, codes, image, call to action
            if (withOffers) {
              expect(html, d.file).toContain('Linen shirts &lt;new&gt;');
              expect(html, d.file).toContain('href="https://track.example.com/c/1?sig&#x3D;a&amp;b&#x3D;1"');
              expect(html, d.file).toContain('src="https://cdn.example.com/shirts.jpg"');
              expect(html, d.file).toContain('LINEN2');
              expect(html, d.file).toContain(words.cta);
              expect(text, d.file).toContain('Linen shirts <new>');
              expect(text, d.file).toContain('https://track.example.com/c/1?sig=a&b=1');
              expect(text, d.file).toContain('Garden chairs');
            } else {
              expect(html, d.file).not.toContain('offerflow-offers');
              expect(text, d.file).not.toContain('Linen');
            }
          }
          const byFile = Object.fromEntries(
            defaults.map((d) => [d.file, renderForCustomer(d.compiled, data)]),
          );
          // money and dates in the customer's locale
          expect(byFile['post-purchase']?.text).toMatch(words.money);
          expect(byFile['post-purchase']?.text).toContain(words.date);
          expect(byFile['win-back']?.text).toContain(words.date);
          expect(byFile.birthday?.text).toContain(words.birthday);
        });
      }
    }
  }

  it('put the preheader in hidden preview text, personalized', () => {
    const digest = defaults.find((d) => d.file === 'offers-digest') as (typeof defaults)[number];
    const { html, text } = renderForCustomer(digest.compiled, {
      offers: OFFERS,
      customer: { locale: 'en-GB' },
    });
    expect(html).toMatch(/<div style="display:none;[^"]*">Linen shirts &lt;new&gt;<\/div>/);
    expect(text.startsWith('Your selection')).toBe(true);
  });

  it('render with no data at all', () => {
    for (const d of defaults) {
      const { subject, html, text } = renderForCustomer(d.compiled, {});
      expect(subject.length).toBeGreaterThan(0);
      expect(html).toContain('Hello,');
      expect(text).toContain('Unsubscribe');
    }
  });
});

describe('helpers', () => {
  it('format money, dates and greetings for the locale, and missing values as empty', async () => {
    const v = await build({
      subject: '{{greeting}}',
      preheader: null,
      mjml: doc(
        '<mj-text>[{{money 9.5}}|{{money 9.5 "USD"}}|{{money "x"}}|{{money}}|{{date when}}|{{date when "short"}}|{{date nope}}|{{customer.missing.deep}}|{{t "nope"}}]</mj-text>',
      ),
    });
    const render = (customer: Record<string, unknown>) =>
      renderForCustomer(v, { customer, when: '2024-12-31T23:30:00Z' }).text.replace(/[\u00a0\u202f]/g, ' ');
    expect(render({ locale: 'de-DE', timezone: 'Europe/Berlin' })).toContain(
      '[9,50 €|9,50 $|||1. Januar 2025|01.01.25|||]',
    );
    expect(render({ locale: 'en_GB' })).toContain('[€9.50|US$9.50|||31 December 2024|31/12/2024|||]');
    expect(render({ locale: 'klingon!', timezone: 'Mars/Olympus' })).toContain('[€9.50|');
    expect(renderForCustomer(v, { customer: { first_name: '  ', locale: 'fr' } }).subject).toBe('Bonjour,');
  });

  it('localize blocks with lang', async () => {
    const v = await build({
      subject: '{{#lang "fr" "be"}}Salut{{else lang "de"}}Hallo{{else}}Hi{{/lang}}',
      preheader: null,
      mjml: doc('<mj-text>x</mj-text>'),
    });
    const subjectFor = (locale: string) => renderForCustomer(v, { customer: { locale } }).subject;
    expect([subjectFor('fr-CA'), subjectFor('de-AT'), subjectFor('it-IT')]).toEqual(['Salut', 'Hallo', 'Hi']);
  });

  it('escape HTML in the HTML part but not in the subject or text', async () => {
    const v = await build({
      subject: '{{customer.first_name}}',
      preheader: null,
      mjml: doc('<mj-text>{{customer.first_name}}</mj-text>'),
    });
    const out = renderForCustomer(v, {
      customer: { first_name: 'Tom & <script>alert(1)</script>\r\nBcc: x@y' },
    });
    expect(out.html).toContain('Tom &amp; &lt;script&gt;alert(1)&lt;/script&gt;');
    expect(out.html).not.toContain('<script>');
    expect(out.subject).toBe('Tom & <script>alert(1)</script> Bcc: x@y');
    expect(out.text).toContain('Tom & <script>');
  });
});

describe('sandbox', () => {
  it('gives no access to prototypes through data, even when the data carries such keys', async () => {
    const v = await build({
      subject: 's',
      preheader: null,
      mjml: doc(
        '<mj-text>[{{lookup customer key}}|{{#each customer}}{{@key}}={{this}};{{/each}}|{{lookup offers "length"}}|{{#with customer}}{{lookup this ../key}}{{/with}}]</mj-text>',
      ),
    });
    const customer = JSON.parse('{"__proto__": {"polluted": "yes"}, "constructor": "c", "name": "n"}');
    for (const key of ['constructor', '__proto__', '__defineGetter__', 'toString', 'hasOwnProperty']) {
      const { text } = renderForCustomer(v, { customer, key, offers: [] });
      expect(text).toContain('[|name=n;|0|]');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('drops functions and class instances from the data, and turns dates into strings', async () => {
    const v = await build({
      subject: 's',
      preheader: null,
      mjml: doc('<mj-text>[{{a}}|{{c.size}}|{{d}}|{{e}}|{{date e}}]</mj-text>'),
    });
    const data = {
      a: () => 'fn',
      c: new Map([[1, 2]]),
      d: new Date('2024-01-02T03:04:05Z'),
      // how postgres.js hands over a `date` column
      e: new Date('1990-05-12T00:00:00Z'),
      customer: { locale: 'en-GB', timezone: 'America/New_York' },
    };
    expect(renderForCustomer(v, data).text).toContain('[||2024-01-02T03:04:05.000Z|1990-05-12|12 May 1990]');
  });

  it('bounds the data: 20 offers at most, long strings cut', async () => {
    const v = await build({
      subject: '{{customer.first_name}}',
      preheader: null,
      mjml: doc('<mj-text>{{#each offers}}<i>{{title}}</i>{{/each}}</mj-text>'),
    });
    const offers = Array.from({ length: 10_000 }, (_, i) => ({ title: `t${i}` }));
    const out = renderForCustomer(v, { offers, customer: { first_name: 'x'.repeat(1_000_000) } });
    expect(out.html.match(/<i>/g)).toHaveLength(20);
    // Strings are cut at 10,000 characters, and a subject line at 998 (RFC 5322's line limit).
    expect(out.subject).toHaveLength(998);
  });

  it('stops a runaway loop with a render-limit error instead of hanging', async () => {
    const v = await build({
      subject: 's',
      preheader: null,
      mjml: doc(
        '<mj-text>{{#each customer.hobbies}}{{#each ../customer.hobbies}}{{#each ../../customer.hobbies}}{{money 1}}{{greeting}}{{/each}}{{/each}}{{/each}}</mj-text>',
      ),
    });
    const hobbies = Array.from({ length: 1000 }, (_, i) => `h${i}`);
    expect(() => renderForCustomer(v, { customer: { hobbies } })).toThrow(RenderLimitError);
    // The same template renders with sane data; and a tight time limit also stops it.
    expect(renderForCustomer(v, { customer: { hobbies: ['a', 'b'] } }).html).toContain('Hello,');
    expect(() =>
      renderForCustomer(
        v,
        { customer: { hobbies } },
        { maxSteps: Number.POSITIVE_INFINITY, maxOutputChars: Number.POSITIVE_INFINITY, maxMs: 0 },
      ),
    ).toThrow(/ms/);
  });

  it('stops output that grows too large', async () => {
    const v = await build({
      subject: 's',
      preheader: null,
      mjml: doc(
        `<mj-text>{{#each customer.hobbies}}{{#each ../customer.hobbies}}${'x'.repeat(5000)}{{/each}}{{/each}}</mj-text>`,
      ),
    });
    const hobbies = Array.from({ length: 100 }, (_, i) => `h${i}`);
    expect(() => renderForCustomer(v, { customer: { hobbies } })).toThrow(/characters/);
  });
});

describe('compileSubject', () => {
  it('renders a variant subject in the same sandbox, and refuses what a template may not do', () => {
    const subject = compileSubject('{{#lang "de"}}Hallo{{else}}Hi{{/lang}} {{customer.first_name}}\n!');
    expect(subject({ customer: { first_name: 'Eva', locale: 'de-DE' } })).toBe('Hallo Eva !');
    expect(() => compileSubject('{{constructor.name}}', 'variants.0.subject')).toThrow(
      expect.objectContaining({
        status: 422,
        errors: [expect.objectContaining({ path: 'variants.0.subject', line: 1 })],
      }),
    );
  });
});
