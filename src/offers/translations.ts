import { languageOf } from '../templates/locale.js';

/** An offer's wording in one locale; each part falls back to the offer's own. */
export interface OfferWording {
  title?: string | undefined;
  text?: string | undefined;
  code_label?: string | undefined;
}

export type OfferTranslations = Record<string, OfferWording>;

/** The translation for a locale: the exact tag, else its language (`fr-CA` → `fr`), else any tag of that language. */
export function translationFor(
  translations: OfferTranslations | null | undefined,
  locale: string,
): OfferWording {
  if (!translations) return {};
  const exact = translations[locale];
  if (exact) return exact;
  const language = languageOf(locale);
  return (
    translations[language] ??
    Object.entries(translations).find(([tag]) => languageOf(tag) === language)?.[1] ??
    {}
  );
}

/** The title and text a reader of `locale` sees (the offer's own where no translation covers it). */
export function localizeOffer<
  T extends { title: string; text: string | null; translations?: OfferTranslations | null },
>(offer: T, locale: string): { title: string; text: string | null; code_label: string | null } {
  const t = translationFor(offer.translations, locale);
  return { title: t.title ?? offer.title, text: t.text ?? offer.text, code_label: t.code_label ?? null };
}

/** Whether an offer has its own wording for a locale's language (its default wording counts for `defaultLanguage`). */
export function offerCovers(
  translations: OfferTranslations | null | undefined,
  locale: string,
  defaultLanguage: string,
): boolean {
  if (languageOf(locale) === defaultLanguage) return true;
  const t = translationFor(translations, locale);
  return t.title !== undefined;
}
