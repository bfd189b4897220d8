-- People who sign in to the web UI themselves (password, optional TOTP, or OpenID Connect), with
-- the same roles as API keys. Keys stay for integrations.
create table users (
  id bigint generated always as identity primary key,
  email text not null,
  name text,
  role text not null check (role in ('admin', 'marketer', 'integrator', 'analyst', 'sales')),
  status text not null default 'invited' check (status in ('invited', 'active', 'disabled')),
  -- scrypt, self-describing (`scrypt$N$r$p$salt$hash`); null until the invitation is accepted.
  password_hash text,
  -- Base32 TOTP secret once the user turned the second factor on.
  totp_secret text,
  created_at timestamptz not null default now(),
  last_sign_in_at timestamptz
);
create unique index users_email_idx on users (lower(email));

-- One-use links mailed to a person: an invitation or a password reset. Only the SHA-256 of the
-- token is kept, like sessions.
create table user_tokens (
  id bigint generated always as identity primary key,
  user_id bigint not null references users (id) on delete cascade,
  purpose text not null check (purpose in ('invite', 'reset')),
  token_hash bytea not null unique,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  used_at timestamptz
);
create index user_tokens_user_idx on user_tokens (user_id) where used_at is null;

alter table sessions add constraint sessions_user_fk foreign key (user_id) references users (id) on delete cascade;
alter table sessions drop constraint sessions_end_reason_check;
alter table sessions add constraint sessions_end_reason_check
  check (end_reason in ('signed_out', 'key_revoked', 'idle', 'expired', 'user_disabled', 'password_changed'));
create index sessions_user_idx on sessions (user_id) where ended_at is null;

alter table audit_log add column user_id bigint references users (id);
