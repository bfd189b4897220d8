-- Trigger events committed where no queue is reachable (the Cloudflare Workers build): each row
-- holds up to 1,000 events until the Node reconciler hands them to the trigger queue and
-- deletes the row in the same transaction.
create table trigger_outbox (
  id bigserial primary key,
  events jsonb not null,
  created_at timestamptz not null default now()
);
