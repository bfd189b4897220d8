-- Custom events pushed by integrators (POST /v1/events, shaped like the Segment spec): a table
-- built for volume, range-partitioned by month of `at` like contact_events (migrations/0023;
-- src/db/partitions.ts manages the months), read by customer, name and time (did_event,
-- event_count, the customer card).
create table events (
  id bigserial,
  customer_id bigint not null references customers (id) on delete cascade,
  name text not null,
  properties jsonb not null default '{}',
  message_id text not null,
  at timestamptz not null,
  received_at timestamptz not null default now(),
  primary key (id, at)
) partition by range (at);

create table events_default partition of events default;

-- The current month and three ahead; older months go to the default partition until the
-- retention worker (or `offerflow partitions ensure`) makes theirs.
do $$
declare
  month timestamp := date_trunc('month', now() at time zone 'UTC');
begin
  for i in 0..3 loop
    execute format(
      'create table %I partition of events for values from (%L) to (%L)',
      'events_p' || to_char(month, 'YYYYMM'),
      (month::timestamp at time zone 'UTC'),
      ((month + interval '1 month')::timestamp at time zone 'UTC'));
    month := month + interval '1 month';
  end loop;
end $$;

create index events_customer_name_at_idx on events (customer_id, name, at desc);
create index events_name_at_idx on events (name, at);

-- Idempotency on the client's messageId across every partition (a unique index on a
-- partitioned table must hold `at`, and a retried event may come back without its timestamp).
create table event_keys (
  message_id text primary key,
  event_id bigint not null,
  customer_id bigint not null references customers (id) on delete cascade,
  at timestamptz not null
);
create index event_keys_customer_idx on event_keys (customer_id);

-- Anonymous ids (Segment's anonymousId) and the customer they belong to: an anonymous lead
-- until an identify names the customer, then that customer.
create table customer_aliases (
  anonymous_id text primary key,
  customer_id bigint not null references customers (id) on delete cascade,
  created_at timestamptz not null default now()
);
create index customer_aliases_customer_idx on customer_aliases (customer_id);

-- Event definitions: seen automatically (count, first and last seen, property names and the
-- JSON types seen), described and flagged by POST /v1/event-types. `properties` maps a
-- property name to {type, description, sensitive}.
create table event_types (
  name text primary key,
  description text,
  properties jsonb not null default '{}',
  declared boolean not null default false,
  count bigint not null default 0,
  first_seen_at timestamptz,
  last_seen_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Triggers may fire on a custom event (params.event_name names it).
alter table triggers drop constraint triggers_event_check;
alter table triggers add constraint triggers_event_check
  check (event in ('purchase', 'customer_created', 'inactive_for', 'birthday', 'date_attribute', 'social_message', 'event'));
