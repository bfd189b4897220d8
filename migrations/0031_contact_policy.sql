-- The contact policy: one set of rules every send passes through at claim time, whoever wrote
-- the ledger row (campaign planner, trigger firing, journeys): caps per customer per day and
-- week, quiet hours in the customer's time zone, priority, and the complaint suspension.

-- The workspace's policy (one row, edited through /v1/settings). Null caps and quiet hours: off.
create table contact_policy_settings (
  id boolean primary key default true check (id),
  -- Promotional emails one customer may get per local day, and per 7 local days (rolling).
  daily_cap integer check (daily_cap >= 0),
  weekly_cap integer check (weekly_cap >= 0),
  -- Quiet hours as local wall-clock times (minutes after midnight); start > end spans midnight.
  quiet_start_minute smallint check (quiet_start_minute between 0 and 1439),
  quiet_end_minute smallint check (quiet_end_minute between 0 and 1439),
  -- A complaint staff log on the customer card stops promotional mail for this many days (0: never).
  complaint_suspension_days integer not null default 30 check (complaint_suspension_days between 0 and 3650),
  -- The zone of customers without one (quiet hours and the local day of the caps).
  default_timezone text not null default 'UTC',
  updated_at timestamptz not null default now(),
  check ((quiet_start_minute is null) = (quiet_end_minute is null))
);
insert into contact_policy_settings default values;

-- Promotional sends per customer and local day, counted in the claim's transaction (under the
-- customer's advisory lock), so caps hold with any number of senders in parallel.
create table contact_policy_counts (
  customer_id bigint not null references customers (id) on delete cascade,
  day date not null,
  sent integer not null default 0,
  primary key (customer_id, day)
);

-- Who sent what: the category decides whether the policy applies (promotional: all of it;
-- transactional and exempt: none), the priority which message wins a cap. A row may set its
-- own (a journey step); null takes its campaign's or trigger's.
alter table campaigns
  add column category text not null default 'promotional'
    check (category in ('promotional', 'transactional', 'exempt')),
  add column priority integer not null default 0 check (priority between -1000 and 1000);
alter table triggers
  add column category text check (category in ('promotional', 'transactional', 'exempt')),
  add column priority integer not null default 0 check (priority between -1000 and 1000);
-- A trigger marked transactional before categories existed is transactional.
update triggers set category = case when transactional then 'transactional' else 'promotional' end;
alter table triggers alter column category set default 'promotional', alter column category set not null;

alter table messages
  add column category text check (category in ('promotional', 'transactional', 'exempt')),
  add column priority integer,
  -- What the policy did to the row: `quiet_hours` (held until the window opens: send_at moved),
  -- `daily_cap`, `weekly_cap`, `outranked` (the last slot kept for a higher priority),
  -- `complaint_suspension` (dropped: status suppressed with the same reason).
  add column policy_reason text,
  -- Set while the row waits for quiet hours to end: the reconciler wakes its job at this time.
  add column held_until timestamptz,
  -- The send was counted against the caps (once per row, whatever its retries).
  add column policy_counted boolean not null default false;
create index messages_held_until_idx on messages (held_until) where held_until is not null;
