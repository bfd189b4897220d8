import { createHash } from 'node:crypto';
import type { Variant } from './schema.js';

const DEFAULT_VARIANTS: Variant[] = [{ name: 'A', weight: 1 }];

/** The variants a campaign sends with: its own with a positive weight, or a single implicit one. */
export function effectiveVariants(row: { variants: readonly Variant[] }): Variant[] {
  const live = row.variants.filter((v) => v.weight > 0);
  return live.length > 0 ? live : DEFAULT_VARIANTS;
}

export interface VariantWeight {
  name: string;
  weight: number;
}

/**
 * The variant of a customer in a campaign: a hash of (campaign, customer) mapped onto the
 * cumulative weights. Deterministic, so a re-planned campaign assigns everyone the same variant.
 */
export function assignVariant<V extends VariantWeight>(
  variants: readonly V[],
  campaignId: number,
  customerId: number,
): V {
  if (variants.length === 0) throw new Error('a campaign needs at least one variant');
  const digest = createHash('sha256').update(`${campaignId}:${customerId}`).digest();
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  const point = (digest.readUInt32BE(0) / 2 ** 32) * total;
  let cumulative = 0;
  for (const variant of variants) {
    cumulative += variant.weight;
    if (point < cumulative) return variant;
  }
  return variants[variants.length - 1]!;
}

/**
 * Whether a customer is in the test cell of a campaign's A/B test: a hash of (campaign,
 * customer), salted apart from assignVariant's so that cell and variant are independent, under
 * `percent` of the range. Deterministic, so a re-planned campaign keeps the same cell.
 */
export function inTestCell(campaignId: number, customerId: number, percent: number): boolean {
  const digest = createHash('sha256').update(`ab:${campaignId}:${customerId}`).digest();
  return (digest.readUInt32BE(0) / 2 ** 32) * 100 < percent;
}
