-- The product page lists the customers a product is recommended to (issue 28). Feeds are stored
-- one row of arrays per customer and feed, keyed by customer, so without this the page would
-- scan every customer's feeds; the GIN index finds the rows whose skus hold the product.
create index recommendation_lists_skus_idx on recommendation_lists using gin (skus);
