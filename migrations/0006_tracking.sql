-- Tracking, conversions and reports.
--
-- Contract with the sender (src/campaigns): when a message is sent, the sender stores every
-- click target it put in the mail on the messages row, keyed by the link index signed into the
-- click token (src/tracking/links.ts: offers start at OFFER_LINK_BASE = 16, in offer_ids order):
--   links = {"16": {"url": "https://shop.example/p/1", "offer_id": 5}, "17": {...}}
-- GET /t/c/{token} redirects only to links[index].url, so editing an offer later never changes
-- where an old mail leads, and a token can never name a URL. A row without that key (sent
-- before the sender filled links) falls back to the url of offers[offer_ids[index - 16]].
alter table messages add column links jsonb not null default '{}'::jsonb;

-- Attribution: a customer's latest human open or click before a purchase.
create index contact_events_touch_idx on contact_events (customer_id, at desc, id desc)
  where kind in ('opened', 'clicked') and not machine;

-- A purchase line converts at most once, so re-imported lines do not count twice.
create unique index contact_events_conversion_purchase_idx on contact_events (purchase_id)
  where kind = 'converted';
-- A conversion posted by a shop (POST /v1/conversions) counts once per (message, order_ref).
create unique index contact_events_conversion_order_idx on contact_events (message_id, (data ->> 'order_ref'))
  where kind = 'converted' and purchase_id is null and data ? 'order_ref';

-- The offers report: clicks and conversions per offer across campaigns.
create index contact_events_offer_idx on contact_events (offer_id, kind) where offer_id is not null;
