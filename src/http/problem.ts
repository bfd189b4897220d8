import type { ZodError } from 'zod';

export interface FieldError {
  /** Dotted path to the field, e.g. `address.city` or `3.email` for row 3 of a batch. */
  path: string;
  message: string;
  /** Where the field was: body, query, param, header. */
  in?: string;
  /** Index of the row in a batch, when the body is a list. */
  index?: number;
  line?: number;
  column?: number;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/**
 * The one error type of the app: thrown anywhere (domain or HTTP), turned into RFC 9457
 * problem+json in one place (`onError`). `code` is stable and machine-readable.
 */
export class AppError extends Error {
  override name = 'AppError';
  /** Sent as Retry-After: when the same request may succeed (a 429, a 503). */
  retryAfterSeconds?: number;
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly errors?: FieldError[],
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(detail);
  }

  toProblem(instance?: string): ProblemBody {
    return {
      type: `https://offerflow.dev/problems/${this.code}`,
      title: TITLES[this.status] ?? 'Error',
      status: this.status,
      detail: this.message,
      ...(instance ? { instance } : {}),
      ...(this.errors ? { errors: this.errors } : {}),
      ...this.extensions,
    };
  }
}

export const badRequest = (detail: string, errors?: FieldError[]) =>
  new AppError(400, 'bad-request', detail, errors);
export const notFound = (what: string) => new AppError(404, 'not-found', `${what} not found`);
export const conflict = (detail: string, code = 'conflict') => new AppError(409, code, detail);
export const invalid = (errors: FieldError[], detail?: string) =>
  new AppError(422, 'validation', detail ?? describe(errors), errors);

function describe(errors: FieldError[]): string {
  const first = errors[0];
  if (!first) return 'The request is not valid';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return `${first.path || 'body'}: ${first.message}${more}`;
}

const joinPath = (path: readonly PropertyKey[]) => path.map((p) => String(p)).join('.');

/** Turns zod issues into field errors, one per unknown key so that each names its field. */
export function zodToFieldErrors(error: ZodError, location?: string): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({
          path: joinPath([...issue.path, key]),
          message: 'unknown field',
          ...(location ? { in: location } : {}),
        });
      }
      continue;
    }
    out.push({ path: joinPath(issue.path), message: issue.message, ...(location ? { in: location } : {}) });
  }
  return out;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problemResponse(problem: ProblemBody, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers },
  });
}
