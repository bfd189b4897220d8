-- Placeholder: 0033 belongs to another branch; this file keeps the numbering gap-free on
-- this one and is dropped when the branches are merged.
select 1;
