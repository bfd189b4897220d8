-- A purchase line is a sale or a refund, said explicitly: a negative amount is only accepted as
-- a refund, so that a sign error in an export is refused rather than recorded as a return.
-- Lines stored before this with a negative amount were returns.
alter table purchases add column kind text not null default 'purchase';
update purchases set kind = 'refund' where amount < 0;
alter table purchases
  add constraint purchases_kind_check check (kind in ('purchase', 'refund')),
  add constraint purchases_refund_amount_check check ((kind = 'refund') = (amount < 0));

-- A refund of a converted order is a `refunded` contact event on the conversion's message, with
-- its (negative) amount as revenue: reports are net of refunds. One per refund line.
create unique index contact_events_refund_purchase_idx on contact_events (purchase_id)
  where kind = 'refunded';
