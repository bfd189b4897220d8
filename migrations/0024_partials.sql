-- Reusable MJML blocks (header, footer, anything a marketer saves), versioned like templates.
create table partials (
  id bigint generated always as identity primary key,
  name text not null unique check (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$'),
  description text,
  latest_version integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table partial_versions (
  partial_id bigint not null references partials (id) on delete cascade,
  version integer not null,
  mjml text not null,
  created_at timestamptz not null default now(),
  primary key (partial_id, version)
);

-- The partial versions each template version was saved with: its MJML has them expanded, so a
-- sent mail never changes; this is what "used by" reads.
create table template_version_partials (
  template_id bigint not null,
  version integer not null,
  partial_id bigint not null,
  partial_version integer not null,
  primary key (template_id, version, partial_id),
  foreign key (template_id, version) references template_versions (template_id, version) on delete cascade,
  foreign key (partial_id, partial_version) references partial_versions (partial_id, version)
);
create index template_version_partials_partial on template_version_partials (partial_id);
