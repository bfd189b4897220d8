import Handlebars from 'handlebars';
import mjml2html from 'mjml';
import { compileTemplateSource, htmlToText } from '../src/templates/compile.js';
import { readDefaultTemplates } from '../src/templates/defaults.js';
import { helpers, OFFERS_PARTIALS } from '../src/templates/environment.js';
import { compileVersion, type RenderData, renderForCustomer } from '../src/templates/render.js';
import type { Bench, BenchResult } from './harness.js';

// Per-recipient rendering of the "offers digest" default template for 10,000 customers (names
// present or not, three locales, three tracked offers each; BENCH_SCALE shrinks the count).
// - Offerflow: renderForCustomer = bounded copy of the data, subject, preheader, HTML and the
//   plain-text part (a Handlebars template derived from the HTML at save).
// - Baseline: raw Handlebars (a bare Handlebars.create() with the same helpers and offers
//   partial, default compile options) rendering only the same precompiled HTML, same data.
// - Naive: what compiling at save avoids: Handlebars over the MJML, then MJML and html-to-text,
//   per recipient. It is slow, so it runs over the same customers for at most NAIVE_SECONDS and
//   the rate is reported with how many it rendered.
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const CUSTOMERS = Math.max(200, Math.round(10_000 * SCALE));
const NAIVE_SECONDS = Number(process.env.BENCH_NAIVE_SECONDS ?? 30);
const ROUNDS = 5;
const LOCALES = ['fr-FR', 'en-GB', 'de-DE'];
const NAMES = ['Marie', 'John', 'Jürgen', null, 'Zoé', '', 'Anna'];

function customers(n: number): RenderData[] {
  return Array.from({ length: n }, (_, i) => ({
    customer: {
      id: i + 1,
      external_id: `c${i + 1}`,
      email: `c${i + 1}@example.com`,
      first_name: NAMES[i % NAMES.length],
      last_name: 'Doe',
      locale: LOCALES[i % LOCALES.length],
      timezone: 'Europe/Paris',
      birth_date: '1985-04-12',
      preferred_categories: ['garden', 'books'],
      hobbies: ['hiking'],
      address: { city: 'Lyon', country: 'FR' },
      attributes: { tier: 'gold' },
    },
    offers: [0, 1, 2].map((k) => ({
      offer_id: k + 1,
      title: `Offer ${k + 1} for customer ${i + 1}`,
      text: 'Two for one on a selection of items & more, this week only.',
      image_url: `https://cdn.example.com/offers/${k + 1}.jpg`,
      url: `https://mail.example.com/t/c/${i + 1}.${k}.sig${(i * 7919 + k) % 100_000}`,
      code: k === 0 ? `CODE${i}` : null,
    })),
    unsubscribe_url: `https://mail.example.com/u/${i + 1}.sig`,
    preferences_url: `https://mail.example.com/p/${i + 1}.sig`,
    campaign: { name: 'Spring digest' },
  }));
}

/**
 * Renders/s of each contender over all recipients, best of a few rounds; the contenders take
 * turns within each round so that load from elsewhere on a shared machine hits both alike.
 */
function rates(data: RenderData[], contenders: Array<(d: RenderData) => number>): number[] {
  const best = contenders.map(() => 0);
  let sink = 0;
  for (let round = 0; round < ROUNDS; round++) {
    contenders.forEach((render, i) => {
      const started = performance.now();
      for (const d of data) sink += render(d);
      const seconds = (performance.now() - started) / 1000;
      best[i] = Math.max(best[i] ?? 0, data.length / seconds);
    });
  }
  if (sink === 0) throw new Error('nothing rendered');
  return best;
}

const bench: Bench = {
  name: 'templates-render',
  async run(): Promise<BenchResult[]> {
    const source = (await readDefaultTemplates()).find((t) => t.file === 'offers-digest');
    if (!source) throw new Error('templates/offers-digest.mjml is missing');
    const compiled = await compileTemplateSource(source);
    const version = compileVersion({ template_id: 1, version: 1, ...source, ...compiled });
    const data = customers(CUSTOMERS);

    const raw = Handlebars.create();
    raw.registerHelper(helpers);
    raw.registerPartial('offers', OFFERS_PARTIALS.html);
    const rawHtml = raw.compile(compiled.html);

    // Output lengths are read on both sides (a render must not be optimized away); neither side
    // flattens its string, as sending would for both.
    const ours = (d: RenderData) => {
      const r = renderForCustomer(version, d);
      return r.subject.length + r.html.length + r.text.length;
    };
    const baseline = (d: RenderData) => rawHtml(d).length;
    for (const d of data.slice(0, 500)) ours(d) + baseline(d);
    const [baselineRate = 0, oursRate = 0] = rates(data, [baseline, ours]);

    const naiveEnv = Handlebars.create();
    naiveEnv.registerHelper(helpers);
    naiveEnv.registerPartial('offers', OFFERS_PARTIALS.html);
    const mjmlTemplate = naiveEnv.compile(
      source.mjml.replace('<mj-head>', '<mj-head><mj-preview>{{@preheader}}</mj-preview>'),
    );
    const subject = naiveEnv.compile(source.subject, { noEscape: true });
    const preheader = naiveEnv.compile(source.preheader ?? '', { noEscape: true });
    let naiveCount = 0;
    const naiveStarted = performance.now();
    for (const d of data) {
      const pre = preheader(d);
      const { html } = await mjml2html(mjmlTemplate(d, { data: { preheader: pre } }), {
        validationLevel: 'skip',
      });
      const text = htmlToText(html);
      if (subject(d).length + html.length + text.length === 0) throw new Error('nothing rendered');
      naiveCount++;
      if (performance.now() - naiveStarted > NAIVE_SECONDS * 1000) break;
    }
    const naiveRate = naiveCount / ((performance.now() - naiveStarted) / 1000);

    return [
      {
        name: 'templates.render',
        value: oursRate,
        unit: 'renders/s',
        baseline: 'raw Handlebars, HTML only',
        baseline_value: baselineRate,
        ratio: oursRate / baselineRate,
        target: 0.8,
        notes: {
          customers: CUSTOMERS,
          parts: 'subject+html(with preheader)+text',
          text_template: compiled.text_template ? 'yes' : 'no',
        },
      },
      {
        name: 'templates.render-vs-naive',
        value: oursRate,
        unit: 'renders/s',
        baseline: 'MJML per recipient',
        baseline_value: naiveRate,
        ratio: oursRate / naiveRate,
        notes: { speedup: `${Math.round(oursRate / naiveRate)}x`, naive_rendered: naiveCount },
      },
    ];
  },
};

export default bench;
