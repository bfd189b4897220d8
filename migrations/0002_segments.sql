-- Saved audiences: a JSON Logic rule over the customer context.
create table segments (
  id bigint generated always as identity primary key,
  name text not null,
  description text,
  rule jsonb not null,
  version integer not null default 1,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz
);
