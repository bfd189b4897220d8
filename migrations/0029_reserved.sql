-- Placeholder: number 0029 belongs to the contact policy branch. The runner refuses gaps, so this
-- empty file lets 0031 apply on its own; drop it when the contact policy migration lands.
select 1;
