import type { Db } from '../db/sql.js';
import type { FieldError } from '../http/problem.js';
import { offerCovers } from '../offers/translations.js';
import { segmentAudiencePage } from '../segments/audience.js';
import { selectSegment } from '../segments/store.js';
import { DEFAULT_LOCALE, languageOf } from '../templates/locale.js';
import type { CampaignRow } from './store.js';

/** How many of the audience are sampled for their languages (the first, in id order). */
const SAMPLE = 5000;

/** Whether a subject line speaks a language: the default one, or a `{{#lang "xx"}}` branch of it. */
export function subjectCovers(subject: string, language: string, defaultLanguage: string): boolean {
  if (language === defaultLanguage) return true;
  return new RegExp(`\\blang\\s+["']${language}["']`, 'i').test(subject);
}

/**
 * Warnings for a campaign whose audience speaks languages that its subject, its variants'
 * subjects or the live offers have no wording for (the customer would read the default
 * language). Saved and launched all the same: a warning, not an error.
 */
export async function localeCoverageWarnings(
  db: Db,
  campaign: CampaignRow,
  now: Date,
): Promise<FieldError[]> {
  if (campaign.segment_id === null || campaign.template_id === null) return [];
  const segment = await selectSegment(db, campaign.segment_id);
  if (!segment) return [];
  const ids = await segmentAudiencePage(db, segment.rule, { limit: SAMPLE, now });
  if (ids.length === 0) return [];
  const defaultLanguage = languageOf(DEFAULT_LOCALE);
  const rows = await db<{ language: string; customers: number }[]>`
    select lower(split_part(replace(coalesce(nullif(locale, ''), ${DEFAULT_LOCALE}), '_', '-'), '-', 1)) as language,
      count(*)::int as customers
    from customers where id = any(${ids}::bigint[]) group by 1 order by 2 desc, 1`;
  const languages = rows.filter((r) => r.language !== defaultLanguage);
  if (languages.length === 0) return [];
  const [template] = await db<{ subject: string }[]>`
    select subject from template_versions where template_id = ${campaign.template_id}
    order by (version = ${campaign.template_version}) desc, version desc limit 1`;
  const offers = await db<{ id: number; name: string; translations: Record<string, { title: string }> }[]>`
    select id, name, translations from offers where deleted_at is null order by id`;
  const warnings: FieldError[] = [];
  for (const { language, customers } of languages) {
    const who = `${customers} customer(s) of the audience read ${language}`;
    if (template && !subjectCovers(template.subject, language, defaultLanguage)) {
      warnings.push({
        path: 'template_id',
        message: `${who}: the template's subject has no ${language} wording`,
      });
    }
    for (const [i, v] of campaign.variants.entries()) {
      if (v.subject && !subjectCovers(v.subject, language, defaultLanguage)) {
        warnings.push({
          path: `variants.${i}.subject`,
          message: `${who}: variant ${v.name}'s subject has no ${language} wording`,
        });
      }
    }
    const uncovered = offers.filter((o) => !offerCovers(o.translations, language, defaultLanguage));
    if (uncovered.length > 0) {
      warnings.push({
        path: 'offers',
        message: `${who}: offer(s) ${uncovered.map((o) => `${o.id} (${o.name})`).join(', ')} have no ${language} title`,
      });
    }
  }
  return warnings;
}
