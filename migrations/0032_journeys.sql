-- Journeys: multi-step automations (issue 27). A journey is a name and a status; what it does
-- is a version (its definition, templates pinned): editing an active journey adds a version,
-- customers inside finish on theirs. One row per customer per entry holds where they are; each
-- step run is recorded once under (entry, seq), which is what makes a step run once at most.

create table journeys (
  id bigint generated always as identity primary key,
  name text not null,
  status text not null default 'draft' check (status in ('draft', 'active', 'paused', 'archived')),
  -- The version new entries take (and PATCH edits while the journey was never activated).
  version_id bigint,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table journey_versions (
  id bigint generated always as identity primary key,
  journey_id bigint not null references journeys (id),
  version integer not null,
  definition jsonb not null,
  -- What it listens to, for the event hooks: 'purchase', 'event:<name>' (entry, waits, goal).
  listens text[] not null default '{}',
  -- [{name: step id, subject}] and {step id: sender id} of its send_email steps: the sender reads
  -- a journey mail's subject and sender through these, as it reads a campaign variant's.
  step_subjects jsonb not null default '[]',
  step_senders jsonb not null default '{}',
  activated_at timestamptz,
  created_at timestamptz not null default now(),
  unique (journey_id, version)
);
alter table journeys add foreign key (version_id) references journey_versions (id);

create table journey_entries (
  id bigint generated always as identity primary key,
  journey_id bigint not null references journeys (id),
  version_id bigint not null references journey_versions (id),
  customer_id bigint not null references customers (id) on delete cascade,
  -- What entered them (an event key, `segment:<id>`…): the same event never enters twice.
  entry_key text not null,
  event jsonb,
  status text not null default 'active' check (status in ('active', 'completed', 'exited', 'goal')),
  exit_reason text,
  -- The current step, since when, and when it is due (null: nothing due, e.g. finished).
  step text,
  since timestamptz not null default now(),
  next_run_at timestamptz,
  -- Step runs so far: the due job of the current step is `j<id>-<seq>`.
  seq integer not null default 0,
  -- The event a wait_for_event step waits for ('purchase' or 'event:<name>').
  waiting_for text,
  entered_at timestamptz not null default now(),
  exited_at timestamptz,
  goal_revenue numeric(14, 2),
  unique (journey_id, entry_key, customer_id)
);
-- At most one live entry per customer per journey, whatever the version.
create unique index journey_entries_live_idx on journey_entries (journey_id, customer_id) where status = 'active';
create index journey_entries_customer_idx on journey_entries (customer_id, status);
create index journey_entries_due_idx on journey_entries (next_run_at) where status = 'active';
create index journey_entries_waiting_idx on journey_entries (customer_id, waiting_for) where status = 'active';

-- One row per step run of an entry: the primary key refuses a second run of the same step.
create table journey_step_runs (
  entry_id bigint not null references journey_entries (id) on delete cascade,
  seq integer not null,
  journey_id bigint not null,
  version_id bigint not null,
  step text not null,
  -- Which way it went: then/else, a split path, on_event/on_timeout, sent/suppressed/holdout…
  outcome text,
  message_id bigint,
  at timestamptz not null default now(),
  primary key (entry_id, seq)
);
create index journey_step_runs_report_idx on journey_step_runs (journey_id, version_id, step);

-- A journey's mail is a ledger row like any other: these say which journey, entry and step.
alter table messages add column journey_id bigint references journeys (id);
alter table messages add column journey_version_id bigint references journey_versions (id);
alter table messages add column journey_entry_id bigint;
alter table messages add column journey_step text;
create index messages_journey_idx on messages (journey_id, journey_step) where journey_id is not null;
create index messages_journey_unsent_idx on messages (id) where journey_id is not null and status in ('queued', 'sending');

-- Erasure and unsubscribing end a customer's journeys, whichever path wrote them (API, import,
-- mailto, one-click, ESP webhook): written here, in the same transaction, none can forget it.
create function journey_entries_end(customer bigint, reason text) returns void
language plpgsql as $$
begin
  update journey_entries set status = 'exited', exit_reason = reason, exited_at = now(),
    next_run_at = null, waiting_for = null
  where customer_id = customer and status = 'active';
end $$;

create function customers_erased_journeys() returns trigger language plpgsql as $$
begin
  if old.erased_at is null and new.erased_at is not null then
    perform journey_entries_end(new.id, 'erased');
  end if;
  return null;
end $$;
create trigger customers_erased_journeys after update of erased_at on customers
  for each row execute function customers_erased_journeys();

create function consents_withdrawn_journeys() returns trigger language plpgsql as $$
begin
  if new.purpose = 'marketing_email' and not new.granted then
    perform journey_entries_end(new.customer_id, 'unsubscribed');
  end if;
  return null;
end $$;
create trigger consents_withdrawn_journeys after insert on consents
  for each row execute function consents_withdrawn_journeys();
