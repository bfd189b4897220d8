import { attributePurchases, attributeRefunds } from '../conversions/attribute.js';
import type { Db } from '../db/sql.js';
import { nulByteErrors } from '../http/nul-bytes.js';
import { type FieldError, invalid, zodToFieldErrors } from '../http/problem.js';
import { type PurchaseInput, PurchaseInputSchema } from './schema.js';
import {
  customerIdsByExternalId,
  existingCustomerIds,
  insertNewPurchases,
  type PurchaseRow,
  purchaseIdsByLine,
} from './store.js';

export type { PurchaseRow } from './store.js';

/** How far ahead of our clock a purchase may be dated (shop tills drift). */
export const CLOCK_SKEW_MS = 5 * 60_000;

export interface LineResult {
  index: number;
  id: number;
  external_line_id: string;
  status: 'created' | 'existing';
}

export interface RecordedPurchases {
  lines: LineResult[];
  /**
   * The purchases this call inserted (not the ones already present). The extension point:
   * callers fire what follows a purchase (triggers, conversion attribution) on these rows.
   */
  created: PurchaseRow[];
}

/** Validates raw lines; errors name the line by index (`2.amount`). */
export function parsePurchaseLines(values: unknown[]): {
  lines: (PurchaseInput | undefined)[];
  errors: FieldError[];
} {
  const errors: FieldError[] = [];
  const lines = values.map((value, index) => {
    const nul = nulByteErrors(value, undefined, String(index));
    if (nul.length > 0) {
      errors.push(...nul.map((e) => ({ ...e, index })));
      return undefined;
    }
    const parsed = PurchaseInputSchema.safeParse(value);
    if (parsed.success) return parsed.data;
    for (const e of zodToFieldErrors(parsed.error)) {
      errors.push({ index, path: e.path ? `${index}.${e.path}` : String(index), message: e.message });
    }
    return undefined;
  });
  return { lines, errors };
}

/** Cross-line and database checks: duplicates in the request, dates in the future, unknown customers. */
async function checkLines(
  db: Db,
  lines: readonly (PurchaseInput | undefined)[],
  now: Date,
): Promise<{ errors: FieldError[]; customerOf: (line: PurchaseInput) => number | undefined }> {
  const errors: FieldError[] = [];
  const at = (index: number, path: string, message: string) =>
    errors.push({ index, path: `${index}.${path}`, message });
  const seen = new Map<string, number>();
  const externalIds = new Set<string>();
  const ids = new Set<number>();
  for (const [index, line] of lines.entries()) {
    if (!line) continue;
    const first = seen.get(line.external_line_id);
    if (first !== undefined) at(index, 'external_line_id', `duplicate of line ${first} in this request`);
    else seen.set(line.external_line_id, index);
    if (Date.parse(line.purchased_at) > now.getTime() + CLOCK_SKEW_MS) {
      at(index, 'purchased_at', 'must not be in the future');
    }
    if (line.customer_external_id !== undefined) externalIds.add(line.customer_external_id);
    if (line.customer_id !== undefined) ids.add(line.customer_id);
  }
  const [byExternalId, existing] = await Promise.all([
    externalIds.size > 0 ? customerIdsByExternalId(db, [...externalIds]) : new Map<string, number>(),
    ids.size > 0 ? existingCustomerIds(db, [...ids]) : new Set<number>(),
  ]);
  const customerOf = (line: PurchaseInput) =>
    line.customer_id !== undefined
      ? existing.has(line.customer_id)
        ? line.customer_id
        : undefined
      : byExternalId.get(line.customer_external_id!);
  for (const [index, line] of lines.entries()) {
    if (line && customerOf(line) === undefined) {
      if (line.customer_id !== undefined) at(index, 'customer_id', 'no customer has this id');
      else at(index, 'customer_external_id', 'no customer has this external_id');
    }
  }
  errors.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  return { errors, customerOf };
}

/**
 * Records order lines, idempotent on external_line_id: a line already present changes nothing and
 * is answered as `existing`. The timeline shows each line as a `purchase` entry (read from purchases).
 * Throws a 422 listing every bad line (nothing written). Run it inside the caller's transaction.
 */
export async function recordPurchases(
  db: Db,
  lines: readonly (PurchaseInput | undefined)[],
  now: Date,
  parseErrors: FieldError[] = [],
): Promise<RecordedPurchases> {
  const { errors, customerOf } = await checkLines(db, lines, now);
  const all = [...parseErrors, ...errors].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  if (all.length > 0) {
    throw invalid(all, `${new Set(all.map((e) => e.index)).size} line(s) are not valid; nothing was written`);
  }
  const valid = lines as readonly PurchaseInput[];
  const rows = valid.map((line) => {
    const { customer_external_id: _ext, ...rest } = line;
    // Lines that did not come through the schema (the demo's seed) are sales.
    return { ...rest, kind: line.kind ?? 'purchase', customer_id: customerOf(line)! };
  });
  const created = await insertNewPurchases(db, JSON.stringify(rows));
  // A refund is not a conversion (nor does it fire what follows a purchase): it takes its
  // amount off the revenue of its order's conversion.
  await attributePurchases(
    db,
    created.filter((p) => p.kind === 'purchase'),
  );
  await attributeRefunds(
    db,
    created.filter((p) => p.kind === 'refund'),
  );
  const createdIds = new Map(created.map((p) => [p.external_line_id, p.id]));
  const missing = rows.filter((r) => !createdIds.has(r.external_line_id)).map((r) => r.external_line_id);
  const existingIds = missing.length > 0 ? await purchaseIdsByLine(db, missing) : new Map<string, number>();
  return {
    created,
    lines: rows.map((r, index) => {
      const createdId = createdIds.get(r.external_line_id);
      return {
        index,
        id: createdId ?? existingIds.get(r.external_line_id)!,
        external_line_id: r.external_line_id,
        status: createdId !== undefined ? 'created' : 'existing',
      };
    }),
  };
}
