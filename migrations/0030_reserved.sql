-- Placeholder: number 0030 belongs to the catalogue branch. The runner refuses gaps, so this empty
-- file lets 0031 apply on its own; drop it when the catalogue migration lands.
select 1;
