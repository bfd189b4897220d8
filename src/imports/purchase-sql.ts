import { type ColumnMap, lineIdSource } from './mapping.js';

// The batch statement of a purchases import, built once per file from its column map. It runs
// over the rows COPY put in `pg_temp.import_stage` (all text) and, in one statement: converts
// numbers and dates without a cast that could throw (shape and range guards first), checks every
// row, records the errors of the bad ones, inserts the good lines (idempotent on
// external_line_id; the timeline reads them from purchases), and answers one summary row plus the
// new lines the caller needs: those with a touch to attribute (kind 'touch') and, when asked,
// every new line for the triggers (kind 'created').
//
// Parameters: $1 import id, $2 first line, $3 line starts (int[] or null), $4 time zone for dates
// without an offset, $5 decimal comma, $6 latest allowed date, $7 return every new line.
//
// Speed: a good row must cost little more than its two inserts. So the common shapes (plain
// `1234.50`, ISO dates such as `2024-03-01T10:00:00Z`) are recognised with translate() and
// substr() comparisons, which are an order of magnitude cheaper than PostgreSQL's regexes, and
// the list of error messages is only built for the rows that failed the combined check.

const FIELDS = [
  'external_line_id',
  'customer_external_id',
  'order_ref',
  'sku',
  'category',
  'quantity',
  'kind',
  'amount',
  'currency',
  'purchased_at',
  'source',
] as const;

const SPACES = String.raw`[[:space:]\u00a0\u202f]`;
const SIGNED = String.raw`^[+-]?[0-9]+(\.[0-9]+)?$`;
// Without captures: PostgreSQL's regexes get slow (tens of µs a row here) when they capture.
const ISO = String.raw`^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?$`;
const FRENCH = String.raw`^(\d{1,2})[/.](\d{1,2})[/.](\d{4})(?:[ T]+(\d{1,2})[:h](\d{2})(?::(\d{2}))?)?$`;

/**
 * Text → numeric, null when it is not a number. Plain digits go straight to the cast; anything
 * else (a sign, thousands separators, a decimal comma) is normalised first, then checked.
 */
const decimal = (column: string) => `
  case when ${column} is null then null
    when length(${column}) <= 40 and ${column} ~ '^[0-9]+(\\.[0-9]+)?$' then ${column}::numeric
    else (select case when length(s) <= 40 and s ~ '${SIGNED}' then s::numeric end
      from (select case
        when $5 and strpos(${column}, ',') > 0
          then replace(replace(regexp_replace(${column}, '${SPACES}', '', 'g'), '.', ''), ',', '.')
        when $5 then regexp_replace(${column}, '${SPACES}', '', 'g')
        else replace(regexp_replace(${column}, '${SPACES}', '', 'g'), ',', '') end as s
        offset 0) normalised)
  end`;

/** Digits at [from, from + length) of `column` are at most `max` (both are fixed-width digit runs). */
const atMost = (column: string, from: number, length: number, max: string) =>
  `substr(${column}, ${from}, ${length}) <= '${max}'`;

// The ISO shapes taken by the fast path: their fields are digits in fixed places, so range
// guards on substrings make the cast safe (days past 28 take the slow path, which knows months).
const DATE_GUARDS = (c: string) =>
  [
    `substr(${c}, 1, 4) between '1900' and '2999'`,
    `substr(${c}, 6, 2) between '01' and '12'`,
    `substr(${c}, 9, 2) between '01' and '28'`,
  ].join(' and ');
const MINUTE_GUARDS = (c: string) => [atMost(c, 12, 2, '23'), atMost(c, 15, 2, '59')].join(' and ');
const TIME_GUARDS = (c: string) => `${MINUTE_GUARDS(c)} and ${atMost(c, 18, 2, '59')}`;

/**
 * The slow path: the other accepted shapes (fractions of seconds, offsets such as +0530, French
 * dates), cut into fields and checked field by field. Each `offset 0` keeps a subquery from
 * being flattened, which would evaluate its expressions again for each of their ~25 uses.
 */
const slowDate = (c: string) => `
  (select case when d is not null and d[1]::int between 1900 and 2999 and d[2]::int between 1 and 12
        and d[3]::int between 1 and 31 and coalesce(d[4]::int, 0) < 24 and coalesce(d[5]::int, 0) < 60
        and coalesce(d[6]::numeric, 0) < 60
        and extract(month from make_date(d[1]::int, d[2]::int, 1) + (d[3]::int - 1)) = d[2]::int then
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
      end end
   from (select case when ${c} ~ '${ISO}' then
       -- Matched: the fields sit at fixed places up to the minutes; seconds and offset follow.
       (select array[substr(${c}, 1, 4), substr(${c}, 6, 2), substr(${c}, 9, 2),
          case when t then substr(${c}, 12, 2) end, case when t then substr(${c}, 15, 2) end,
          case when sec then substr(${c}, 18, length(substr(${c}, 18)) - length(ltrim(substr(${c}, 18), '0123456789.'))) end,
          nullif(btrim(ltrim(substr(${c}, case when sec then 18 when t then 17 else 11 end), '0123456789.')), '')]
        from (select substr(${c}, 11, 1) in ('T', ' ') and substr(${c}, 14, 1) = ':' as t,
            substr(${c}, 11, 1) in ('T', ' ') and substr(${c}, 14, 1) = ':' and substr(${c}, 17, 1) = ':' as sec
          offset 0) parts)
     else (select array[f[3], f[2], f[1], f[4], f[5], f[6], null] from regexp_match(${c}, '${FRENCH}') f) end as d
     offset 0) parsed)`;

/** `dd/mm/yyyy[ hh:mm[:ss]]` (or `14h30`), the usual French export, at fixed places (German `dd.mm.yyyy` takes the slow path). */
const FRENCH_GUARDS = (c: string) =>
  [
    `substr(${c}, 7, 4) between '1900' and '2999'`,
    `substr(${c}, 4, 2) between '01' and '12'`,
    `substr(${c}, 1, 2) between '01' and '28'`,
  ].join(' and ');
const french = (c: string, time: 'none' | 'minutes' | 'seconds') =>
  `timezone($4::text, make_timestamp(substr(${c}, 7, 4)::int, substr(${c}, 4, 2)::int, substr(${c}, 1, 2)::int, ${
    time === 'none' ? '0, 0' : `substr(${c}, 12, 2)::int, substr(${c}, 15, 2)::int`
  }, ${time === 'seconds' ? `substr(${c}, 18, 2)::int` : '0'}))`;

/** Text → timestamptz, null when it is not a date this import reads. */
const timestamp = (c: string, shape: string) => `
  case when ${c} is null then null
    when ${shape} in ('9999-99-99T99:99:99Z', '9999-99-99 99:99:99Z') and ${DATE_GUARDS(c)} and ${TIME_GUARDS(c)}
      then ${c}::timestamptz
    when ${shape} in ('9999-99-99T99:99:99+99:99', '9999-99-99T99:99:99-99:99', '9999-99-99 99:99:99+99:99',
        '9999-99-99 99:99:99-99:99') and ${DATE_GUARDS(c)} and ${TIME_GUARDS(c)}
        and ${atMost(c, 21, 2, '14')} and ${atMost(c, 24, 2, '59')}
      then ${c}::timestamptz
    when ${shape} in ('9999-99-99T99:99:99', '9999-99-99 99:99:99') and ${DATE_GUARDS(c)} and ${TIME_GUARDS(c)}
      then timezone($4::text, ${c}::timestamp)
    when ${shape} in ('9999-99-99T99:99', '9999-99-99 99:99') and ${DATE_GUARDS(c)} and ${MINUTE_GUARDS(c)}
      then timezone($4::text, ${c}::timestamp)
    when ${shape} = '9999-99-99' and ${DATE_GUARDS(c)} then timezone($4::text, ${c}::timestamp)
    when ${shape} = '99/99/9999' and ${FRENCH_GUARDS(c)} then ${french(c, 'none')}
    when ${shape} in ('99/99/9999 99:99', '99/99/9999 99h99') and ${FRENCH_GUARDS(c)} and ${MINUTE_GUARDS(c)}
      then ${french(c, 'minutes')}
    when ${shape} = '99/99/9999 99:99:99' and ${FRENCH_GUARDS(c)} and ${TIME_GUARDS(c)} then ${french(c, 'seconds')}
    else ${slowDate(c)} end`;

/** The statement for a file whose columns are mapped by `map` (stage columns c1…cN). */
export function purchaseBatchSql(map: ColumnMap): string {
  const cell = (index: number) => `nullif(btrim(c${index + 1}), '')`;
  const lineId = lineIdSource(map);
  const pick = FIELDS.map((field) => {
    if (field === 'external_line_id' && lineId && 'order' in lineId) {
      // Null when either part is missing, which reports the line id as required.
      return `${cell(lineId.order)} || '/' || ${cell(lineId.number)} as external_line_id`;
    }
    const index = field === 'external_line_id' && lineId && 'line' in lineId ? lineId.line : map.get(field);
    return `${index === undefined ? 'null::text' : cell(index)} as ${field}`;
  }).join(',\n    ');
  const dateColumn = map.get('purchased_at');
  const purchasedAt = dateColumn === undefined ? 'null::text' : `nullif(btrim(c${dateColumn + 1}), '')`;
  return `
with typed as materialized (
  select raw.*, ${decimal('raw.quantity')} as quantity_n, ${decimal('raw.amount')} as amount_n,
    -- The line's kind: a sale unless the file says otherwise (see purchases/schema.ts).
    case when raw.kind is null then 'purchase'
      when lower(raw.kind) in ('purchase', 'refund') then lower(raw.kind) end as kind_k,
    ${timestamp('raw.purchased_at', 'raw.date_shape')} as purchased_at_t
  -- offset 0: each trimmed cell is computed once, not once per use in the conversions.
  from (select case when $3::int[] is null then $2::int + n - 1 else ($3::int[])[n] end as line,
      ${pick},
      translate(${purchasedAt}, '0123456789', '9999999999') as date_shape
    from pg_temp.import_stage offset 0) raw
), repeated as (
  select external_line_id, min(line) as first_line from typed
  where external_line_id is not null group by external_line_id having count(*) > 1
), checked as materialized (
  select t.*, c.id as customer_id, c.erased_at, r.first_line,
    coalesce(t.external_line_id is not null and length(t.external_line_id) <= 200
      and (r.first_line is null or r.first_line = t.line)
      and c.id is not null and c.erased_at is null
      and (t.quantity is null or (t.quantity_n > 0 and t.quantity_n < 1e9 and scale(t.quantity_n) <= 6))
      and t.amount_n is not null and abs(t.amount_n) < 1e12 and round(t.amount_n, 2) = t.amount_n
      and t.kind_k is not null and (t.kind_k = 'refund') = (t.amount_n < 0)
      and (t.currency is null or t.currency ~ '^[A-Za-z]{3}$')
      and t.purchased_at_t <= $6::timestamptz
      and (t.order_ref is null or length(t.order_ref) <= 200) and (t.sku is null or length(t.sku) <= 200)
      and (t.category is null or length(t.category) <= 100) and (t.source is null or length(t.source) <= 100),
      false) as good
  from typed t
  left join customers c on c.external_id = t.customer_external_id
  left join repeated r on r.external_line_id = t.external_line_id
), errors as (
  insert into import_errors (import_id, line, "column", reason)
  select $1, line, split_part(e, '|', 1), substr(e, strpos(e, '|') + 1)
  from checked t, unnest(array[
      case when t.external_line_id is null then 'external_line_id|required'
        when length(t.external_line_id) > 200 then 'external_line_id|must be at most 200 characters'
        when t.first_line <> t.line then 'external_line_id|duplicate of line ' || t.first_line end,
      case when t.customer_external_id is null then 'customer_external_id|required'
        when t.customer_id is null then 'customer_external_id|no customer has this external_id'
        when t.erased_at is not null then 'customer_external_id|this customer was erased' end,
      case when t.quantity is not null and (t.quantity_n is null or scale(t.quantity_n) > 6 or abs(t.quantity_n) >= 1e15)
          then 'quantity|not a number: ' || left(t.quantity, 40)
        when t.quantity_n <= 0 then 'quantity|must be greater than 0'
        when t.quantity_n >= 1e9 then 'quantity|too large' end,
      case when t.amount is null then 'amount|required'
        when t.amount_n is null or scale(t.amount_n) > 6 or abs(t.amount_n) >= 1e15
          then 'amount|not a number: ' || left(t.amount, 40)
        when abs(t.amount_n) >= 1e12 then 'amount|too large'
        when round(t.amount_n, 2) <> t.amount_n then 'amount|at most 2 decimals'
        when t.amount_n < 0 and t.kind_k is distinct from 'refund'
          then 'amount|a negative amount is a refund: give it the kind "refund"'
        when t.kind_k = 'refund' and t.amount_n >= 0 then 'amount|a refund''s amount is negative' end,
      case when t.kind_k is null then 'kind|must be purchase or refund: ' || left(t.kind, 40) end,
      case when t.currency is not null and t.currency !~ '^[A-Za-z]{3}$' then 'currency|must be a 3-letter ISO 4217 code' end,
      case when t.purchased_at is null then 'purchased_at|required'
        when t.purchased_at_t is null then 'purchased_at|not a date: ' || left(t.purchased_at, 40)
        when t.purchased_at_t > $6::timestamptz then 'purchased_at|must not be in the future' end,
      case when length(t.order_ref) > 200 then 'order_ref|must be at most 200 characters' end,
      case when length(t.sku) > 200 then 'sku|must be at most 200 characters' end,
      case when length(t.category) > 100 then 'category|must be at most 100 characters' end,
      case when length(t.source) > 100 then 'source|must be at most 100 characters' end
    ]) e
  where not t.good and e is not null
), inserted as (
  insert into purchases (external_line_id, customer_id, order_ref, sku, category, quantity, kind, amount, currency,
    purchased_at, source)
  select external_line_id, customer_id, order_ref, sku, category, coalesce(quantity_n, 1), kind_k, amount_n,
    upper(coalesce(currency, 'EUR')), purchased_at_t, coalesce(source, 'import')
  from checked where good
  -- Two of purchases' indexes, and the customers rows the foreign key locks, are keyed by
  -- customer: inserting in that order walks each once, front to back, instead of jumping around
  -- them (8 % less time per batch for a file in order number order, measured when each line was
  -- also copied to contact_events; the bench's file is already in customer order).
  order by customer_id, purchased_at_t
  on conflict (external_line_id) do nothing
  returning id, customer_id, order_ref, sku, category, quantity, kind, amount, currency, purchased_at, source
)
select 'summary' as kind, null::bigint as id, null::bigint as customer_id, null::text as sku,
  null::text as category, null::numeric as amount, null::text as currency, null::timestamptz as purchased_at,
  null::text as order_ref, (select count(*) from checked)::int as rows, (select count(*) from checked where not good)::int as failed,
  (select count(*) from inserted)::int as created,
  (select min(id) from inserted) as first_id, (select max(id) from inserted) as last_id
union all
-- Only lines whose customer opened or clicked a message in the year before can convert: the
-- attribution (src/conversions) runs on those alone, over the index made for it.
select 'touch', i.id, i.customer_id, i.sku, i.category, i.amount, i.currency, i.purchased_at, null, null, null,
  null, null, null
from inserted i
where i.kind = 'purchase' and exists (select 1 from contact_events e
  where e.customer_id = i.customer_id and e.kind in ('opened', 'clicked') and not e.machine
    and e.at <= i.purchased_at and e.at > i.purchased_at - interval '366 days')
union all
-- A refund takes its amount off its order's conversion, if the order converted (its purchase
-- may be in this same batch, attributed after this statement: so no filter on that here).
select 'refund', i.id, i.customer_id, null, null, i.amount, i.currency, i.purchased_at, i.order_ref, null, null, null,
  null, null
from inserted i
where i.kind = 'refund' and i.order_ref is not null
union all
-- A refund is not a purchase: it fires no trigger.
select 'created', i.id, i.customer_id, null, null, null, null, i.purchased_at, null, null, null, null, null, null
from inserted i where $7 and i.kind = 'purchase'`;
}
