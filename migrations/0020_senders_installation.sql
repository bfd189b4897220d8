-- This install's identity, made once at first migration: every Message-ID carries it, so two
-- installs (or a database reset, or staging) never mint the same id. `database_oid` remembers
-- the database it was made in: a copy of the database (a template copy, a restore onto
-- staging) has another oid, and the sender then makes a new id for the copy (src/senders/installation.ts).
create table installation (
  singleton boolean primary key default true check (singleton),
  id text not null,
  database_oid oid not null,
  created_at timestamptz not null default now()
);
insert into installation (id, database_oid)
select substr(replace(gen_random_uuid()::text, '-', ''), 1, 20), d.oid
from pg_database d where d.datname = current_database();

-- Sender identities: who a mail is from, where replies go, and the DKIM key that signs it.
-- The private key is stored encrypted (AES-256-GCM, key derived from OFFERFLOW_SECRET).
create table senders (
  id bigint generated always as identity primary key,
  from_address text not null,
  from_name text,
  reply_to text,
  dkim_domain text,
  dkim_selector text,
  dkim_private_key_encrypted text,
  dkim_public_key text,
  is_default boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- At most one default sender.
create unique index senders_one_default on senders (is_default) where is_default;

alter table campaigns add column sender_id bigint references senders (id);
alter table triggers add column sender_id bigint references senders (id);
