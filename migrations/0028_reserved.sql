-- Placeholder: number 0028 belongs to the journeys branch. The runner refuses gaps, so this empty
-- file lets 0029 apply on its own; drop it when the journeys migration lands.
select 1;
