-- The audit log names fields, never their values: consent rows written before this kept the
-- free text of `source` ("phone call with …"), which erasure could not reach.
update audit_log set data = (data - 'source' - 'text_version') || '{"fields": ["source"]}'::jsonb
where action = 'consent.create' and (data ? 'source' or data ? 'text_version');
