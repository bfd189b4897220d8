-- Sending no longer raises offers.shown_count row by row: every send transaction updating the same
-- few offer rows serialised the senders and deadlocked them. An impression is inserted with
-- counted = false; the count of an offer is shown_count plus its uncounted impressions, and
-- rollUpShownCounts folds the uncounted ones into shown_count in one batched statement.
-- Rows that exist already were counted by the old code: they take true, new rows false.
alter table offer_impressions add column counted boolean not null default true;
alter table offer_impressions alter column counted set default false;
create index offer_impressions_uncounted_idx on offer_impressions (offer_id) where not counted;
