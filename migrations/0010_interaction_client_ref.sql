-- An interaction may carry an idempotency key chosen by its client (a phone that queued a note
-- offline and cannot know whether its first attempt arrived): one event per key and customer.
create unique index contact_events_client_ref_idx on contact_events (customer_id, (data ->> 'client_ref'))
  where data ? 'client_ref';
