-- Opens and clicks carry a key made where the request was answered (src/tracking/event-buffer.ts),
-- so that a batch written again after a lost reply, or replayed from the server's local spool
-- after a crash, is stored once. Time-ordered keys: the index grows at its end.
alter table contact_events add column event_key uuid;
create unique index contact_events_event_key_idx on contact_events (event_key) where event_key is not null;
