import type { Context } from 'hono';
import type { Child } from 'hono/jsx';
import type { App } from '../http/env.js';
import type { FieldError } from '../http/problem.js';
import { api } from './api.js';
import type { UiEnv } from './env.js';
import { page } from './kit.js';

/** What a page's form shows when it comes back: the values typed and what was wrong with them. */
export interface FormState {
  values: Record<string, unknown>;
  errors?: FieldError[] | undefined;
  detail?: string | undefined;
}

/**
 * Sends a page's form to the API and answers like every form of the UI: the body is built from
 * the form (or the form's own errors come back without calling the API); on a refusal the page
 * again with the values typed, each error at its field (422 when the form itself was wrong, the
 * API's status otherwise); on success a 303 to where `redirect` says.
 */
export async function submitForm(
  c: Context<UiEnv>,
  app: App,
  options: {
    method: 'POST' | 'PATCH' | 'PUT';
    path: string;
    build: (form: Record<string, unknown>) => { body?: unknown; errors?: FieldError[] | undefined };
    title: string;
    /** The form again; may load what only a redisplay needs (select options). */
    render: (state: FormState) => Child | Promise<Child>;
    /** Where to go on success, from what the API answered (every create answers the new `id`). */
    redirect: (created: { id: number }) => string;
  },
): Promise<Response> {
  const form = (await c.req.parseBody()) as Record<string, unknown>;
  const { body, errors } = options.build(form);
  const res = body ? await api<{ id: number }>(app, c, options.method, options.path, body) : undefined;
  if (!res?.ok) {
    const state: FormState = {
      values: form,
      errors: errors ?? res?.errors,
      detail: res?.errors.length ? undefined : res?.detail,
    };
    const redisplayed = await options.render(state);
    return page(
      c,
      options.title,
      <>
        <h1>{options.title}</h1>
        {redisplayed}
      </>,
      { status: res?.status ?? 422 },
    );
  }
  return c.redirect(options.redirect(res.body), 303);
}
