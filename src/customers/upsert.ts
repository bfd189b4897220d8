import type { Db } from '../db/sql.js';
import { type FieldError, invalid, zodToFieldErrors } from '../http/problem.js';
import type { OptInPolicy } from '../opt-in/requests.js';
import { type AttributeRow, checkAttributes, loadAttributeRegistry } from './attributes.js';
import { applyConsentShorthand } from './consents.js';
import { type CustomerInput, CustomerInputSchema, PROFILE_COLUMNS, type ProfileColumn } from './schema.js';
import { erasedExternalIds, stripNullAttributes, upsertCustomerRows } from './store.js';

const ERASED = 'this customer was erased and cannot be written again';
/** Rows per upsert statement in a batch: validation of the next chunk overlaps the database's work. */
const CHUNK = 1000;

export interface UpsertResult {
  index: number;
  id: number;
  external_id: string;
  status: 'created' | 'updated';
}

/** Where a row's field errors point: `email` for a single upsert, `3.email` in a batch. */
export type RowPath = (index: number, path: string) => string;
export const singlePath: RowPath = (_index, path) => path;
export const batchPath: RowPath = (index, path) => (path ? `${index}.${path}` : String(index));

type Written = { id: number; external_id: string; created: boolean };

/** Validation across rows: duplicate external ids and attributes against the registry. */
class RowChecker {
  readonly errors: FieldError[] = [];
  readonly firstIndex = new Map<string, number>();
  constructor(
    private readonly registry: Map<string, AttributeRow>,
    private readonly pathOf: RowPath,
  ) {}

  add(index: number, path: string, message: string): void {
    this.errors.push({
      ...(this.pathOf === batchPath ? { index } : {}),
      path: this.pathOf(index, path),
      message,
    });
  }

  /** True when the row passed every check. */
  check(index: number, row: CustomerInput): boolean {
    const before = this.errors.length;
    const first = this.firstIndex.get(row.external_id);
    if (first !== undefined) this.add(index, 'external_id', `duplicate of row ${first} in this batch`);
    else this.firstIndex.set(row.external_id, index);
    if (row.attributes) {
      for (const e of checkAttributes(this.registry, row.attributes, 'attributes'))
        this.add(index, e.path, e.message);
    }
    return this.errors.length === before;
  }
}

/** Starts one upsert statement per set of present fields; the promises are already running. */
function startWrites(db: Db, rows: readonly CustomerInput[]): Promise<Written[]>[] {
  const groups = new Map<string, { columns: ProfileColumn[]; rows: Omit<CustomerInput, 'consents'>[] }>();
  for (const row of rows) {
    const columns = PROFILE_COLUMNS.filter((column) => row[column] !== undefined);
    const signature = columns.join(',');
    let group = groups.get(signature);
    if (!group) {
      group = { columns, rows: [] };
      groups.set(signature, group);
    }
    const { consents: _consents, ...profile } = row;
    group.rows.push(profile);
  }
  return [...groups.values()].map(({ columns, rows: groupRows }) => {
    const running = Promise.resolve(upsertCustomerRows(db, JSON.stringify(groupRows), columns));
    // Awaited later; a failure meanwhile must not count as an unhandled rejection.
    running.catch(() => {});
    return running;
  });
}

/** After the writes: answers per row, refuses erased customers, strips nulls, appends consents. */
async function finish(
  db: Db,
  rows: readonly CustomerInput[],
  written: Written[],
  checker: RowChecker,
  optIn?: OptInPolicy,
  consentSource = 'customer_upsert',
): Promise<UpsertResult[]> {
  const byExternalId = new Map(written.map((w) => [w.external_id, w]));
  const results = rows.map((row, index): UpsertResult => {
    const hit = byExternalId.get(row.external_id);
    // No row back: the customer was erased (the upsert never revives one).
    if (!hit) checker.add(index, 'external_id', ERASED);
    return {
      index,
      id: hit?.id ?? 0,
      external_id: row.external_id,
      status: hit?.created ? 'created' : 'updated',
    };
  });
  // Throwing inside the caller's transaction undoes the rows already written.
  if (checker.errors.length > 0) throw invalid(checker.errors);
  const withNulls = results.filter(
    (r) => r.status === 'created' && Object.values(rows[r.index]!.attributes ?? {}).includes(null),
  );
  if (withNulls.length > 0)
    await stripNullAttributes(
      db,
      withNulls.map((r) => r.id),
    );
  await applyConsentShorthand(
    db,
    results.flatMap((r) =>
      Object.entries(rows[r.index]!.consents ?? {}).map(([purpose, granted]) => ({
        customer_id: r.id,
        purpose,
        granted,
      })),
    ),
    consentSource,
    optIn,
  );
  return results;
}

/**
 * Upserts validated customers by external_id: fields present are written (null clears), absent
 * ones kept, attributes merged. Refuses (422) duplicates, undeclared or mistyped attributes and
 * erased customers. Run it inside the caller's transaction. `consentSource` is what the consent
 * ledger records as the origin of the `consents` shorthand (an import names itself).
 */
export async function upsertCustomers(
  db: Db,
  rows: readonly CustomerInput[],
  pathOf: RowPath = batchPath,
  optIn?: OptInPolicy,
  consentSource?: string,
): Promise<UpsertResult[]> {
  const checker = new RowChecker(await loadAttributeRegistry(db), pathOf);
  for (const [index, row] of rows.entries()) checker.check(index, row);
  if (checker.errors.length > 0) throw invalid(checker.errors);
  const written = (await Promise.all(startWrites(db, rows))).flat();
  return finish(db, rows, written, checker, optIn, consentSource);
}

/**
 * A raw batch (parsed JSON values): validated whole, so a bad row yields a 422 listing every bad
 * row by index and nothing is kept. Chunks are written while later ones are still being checked;
 * on any error the caller's transaction is rolled back by the thrown error.
 */
export async function upsertCustomerBatch(
  db: Db,
  values: readonly unknown[],
  optIn?: OptInPolicy,
): Promise<UpsertResult[]> {
  const checker = new RowChecker(await loadAttributeRegistry(db), batchPath);
  const rows: CustomerInput[] = [];
  const writes: Promise<Written[]>[] = [];
  for (let start = 0; start < values.length; start += CHUNK) {
    const chunk: CustomerInput[] = [];
    for (let index = start; index < Math.min(values.length, start + CHUNK); index++) {
      const parsed = CustomerInputSchema.safeParse(values[index]);
      if (!parsed.success) {
        for (const e of zodToFieldErrors(parsed.error)) checker.add(index, e.path, e.message);
        continue;
      }
      rows[index] = parsed.data;
      if (checker.check(index, parsed.data)) chunk.push(parsed.data);
    }
    if (checker.errors.length === 0) {
      writes.push(...startWrites(db, chunk));
      // Lets the driver send this chunk before validating the next one.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  if (checker.errors.length > 0) {
    await Promise.allSettled(writes);
    const erased = await erasedExternalIds(db, [...checker.firstIndex.keys()]);
    for (const [externalId, index] of checker.firstIndex) {
      if (erased.has(externalId)) checker.add(index, 'external_id', ERASED);
    }
    checker.errors.sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    throw invalid(
      checker.errors,
      `${new Set(checker.errors.map((e) => e.index)).size} row(s) are not valid; nothing was written`,
    );
  }
  const written = (await Promise.all(writes)).flat();
  return finish(db, rows, written, checker, optIn);
}
