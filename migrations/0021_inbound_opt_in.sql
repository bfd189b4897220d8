-- Bounces, complaints and deliveries coming back (offerflow inbound, ESP webhooks), and double opt-in.

-- Events already applied, by provider and the provider's own id (an SNS MessageId, a SendGrid
-- sg_event_id, a Mailgun token, a DSN's Message-ID): a retried or replayed delivery changes nothing.
create table inbound_receipts (
  provider text not null,
  event_id text not null,
  received_at timestamptz not null default now(),
  primary key (provider, event_id)
);
create index inbound_receipts_received_idx on inbound_receipts (received_at);

-- Soft bounces of a customer in the window (the rule that suppresses after N of them).
create index contact_events_soft_bounce_idx on contact_events (customer_id, at)
  where kind = 'bounced' and data ->> 'type' = 'soft';

-- A marketing opt-in waiting for the address to confirm it (MARKETING_LEGAL_BASIS=double_opt_in).
-- The consent row is written only on confirmation; this row keeps the proof of both steps.
create table opt_in_requests (
  id bigint generated always as identity primary key,
  customer_id bigint not null references customers (id) on delete cascade,
  email text not null,
  purpose text not null default 'marketing_email',
  source text not null,
  text_version text,
  requested_ip inet,
  requested_at timestamptz not null default now(),
  expires_at timestamptz not null,
  mailed_at timestamptz,
  mail_error text,
  confirmed_at timestamptz,
  confirmed_ip inet,
  confirmed_user_agent text
);
create index opt_in_requests_customer_idx on opt_in_requests (customer_id, requested_at desc);
create index opt_in_requests_unmailed_idx on opt_in_requests (requested_at) where mailed_at is null and mail_error is null;

-- ESP events name a message by the Message-ID header we sent (SES, Mailgun).
create index messages_smtp_message_id_idx on messages (smtp_message_id) where smtp_message_id is not null;
