import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { ZodError } from 'zod';
import { isDatabaseUnavailable } from '../db/transient.js';
import type { AppEnv } from './env.js';
import { AppError, type ProblemBody, problemResponse, zodToFieldErrors } from './problem.js';

interface PostgresLikeError {
  code: string;
  message: string;
  detail?: string;
  column_name?: string;
  constraint_name?: string;
}

const isPostgresError = (error: unknown): error is PostgresLikeError =>
  typeof error === 'object' &&
  error !== null &&
  (error as { name?: string }).name === 'PostgresError' &&
  typeof (error as { code?: unknown }).code === 'string';

/** Database codes that mean the input was bad, not the server: never a 500. */
function fromPostgres(error: PostgresLikeError): AppError | undefined {
  const field = error.column_name ?? error.constraint_name ?? '';
  switch (error.code) {
    case '23505':
      return new AppError(409, 'conflict', error.detail ?? 'A row with the same key already exists');
    case '23503':
      return new AppError(422, 'reference', error.detail ?? 'A referenced row does not exist', [
        { path: field, message: 'refers to a row that does not exist' },
      ]);
    case '23502':
    case '23514':
    case '22001':
    case '22003':
    case '22007':
    case '22008':
    case '22P02':
    case '22023':
    // A NUL (U+0000) in text or jsonb: input is checked for it at the edge, this is the backstop.
    case '22021':
    case '22P05':
      return new AppError(422, 'validation', error.message, [{ path: field, message: error.message }]);
    case '40P01':
    case '40001': {
      // A deadlock or serialization failure rolled the whole transaction back: nothing was
      // written, and the same request may well succeed now.
      const retry = new AppError(
        503,
        'retry',
        'The request collided with a concurrent one and was rolled back; nothing was saved. Retry it.',
      );
      retry.retryAfterSeconds = 1;
      return retry;
    }
    default:
      return undefined;
  }
}

/** The one place where errors become RFC 9457 problem+json responses. */
export function onError(error: Error, c: Context<AppEnv>): Response {
  const instance = c.req.path;
  let appError: AppError | undefined;
  if (error instanceof AppError) appError = error;
  else if (error instanceof ZodError)
    appError = new AppError(422, 'validation', 'The request is not valid', zodToFieldErrors(error));
  else if (isPostgresError(error)) appError = fromPostgres(error);
  else if (error instanceof HTTPException) {
    const status = error.status;
    const message = error.message || 'Request failed';
    if (/Malformed JSON/i.test(message)) {
      appError = new AppError(400, 'malformed-json', 'The request body is not valid JSON', [
        { path: '', in: 'body', message: 'malformed JSON' },
      ]);
    } else if (status === 413) {
      appError = new AppError(413, 'too-large', message);
    } else {
      appError = new AppError(status, `http-${status}`, message);
    }
  }
  if (!appError && isDatabaseUnavailable(error)) {
    // PostgreSQL is down, restarting or out of connections: nothing was done, and the same
    // request will work once it is back. Clients and load balancers know what a 503 means.
    c.var.log?.warn({ err: error, req_id: c.var.requestId }, 'database unavailable');
    appError = new AppError(
      503,
      'unavailable',
      'The database is unavailable right now; nothing was saved. Retry shortly.',
    );
    appError.retryAfterSeconds = 5;
  }
  if (!appError) {
    c.var.log?.error({ err: error, req_id: c.var.requestId }, 'unhandled error');
    appError = new AppError(
      500,
      'internal',
      'Something went wrong on our side; the request id helps us find it',
    );
  }
  const body: ProblemBody = appError.toProblem(instance);
  if (c.var.requestId) body.request_id = c.var.requestId;
  const headers: Record<string, string> = {};
  if (appError.status === 401) headers['www-authenticate'] = 'Bearer realm="offerflow"';
  if (appError.retryAfterSeconds !== undefined) headers['retry-after'] = String(appError.retryAfterSeconds);
  if (c.var.requestId) headers['x-request-id'] = c.var.requestId;
  return problemResponse(body, headers);
}
