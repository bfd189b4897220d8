import type { Context } from 'hono';
import type { App } from '../http/env.js';
import { api } from './api.js';
import type { Segments, Senders, Templates } from './api-types.js';
import type { UiEnv } from './env.js';
import { type Errors, Field } from './kit.js';

// What the campaign and trigger forms share: the template and segment choices.

export type Option = { value: string; label: string };

const CHOOSE: Option = { value: '', label: '— choose —' };

/** Templates as options, `name (vN)`, after an empty "choose" one. */
export async function templateOptions(app: App, c: Context<UiEnv>): Promise<Option[]> {
  const res = await api<Templates>(app, c, 'GET', '/v1/templates?limit=500');
  return [CHOOSE].concat(
    (res.ok ? res.body.data : []).map((t) => ({
      value: String(t.id),
      label: `${t.name} (v${t.version})`,
    })),
  );
}

/** Segments as options, after an empty "choose" one. */
export async function segmentOptions(app: App, c: Context<UiEnv>): Promise<Option[]> {
  const res = await api<Segments>(app, c, 'GET', '/v1/segments?limit=500');
  return [CHOOSE].concat((res.ok ? res.body.data : []).map((s) => ({ value: String(s.id), label: s.name })));
}

/** Sender identities as options, after "the default sender". */
export async function senderOptions(app: App, c: Context<UiEnv>): Promise<Option[]> {
  const res = await api<Senders>(app, c, 'GET', '/v1/senders?limit=100');
  return [{ value: '', label: 'The default sender' }].concat(
    (res.ok ? res.body.data : []).map((s) => ({
      value: String(s.id),
      label: `${s.from_name ? `${s.from_name} <${s.from_address}>` : s.from_address}${s.is_default ? ' (default)' : ''}`,
    })),
  );
}

/** The template select and its version, for a form whose email uses a template. */
export function TemplateFields(props: {
  templates: Option[];
  values: Record<string, unknown>;
  errors?: Errors | undefined;
  versionHint: string;
}) {
  const v = props.values;
  return (
    <>
      <Field
        name="template_id"
        label="Template"
        value={String(v.template_id ?? '')}
        options={props.templates}
        errors={props.errors}
      />
      <Field
        name="template_version"
        label="Template version"
        type="number"
        value={v.template_version as string}
        errors={props.errors}
        hint={props.versionHint}
      />
    </>
  );
}
