-- Server-side sessions of the web UI: the cookie carries a random token, the table its hash, so
-- sign-out, key revocation and idle time end a session wherever its cookie was copied to.
-- A session belongs to an API key today; `user_id` is for people who sign in themselves
-- (passwords, OIDC), whose table comes later and adds the foreign key.
create table sessions (
  id bigint generated always as identity primary key,
  token_hash bytea not null unique,
  api_key_id bigint references api_keys (id) on delete cascade,
  user_id bigint,
  -- The secret the session's CSRF token is derived from.
  csrf_secret text not null,
  created_at timestamptz not null,
  last_seen_at timestamptz not null,
  expires_at timestamptz not null,
  ended_at timestamptz,
  end_reason text check (end_reason in ('signed_out', 'key_revoked', 'idle', 'expired')),
  check (num_nonnulls(api_key_id, user_id) = 1)
);
create index sessions_api_key_idx on sessions (api_key_id) where ended_at is null;
