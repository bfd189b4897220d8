-- The product catalogue, recommendations computed in PostgreSQL, unique offer codes and offer
-- texts per locale (issue 28).

-- One row per sku. `title` and `description` keep what was sent: a JSON string, or an object of
-- locale → string, resolved for the reader's locale on the way out. Availability is `stock`
-- when a count was given, else `in_stock`; an inactive product is never recommended.
create table products (
  id bigint generated always as identity primary key,
  sku text not null unique,
  title jsonb not null,
  description jsonb,
  price numeric(14, 2) not null check (price >= 0),
  currency text not null,
  category text,
  brand text,
  image_url text,
  url text,
  in_stock boolean not null default true,
  stock integer check (stock >= 0),
  margin numeric(14, 4),
  active boolean not null default true,
  attributes jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index products_category_idx on products (category, created_at desc);
-- Purchase lines name their product by sku (no foreign key: an ERP's lines may arrive first).
create index purchases_sku_idx on purchases (sku) where sku is not null;

-- Item-to-item co-purchase over orders: support (orders holding both) and lift, one row per
-- ordered pair above the minimum support. Rebuilt by each refresh.
create table product_pairs (
  sku text not null,
  other_sku text not null,
  support integer not null,
  lift double precision not null,
  primary key (sku, other_sku)
);

-- Per-customer feeds as computed by the last refresh (all customers, or one on demand).
create table product_recommendations (
  customer_id bigint not null references customers (id) on delete cascade,
  feed text not null check (feed in ('bought_together', 'top_in_category', 'replenish', 'new_arrivals')),
  rank integer not null,
  sku text not null,
  score double precision not null,
  reason text not null,
  computed_at timestamptz not null default now(),
  primary key (customer_id, feed, rank)
);

-- How each feed is computed: whether it leaves out what the customer already bought, its
-- window in days (co-purchases and best sellers look back over it, new arrivals are that new,
-- replenishment counts as due that many days early), the minimum support of a co-purchase pair
-- and how many items are kept per customer.
create table recommendation_feeds (
  feed text primary key check (feed in ('bought_together', 'top_in_category', 'replenish', 'new_arrivals')),
  exclude_bought boolean not null,
  window_days integer not null check (window_days > 0),
  min_support integer not null default 2 check (min_support >= 1),
  size integer not null default 20 check (size between 1 and 100),
  updated_at timestamptz not null default now()
);
insert into recommendation_feeds (feed, exclude_bought, window_days, min_support, size) values
  ('bought_together', true, 365, 2, 20),
  ('top_in_category', true, 90, 1, 20),
  -- Replenishment proposes again what the customer buys regularly: it keeps what was bought.
  ('replenish', false, 7, 1, 20),
  ('new_arrivals', true, 30, 1, 20);

-- The last full refresh: when co-purchase pairs were built and over how many orders.
create table recommendation_state (
  singleton boolean primary key default true check (singleton),
  pairs_built_at timestamptz not null,
  orders integer not null,
  -- The newest purchase line the pairs saw: a later one makes them stale.
  last_purchase_id bigint not null default 0
);

-- When each customer's feeds were last computed (the GET recomputes a customer's stale feeds).
create table recommendation_runs (
  customer_id bigint primary key references customers (id) on delete cascade,
  computed_at timestamptz not null
);

-- A product's title for a reader's locale: the exact tag, its language, English, then any.
create function product_title(title jsonb, locale text) returns text
language sql immutable parallel safe as $$
  select case jsonb_typeof(title)
    when 'string' then title #>> '{}'
    else coalesce(title ->> locale, title ->> split_part(locale, '-', 1), title ->> 'en',
      (select value from jsonb_each_text(title) order by key limit 1))
  end
$$;

-- Unique codes of an offer. A code is claimed once, by one message (the unique index), and
-- redeemed by at most one purchase line.
create table offer_codes (
  id bigint generated always as identity primary key,
  offer_id bigint not null references offers (id),
  code text not null,
  message_id bigint references messages (id) on delete set null,
  customer_id bigint references customers (id) on delete set null,
  claimed_at timestamptz,
  redeemed_purchase_id bigint,
  created_at timestamptz not null default now(),
  unique (offer_id, code)
);
-- Unclaimed codes in id order: what a claim takes with FOR UPDATE SKIP LOCKED.
create index offer_codes_free_idx on offer_codes (offer_id, id) where message_id is null;
create unique index offer_codes_message_idx on offer_codes (message_id, offer_id) where message_id is not null;
create index offer_codes_code_idx on offer_codes (code);
alter table offers add column codes_low_at integer check (codes_low_at >= 0);
-- Title, text and code wording per locale ({"fr": {"title": …, "text": …, "code_label": …}}).
alter table offers add column translations jsonb not null default '{}';

alter table purchases add column coupon_code text;

-- Recommended items of a mail, as rendered (sku, feed, rank), for click and purchase attribution.
alter table messages add column recommended jsonb;

alter table imports drop constraint imports_kind_check;
alter table imports add constraint imports_kind_check check (kind in ('customers', 'purchases', 'products'));
