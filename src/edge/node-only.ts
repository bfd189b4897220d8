import { AppError, problemResponse } from '../http/problem.js';

/**
 * Routes the Worker cannot serve: Handlebars compiles each template to JavaScript with
 * `new Function`, and Workers forbid generating code from strings. Rendering happens in the
 * Node sender anyway; only these interactive renders are affected. They answer 501 at the edge
 * instead of a 500, naming the Node API as the place to call.
 */
export const NODE_ONLY_ROUTES = [
  '/v1/templates/:id/preview',
  '/v1/templates/:id/test-send',
  // Reads the shipped files and compiles them: no file system, no Handlebars compiler at the edge.
  '/v1/templates/defaults',
] as const;

/** GET routes that render a template: the hosted web version of a sent mail ("view in browser"). */
export const NODE_ONLY_GET_ROUTES = ['/w/:token'] as const;

export function nodeOnlyResponse(path: string): Response {
  const error = new AppError(
    501,
    'node-only',
    'Rendering a template needs the Node API (Workers cannot compile Handlebars); call this route there',
  );
  return problemResponse({ ...error.toProblem(path), title: 'Not Implemented' });
}
