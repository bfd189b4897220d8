-- A purchases import commits its batches in parallel, so possibly out of order: a resumed job
-- skips exactly the batches already committed, each named by the file offset where it ends.
alter table imports add column committed_batches bigint[] not null default '{}';
