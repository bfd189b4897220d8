-- contact_events becomes range-partitioned by month of `at` (UTC), so that a history of tens of
-- millions of rows stays cheap to scan by month, and old months can be detached and archived
-- (`offerflow partitions detach --before YYYY-MM`). The existing table is converted in place:
-- every row keeps its id, the id sequence continues, every index is rebuilt on the new parent.
--
-- PostgreSQL only accepts a unique index on a partitioned table when it contains the partition
-- key. So:
-- * the primary key becomes (id, at): ids still come from one sequence, so they stay unique;
-- * a keyed event whose `at` is a function of its key keeps a unique index with `at` appended,
--   which says the same thing: a purchase's conversion and refund are dated at the purchase
--   line's purchased_at (lines are never rewritten), a tracking event's key is a UUIDv7 made from
--   its `at` (src/tracking/event-buffer.ts);
-- * the two keys a client chooses (a direct conversion's order_ref per message, an interaction's
--   client_ref per customer) may come back with another `at`, so their uniqueness moves to the
--   small unpartitioned table contact_event_keys, claimed by a BEFORE INSERT trigger that skips
--   the row when its key is taken: the same effect as ON CONFLICT DO NOTHING.
--   The same table also records the `at` of each purchase line's conversion and refund, so that
--   a second one dated otherwise is refused (23505) rather than counted twice.
-- Rows go to a default partition when no month partition exists, so an insert never fails; the
-- retention worker creates the months ahead (src/db/partitions.ts) and moves any row that
-- landed in the default partition into its month.

create table contact_events_partitioned (like contact_events including defaults including constraints)
  partition by range (at);

create sequence contact_events_partitioned_id_seq as bigint;
select setval('contact_events_partitioned_id_seq', coalesce((select max(id) from contact_events), 0) + 1, false);
alter table contact_events_partitioned alter column id set default nextval('contact_events_partitioned_id_seq');

create table contact_events_default partition of contact_events_partitioned default;

-- One partition per month from the oldest event (at most ten years back; older rows stay in the
-- default partition) to three months ahead.
do $$
declare
  first_month timestamp;
  month timestamp;
  last_month timestamp := date_trunc('month', now() at time zone 'UTC') + interval '3 months';
begin
  select greatest(
    coalesce(date_trunc('month', min(at) at time zone 'UTC'), date_trunc('month', now() at time zone 'UTC')),
    date_trunc('month', now() at time zone 'UTC') - interval '120 months'
  ) into first_month from contact_events;
  month := first_month;
  while month <= last_month loop
    execute format(
      'create table %I partition of contact_events_partitioned for values from (%L) to (%L)',
      'contact_events_p' || to_char(month, 'YYYYMM'),
      (month::timestamp at time zone 'UTC'),
      ((month + interval '1 month')::timestamp at time zone 'UTC'));
    month := month + interval '1 month';
  end loop;
end $$;

insert into contact_events_partitioned select * from contact_events;

drop table contact_events;
alter table contact_events_partitioned rename to contact_events;
alter sequence contact_events_partitioned_id_seq rename to contact_events_id_seq;
alter sequence contact_events_id_seq owned by contact_events.id;

alter table contact_events add constraint contact_events_pkey primary key (id, at);
alter table contact_events add constraint contact_events_customer_id_fkey
  foreign key (customer_id) references customers (id) on delete cascade;

create index contact_events_customer_idx on contact_events (customer_id, at desc, id desc);
create index contact_events_message_idx on contact_events (message_id, kind) where message_id is not null;
create index contact_events_campaign_idx on contact_events (campaign_id, kind) where campaign_id is not null;
create index contact_events_touch_idx on contact_events (customer_id, at desc, id desc)
  where kind in ('opened', 'clicked') and not machine;
create unique index contact_events_conversion_purchase_idx on contact_events (purchase_id, at)
  where kind = 'converted';
create index contact_events_conversion_order_idx on contact_events (message_id, (data ->> 'order_ref'))
  where kind = 'converted' and purchase_id is null and data ? 'order_ref';
create index contact_events_offer_idx on contact_events (offer_id, kind) where offer_id is not null;
create index contact_events_at_idx on contact_events (at) where text is not null or author is not null;
create index contact_events_client_ref_idx on contact_events (customer_id, (data ->> 'client_ref'))
  where data ? 'client_ref';
create unique index contact_events_refund_purchase_idx on contact_events (purchase_id, at)
  where kind = 'refunded';
create unique index contact_events_event_key_idx on contact_events (event_key, at) where event_key is not null;
create index contact_events_soft_bounce_idx on contact_events (customer_id, at)
  where kind = 'bounced' and data ->> 'type' = 'soft';

-- Keys chosen by clients, unique across every partition (see above).
create table contact_event_keys (
  scope text not null check (scope in ('order_ref', 'client_ref', 'converted', 'refunded')),
  key text not null,
  customer_id bigint not null references customers (id) on delete cascade,
  -- For a purchase line's conversion or refund: the `at` it is dated at.
  at timestamptz,
  primary key (scope, key)
);
create index contact_event_keys_customer_idx on contact_event_keys (customer_id);

insert into contact_event_keys (scope, key, customer_id)
select 'order_ref', message_id || ':' || (data ->> 'order_ref'), customer_id from contact_events
where kind = 'converted' and purchase_id is null and data ? 'order_ref' and message_id is not null;
insert into contact_event_keys (scope, key, customer_id)
select 'client_ref', customer_id || ':' || (data ->> 'client_ref'), customer_id from contact_events
where data ? 'client_ref';
insert into contact_event_keys (scope, key, customer_id, at)
select kind, purchase_id::text, customer_id, at from contact_events
where kind in ('converted', 'refunded') and purchase_id is not null;

-- Skips an event whose client key is already taken. Rows moved between partitions by the
-- partition maintenance (offerflow.moving_partition_rows) already hold their key.
create function contact_events_claim_key() returns trigger language plpgsql as $$
begin
  if current_setting('offerflow.moving_partition_rows', true) = 'on' then
    return new;
  end if;
  if new.kind = 'converted' and new.purchase_id is null and new.message_id is not null
     and new.data ? 'order_ref' then
    insert into contact_event_keys (scope, key, customer_id)
    values ('order_ref', new.message_id || ':' || (new.data ->> 'order_ref'), new.customer_id)
    on conflict do nothing;
    if not found then return null; end if;
  end if;
  -- A purchase line converts (and is refunded) once whatever `at` a writer gives: the same `at`
  -- is left to the unique index (ON CONFLICT re-attributes), another one is refused.
  if new.kind in ('converted', 'refunded') and new.purchase_id is not null then
    insert into contact_event_keys (scope, key, customer_id, at)
    values (new.kind, new.purchase_id::text, new.customer_id, new.at)
    on conflict do nothing;
    if not found and exists (select 1 from contact_event_keys k
        where k.scope = new.kind and k.key = new.purchase_id::text and k.at is distinct from new.at) then
      raise exception using errcode = '23505',
        message = format('purchase line %s already has a %s event', new.purchase_id, new.kind);
    end if;
  end if;
  if new.data ? 'client_ref' then
    insert into contact_event_keys (scope, key, customer_id)
    values ('client_ref', new.customer_id || ':' || (new.data ->> 'client_ref'), new.customer_id)
    on conflict do nothing;
    if not found then return null; end if;
  end if;
  return new;
end $$;

create trigger contact_events_claim_key before insert on contact_events
  for each row execute function contact_events_claim_key();
