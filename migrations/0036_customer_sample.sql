-- The launch forecast estimates a large audience from a random sample of live customers: the
-- first N in the order of a hash of their id (issue 24). Without this index that order is a
-- scan and sort of every customer; with it the sample is an index scan of about N entries
-- (erased customers are skipped as it goes) whatever the number of customers. hashint8 is
-- immutable, so the order is the same on every read. Not a partial index on the live
-- customers: the planner then preferred a full scan of it to other indexes for any query on
-- live customers without a better filter (the customer search's trigram index, for one).
create index customers_sample_order_idx on customers ((hashint8(id)), id);
