-- event_keys only answers "was this messageId seen, and as which event": the customer of an
-- event posted again is read from the event itself. The customer column's foreign key and index
-- cost a check and an index entry per ingested event (docs/operations.md, event ingestion
-- speed); dropping the column drops both.
alter table event_keys drop column customer_id;

-- Each ingested event takes an id; a backend-local cache of ids spares the shared sequence a
-- lock and a write per event (ids stay unique; they may skip numbers across connections).
alter sequence events_id_seq cache 1000;
