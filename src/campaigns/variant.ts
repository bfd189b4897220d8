import { createHash } from 'node:crypto';

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
