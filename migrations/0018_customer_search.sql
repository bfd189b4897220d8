-- Customer search as staff type it: accent- and case-insensitive ("Elodie Martin" finds
-- "Élodie Martin"), by fragments of a name, email or external id, indexed with trigrams.
-- Both extensions ship with PostgreSQL's contrib and are trusted: the database owner may
-- create them without being a superuser.
create extension if not exists unaccent;
create extension if not exists pg_trgm;

-- unaccent() is only STABLE (its dictionary could change), so it cannot appear in an index;
-- naming the dictionary explicitly makes this wrapper safe to declare IMMUTABLE.
create function search_fold(value text) returns text
  language sql immutable parallel safe strict
  as $$ select lower(public.unaccent('public.unaccent'::regdictionary, value)) $$;

-- The one text a search looks through: names, email and external id, folded.
create function customer_search_text(first_name text, last_name text, email text, external_id text)
  returns text
  language sql immutable parallel safe
  as $$ select public.search_fold(coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' '
                           || coalesce(email, '') || ' ' || coalesce(external_id, '')) $$;

-- Stored, so that a search reads it instead of folding every candidate row again (unaccent
-- costs microseconds per call, and thousands of rows match a common first name). Adding it
-- rewrites the table once.
alter table customers add column search_text text
  generated always as (public.customer_search_text(first_name, last_name, email, external_id)) stored;

create index customers_search_trgm_idx on customers using gin (search_text gin_trgm_ops)
  where erased_at is null;
