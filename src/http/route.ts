import { createRoute, type RouteConfig, z } from '@hono/zod-openapi';
import { requireRoles } from './auth.js';
import type { Role } from './roles.js';

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    errors: z
      .array(
        z.object({
          path: z.string(),
          message: z.string(),
          in: z.string().optional(),
          index: z.number().int().optional(),
          line: z.number().int().optional(),
          column: z.number().int().optional(),
        }),
      )
      .optional(),
  })
  .openapi('Problem');

const problem = (description: string) => ({
  description,
  content: { 'application/problem+json': { schema: ProblemSchema } },
});

export const standardErrors = {
  400: problem('Malformed request (bad JSON, bad cursor)'),
  401: problem('Missing or invalid API key'),
  403: problem('The key’s role may not do this'),
  422: problem('The request is well-formed but not valid; `errors` names each field'),
} as const;

export const notFoundResponse = { 404: problem('Not found') } as const;
export const conflictResponse = { 409: problem('Conflict with the current state') } as const;

export const jsonBody = <T extends z.ZodType>(schema: T, description?: string) => ({
  required: true,
  ...(description ? { description } : {}),
  content: { 'application/json': { schema } },
});

export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
});

/**
 * A /v1 route: the roles it admits are enforced by middleware and published in the OpenAPI
 * document as `x-roles` (the route-walking test reads them), with the standard problem responses.
 */
export function defineRoute<
  const R extends Omit<RouteConfig, 'middleware' | 'security'> & { roles: readonly Role[] },
>(config: R) {
  const { roles, responses, ...rest } = config;
  return createRoute({
    ...rest,
    security: [{ bearer: [] }],
    'x-roles': ['admin', ...roles.filter((r) => r !== 'admin')],
    middleware: [requireRoles(roles)] as const,
    responses: { ...standardErrors, ...responses },
  } as Omit<R, 'roles'> & { security: { bearer: never[] }[]; middleware: [ReturnType<typeof requireRoles>] });
}

export const IdParam = z.object({
  id: z.coerce
    .number()
    .int()
    .positive()
    .max(2 ** 53 - 1)
    .openapi({ param: { name: 'id', in: 'path' }, example: 1 }),
});
