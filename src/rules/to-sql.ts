import type { Db, Fragment } from '../db/sql.js';

/*
 * Rule → SQL, for the subset whose meaning we can reproduce exactly in PostgreSQL. Anything
 * else returns null and the caller evaluates in process. Only the fields and operators below
 * are translated; every value is a bound parameter, identifiers come from this allow-list.
 *
 * JSON Logic semantics reproduced (json-logic-engine, see the differential test):
 * - relational operators (<, <=, >, >=) treat a null number as 0, and so do loose == / !=
 *   when the field is on the left (`{"==": [{"var": "x"}, 0]}`), not when it is on the right;
 * - strict === / !== compare as is (null equals nothing but null);
 * - strings compare only for (in)equality with strings (ordering would need UTF-16 order);
 * - every atomic predicate is made non-null, so NOT and OR keep two-valued logic.
 */

type FieldType = 'number' | 'string' | 'array';

/** Aggregates a rule may need, computed once per customer in the derived table `a`. */
export interface AggregateNeeds {
  total_spent: boolean;
  orders_count: boolean;
  last_purchase_at: boolean;
  categories_bought: boolean;
  /** spend_by_category.<category> → column alias. */
  categories: Map<string, string>;
}

interface Field {
  type: FieldType;
  expr: (sql: Db, needs: AggregateNeeds, now: Date) => Fragment;
}

const CATEGORY_KEY = /^[A-Za-z0-9_-]{1,100}$/;

const FIELDS: Record<string, Field> = {
  id: { type: 'number', expr: (sql) => sql`c.id` },
  age: {
    type: 'number',
    expr: (sql, _n, now) =>
      sql`extract(year from age((${now}::timestamptz at time zone 'UTC')::date, c.birth_date))::int`,
  },
  days_since_signup: {
    type: 'number',
    expr: (sql, _n, now) => sql`floor(extract(epoch from (${now}::timestamptz - c.created_at)) / 86400)::int`,
  },
  total_spent: {
    type: 'number',
    expr: (sql, needs) => {
      needs.total_spent = true;
      return sql`coalesce(a.total_spent, 0)`;
    },
  },
  orders_count: {
    type: 'number',
    expr: (sql, needs) => {
      needs.orders_count = true;
      return sql`coalesce(a.orders_count, 0)`;
    },
  },
  avg_order_value: {
    type: 'number',
    expr: (sql, needs) => {
      needs.total_spent = true;
      needs.orders_count = true;
      return sql`(case when a.orders_count > 0 then round(a.total_spent / a.orders_count, 2) end)`;
    },
  },
  days_since_last_purchase: {
    type: 'number',
    expr: (sql, needs, now) => {
      needs.last_purchase_at = true;
      return sql`floor(extract(epoch from (${now}::timestamptz - a.last_purchase_at)) / 86400)::int`;
    },
  },
  categories_bought: {
    type: 'array',
    expr: (sql, needs) => {
      needs.categories_bought = true;
      return sql`coalesce(a.categories_bought, '{}'::text[])`;
    },
  },
};
for (const name of [
  'email',
  'external_id',
  'first_name',
  'last_name',
  'locale',
  'timezone',
  'occupation',
  'income_band',
  'education',
]) {
  FIELDS[name] = { type: 'string', expr: (sql) => sql`c.${sql(name)}` };
}
for (const name of ['preferred_categories', 'hobbies']) {
  FIELDS[name] = { type: 'array', expr: (sql) => sql`c.${sql(name)}` };
}

/** The allow-listed `var` paths the SQL translation understands. */
export const SQL_FIELDS: readonly string[] = [...Object.keys(FIELDS), 'spend_by_category.<category>'];

function fieldOf(path: string): Field | undefined {
  if (Object.hasOwn(FIELDS, path)) return FIELDS[path];
  const [head, key, ...rest] = path.split('.');
  if (head === 'spend_by_category' && key && rest.length === 0 && CATEGORY_KEY.test(key)) {
    return {
      type: 'number',
      expr: (sql, needs) => {
        let alias = needs.categories.get(key);
        if (!alias) {
          alias = `s${needs.categories.size}`;
          needs.categories.set(key, alias);
        }
        return sql`a.${sql(alias)}`;
      },
    };
  }
  return undefined;
}

/** The field a `{"var": "path"}` node names, when it is a plain allow-listed var. */
function varField(node: unknown): Field | undefined {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
  const keys = Object.keys(node);
  if (keys.length === 1 && keys[0] === 'event_count')
    return eventCountField((node as { event_count: unknown }).event_count);
  if (keys.length !== 1 || keys[0] !== 'var') return undefined;
  let path = (node as { var: unknown }).var;
  if (Array.isArray(path)) {
    if (path.length !== 1) return undefined;
    path = path[0];
  }
  return typeof path === 'string' ? fieldOf(path) : undefined;
}

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
const isNumberList = (v: unknown): v is number[] => Array.isArray(v) && v.every(isNumber);

const FLIP: Record<string, string> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

export interface RuleSql {
  where: Fragment;
  needs: AggregateNeeds;
}

/** Translates a rule to a WHERE fragment over `customers c` and aggregates `a`, or null. */
export function ruleToSql(sql: Db, rule: unknown, now: Date): RuleSql | null {
  const needs: AggregateNeeds = {
    total_spent: false,
    orders_count: false,
    last_purchase_at: false,
    categories_bought: false,
    categories: new Map(),
  };
  const where = predicate(sql, rule, needs, now, 0);
  return where ? { where, needs } : null;
}

function predicate(sql: Db, node: unknown, needs: AggregateNeeds, now: Date, depth: number): Fragment | null {
  if (depth > 64) return null;
  if (node === true) return sql`true`;
  if (node === false) return sql`false`;
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return null;
  const keys = Object.keys(node);
  if (keys.length !== 1) return null;
  const op = keys[0] as string;
  const raw = (node as Record<string, unknown>)[op];
  const args = Array.isArray(raw) ? raw : [raw];
  switch (op) {
    case 'and':
    case 'or': {
      if (args.length === 0) return null;
      const parts: Fragment[] = [];
      for (const arg of args) {
        const part = predicate(sql, arg, needs, now, depth + 1);
        if (!part) return null;
        parts.push(part);
      }
      return parts.reduce((acc, part) =>
        op === 'and' ? sql`(${acc} and ${part})` : sql`(${acc} or ${part})`,
      );
    }
    case '!':
    case '!!': {
      if (args.length !== 1) return null;
      const inner = predicate(sql, args[0], needs, now, depth + 1);
      if (!inner) return null;
      return op === '!' ? sql`(not ${inner})` : inner;
    }
    case '==':
    case '===':
    case '!=':
    case '!==':
    case '<':
    case '<=':
    case '>':
    case '>=':
      return comparison(sql, op, args, needs, now);
    case 'in':
      return inList(sql, args, needs, now);
    case 'has_any':
    case 'has_all': {
      if (args.length !== 2) return null;
      const field = varField(args[0]);
      if (field?.type !== 'array' || !isStringList(args[1])) return null;
      const expr = field.expr(sql, needs, now);
      return op === 'has_any' ? sql`(${expr} && ${args[1]}::text[])` : sql`(${expr} @> ${args[1]}::text[])`;
    }
    case 'purchased_in': {
      if (args.length !== 2) return null;
      const [category, days] = args;
      if (typeof category !== 'string') return null;
      if (days === null) {
        return sql`exists (select 1 from purchases p where p.customer_id = c.id and p.category = ${category})`;
      }
      if (!isNumber(days) || days < 0) return null;
      const from = new Date(now.getTime() - days * 86_400_000);
      return sql`exists (select 1 from purchases p where p.customer_id = c.id and p.category = ${category}
        and p.purchased_at >= ${from}::timestamptz)`;
    }
    case 'did_event': {
      if (args.length < 2 || args.length > 3) return null;
      const scope = eventScope(sql, args[0], args[1], now);
      if (!scope) return null;
      const filter = args[2] === undefined || args[2] === null ? sql`true` : eventFilter(sql, args[2], 0);
      if (!filter) return null;
      return sql`exists (select 1 from events e where e.customer_id = c.id and ${scope} and ${filter})`;
    }
    default:
      return null;
  }
}

/*
 * Custom events (events table). In process, did_event and event_count read the context's
 * events, bounded by CONTEXT_EVENTS (rules/store.ts): a window wider than its days is not
 * translated, so both paths see the same events.
 */
const CONTEXT_EVENT_DAYS = 3660;

/** `e.name = … and e.at >= now - days`, for a literal name and window (null: all time). */
function eventScope(sql: Db, name: unknown, days: unknown, now: Date): Fragment | null {
  if (typeof name !== 'string') return null;
  if (days === null) return null;
  if (!isNumber(days) || days < 0 || days > CONTEXT_EVENT_DAYS) return null;
  const from = new Date(now.getTime() - days * 86_400_000);
  return sql`e.name = ${name}::text and e.at >= ${from}::timestamptz`;
}

function eventCountField(raw: unknown): Field | undefined {
  if (!Array.isArray(raw) || raw.length !== 2) return undefined;
  const [name, days] = raw;
  if (typeof name !== 'string' || !isNumber(days) || days < 0 || days > CONTEXT_EVENT_DAYS) return undefined;
  return {
    type: 'number',
    expr: (sql, _needs, now) =>
      sql`(select count(*) from events e where e.customer_id = c.id and ${eventScope(sql, name, days, now)!})`,
  };
}

const PROPERTY_KEY = /^[A-Za-z0-9_-]{1,100}$/;

/** The property path of a plain `{"var": "a.b"}` in a did_event filter. */
function propertyPath(node: unknown): string[] | null {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return null;
  const keys = Object.keys(node);
  if (keys.length !== 1 || keys[0] !== 'var') return null;
  let path = (node as { var: unknown }).var;
  if (Array.isArray(path)) {
    if (path.length !== 1) return null;
    path = path[0];
  }
  if (typeof path !== 'string') return null;
  const parts = path.split('.');
  return parts.every((p) => PROPERTY_KEY.test(p)) ? parts : null;
}

const isScalar = (v: unknown) => typeof v === 'string' || typeof v === 'boolean' || isNumber(v);

/**
 * A did_event filter over `e.properties`, for the subset whose JSON Logic meaning is exact in
 * SQL: strict (in)equality with a literal, `in` a list of strings, and/or/not of those.
 */
function eventFilter(sql: Db, node: unknown, depth: number): Fragment | null {
  if (depth > 32 || node === null || typeof node !== 'object' || Array.isArray(node)) return null;
  const keys = Object.keys(node);
  if (keys.length !== 1) return null;
  const op = keys[0] as string;
  const raw = (node as Record<string, unknown>)[op];
  const args = Array.isArray(raw) ? raw : [raw];
  switch (op) {
    case 'and':
    case 'or': {
      if (args.length === 0) return null;
      const parts: Fragment[] = [];
      for (const arg of args) {
        const part = eventFilter(sql, arg, depth + 1);
        if (!part) return null;
        parts.push(part);
      }
      return parts.reduce((acc, part) =>
        op === 'and' ? sql`(${acc} and ${part})` : sql`(${acc} or ${part})`,
      );
    }
    case '!': {
      if (args.length !== 1) return null;
      const inner = eventFilter(sql, args[0], depth + 1);
      return inner ? sql`(not ${inner})` : null;
    }
    case '===':
    case '!==': {
      if (args.length !== 2) return null;
      let path = propertyPath(args[0]);
      let value = args[1];
      if (!path) {
        path = propertyPath(args[1]);
        value = args[0];
      }
      if (!path || !isScalar(value)) return null;
      const equal = sql`coalesce(e.properties #> ${path}::text[] = ${JSON.stringify(value)}::text::jsonb, false)`;
      return op === '===' ? equal : sql`(not ${equal})`;
    }
    case 'in': {
      if (args.length !== 2) return null;
      const path = propertyPath(args[0]);
      if (!path || !isStringList(args[1])) return null;
      return sql`coalesce(jsonb_typeof(e.properties #> ${path}::text[]) = 'string'
        and e.properties #>> ${path}::text[] = any(${args[1]}::text[]), false)`;
    }
    default:
      return null;
  }
}

function comparison(sql: Db, op: string, args: unknown[], needs: AggregateNeeds, now: Date): Fragment | null {
  if (args.length === 3 && (op === '<' || op === '<=')) {
    const [low, mid, high] = args;
    const field = varField(mid);
    if (field?.type !== 'number' || !isNumber(low) || !isNumber(high)) return null;
    const expr = sql`coalesce(${field.expr(sql, needs, now)}, 0)`;
    return op === '<'
      ? sql`(${low}::numeric < ${expr} and ${expr} < ${high}::numeric)`
      : sql`(${low}::numeric <= ${expr} and ${expr} <= ${high}::numeric)`;
  }
  if (args.length !== 2) return null;
  let [left, right] = args;
  let field = varField(left);
  // The engine treats a null number as 0 in `null == 0` but not in `0 == null` (JavaScript's
  // own rule): loose equality depends on the side the field is on.
  const flipped = !field;
  if (!field) {
    field = varField(right);
    if (!field) return null;
    [left, right] = [right, left];
    op = FLIP[op] ?? op;
  }
  const value = right;
  const expr = field.expr(sql, needs, now);
  if (field.type === 'number') {
    if (!isNumber(value)) return null;
    const v = sql`${value}::numeric`;
    switch (op) {
      case '==':
        return flipped ? sql`coalesce(${expr} = ${v}, false)` : sql`(coalesce(${expr}, 0) = ${v})`;
      case '!=':
        return flipped ? sql`(${expr} is distinct from ${v})` : sql`(coalesce(${expr}, 0) <> ${v})`;
      case '===':
        return sql`coalesce(${expr} = ${v}, false)`;
      case '!==':
        return sql`(${expr} is distinct from ${v})`;
      case '<':
        return sql`(coalesce(${expr}, 0) < ${v})`;
      case '<=':
        return sql`(coalesce(${expr}, 0) <= ${v})`;
      case '>':
        return sql`(coalesce(${expr}, 0) > ${v})`;
      case '>=':
        return sql`(coalesce(${expr}, 0) >= ${v})`;
      default:
        return null;
    }
  }
  if (field.type === 'string') {
    if (value !== null && typeof value !== 'string') return null;
    const equal = op === '==' || op === '===';
    if (!equal && op !== '!=' && op !== '!==') return null;
    if (value === null) return equal ? sql`(${expr} is null)` : sql`(${expr} is not null)`;
    return equal
      ? sql`coalesce(${expr} = ${value}::text, false)`
      : sql`(${expr} is distinct from ${value}::text)`;
  }
  return null;
}

function inList(sql: Db, args: unknown[], needs: AggregateNeeds, now: Date): Fragment | null {
  if (args.length !== 2) return null;
  const [item, list] = args;
  const listField = varField(list);
  if (listField) {
    if (typeof item !== 'string') return null;
    const expr = listField.expr(sql, needs, now);
    if (listField.type === 'array') return sql`(${item}::text = any(${expr}))`;
    if (listField.type === 'string') return sql`coalesce(strpos(${expr}, ${item}::text) > 0, false)`;
    return null;
  }
  const field = varField(item);
  if (!field) return null;
  const expr = field.expr(sql, needs, now);
  if (field.type === 'string' && isStringList(list))
    return sql`coalesce(${expr} = any(${list}::text[]), false)`;
  if (field.type === 'number' && isNumberList(list) && list.length > 0) {
    return sql`coalesce(${expr} = any(${list}::numeric[]), false)`;
  }
  return null;
}

/** The aggregate columns of `a`, only those the rule needs. */
export function aggregateColumns(sql: Db, needs: AggregateNeeds): Fragment[] {
  const cols: Fragment[] = [];
  if (needs.total_spent) cols.push(sql`sum(p.amount) as total_spent`);
  if (needs.orders_count)
    cols.push(
      sql`count(distinct coalesce(p.order_ref, '#' || p.id::text)) filter (where p.kind = 'purchase') as orders_count`,
    );
  // As in the rule context (rules/store.ts): a refund is neither an order nor a purchase date.
  if (needs.last_purchase_at)
    cols.push(sql`max(p.purchased_at) filter (where p.kind = 'purchase') as last_purchase_at`);
  if (needs.categories_bought) {
    cols.push(sql`array_agg(distinct p.category) filter (where p.category is not null) as categories_bought`);
  }
  for (const [category, alias] of needs.categories) {
    cols.push(sql`sum(p.amount) filter (where p.category = ${category}::text) as ${sql(alias)}`);
  }
  return cols;
}

export const needsAggregates = (needs: AggregateNeeds): boolean =>
  needs.total_spent ||
  needs.orders_count ||
  needs.last_purchase_at ||
  needs.categories_bought ||
  needs.categories.size > 0;

const commaJoin = (sql: Db, parts: Fragment[]): Fragment => parts.reduce((acc, part) => sql`${acc}, ${part}`);

/** The per-customer aggregates `a` as a lateral join over the customer's own purchases, if needed. */
const lateralAggregates = (sql: Db, plan: RuleSql): Fragment =>
  needsAggregates(plan.needs)
    ? sql`left join lateral (select ${commaJoin(sql, aggregateColumns(sql, plan.needs))}
        from purchases p where p.customer_id = c.id) a on true`
    : sql``;

/** Ids of live customers matching a translated rule, after `afterId` in id order (per-customer aggregates). */
export function selectMatchingIds(sql: Db, plan: RuleSql, afterId: number, limit: number) {
  return sql<{ id: number }[]>`
    select c.id from customers c ${lateralAggregates(sql, plan)}
    where c.erased_at is null and c.id > ${afterId} and ${plan.where}
    order by c.id limit ${limit}`;
}

/** Which of these customers are live and match a translated rule, in id order (per-customer aggregates). */
export function selectMatchingAmong(sql: Db, plan: RuleSql, ids: readonly number[]) {
  return sql<{ id: number }[]>`
    select c.id from customers c ${lateralAggregates(sql, plan)}
    where c.id = any(${ids as number[]}::bigint[]) and c.erased_at is null and ${plan.where}
    order by c.id`;
}

/** How many live customers match a translated rule (aggregates computed in one grouped pass). */
export async function countMatching(sql: Db, plan: RuleSql): Promise<number> {
  const join = needsAggregates(plan.needs)
    ? sql`left join (select p.customer_id, ${commaJoin(sql, aggregateColumns(sql, plan.needs))}
        from purchases p group by p.customer_id) a on a.customer_id = c.id`
    : sql``;
  const [row] = await sql<{ count: number }[]>`
    select count(*)::int as count from customers c ${join}
    where c.erased_at is null and ${plan.where}`;
  return row?.count ?? 0;
}
