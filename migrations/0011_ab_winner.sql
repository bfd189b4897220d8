-- A/B test with winner send-out: a campaign may send its variants to a test cell only, wait a
-- window, then send the winning variant to the rest of its audience.

-- ab_test: {test_percent, window_hours, metric, fallback_variant?}; null means no test.
-- The window starts when the last message of the test cell has gone out (ab_window_started_at)
-- and ends at ab_window_ends_at; ab_decision records the winner, why, by whom, and the figures.
alter table campaigns
  add column ab_test jsonb,
  add column ab_window_started_at timestamptz,
  add column ab_window_ends_at timestamptz,
  add column ab_decided_at timestamptz,
  add column ab_decision jsonb;

-- `held`: planned for the rest of the audience, waiting for the winner. The ledger row exists from
-- the start, so (campaign, customer) stays unique across both phases; it becomes queued (with the
-- winner) or suppressed when the test is decided, or cancelled with the campaign.
alter table messages drop constraint messages_status_check;
alter table messages add constraint messages_status_check
  check (status in ('queued', 'sending', 'sent', 'failed', 'suppressed', 'cancelled', 'held'));

-- Whether the row belongs to the winner send-out (false: the test cell, or no test at all), so
-- that the report can tell the test cell from the send-out of the same variant.
alter table messages add column ab_remainder boolean not null default false;

-- The send-out pages through a campaign's held rows by id.
create index messages_held_idx on messages (campaign_id, id) where status = 'held';
