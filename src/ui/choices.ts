// biome-ignore-all lint/suspicious/noExplicitAny: API JSON read here was validated by the API's own response schemas
import type { Context } from 'hono';
import type { App } from '../http/env.js';
import { api } from './api.js';
import type { UiEnv } from './env.js';

// The select options forms share: the templates and segments a campaign or trigger may use.

export type Option = { value: string; label: string };

const CHOOSE: Option = { value: '', label: '— choose —' };

/** Templates as options, `name (vN)`, after an empty "choose" one. */
export async function templateOptions(app: App, c: Context<UiEnv>): Promise<Option[]> {
  const res = await api(app, c, 'GET', '/v1/templates?limit=500');
  return [CHOOSE].concat(
    (res.ok ? res.body.data : []).map((t: any) => ({
      value: String(t.id),
      label: `${t.name} (v${t.version})`,
    })),
  );
}

/** Segments as options, after an empty "choose" one. */
export async function segmentOptions(app: App, c: Context<UiEnv>): Promise<Option[]> {
  const res = await api(app, c, 'GET', '/v1/segments?limit=500');
  return [CHOOSE].concat(
    (res.ok ? res.body.data : []).map((s: any) => ({ value: String(s.id), label: s.name })),
  );
}
