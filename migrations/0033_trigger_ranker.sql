-- The learning ranker on triggers, as on campaigns (0029): `priority` ranks a trigger's offers
-- by the offers' score rules and priorities; `learning` by a draw from their learned posterior.
-- A journey's send_email step keeps its ranker in the version's definition (no column).
alter table triggers
  add column ranker text not null default 'priority' check (ranker in ('priority', 'learning')),
  add column ranker_objective text not null default 'conversion'
    check (ranker_objective in ('conversion', 'revenue')),
  add column ranker_cells boolean not null default false,
  add column ranker_exploration numeric(4, 3) not null default 0.05 check (ranker_exploration between 0 and 1);
