-- The learning ranker (Thompson sampling over each offer's conversion or revenue per impression)
-- and best send time.

-- Opt-in per campaign: `priority` ranks by the offers' score rules and priorities as before;
-- `learning` ranks eligible targeted offers by a draw from their learned posterior.
alter table campaigns
  add column ranker text not null default 'priority' check (ranker in ('priority', 'learning')),
  add column ranker_objective text not null default 'conversion'
    check (ranker_objective in ('conversion', 'revenue')),
  -- Learn per segment cell (top category x recency band) instead of over all customers.
  add column ranker_cells boolean not null default false,
  -- The share of customers whose offers are ranked at random: every eligible offer keeps being tried.
  add column ranker_exploration numeric(4, 3) not null default 0.05 check (ranker_exploration between 0 and 1),
  -- Send each customer's mail at their best hour within 24 hours of planning (their timezone).
  add column send_at_best_hour boolean not null default false;

-- The cell a learned decision was made in, so its impression teaches that cell (the customer's
-- cell at update time would be wrong: a purchase moves them to another recency band).
alter table messages add column ranker_cell text;

-- The posterior per offer and cell (`*`: all customers), recomputed by the ranker worker from
-- offer_impressions and the conversions attributed to those impressions' messages and offers.
create table ranker_stats (
  offer_id bigint not null references offers (id) on delete cascade,
  cell text not null,
  impressions integer not null,
  conversions integer not null,
  revenue float8 not null,
  revenue_sq float8 not null,
  primary key (offer_id, cell)
);

-- Resets: what the ranker learned is counted from these instants (all offers, or one).
create table ranker_state (
  id boolean primary key default true check (id),
  reset_at timestamptz not null default '-infinity',
  refreshed_at timestamptz
);
insert into ranker_state default values;
alter table offers add column ranker_reset_at timestamptz;
