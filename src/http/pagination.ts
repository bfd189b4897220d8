import { z } from '@hono/zod-openapi';
import { badRequest } from './problem.js';

export const PageQuery = {
  limit: z.coerce.number().int().min(1).max(1000).default(50).openapi({ description: 'Page size (1–1000)' }),
  cursor: z.string().max(500).optional().openapi({ description: 'Opaque cursor from `next_cursor`' }),
};

/** Cursors are opaque to clients: base64url JSON of the keyset position. */
export function encodeCursor(position: Record<string, string | number>): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** Decodes a cursor and checks its shape; anything else is a 400 naming the `cursor` parameter. */
export function decodeCursor<T extends z.ZodType>(
  cursor: string | undefined,
  shape: T,
): z.infer<T> | undefined {
  if (cursor === undefined) return undefined;
  try {
    const json = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const parsed = shape.safeParse(json);
    if (parsed.success) return parsed.data;
  } catch {
    // falls through to the 400 below
  }
  throw badRequest('The cursor is not valid: pass back a next_cursor exactly as received', [
    { path: 'cursor', in: 'query', message: 'not a cursor this API issued' },
  ]);
}

/** Builds `{data, next_cursor}` from one row more than the page size. */
export function page<T>(rows: T[], limit: number, positionOf: (row: T) => Record<string, string | number>) {
  const hasMore = rows.length > limit;
  const data = hasMore ? rows.slice(0, limit) : rows;
  const last = data[data.length - 1];
  return { data, next_cursor: hasMore && last ? encodeCursor(positionOf(last)) : null };
}
