-- Replenishment priors per category as pooled by the last full recommendations refresh: the
-- mean gap in days between a customer's purchases in the category and k, how many gaps of
-- weight that mean carries against a customer's own. A refresh of a few customers (after a
-- purchase, on demand) reuses them instead of reading every customer's purchases.
create table recommendation_priors (
  category text primary key,
  mean_days double precision not null,
  k double precision not null,
  computed_at timestamptz not null
);

-- A customer's feed is stored as one row of arrays (skus, scores, reasons in rank order) instead
-- of a row per item: a full refresh wrote and foreign-key-checked twenty rows per customer and
-- feed, which cost more than computing them. `product_recommendations` stays, as a view with
-- the same columns, for every reader.
create table recommendation_lists (
  customer_id bigint not null references customers (id) on delete cascade,
  feed text not null check (feed in ('bought_together', 'top_in_category', 'replenish', 'new_arrivals')),
  skus text[] not null,
  scores double precision[] not null,
  reasons text[] not null,
  computed_at timestamptz not null,
  primary key (customer_id, feed),
  check (cardinality(skus) = cardinality(scores) and cardinality(skus) = cardinality(reasons))
);
insert into recommendation_lists (customer_id, feed, skus, scores, reasons, computed_at)
select customer_id, feed, array_agg(sku order by rank), array_agg(score order by rank),
  array_agg(reason order by rank), max(computed_at)
from product_recommendations group by customer_id, feed;
drop table product_recommendations;
create view product_recommendations as
select l.customer_id, l.feed, i.rank::integer as rank, i.sku, i.score, i.reason, l.computed_at
from recommendation_lists l
cross join lateral unnest(l.skus, l.scores, l.reasons) with ordinality as i (sku, score, reason, rank);
