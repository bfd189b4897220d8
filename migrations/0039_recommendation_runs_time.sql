-- A refresh writes a customer's feed list only when it changed (a nightly refresh over
-- unchanged purchases no longer rewrites every row, its arrays and its GIN entries), so a
-- list's computed_at is when it last changed. Readers keep seeing when the feeds were last
-- computed: the customer's recommendation_runs time, the list's own when there is none.
create or replace view product_recommendations as
select l.customer_id, l.feed, i.rank::integer as rank, i.sku, i.score, i.reason,
  coalesce(r.computed_at, l.computed_at) as computed_at
from recommendation_lists l
left join recommendation_runs r on r.customer_id = l.customer_id
cross join lateral unnest(l.skus, l.scores, l.reasons) with ordinality as i (sku, score, reason, rank);
