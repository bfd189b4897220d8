import type { Context } from 'hono';
import { IN_PROCESS_AUTH } from '../http/auth.js';
import type { App } from '../http/env.js';
import type { FieldError } from '../http/problem.js';
import type { StreamedForm } from '../imports/multipart-body.js';
import type { UiEnv } from './env.js';

export interface ApiResult<T = unknown> {
  status: number;
  ok: boolean;
  body: T;
  /** Field errors of a problem response, empty otherwise. */
  errors: FieldError[];
  detail?: string;
}

/**
 * Calls the app's own /v1 API in process as the signed-in user: the UI gets the API's
 * validation (same zod schemas), roles, transactions and audit without repeating any of them.
 */
export async function api<T = unknown>(
  app: App,
  c: Context<UiEnv>,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResult<T>> {
  const res = await apiResponse(app, c, method, path, body);
  const text = res.status === 204 ? '' : await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  const problem =
    !res.ok && parsed && typeof parsed === 'object'
      ? (parsed as { errors?: unknown; detail?: unknown })
      : undefined;
  return {
    status: res.status,
    ok: res.ok,
    body: parsed as T,
    errors: (problem?.errors as FieldError[] | undefined) ?? [],
    ...(problem?.detail ? { detail: String(problem.detail) } : {}),
  };
}

/** A body the UI streams to the API as it arrives (an upload), rather than JSON. */
export class Streamed {
  constructor(readonly form: StreamedForm) {}
}

/**
 * The raw response of an in-process API call as the signed-in user: a FormData body goes as
 * multipart, a Streamed one as its stream, bytes as CSV, anything else as JSON. For bodies the UI passes
 * through (CSV downloads).
 */
export function apiResponse(
  app: App,
  c: Context<UiEnv>,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  const headers: Record<string, string> = { 'x-request-id': c.var.requestId };
  let init: RequestInit & { duplex?: 'half' } = {};
  if (body instanceof Streamed) {
    headers['content-type'] = body.form.contentType;
    init = { body: body.form.body, duplex: 'half' };
  } else if (body instanceof FormData) {
    init = { body };
  } else if (body instanceof Uint8Array) {
    // Bytes the UI relays are the head of a CSV file (the import preview).
    headers['content-type'] = 'text/csv';
    init = { body };
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init = { body: JSON.stringify(body) };
  }
  // As the signed-in session's key, handed over in the bindings (no key travels in a header).
  return Promise.resolve(app.request(path, { method, headers, ...init }, { [IN_PROCESS_AUTH]: c.var.auth }));
}

/** Throws the API's failure as a UI error page (for reads that must succeed). */
export function must<T>(result: ApiResult<T>): T {
  if (!result.ok) throw new UiError(result.status, result.detail ?? `The API answered ${result.status}`);
  return result.body;
}

export class UiError extends Error {
  override name = 'UiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
