-- The launch forecast estimates a large audience from a random sample of live customers: the
-- first N in the order of a hash of their id (issue 24). Without this index that order is a
-- scan and sort of every customer; with it the sample is an index scan of N entries whatever
-- the number of customers. hashint8 is immutable, so the order is the same on every read.
create index customers_sample_order_idx on customers ((hashint8(id)), id) where erased_at is null;
