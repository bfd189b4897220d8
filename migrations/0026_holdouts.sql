-- Holdouts: customers kept from a mailing at random (a stable hash of the customer), so that what
-- the mail earned can be told from what would have happened anyway.

-- `holdout`: an eligible customer kept out of this mailing on purpose (no mail is sent). The
-- reason says which holdout: `holdout` (the campaign's or trigger's own) or `control_group`.
alter table messages drop constraint messages_status_check;
alter table messages add constraint messages_status_check
  check (status in ('queued', 'sending', 'sent', 'failed', 'suppressed', 'cancelled', 'held', 'holdout'));

alter table campaigns
  add column holdout_percent numeric(5, 2) not null default 0 check (holdout_percent between 0 and 50);
alter table triggers
  add column holdout_percent numeric(5, 2) not null default 0 check (holdout_percent between 0 and 50),
  -- Transactional mail (receipts, confirmations) is exempt from the global control group.
  add column transactional boolean not null default false;
alter table offers
  add column holdout_percent numeric(5, 2) not null default 0 check (holdout_percent between 0 and 50);

-- Offers a customer would have been shown but was held out of (each offer's own holdout): the
-- offer report compares those customers with the ones who were shown it.
alter table messages add column held_out_offer_ids bigint[] not null default '{}';
create index messages_held_out_offers_idx on messages using gin (held_out_offer_ids)
  where held_out_offer_ids <> '{}';

-- The global control group: never mailed anything promotional. Membership is a hash of the
-- customer salted with the group's salt, under the group's percent; a refresh starts a new group
-- (a new salt), and every group stays here, so who was in it at any time can be recomputed.
create table holdout_settings (
  id boolean primary key default true check (id),
  holdout_percent numeric(5, 2) not null default 0 check (holdout_percent between 0 and 50),
  -- A new group starts this many days after the current one began; null: never by itself.
  refresh_days integer check (refresh_days between 1 and 3650),
  updated_at timestamptz not null default now()
);
insert into holdout_settings default values;

create table control_groups (
  id bigint generated always as identity primary key,
  percent numeric(5, 2) not null check (percent between 0 and 50),
  salt text not null,
  started_at timestamptz not null default now(),
  ended_at timestamptz
);
create unique index control_groups_current_idx on control_groups ((true)) where ended_at is null;

-- The offer report's treated group: the customers shown an offer, by offer.
create index offer_impressions_offer_idx on offer_impressions (offer_id, customer_id, at);
