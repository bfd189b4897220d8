import type { Db } from '../db/sql.js';
import { type FieldError, invalid, zodToFieldErrors } from '../http/problem.js';
import { type ProductInput, ProductInputSchema } from './schema.js';
import { productIdsBySku, upsertProducts } from './store.js';

export interface ProductResult {
  index: number;
  id: number;
  sku: string;
  status: 'created' | 'updated' | 'unchanged';
}

/** Validates raw products; errors name the row by index (`3.price`), duplicates in one batch too. */
export function parseProducts(values: unknown[]): { products: ProductInput[]; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const products: ProductInput[] = [];
  const seen = new Map<string, number>();
  for (const [index, value] of values.entries()) {
    const parsed = ProductInputSchema.safeParse(value);
    if (!parsed.success) {
      for (const e of zodToFieldErrors(parsed.error)) {
        errors.push({ index, path: e.path ? `${index}.${e.path}` : String(index), message: e.message });
      }
      continue;
    }
    const first = seen.get(parsed.data.sku);
    if (first !== undefined) {
      errors.push({ index, path: `${index}.sku`, message: `duplicate of row ${first} in this request` });
    } else seen.set(parsed.data.sku, index);
    products.push(parsed.data);
  }
  return { products, errors };
}

/**
 * Stores products, idempotent on sku: new → `created`, different → `updated` (the row is
 * replaced), the same → `unchanged`. Any bad row is a 422 listing each; nothing is written.
 */
export async function recordProducts(db: Db, values: unknown[]): Promise<ProductResult[]> {
  const { products, errors } = parseProducts(values);
  if (errors.length > 0) {
    throw invalid(
      errors,
      `${new Set(errors.map((e) => e.index)).size} product(s) are not valid; nothing was written`,
    );
  }
  const written = await upsertProducts(db, JSON.stringify(products));
  const bySku = new Map(written.map((w) => [w.sku, w]));
  const missing = products.filter((p) => !bySku.has(p.sku)).map((p) => p.sku);
  const unchanged = missing.length > 0 ? await productIdsBySku(db, missing) : new Map<string, number>();
  return products.map((p, index) => {
    const w = bySku.get(p.sku);
    return {
      index,
      sku: p.sku,
      id: w?.id ?? unchanged.get(p.sku)!,
      status: w ? (w.inserted ? 'created' : 'updated') : 'unchanged',
    };
  });
}
