-- Email templates with immutable versions; MJML is compiled to HTML once, at save.
create table templates (
  id bigint generated always as identity primary key,
  name text not null,
  latest_version integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
-- Names identify templates for people and for installDefaultTemplates (idempotent by name).
create unique index templates_name_idx on templates (name);

create table template_versions (
  template_id bigint not null references templates (id) on delete cascade,
  version integer not null,
  subject text not null,
  preheader text,
  mjml text not null,
  -- The MJML compiled to HTML with the Handlebars expressions left intact.
  html text not null,
  -- The plain-text part derived from html at save, Handlebars intact; null when it could not be
  -- derived safely (the text is then made from each rendered HTML).
  text_template text,
  compiled_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  primary key (template_id, version)
);
