-- Campaigns and the send ledger: one messages row per recipient, unique per (campaign, customer).
create table campaigns (
  id bigint generated always as identity primary key,
  name text not null,
  segment_id bigint references segments (id),
  template_id bigint references templates (id),
  template_version integer,
  offers_per_email integer not null default 3 check (offers_per_email between 0 and 20),
  variants jsonb not null default '[]'::jsonb,
  schedule_at timestamptz,
  throttle_per_second integer check (throttle_per_second > 0),
  attribution jsonb not null default '{"click_days": 7, "open_days": 1}'::jsonb,
  from_address text,
  from_name text,
  status text not null default 'draft'
    check (status in ('draft', 'scheduled', 'sending', 'sent', 'paused', 'cancelled')),
  launched_at timestamptz,
  -- The planner's keyset position in the segment: a restarted planner resumes after it.
  plan_after_id bigint,
  planned_at timestamptz,
  finished_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);

create table messages (
  id bigint generated always as identity primary key,
  campaign_id bigint references campaigns (id),
  trigger_id bigint,
  customer_id bigint not null references customers (id) on delete cascade,
  variant text,
  template_id bigint references templates (id),
  template_version integer,
  offer_ids bigint[] not null default '{}',
  status text not null default 'queued'
    check (status in ('queued', 'sending', 'sent', 'failed', 'suppressed', 'cancelled')),
  suppressed_reason text,
  smtp_message_id text,
  attempts integer not null default 0,
  error text,
  -- The SMTP server's reply to the last attempt (kept for failed rows: "550 5.1.1 no such user").
  smtp_reply text,
  -- When a delayed message (a trigger's) is due; null means now.
  send_at timestamptz,
  -- Set when the row's job has been handed to the queue (transactional outbox for the edge build).
  enqueued_at timestamptz,
  sent_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index messages_campaign_customer_idx on messages (campaign_id, customer_id) where campaign_id is not null;
create index messages_status_idx on messages (campaign_id, status);
create index messages_queued_idx on messages (status, send_at) where status = 'queued';
create index messages_customer_idx on messages (customer_id, created_at desc);
