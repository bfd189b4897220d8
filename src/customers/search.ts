import type { Db } from '../db/sql.js';

export interface CustomerHit {
  id: number;
  external_id: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
}

/** Words of a query that each must appear; more are ignored (each adds an index condition). */
const MAX_WORDS = 6;
/** Trigram indexes need 3 characters; shorter fragments scan newest first instead. */
const MIN_INDEXED = 3;

const escapeLike = (text: string) => text.replace(/[\\%_]/g, (m) => `\\${m}`);

/** The folded search text of `customers c`: a stored column, trigram-indexed (customers_search_trgm_idx). */
const searchText = (sql: Db) => sql`c.search_text`;

/**
 * Finds customers as staff type them (migration 0018): accents and case do not matter, every
 * word of the query must appear in the name, email or external id. An exact external id or
 * email answers alone. Otherwise ranked: an external id that has the query as one of its parts (`0616` →
 * `demo-0616`), then the internal id, then other external id fragments, then name and email
 * matches by closeness. With no match, close spellings (trigram similarity) are offered.
 */
export async function searchCustomers(sql: Db, q: string, limit = 50): Promise<CustomerHit[]> {
  const text = q.replace(/\s+/g, ' ').trim();
  if (text === '') {
    // The newest customers, for an empty search.
    return sql<CustomerHit[]>`
      select id, external_id, email, first_name, last_name from customers
      where erased_at is null order by id desc limit ${limit}`;
  }
  // Nothing stored holds a NUL (PostgreSQL text cannot): such a search finds no one.
  if (text.includes('\u0000')) return [];
  // A whole email or external id names one person: nothing else to rank (and a full address
  // shares its domain's trigrams with every customer, which the fragment search would read).
  const exact = await sql<CustomerHit[]>`
    select id, external_id, email, first_name, last_name from customers
    where erased_at is null and (external_id = ${text} or lower(email) = lower(${text}))
    order by (external_id = ${text}) desc, id desc limit ${limit}`;
  if (exact.length > 0) return exact;
  const id = /^\d{1,15}$/.test(text) ? Number(text) : null;
  const words = text.split(' ').slice(0, MAX_WORDS);
  const allWords = words
    .map((w) => sql`${searchText(sql)} like '%' || search_fold(${escapeLike(w)}::text) || '%'`)
    .reduce((acc, part) => sql`${acc} and ${part}`);
  const short = [...text].length < MIN_INDEXED;
  const hits = await sql<CustomerHit[]>`
    with query as (select search_fold(${text}::text) as folded),
    exact as (
      select c.id, 2 as rank, 1::real as score from customers c
      where c.erased_at is null and c.id = ${id}::bigint
    ),
    fragments as (
      select c.id,
        case
          when q.folded = any(regexp_split_to_array(e.folded, '[^[:alnum:]]+')) then 1
          when e.folded like '%' || search_fold(${escapeLike(text)}::text) || '%' then 3
          else 4
        end as rank,
        ${short ? sql`0::real` : sql`similarity(${searchText(sql)}, q.folded)`} as score
      from customers c cross join query q cross join lateral (select search_fold(c.external_id) as folded) e
      where c.erased_at is null and ${allWords}
      ${short ? sql`order by c.id desc` : sql`order by rank, score desc, c.id desc`}
      limit ${limit}
    ),
    ranked as (
      select id, min(rank) as rank, max(score) as score
      from (select * from exact union all select * from fragments) x group by id
    )
    select c.id, c.external_id, c.email, c.first_name, c.last_name
    from ranked r join customers c on c.id = r.id
    order by r.rank, r.score desc, c.id desc limit ${limit}`;
  if (hits.length > 0 || short) return hits;
  return closeSpellings(sql, text, limit);
}

/**
 * Nothing contains the query: customers with a part of their search text closest to it
 * (pg_trgm word similarity, `<%`, indexed), for typos such as "Elodi Martn".
 */
function closeSpellings(sql: Db, text: string, limit: number) {
  return sql<CustomerHit[]>`
    with query as (select search_fold(${text}::text) as folded)
    select c.id, c.external_id, c.email, c.first_name, c.last_name
    from customers c, query q
    where c.erased_at is null and q.folded <% ${searchText(sql)}
    order by word_similarity(q.folded, ${searchText(sql)}) desc, c.id desc
    limit ${limit}`;
}
