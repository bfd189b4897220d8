-- The product page lists the customers a product is recommended to (issue 28): stored feeds by
-- sku, best ranks first. The feeds' primary key is by customer, so without this the page would
-- scan every customer's feeds.
create index product_recommendations_sku_idx on product_recommendations (sku, rank);
