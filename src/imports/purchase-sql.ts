import type { ColumnMap } from './mapping.js';

// The batch statement of a purchases import, built once per file from its column map. It runs
// over the rows COPY put in `pg_temp.import_stage` (all text): parses numbers and dates without
// a cast that could throw (regex and range guards first), checks every row, records the errors,
// inserts the good lines (idempotent on external_line_id) and their `purchase` contact events,
// and returns the new lines. Parameters: $1 import id, $2 first line, $3 line starts (int[] or
// null), $4 time zone for dates without an offset, $5 decimal comma, $6 latest allowed date.

const FIELDS = [
  'external_line_id',
  'customer_external_id',
  'order_ref',
  'sku',
  'category',
  'quantity',
  'amount',
  'currency',
  'purchased_at',
  'source',
] as const;

const SPACES = String.raw`[[:space:]\u00a0\u202f]`;
const NUMBER = String.raw`^[+-]?\d{1,15}(\.\d{1,6})?$`;
const ISO = String.raw`^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}(?:\.\d{1,6})?))?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$`;
const PLAIN_ISO = String.raw`^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})?$`;
const FRENCH = String.raw`^(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T]+(\d{1,2})[:h](\d{2})(?::(\d{2}))?)?$`;

const decimal = (column: string) => `
  case when ${column} is null then null
    when ${column} ~ '^[0-9]+([.][0-9]+)?$' then ${column}
    when $5 and strpos(${column}, ',') > 0
      then replace(replace(regexp_replace(${column}, '${SPACES}', '', 'g'), '.', ''), ',', '.')
    when $5 then regexp_replace(${column}, '${SPACES}', '', 'g')
    else replace(regexp_replace(${column}, '${SPACES}', '', 'g'), ',', '') end`;

/** The statement for a file whose header has `width` columns mapped by `map`. */
export function purchaseBatchSql(map: ColumnMap): string {
  const pick = FIELDS.map((field) => {
    const index = map.get(field);
    return `${index === undefined ? 'null::text' : `nullif(btrim(c${index + 1}), '')`} as ${field}`;
  }).join(',\n    ');
  return `
with raw as (
  select n, coalesce(($3::int[])[n], $2::int + n - 1) as line,
    ${pick}
  from pg_temp.import_stage
), normalised as materialized (
  select raw.*, ${decimal('raw.quantity')} as quantity_text, ${decimal('raw.amount')} as amount_text,
    -- The common shape is cut with substr: a regex with captures is PostgreSQL's slow path.
    case when raw.purchased_at ~ '${PLAIN_ISO}' then array[substr(raw.purchased_at, 1, 4),
        substr(raw.purchased_at, 6, 2), substr(raw.purchased_at, 9, 2), substr(raw.purchased_at, 12, 2),
        substr(raw.purchased_at, 15, 2), substr(raw.purchased_at, 18, 2), nullif(substr(raw.purchased_at, 20), '')]
    else coalesce(regexp_match(raw.purchased_at, '${ISO}'),
      (select array[f[3], f[2], f[1], f[4], f[5], f[6], null]
       from regexp_match(raw.purchased_at, '${FRENCH}') f)) end as d
  from raw
), typed as materialized (
  select x.*,
    case when quantity_text ~ '${NUMBER}' then quantity_text::numeric end as quantity_n,
    case when amount_text ~ '${NUMBER}' then amount_text::numeric end as amount_n,
    case when d is not null and d[1]::int between 1900 and 2999 and d[2]::int between 1 and 12
        and d[3]::int between 1 and 31 and coalesce(d[4]::int, 0) < 24 and coalesce(d[5]::int, 0) < 60
        and coalesce(d[6]::numeric, 0) < 60 then
      case when extract(month from make_date(d[1]::int, d[2]::int, 1) + (d[3]::int - 1)) = d[2]::int then
        case when d[7] is null then
          timezone($4::text, (make_date(d[1]::int, d[2]::int, 1) + (d[3]::int - 1))
            + make_interval(hours => coalesce(d[4]::int, 0), mins => coalesce(d[5]::int, 0), secs => coalesce(d[6]::numeric, 0)))
        else
          timezone('UTC', (make_date(d[1]::int, d[2]::int, 1) + (d[3]::int - 1))
            + make_interval(hours => coalesce(d[4]::int, 0), mins => coalesce(d[5]::int, 0), secs => coalesce(d[6]::numeric, 0)))
          - case when upper(d[7]) = 'Z' then interval '0'
              else (case when left(d[7], 1) = '-' then -1 else 1 end)
                * make_interval(hours => substr(replace(d[7], ':', ''), 2, 2)::int,
                    mins => coalesce(nullif(substr(replace(d[7], ':', ''), 4, 2), ''), '0')::int) end
        end
      end
    end as purchased_at_t
  from normalised x
), checked as (
  select t.*, c.id as customer_id,
    array_remove(array[
      case when t.external_line_id is null then 'external_line_id|required'
        when length(t.external_line_id) > 200 then 'external_line_id|must be at most 200 characters'
        when min(t.line) over (partition by t.external_line_id) <> t.line
          then 'external_line_id|duplicate of line ' || min(t.line) over (partition by t.external_line_id) end,
      case when t.customer_external_id is null then 'customer_external_id|required'
        when c.id is null then 'customer_external_id|no customer has this external_id'
        when c.erased_at is not null then 'customer_external_id|this customer was erased' end,
      case when t.quantity is not null and t.quantity_n is null then 'quantity|not a number: ' || left(t.quantity, 40)
        when t.quantity_n <= 0 then 'quantity|must be greater than 0'
        when t.quantity_n >= 1e9 then 'quantity|too large' end,
      case when t.amount is null then 'amount|required'
        when t.amount_n is null then 'amount|not a number: ' || left(t.amount, 40)
        when abs(t.amount_n) >= 1e12 then 'amount|too large'
        when round(t.amount_n, 2) <> t.amount_n then 'amount|at most 2 decimals' end,
      case when t.currency is not null and t.currency !~ '^[A-Za-z]{3}$' then 'currency|must be a 3-letter ISO 4217 code' end,
      case when t.purchased_at is null then 'purchased_at|required'
        when t.purchased_at_t is null then 'purchased_at|not a date: ' || left(t.purchased_at, 40)
        when t.purchased_at_t > $6::timestamptz then 'purchased_at|must not be in the future' end,
      case when length(t.order_ref) > 200 then 'order_ref|must be at most 200 characters' end,
      case when length(t.sku) > 200 then 'sku|must be at most 200 characters' end,
      case when length(t.category) > 100 then 'category|must be at most 100 characters' end,
      case when length(t.source) > 100 then 'source|must be at most 100 characters' end
    ], null) as errs
  from typed t left join customers c on c.external_id = t.customer_external_id
), errors as (
  insert into import_errors (import_id, line, "column", reason)
  select $1, line, split_part(e, '|', 1), substr(e, strpos(e, '|') + 1)
  from checked, unnest(errs) e
), inserted as (
  insert into purchases (external_line_id, customer_id, order_ref, sku, category, quantity, amount, currency,
    purchased_at, source)
  select external_line_id, customer_id, order_ref, sku, category, coalesce(quantity_n, 1), amount_n,
    upper(coalesce(currency, 'EUR')), purchased_at_t, coalesce(source, 'import')
  from checked where cardinality(errs) = 0
  order by external_line_id
  on conflict (external_line_id) do nothing
  returning id, customer_id, order_ref, sku, category, quantity, amount, currency, purchased_at, source
), events as (
  insert into contact_events (customer_id, kind, purchase_id, at, data)
  select customer_id, 'purchase', id, purchased_at,
    jsonb_build_object('order_ref', order_ref, 'sku', sku, 'category', category, 'quantity', quantity,
      'amount', amount, 'currency', currency, 'source', source)
  from inserted
)
select id, customer_id, sku, category, amount, currency, purchased_at, null::int as failed, null::int as rows
from inserted
union all
select null, null, null, null, null, null, null,
  (select count(*) from checked where cardinality(errs) > 0)::int, (select count(*) from checked)::int`;
}
