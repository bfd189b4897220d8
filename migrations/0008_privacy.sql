-- Privacy: retention flags customers without activity for RETENTION_INACTIVE_DAYS (they can then
-- be reviewed for erasure); the audit log is read by customer and by entity.
alter table customers add column inactive_at timestamptz;
create index customers_inactive_idx on customers (inactive_at) where inactive_at is not null;
create index audit_log_entity_idx on audit_log (entity, id desc);
-- Retention scans old contact events that still carry text.
create index contact_events_at_idx on contact_events (at) where text is not null or author is not null;
