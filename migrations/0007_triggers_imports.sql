-- Automations (triggers) and the ERP/CSV import jobs.

create table triggers (
  id bigint generated always as identity primary key,
  name text not null,
  event text not null
    check (event in ('purchase', 'customer_created', 'inactive_for', 'birthday', 'date_attribute', 'social_message')),
  -- inactive_for: days without a purchase; date_attribute: the attribute key and a day offset.
  params jsonb not null default '{}'::jsonb,
  filter jsonb,
  delay_hours numeric(8, 2) not null default 0 check (delay_hours >= 0),
  -- When set, the message goes out at this hour of the customer's local day (after the delay).
  local_hour smallint check (local_hour between 0 and 23),
  template_id bigint not null references templates (id),
  template_version integer,
  offers_per_email integer not null default 0 check (offers_per_email between 0 and 20),
  cancel_on_purchase boolean not null default false,
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
create index triggers_event_idx on triggers (event) where enabled and deleted_at is null;

-- One firing per (trigger, source event): a purchase imported twice fires once.
create table trigger_firings (
  trigger_id bigint not null references triggers (id),
  event_key text not null,
  customer_id bigint not null references customers (id) on delete cascade,
  message_id bigint,
  outcome text not null,
  -- When the source event happened (a purchase's purchased_at): a later purchase cancels.
  event_at timestamptz not null default now(),
  at timestamptz not null default now(),
  primary key (trigger_id, event_key)
);
create index trigger_firings_message_idx on trigger_firings (message_id) where message_id is not null;
create index trigger_firings_customer_idx on trigger_firings (customer_id, at desc);
create index messages_trigger_idx on messages (trigger_id, status) where trigger_id is not null;
create index messages_trigger_customer_idx on messages (customer_id, created_at) where trigger_id is not null;

-- The frequency cap across all triggers (at most max_messages automated emails in window_days).
create table trigger_settings (
  id boolean primary key default true check (id),
  cap_messages integer not null default 3 check (cap_messages >= 0),
  cap_days integer not null default 7 check (cap_days > 0)
);
insert into trigger_settings default values;

-- Social handles normalised to `channel:handle` (lower case, no leading @), for inbound matching.
create function social_handle_keys(handles jsonb) returns text[]
  language sql immutable parallel safe
  return array(select lower(key) || ':' || lower(ltrim(btrim(value), '@')) from jsonb_each_text(handles));
create index customers_social_handles_idx on customers using gin (social_handle_keys(social_handles));

create table imports (
  id bigint generated always as identity primary key,
  kind text not null check (kind in ('customers', 'purchases')),
  status text not null default 'queued' check (status in ('uploading', 'queued', 'running', 'done', 'failed')),
  filename text,
  options jsonb not null default '{}'::jsonb,
  size_bytes bigint not null default 0,
  bytes_done bigint not null default 0,
  rows_done bigint not null default 0,
  rows_created bigint not null default 0,
  rows_unchanged bigint not null default 0,
  rows_failed bigint not null default 0,
  -- The line up to which rows are committed: a resumed job skips them.
  committed_line bigint not null default 0,
  error text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);

-- The uploaded file in 1 MB pieces, so a worker on any machine streams it back in constant memory.
create table import_chunks (
  import_id bigint not null references imports (id) on delete cascade,
  seq integer not null,
  data bytea not null,
  primary key (import_id, seq)
);

create table import_errors (
  id bigint generated always as identity primary key,
  import_id bigint not null references imports (id) on delete cascade,
  line bigint not null,
  "column" text,
  reason text not null
);
create index import_errors_import_idx on import_errors (import_id, line, id);
