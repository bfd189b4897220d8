-- The webhook poller reads one page of the deliveries that may go out now, in index order,
-- whatever the backlog. "May go out" was an anti-join per row (no older untried delivery to the
-- same endpoint about the same customer), so a page read every held row in front of it: ten per
-- customer made a page of 1,000 read 10,000 rows, one busy customer made it read all of them.
-- `held` stores that answer instead: true while an older untried delivery of the same endpoint
-- and customer is pending. It is set when the delivery is written (below) and cleared when the
-- one in front of it is attempted (src/webhooks/store.ts recordAttempts); the claim still checks
-- the order itself, so a flag cleared early costs a skipped claim, never the order.
alter table webhook_deliveries add column held boolean not null default false;

update webhook_deliveries d set held = true
where d.status = 'pending' and d.attempts = 0 and d.customer_id is not null and exists (
  select 1 from webhook_deliveries o
  where o.endpoint_id = d.endpoint_id and o.customer_id = d.customer_id
    and o.status = 'pending' and o.attempts = 0 and o.id < d.id);

-- The poll's page: due deliveries not held, in (next_attempt_at, id) order.
drop index webhook_deliveries_due_idx;
create index webhook_deliveries_ready_idx on webhook_deliveries (next_attempt_at, id)
  where status = 'pending' and not held;

-- Holds each of `ids` (deliveries just written about `customer`) behind an older untried
-- delivery of the same endpoint and customer. The older ones are locked FOR SHARE: recording
-- an attempt at one of them then waits for this transaction, and its release (a later
-- statement) sees this row, so none stays held for good. SKIP LOCKED: one being claimed or
-- recorded right now is not waited for (no lock cycle with the webhook worker); the row is
-- then not held, and the claim's own check keeps the order. Only older ids hold a delivery
-- back (an id taken later but committed first must not). Every writer of deliveries calls it:
-- webhook_emit below and a journey's webhook step.
create or replace function webhook_hold(ids bigint[], customer bigint) returns void
language sql as $$
  update webhook_deliveries d set held = true
  where d.id = any(ids) and exists (
    select 1 from webhook_deliveries o
    where o.endpoint_id = d.endpoint_id and o.customer_id = customer
      and o.status = 'pending' and o.attempts = 0 and o.id < d.id
    for share of o skip locked);
$$;

-- As in 0027, and each new delivery is held behind an older untried one of its customer.
create or replace function webhook_emit(event text, customer bigint, msg text, at timestamptz, data jsonb) returns void
language plpgsql as $$
declare
  ids bigint[];
begin
  with inserted as (
    insert into webhook_deliveries (endpoint_id, event, customer_id, msg_id, payload)
    select w.id, event, customer, msg,
      jsonb_build_object('type', event, 'timestamp', to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'data', data)
    from webhook_endpoints w
    where w.enabled and w.deleted_at is null and event = any(w.events)
    on conflict (endpoint_id, msg_id) do nothing
    returning id
  )
  select array_agg(id) into ids from inserted;
  if customer is null or ids is null then
    return;
  end if;
  -- A statement of its own: the rows just inserted are visible to it.
  perform webhook_hold(ids, customer);
end $$;
