-- The contact history reads purchases from their own table (as `purchase` entries of the
-- timeline) instead of a copy of every order line in contact_events: the copy doubled the
-- writes of the largest input (an ERP's daily file), could drift from the line it copied, and
-- nothing read it but the timeline. See docs/architecture.md.
delete from contact_events where kind = 'purchase' and purchase_id is not null;
drop index contact_events_purchase_idx;
