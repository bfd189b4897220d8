import type { Db } from '../db/sql.js';
import { conflict, type FieldError, invalid } from '../http/problem.js';
import { classifyAttribute } from '../privacy/categories.js';
import { type AttributeRow, insertAttribute, selectAttributes } from './store.js';

export type { AttributeRow } from './store.js';
export type AttributeType = AttributeRow['type'];

/** The attribute registry keyed by attribute key. */
export async function loadAttributeRegistry(db: Db): Promise<Map<string, AttributeRow>> {
  const rows = await selectAttributes(db);
  return new Map(rows.map((row) => [row.key, row]));
}

export const listAttributes = (db: Db) => selectAttributes(db);

/** Declares a free attribute; a sensitive one must name the consent purpose that unlocks it. */
export async function declareAttribute(
  db: Db,
  input: Omit<AttributeRow, 'created_at'>,
): Promise<AttributeRow> {
  input = { ...input, ...classifyAttribute(input) };
  if (input.sensitive && !input.purpose) {
    throw invalid([
      { path: 'purpose', message: 'a sensitive attribute needs the consent purpose that allows it' },
    ]);
  }
  const row = await insertAttribute(db, input);
  if (!row) throw conflict(`The attribute ${input.key} is already declared`, 'attribute-exists');
  return row;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

function fitsType(type: AttributeType, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'date':
      return typeof value === 'string' && DATE.test(value) && !Number.isNaN(Date.parse(value));
    case 'string_array':
      return Array.isArray(value) && value.every((v) => typeof v === 'string');
  }
}

/** Checks free attributes against the registry: declared keys only, values of the declared type (null unsets). */
export function checkAttributes(
  registry: Map<string, AttributeRow>,
  attributes: Record<string, unknown>,
  path: string,
): FieldError[] {
  const errors: FieldError[] = [];
  for (const [key, value] of Object.entries(attributes)) {
    const def = registry.get(key);
    if (!def) {
      errors.push({
        path: `${path}.${key}`,
        message: 'unknown attribute: declare it with POST /v1/attributes first',
      });
    } else if (value !== null && !fitsType(def.type, value)) {
      errors.push({ path: `${path}.${key}`, message: `must be of type ${def.type}` });
    }
  }
  return errors;
}
