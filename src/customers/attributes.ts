import type { Db } from '../db/sql.js';
import { conflict, type FieldError, invalid } from '../http/problem.js';
import { classifyAttribute } from '../privacy/categories.js';
import { assertRulesStillLawful } from '../privacy/guard.js';
import {
  type AttributeRow,
  insertAttribute,
  selectAttributeForUpdate,
  selectAttributes,
  updateAttribute,
} from './store.js';

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

/** What an admin may change of a declared attribute: not its key or type (stored values rely on them). */
export interface AttributeEdit {
  description?: string | null;
  category?: string | null;
  sensitive?: boolean;
  purpose?: string | null;
}

/**
 * Edits an attribute (call it in a transaction): the merged attribute is classified as a new
 * one would be, and when it becomes sensitive or changes purpose, every live rule that reads it
 * must already declare the purpose. Undefined when no attribute has that key.
 */
export async function editAttribute(
  db: Db,
  key: string,
  edit: AttributeEdit,
): Promise<AttributeRow | undefined> {
  const current = await selectAttributeForUpdate(db, key);
  if (!current) return undefined;
  const merged = {
    description: edit.description !== undefined ? edit.description : current.description,
    category: edit.category !== undefined ? edit.category : current.category,
    sensitive: edit.sensitive ?? current.sensitive,
    // A new classification gets its category's purpose unless one is given.
    purpose:
      edit.purpose !== undefined
        ? edit.purpose
        : edit.sensitive === false || (edit.category !== undefined && edit.category !== current.category)
          ? null
          : current.purpose,
  };
  const classified = { ...merged, ...classifyAttribute(merged) };
  if (classified.sensitive && classified.purpose && classified.purpose !== current.purpose)
    await assertRulesStillLawful(
      db,
      { key, category: classified.category, purpose: classified.purpose },
      edit.sensitive !== undefined ? 'sensitive' : edit.purpose !== undefined ? 'purpose' : 'category',
    );
  return updateAttribute(db, { key, ...classified });
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
