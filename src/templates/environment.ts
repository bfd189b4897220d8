import Handlebars from 'handlebars';
import { charge, tick } from './budget.js';
import {
  DEFAULT_CURRENCY,
  formatDate,
  formatMoney,
  greeting,
  languageOf,
  message,
  resolveLocale,
} from './locale.js';

type HelperOptions = Handlebars.HelperOptions;
type Root = Record<string, unknown> & { customer?: Record<string, unknown> };

/** Helpers a template may call; anything else is refused at save (see policy.ts). */
export const TEMPLATE_HELPERS = ['money', 'date', 'greeting', 't', 'lang'] as const;
export const BUILTIN_HELPERS = ['if', 'unless', 'each', 'with', 'lookup'] as const;
export const ALLOWED_HELPERS: ReadonlySet<string> = new Set([...TEMPLATE_HELPERS, ...BUILTIN_HELPERS]);
/** Partials a template may include. */
export const ALLOWED_PARTIALS: ReadonlySet<string> = new Set(['offers', 'products']);

const rootOf = (options: HelperOptions): Root => (options?.data?.root ?? {}) as Root;
const localeOf = (root: Root): string => resolveLocale(root.customer?.locale ?? root.locale);

/** Our helpers, pure functions of their arguments and the render's root data. */
export const helpers: Record<string, Handlebars.HelperDelegate> = {
  /** `{{money amount}}`, `{{money amount "USD"}}`: currency defaults to `currency` at the root, then EUR. */
  money(amount: unknown, ...rest: unknown[]) {
    tick();
    const options = rest.pop() as HelperOptions;
    const root = rootOf(options);
    const currency = rest[0] ?? root.currency ?? root.customer?.currency ?? DEFAULT_CURRENCY;
    return formatMoney(amount, currency, localeOf(root));
  },
  /** `{{date value}}`, `{{date value "short"}}` (short, medium, long, full). */
  date(value: unknown, ...rest: unknown[]) {
    tick();
    const options = rest.pop() as HelperOptions;
    const root = rootOf(options);
    return formatDate(value, rest[0], localeOf(root), root.customer?.timezone);
  },
  /** `{{greeting}}` → `Bonjour Marie,` / `Bonjour,`; `{{greeting name}}` greets someone else. */
  greeting(...args: unknown[]) {
    tick();
    const options = args.pop() as HelperOptions;
    const root = rootOf(options);
    const name = args.length > 0 ? args[0] : root.customer?.first_name;
    return greeting(name, localeOf(root));
  },
  /** `{{t "unsubscribe"}}`: a few built-in words in the customer's language. */
  t(key: unknown, options: HelperOptions) {
    tick();
    return typeof key === 'string' ? message(key, localeOf(rootOf(options))) : '';
  },
  /** `{{#lang "fr"}}Bonjour{{else lang "de"}}Hallo{{else}}Hello{{/lang}}`. */
  lang(this: unknown, ...args: unknown[]) {
    tick();
    const options = args.pop() as HelperOptions;
    const language = languageOf(localeOf(rootOf(options)));
    const match = args.some((a) => typeof a === 'string' && a.toLowerCase() === language);
    if (match) return options.fn(this);
    return options.inverse ? options.inverse(this) : '';
  },
};

// The offer button is MJML's mj-button markup (a bulletproof button): Outlook for Windows
// ignores padding on a link, so the cell carries the colour and mso-padding-alt the size.
// Images have width and height (Outlook ignores CSS sizes); offer images are shown at 2:1.
const OFFERS_HTML = `{{#if offers.length}}<table role="presentation" class="offerflow-offers" width="100%" border="0" cellpadding="0" cellspacing="0" style="width:100%;border-collapse:collapse;">
{{#each offers}}<tr><td style="padding:16px 0;border-top:1px solid #e6e6e6;font-family:Helvetica,Arial,sans-serif;">
{{#if image_url}}<a href="{{url}}" target="_blank"><img src="{{image_url}}" alt="{{title}}" width="550" height="275" style="display:block;width:100%;max-width:550px;height:auto;border:0;border-radius:6px;" /></a>{{/if}}
<p style="margin:12px 0 4px;font-size:18px;line-height:24px;font-weight:bold;color:#1a1a1a;"><a href="{{url}}" target="_blank" style="color:#1a1a1a;text-decoration:none;">{{title}}</a></p>
{{#if text}}<p style="margin:0 0 10px;font-size:15px;line-height:22px;color:#4a4a4a;">{{text}}</p>{{/if}}
{{#if product}}<p class="offerflow-offer-product" style="margin:0 0 10px;font-size:15px;line-height:22px;color:#1a1a1a;">{{#if product.url}}<a href="{{product.url}}" target="_blank" style="color:#1a1a1a;">{{product.title}}</a>{{else}}{{product.title}}{{/if}} · <strong>{{product.price_text}}</strong></p>{{/if}}
{{#if code}}<p style="margin:0 0 12px;font-size:14px;line-height:20px;color:#1a1a1a;">{{#if code_label}}{{code_label}}{{else}}{{t "offer.code"}}{{/if}} <strong style="font-family:Courier,monospace;letter-spacing:1px;">{{code}}</strong></p>{{/if}}
{{#if url}}<table role="presentation" border="0" cellpadding="0" cellspacing="0" style="border-collapse:separate;line-height:100%;"><tr><td align="center" bgcolor="#1a1a1a" role="presentation" valign="middle" style="border:none;border-radius:4px;cursor:auto;mso-padding-alt:10px 20px;background:#1a1a1a;"><a href="{{url}}" target="_blank" style="display:inline-block;background:#1a1a1a;color:#ffffff;font-family:Helvetica,Arial,sans-serif;font-size:15px;font-weight:bold;line-height:20px;margin:0;text-decoration:none;padding:10px 20px;mso-padding-alt:0px;border-radius:4px;">{{t "offer.cta"}}</a></td></tr></table>{{/if}}
</td></tr>{{/each}}</table>{{/if}}`;

// Runs of blank lines left by missing fields are collapsed after rendering, so this needs
// fewer blocks than the HTML (each block costs a helper call per offer).
const OFFERS_TEXT = `{{#each offers}}
* {{title}}
{{text}}
{{#if product}}{{product.title}}: {{product.price_text}}
{{/if}}{{#if code}}{{#if code_label}}{{code_label}}{{else}}{{t "offer.code"}}{{/if}} {{code}}
{{/if}}{{url}}

{{/each}}`;

/** Options every template is compiled with: only our helpers (and `_part`), resolved at compile time. */
export const COMPILE_OPTIONS = {
  knownHelpers: Object.fromEntries([...ALLOWED_HELPERS, '_part'].map((h) => [h, true])),
  knownHelpersOnly: true,
  strict: false,
  preventIndent: true,
} satisfies CompileOptions;

/** What `{{#_part}}` blocks produced in the current render (renders are synchronous). */
const parts = { subject: '', text: '' };

/** Empties the parts before a render. */
export function resetParts(): void {
  parts.subject = '';
  parts.text = '';
}

/** The parts the render just produced. */
export const renderedParts = (): Readonly<typeof parts> => parts;

export type CompileOptions = Parameters<typeof Handlebars.compile>[1];
export type Env = typeof Handlebars;

/**
 * An isolated Handlebars environment (never the global one): our helpers, `each` charging the
 * render budget per iteration, no `log` (it would reach the console), the `offers` partial.
 */
function createEnvironment(kind: 'html' | 'text'): Env {
  const env = Handlebars.create();
  env.unregisterHelper('log');
  const each = env.helpers.each as Handlebars.HelperDelegate;
  env.registerHelper('each', function (this: unknown, context: unknown, options: HelperOptions) {
    tick();
    const fn = options.fn;
    // Handlebars makes a fresh options object per call: wrapping its fn in place is safe.
    options.fn = ((ctx: unknown, opts?: Handlebars.RuntimeOptions) => {
      const out = fn(ctx, opts);
      charge(out.length);
      return out;
    }) as typeof fn;
    return each.call(this, context, options);
  });
  env.registerHelper(helpers);
  // Internal (templates may not call it, see policy.ts): hands a part's output to the caller.
  env.registerHelper('_part', function (this: unknown, name: 'subject' | 'text', options: HelperOptions) {
    tick();
    parts[name] = options.fn(this);
    return '';
  });
  const partialOptions = { ...COMPILE_OPTIONS, noEscape: kind === 'text' };
  env.registerPartial('offers', env.compile(kind === 'html' ? OFFERS_HTML : OFFERS_TEXT, partialOptions));
  return env;
}

export const htmlEnv = createEnvironment('html');

/**
 * An environment for one render program with only the helpers it calls: every template call
 * wraps every registered helper anew, so fewer helpers is a cheaper call.
 */
export function renderEnvironment(used: ReadonlySet<string>): Env {
  const env = createEnvironment('html');
  for (const name of Object.keys(env.helpers)) {
    if (name !== 'blockHelperMissing' && !used.has(name)) env.unregisterHelper(name);
  }
  return env;
}
/** Plain text and the subject: nothing is HTML-escaped there. */
export const textEnv = createEnvironment('text');

/** The raw partials, for benchmarks that build their own bare environment. */
export const OFFERS_PARTIALS = { html: OFFERS_HTML, text: OFFERS_TEXT };

/** Prototype access stays off (the Handlebars ≥ 4.6 defaults), stated here so no one flips it by accident. */
export const RUNTIME_OPTIONS = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
} as const;
