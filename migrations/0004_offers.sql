-- The offer catalogue and every time an offer was shown to a customer (caps count these).
create table offers (
  id bigint generated always as identity primary key,
  name text not null,
  title text not null,
  text text,
  image_url text,
  url text,
  code text,
  category text,
  eligibility jsonb,
  score jsonb,
  priority double precision not null default 0,
  valid_from timestamptz,
  valid_to timestamptz,
  cap_per_customer_count integer check (cap_per_customer_count >= 0),
  cap_per_customer_days integer check (cap_per_customer_days > 0),
  global_cap integer check (global_cap >= 0),
  shown_count integer not null default 0,
  exclude_if_bought_within_days integer check (exclude_if_bought_within_days >= 0),
  fallback boolean not null default false,
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  check (valid_to is null or valid_from is null or valid_to > valid_from),
  -- A per-customer cap is a count in a window: both or neither.
  check ((cap_per_customer_count is null) = (cap_per_customer_days is null))
);

create table offer_impressions (
  id bigint generated always as identity primary key,
  offer_id bigint not null references offers (id),
  customer_id bigint not null references customers (id) on delete cascade,
  message_id bigint,
  campaign_id bigint,
  trigger_id bigint,
  at timestamptz not null default now()
);
create index offer_impressions_customer_idx on offer_impressions (customer_id, offer_id, at desc);
create unique index offer_impressions_message_idx on offer_impressions (message_id, offer_id) where message_id is not null;
