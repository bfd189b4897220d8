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

-- Outbound webhooks (Standard Webhooks signing). An endpoint subscribes to event names.
create table webhook_endpoints (
  id bigint generated always as identity primary key,
  url text not null,
  description text,
  events text[] not null,
  secret text not null,
  enabled boolean not null default true,
  disabled_reason text,
  disabled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);

-- One delivery per (endpoint, event): written in the transaction that recorded what happened
-- (the triggers below), so a crash or a wiped Redis loses none; the webhook worker polls the
-- due ones into its queue and records each attempt here.
create table webhook_deliveries (
  id bigint generated always as identity primary key,
  endpoint_id bigint not null references webhook_endpoints (id) on delete cascade,
  event text not null,
  -- The customer it is about: deliveries of one customer go out in order where they can.
  customer_id bigint,
  msg_id text not null,
  payload jsonb not null,
  status text not null default 'pending' check (status in ('pending', 'succeeded', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_status integer,
  last_error text,
  created_at timestamptz not null default now(),
  delivered_at timestamptz,
  unique (endpoint_id, msg_id)
);
create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at, id) where status = 'pending';
create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, id desc);
create index webhook_deliveries_customer_idx on webhook_deliveries (endpoint_id, customer_id, id) where status = 'pending';

-- Fans one event out to every enabled endpoint subscribed to it.
create function webhook_emit(event text, customer bigint, msg text, at timestamptz, data jsonb) returns void
language plpgsql as $$
begin
  insert into webhook_deliveries (endpoint_id, event, customer_id, msg_id, payload)
  select w.id, event, customer, msg,
    jsonb_build_object('type', event, 'timestamp', to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'data', data)
  from webhook_endpoints w
  where w.enabled and w.deleted_at is null and event = any(w.events)
  on conflict (endpoint_id, msg_id) do nothing;
end $$;

-- message.* / conversion.created / customer.unsubscribed from the contact history: every place
-- that records a send, delivery, open, click, bounce, conversion or unsubscribe emits through here.
create function contact_events_webhooks() returns trigger language plpgsql as $$
declare
  event text;
begin
  if current_setting('offerflow.moving_partition_rows', true) = 'on' then
    return null;
  end if;
  event := case new.kind
    when 'sent' then 'message.sent' when 'delivered' then 'message.delivered'
    when 'opened' then 'message.opened' when 'clicked' then 'message.clicked'
    when 'bounced' then 'message.bounced' when 'converted' then 'conversion.created'
    when 'unsubscribed' then 'customer.unsubscribed' end;
  if event is null or not exists (select 1 from webhook_endpoints w
      where w.enabled and w.deleted_at is null and event = any(w.events)) then
    return null;
  end if;
  perform webhook_emit(event, new.customer_id, 'ce_' || new.id, new.at, jsonb_strip_nulls(jsonb_build_object(
    'customer_id', new.customer_id,
    'external_id', (select external_id from customers where id = new.customer_id),
    'message_id', new.message_id, 'campaign_id', new.campaign_id, 'trigger_id', new.trigger_id,
    'offer_id', new.offer_id, 'purchase_id', new.purchase_id, 'machine', case when new.machine then true end,
    'at', new.at,
    'detail', (select jsonb_object_agg(k, v) from jsonb_each(new.data) as d(k, v)
      where k in ('amount', 'revenue', 'currency', 'type', 'link', 'source', 'order_ref')))));
  return null;
end $$;
create trigger contact_events_webhooks after insert on contact_events
  for each row execute function contact_events_webhooks();

create function customers_erased_webhooks() returns trigger language plpgsql as $$
begin
  if old.erased_at is null and new.erased_at is not null then
    perform webhook_emit('customer.erased', new.id, 'erased_' || new.id, new.erased_at,
      jsonb_build_object('customer_id', new.id, 'at', new.erased_at));
  end if;
  return null;
end $$;
create trigger customers_erased_webhooks after update of erased_at on customers
  for each row execute function customers_erased_webhooks();
