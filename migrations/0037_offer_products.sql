-- An offer may target a product: the customer's recommended product of a feed (its n-th shown
-- item, optionally among given skus or of one category), filled per customer at decision and
-- send time. {"feed": "bought_together", "rank": 1, "skus": […], "category": "textile"}.
alter table offers add column product jsonb check (product is null or jsonb_typeof(product) = 'object');
