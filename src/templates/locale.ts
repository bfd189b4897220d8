/** Locale and currency formatting for templates; formatters are costly to build, so they are cached. */

export const DEFAULT_LOCALE = 'en-GB';
export const DEFAULT_CURRENCY = 'EUR';

const MAX_CACHED = 500;
const locales = new Map<string, string>();
const numberFormats = new Map<string, Intl.NumberFormat>();
const dateFormats = new Map<string, Intl.DateTimeFormat>();
const zones = new Map<string, boolean>();

function remember<K, V>(map: Map<K, V>, key: K, value: V): V {
  // Customer data chooses the keys: never let it grow the caches without bound.
  if (map.size >= MAX_CACHED) map.clear();
  map.set(key, value);
  return value;
}

/** A canonical BCP 47 tag for whatever a profile holds (`fr_FR`, `de`, junk → the default). */
export function resolveLocale(raw: unknown): string {
  if (typeof raw !== 'string' || raw === '') return DEFAULT_LOCALE;
  const known = locales.get(raw);
  if (known) return known;
  let tag = DEFAULT_LOCALE;
  try {
    const [canonical] = Intl.getCanonicalLocales(raw.replace(/_/g, '-'));
    if (canonical && Intl.NumberFormat.supportedLocalesOf([canonical]).length > 0) tag = canonical;
  } catch {
    // an invalid tag falls back to the default
  }
  return remember(locales, raw, tag);
}

const languages = new Map<string, string>();

/** The language part of a locale (`fr-FR` → `fr`). */
export function languageOf(locale: string): string {
  const known = languages.get(locale);
  if (known) return known;
  return remember(languages, locale, locale.split('-')[0]?.toLowerCase() || 'en');
}

export function formatMoney(amount: unknown, currency: unknown, locale: string): string {
  const value = typeof amount === 'string' && amount.trim() !== '' ? Number(amount) : amount;
  if (typeof value !== 'number' || !Number.isFinite(value)) return '';
  const code =
    typeof currency === 'string' && /^[A-Za-z]{3}$/.test(currency)
      ? currency.toUpperCase()
      : DEFAULT_CURRENCY;
  const key = `${locale}|${code}`;
  let format = numberFormats.get(key);
  if (!format) {
    try {
      format = new Intl.NumberFormat(locale, { style: 'currency', currency: code });
    } catch {
      format = new Intl.NumberFormat(locale, { style: 'currency', currency: DEFAULT_CURRENCY });
    }
    remember(numberFormats, key, format);
  }
  return format.format(value);
}

export type DateStyle = 'short' | 'medium' | 'long' | 'full';
const DATE_STYLES = new Set<string>(['short', 'medium', 'long', 'full']);
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

function validZone(zone: unknown): zone is string {
  if (typeof zone !== 'string' || zone === '') return false;
  const known = zones.get(zone);
  if (known !== undefined) return known;
  let ok = true;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
  } catch {
    ok = false;
  }
  return remember(zones, zone, ok);
}

/**
 * A date in the customer's language. A date without a time (`1990-05-12`, a birth date) is a
 * calendar day and is shown as such; an instant is shown in the customer's time zone.
 */
export function formatDate(value: unknown, style: unknown, locale: string, timeZone: unknown): string {
  let date: Date;
  let zone = 'UTC';
  if (typeof value === 'string' && DATE_ONLY.test(value)) date = new Date(`${value}T00:00:00Z`);
  else if (typeof value === 'string' || typeof value === 'number') {
    date = new Date(value);
    if (validZone(timeZone)) zone = timeZone;
  } else return '';
  if (Number.isNaN(date.getTime())) return '';
  const dateStyle = typeof style === 'string' && DATE_STYLES.has(style) ? (style as DateStyle) : 'long';
  const key = `${locale}|${dateStyle}|${zone}`;
  let format = dateFormats.get(key);
  if (!format)
    format = remember(dateFormats, key, new Intl.DateTimeFormat(locale, { dateStyle, timeZone: zone }));
  return format.format(date);
}

/** Words the built-in helpers and the offers block need, per language (English when missing). */
const MESSAGES: Record<string, Record<string, string>> = {
  en: {
    hello: 'Hello',
    'offer.cta': 'See the offer',
    'offer.code': 'Your code:',
    unsubscribe: 'Unsubscribe',
    view_in_browser: 'View in your browser',
    preferences: 'Email preferences',
  },
  fr: {
    hello: 'Bonjour',
    'offer.cta': 'Voir l’offre',
    'offer.code': 'Votre code :',
    unsubscribe: 'Se désinscrire',
    view_in_browser: 'Voir dans le navigateur',
    preferences: 'Préférences e-mail',
  },
  de: {
    hello: 'Hallo',
    'offer.cta': 'Zum Angebot',
    'offer.code': 'Ihr Code:',
    unsubscribe: 'Abmelden',
    view_in_browser: 'Im Browser ansehen',
    preferences: 'E-Mail-Einstellungen',
  },
  es: {
    hello: 'Hola',
    'offer.cta': 'Ver la oferta',
    'offer.code': 'Tu código:',
    unsubscribe: 'Darse de baja',
    view_in_browser: 'Ver en el navegador',
    preferences: 'Preferencias de correo',
  },
  it: {
    hello: 'Ciao',
    'offer.cta': 'Scopri l’offerta',
    'offer.code': 'Il tuo codice:',
    unsubscribe: 'Annulla iscrizione',
    view_in_browser: 'Visualizza nel browser',
    preferences: 'Preferenze email',
  },
  nl: {
    hello: 'Hallo',
    'offer.cta': 'Bekijk de aanbieding',
    'offer.code': 'Je code:',
    unsubscribe: 'Afmelden',
    view_in_browser: 'Bekijk in je browser',
    preferences: 'E-mailvoorkeuren',
  },
};

export function message(key: string, locale: string): string {
  return MESSAGES[languageOf(locale)]?.[key] ?? MESSAGES.en?.[key] ?? '';
}

/** `Bonjour Marie,` or `Bonjour,` when the first name is missing or blank. */
export function greeting(firstName: unknown, locale: string): string {
  const hello = message('hello', locale);
  const name = typeof firstName === 'string' ? firstName.trim() : '';
  return name ? `${hello} ${name},` : `${hello},`;
}
