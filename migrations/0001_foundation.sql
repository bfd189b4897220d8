-- Foundation: customers and what a CRM knows about them, purchases, the contact history,
-- API keys and the audit log. See docs/architecture.md for the whole data model.

create table customers (
  id bigint generated always as identity primary key,
  external_id text not null unique,
  email text,
  first_name text,
  last_name text,
  locale text,
  timezone text,
  birth_date date,
  address jsonb not null default '{}'::jsonb,
  family jsonb not null default '[]'::jsonb,
  occupation text,
  income_band text,
  education text,
  preferences jsonb not null default '{}'::jsonb,
  preferred_categories text[] not null default '{}',
  hobbies text[] not null default '{}',
  social_handles jsonb not null default '{}'::jsonb,
  attributes jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  erased_at timestamptz
);
create index customers_email_idx on customers (lower(email));
create index customers_updated_idx on customers (updated_at, id);

-- The attribute registry: declared free attributes, with their type and whether they are a
-- special category of personal data (health, political opinions, ...).
create table attributes (
  key text primary key,
  type text not null check (type in ('string', 'number', 'boolean', 'date', 'string_array')),
  description text,
  sensitive boolean not null default false,
  category text,
  purpose text,
  created_at timestamptz not null default now(),
  check (not sensitive or purpose is not null)
);

-- Append-only consent ledger: the latest row per (customer, purpose) rules.
create table consents (
  id bigint generated always as identity primary key,
  customer_id bigint not null references customers (id) on delete cascade,
  purpose text not null,
  granted boolean not null,
  source text not null,
  text_version text,
  ip inet,
  at timestamptz not null default now()
);
create index consents_latest_idx on consents (customer_id, purpose, at desc, id desc);

create table purchases (
  id bigint generated always as identity primary key,
  external_line_id text not null unique,
  customer_id bigint not null references customers (id) on delete cascade,
  order_ref text,
  sku text,
  category text,
  quantity numeric(12, 3) not null default 1,
  amount numeric(14, 2) not null,
  currency char(3) not null default 'EUR',
  purchased_at timestamptz not null,
  source text,
  created_at timestamptz not null default now()
);
create index purchases_customer_idx on purchases (customer_id, purchased_at desc);
create index purchases_customer_category_idx on purchases (customer_id, category, purchased_at);

-- The one contact history: everything that happened between the company and the customer.
create table contact_events (
  id bigint generated always as identity primary key,
  customer_id bigint not null references customers (id) on delete cascade,
  kind text not null,
  channel text,
  text text,
  author text,
  message_id bigint,
  campaign_id bigint,
  trigger_id bigint,
  offer_id bigint,
  purchase_id bigint,
  machine boolean not null default false,
  data jsonb not null default '{}'::jsonb,
  at timestamptz not null default now()
);
create index contact_events_customer_idx on contact_events (customer_id, at desc, id desc);
create index contact_events_message_idx on contact_events (message_id, kind) where message_id is not null;
create index contact_events_campaign_idx on contact_events (campaign_id, kind) where campaign_id is not null;
create unique index contact_events_purchase_idx on contact_events (purchase_id) where kind = 'purchase';

create table api_keys (
  id bigint generated always as identity primary key,
  name text not null,
  role text not null check (role in ('admin', 'marketer', 'integrator', 'analyst', 'sales')),
  hash bytea not null unique,
  prefix text not null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

create table audit_log (
  id bigint generated always as identity primary key,
  at timestamptz not null default now(),
  api_key_id bigint references api_keys (id),
  actor text,
  action text not null,
  entity text not null,
  entity_id text,
  customer_id bigint,
  request_id text,
  data jsonb not null default '{}'::jsonb
);
create index audit_log_at_idx on audit_log (at desc, id desc);
create index audit_log_customer_idx on audit_log (customer_id, at desc) where customer_id is not null;

-- Addresses that must never be mailed again (hard bounce, complaint, erasure), kept as a keyed
-- hash so that an erased person is not stored in clear.
create table suppressions (
  email_hash bytea primary key,
  reason text not null,
  source text,
  at timestamptz not null default now()
);
