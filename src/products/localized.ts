import { languageOf } from '../templates/locale.js';

/** A text as stored: one string, or locale → string (`{"en": "Sofa", "fr-FR": "Canapé"}`). */
export type Localized = string | Record<string, string>;

/**
 * The text for a reader's locale: the exact tag, then its language (`fr-CA` → `fr`), then any
 * tag of that language, then `fallback`'s, then the first one given. Never undefined for a
 * non-empty object, so a mail always has a title.
 */
export function localize(
  value: Localized | null | undefined,
  locale: string,
  fallback = 'en',
): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  const entries = Object.entries(value);
  if (entries.length === 0) return null;
  const exact = value[locale];
  if (exact !== undefined) return exact;
  const language = languageOf(locale);
  const sameLanguage = value[language] ?? entries.find(([tag]) => languageOf(tag) === language)?.[1];
  if (sameLanguage !== undefined) return sameLanguage;
  const fallbackText =
    value[fallback] ?? entries.find(([tag]) => languageOf(tag) === languageOf(fallback))?.[1];
  return fallbackText ?? entries[0]![1];
}

/** Whether a text has its own wording for a locale's language (a plain string covers none but its own). */
export function covers(value: Localized | null | undefined, locale: string): boolean {
  if (value === null || value === undefined || typeof value === 'string') return false;
  const language = languageOf(locale);
  return Object.keys(value).some((tag) => tag === locale || languageOf(tag) === language);
}
