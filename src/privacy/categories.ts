import { type FieldError, invalid } from '../http/problem.js';

/**
 * The special categories of personal data (GDPR art. 9). Alcohol habits are health data: the
 * registry has no separate class for them, so a marketer cannot declare them as ordinary.
 */
export const SPECIAL_CATEGORIES = [
  'health',
  'political_opinions',
  'religion',
  'ethnic_origin',
  'sexual_orientation',
  'union_membership',
  'biometrics',
  'genetic',
] as const;
export type SpecialCategory = (typeof SPECIAL_CATEGORIES)[number];

/** Names people use for a special category, mapped to the category they belong to. */
const ALIASES: Record<string, SpecialCategory> = {
  alcohol: 'health',
  alcohol_habits: 'health',
  politics: 'political_opinions',
  political_opinion: 'political_opinions',
  religious_beliefs: 'religion',
  ethnicity: 'ethnic_origin',
  racial_origin: 'ethnic_origin',
  trade_union: 'union_membership',
  union: 'union_membership',
  biometric: 'biometrics',
  genetics: 'genetic',
};

/** The special category a name denotes (`alcohol` → `health`), or undefined for an ordinary one. */
export function specialCategoryOf(name: string | null | undefined): SpecialCategory | undefined {
  if (!name) return undefined;
  const key = name.trim().toLowerCase();
  if ((SPECIAL_CATEGORIES as readonly string[]).includes(key)) return key as SpecialCategory;
  return ALIASES[key];
}

/** The consent purpose of a special category: one purpose per category. */
export const sensitivePurpose = (category: SpecialCategory) => `sensitive:${category}`;

export interface AttributeClass {
  sensitive: boolean;
  category: string | null;
  purpose: string | null;
}

/**
 * Classifies an attribute being declared. A sensitive attribute must name a special category
 * and gets its purpose (`sensitive:<category>` unless another is given); an attribute whose
 * category is special must be declared sensitive, so health data cannot slip in as ordinary.
 * Throws 422 naming `category` or `sensitive`.
 */
export function classifyAttribute(input: AttributeClass): AttributeClass {
  const special = specialCategoryOf(input.category);
  const errors: FieldError[] = [];
  if (input.sensitive && !special) {
    errors.push({
      path: 'category',
      in: 'body',
      message: `a sensitive attribute names its special category: one of ${SPECIAL_CATEGORIES.join(', ')}`,
    });
  }
  if (!input.sensitive && special) {
    errors.push({
      path: 'sensitive',
      in: 'body',
      message: `${special} is a special category of personal data: declare the attribute sensitive`,
    });
  }
  if (errors.length > 0 || !special) {
    if (errors.length > 0) throw invalid(errors);
    return { sensitive: false, category: input.category, purpose: input.purpose };
  }
  return { sensitive: true, category: special, purpose: input.purpose ?? sensitivePurpose(special) };
}
