import type { Db } from '../db/sql.js';
import { SAMPLE_ROWS } from './field-values.js';

/*
 * The field catalogue: every field and readable condition a rule may use, for the visual rule
 * builder (GET /v1/rules/fields) and for the warnings on save (rules/warnings.ts). It is made of
 * field sources, each contributing fields for the rules it applies to; a new source (an event
 * type, a journey's step data) is one `registerFieldSource` call, and a new custom operator one
 * `registerRuleOperator` call.
 */

/** What a rule is for: the context it runs against differs (a trigger filter sees `{event, customer}`). */
export type RuleScope = 'segment' | 'offer' | 'trigger' | 'journey';
export const RULE_SCOPES: readonly RuleScope[] = ['segment', 'offer', 'trigger', 'journey'];

export type FieldType = 'number' | 'string' | 'boolean' | 'date' | 'string_array' | 'object' | 'array';

export interface ValueCount {
  value: string;
  count: number;
  /** The count is scaled up from a sample of a large table (rules/field-values.ts). */
  estimated?: boolean;
}

export interface RuleField {
  /** The `var` path, as the rule reads it in this scope (`total_spent`, `customer.total_spent`). */
  path: string;
  label: string;
  type: FieldType;
  group: string;
  description?: string;
  /** A special category of personal data: a rule must declare `requires` (its consent) to read it. */
  sensitive?: boolean;
  purpose?: string;
  requires?: unknown;
  /** What the data holds, most common first, with how many customers (or lines) have it. */
  values?: ValueCount[];
  /** True when `values` lists every value the data holds (so a value not among them is a warning). */
  values_complete?: boolean;
  /** A path prefix whose children are keys from `values` (`spend_by_category.<category>`). */
  keyed?: boolean;
}

export interface OperatorArg {
  name: string;
  type: FieldType;
  /** The field whose values suggest this argument (`category` → purchases' categories). */
  values_from?: string;
  optional?: boolean;
}

/** A custom operator as a readable condition ("bought in category … in the last … days"). */
export interface RuleOperator {
  op: string;
  label: string;
  /** The sentence with `{name}` for each argument. */
  sentence: string;
  args: OperatorArg[];
  /** `boolean`: a condition itself; `number`/`date`: compared with a value (`{">": [{op…}, 100]}`). */
  returns: 'boolean' | 'number';
  example: unknown;
  /** Scopes it applies in (all when absent). */
  scopes?: RuleScope[];
}

export interface FieldSourceInput {
  sql: Db;
  now: Date;
  scope: RuleScope;
  /** The trigger's event, for event fields. */
  event?: string | undefined;
  /** Suggested values per field, at most this many. */
  valueLimit: number;
  /** Tables larger than this many rows are counted from a sample of about that many. */
  sampleRows: number;
  /** Whether a field's values are needed (all for the builder; those a rule reads for warnings). */
  wants: (path: string) => boolean;
  /** One query per kind of value in a catalogue build, however many fields show it (categories). */
  once: (key: string, load: () => Promise<ValueCount[]>) => Promise<ValueCount[]>;
}

export interface FieldSource {
  name: string;
  /** Scopes this source applies to (all when absent). */
  scopes?: RuleScope[];
  fields(input: FieldSourceInput): Promise<RuleField[]> | RuleField[];
}

const sources: FieldSource[] = [];
const operators: RuleOperator[] = [];

/** Adds a source of fields to the catalogue (replacing one of the same name). */
export function registerFieldSource(source: FieldSource): void {
  const at = sources.findIndex((s) => s.name === source.name);
  if (at >= 0) sources[at] = source;
  else sources.push(source);
}

/** Adds a custom operator to the catalogue (replacing one with the same `op`). */
export function registerRuleOperator(operator: RuleOperator): void {
  const at = operators.findIndex((o) => o.op === operator.op);
  if (at >= 0) operators[at] = operator;
  else operators.push(operator);
}

export interface FieldCatalogue {
  scope: RuleScope;
  event: string | null;
  fields: RuleField[];
  operators: RuleOperator[];
  /** The comparison operators that fit each field type. */
  type_operators: Record<string, string[]>;
}

/** Which comparison operators the builder offers for a field of each type. */
export const TYPE_OPERATORS: Record<FieldType, string[]> = {
  number: ['==', '!=', '>', '>=', '<', '<='],
  string: ['==', '!=', 'in'],
  boolean: ['=='],
  date: ['days_ago_more', 'days_ago_less'],
  string_array: ['has_any', 'has_all', 'contains'],
  object: [],
  array: [],
};

/** The catalogue for one scope (and a trigger's event): every source's fields, then the operators. */
export async function fieldCatalogue(
  sql: Db,
  options: {
    scope: RuleScope;
    event?: string | undefined;
    now: Date;
    valueLimit?: number;
    /** Tables larger than this are counted from a sample (default SAMPLE_ROWS). */
    sampleRows?: number;
    /** Only these fields get their values (the rest are listed without): a save's warnings. */
    valuesFor?: (path: string) => boolean;
  },
): Promise<FieldCatalogue> {
  const loads = new Map<string, Promise<ValueCount[]>>();
  const input: FieldSourceInput = {
    sql,
    now: options.now,
    scope: options.scope,
    event: options.event,
    valueLimit: options.valueLimit ?? 20,
    sampleRows: options.sampleRows ?? SAMPLE_ROWS,
    wants: options.valuesFor ?? (() => true),
    once: (key, load) => {
      let loaded = loads.get(key);
      if (!loaded) {
        loaded = load();
        loads.set(key, loaded);
      }
      return loaded;
    },
  };
  const applicable = sources.filter((s) => !s.scopes || s.scopes.includes(options.scope));
  const lists = await Promise.all(applicable.map((s) => s.fields(input)));
  return {
    scope: options.scope,
    event: options.event ?? null,
    fields: lists.flat(),
    operators: operators.filter((o) => !o.scopes || o.scopes.includes(options.scope)),
    type_operators: TYPE_OPERATORS,
  };
}

/** Where customer fields sit in a scope's context: at the root, or under `customer.` for triggers. */
export const customerPrefix = (scope: RuleScope): string => (scope === 'trigger' ? 'customer.' : '');
