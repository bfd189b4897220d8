import { z } from '@hono/zod-openapi';
import { audit } from '../http/audit.js';
import type { App } from '../http/env.js';
import { requiredText } from '../http/fields.js';
import { invalid, notFound } from '../http/problem.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, IdParam, jsonBody, jsonResponse, notFoundResponse } from '../http/route.js';
import { codeSpace, DEFAULT_ALPHABET, generateCode, patternOf } from './code-pool.js';
import { insertCodes, type PoolCounts, poolCounts, setLowAt } from './code-store.js';
import { findOffer } from './store.js';

export const MAX_CODES_PER_REQUEST = 100_000;

const CodesBody = z
  .strictObject({
    codes: z
      .array(requiredText(100).regex(/^\S+$/, 'must not contain spaces'))
      .min(1)
      .max(MAX_CODES_PER_REQUEST)
      .optional()
      .openapi({ example: ['SOFA-7KQ2-M9XD', 'SOFA-P3RT-8WZA'] }),
    count: z.number().int().min(1).max(MAX_CODES_PER_REQUEST).optional().openapi({
      description: 'Generate this many codes (instead of giving `codes`)',
    }),
    pattern: requiredText(100)
      .refine((p) => p.includes('#'), 'must hold at least one # (a random character)')
      .optional()
      .openapi({ example: 'SOFA-####-####', description: '`#` is a random character of the alphabet' }),
    length: z
      .number()
      .int()
      .min(4)
      .max(64)
      .optional()
      .openapi({ description: 'Without a pattern (default 10)' }),
    alphabet: z
      .string()
      .min(2)
      .max(100)
      .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
      .refine((a) => !a.includes('#'), 'must not contain #')
      .optional()
      .openapi({ example: DEFAULT_ALPHABET }),
    low_at: z.number().int().min(0).max(1e9).nullable().optional().openapi({
      description: 'Warn when fewer free codes remain (default: a tenth of the pool)',
    }),
  })
  .superRefine((b, ctx) => {
    if ((b.codes === undefined) === (b.count === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: ['codes'],
        message: 'give either codes or count (a generated pool)',
      });
    }
    if (b.codes !== undefined && (b.pattern || b.length || b.alphabet)) {
      ctx.addIssue({
        code: 'custom',
        path: ['pattern'],
        message: 'pattern, length and alphabet shape generated codes only',
      });
    }
    if (b.pattern !== undefined && b.length !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['length'], message: 'give a pattern or a length, not both' });
    }
  })
  .openapi('OfferCodesInput');

export const CodePool = z
  .object({
    total: z.number().int(),
    claimed: z.number().int(),
    redeemed: z.number().int(),
    available: z.number().int(),
    low_at: z.number().int().nullable(),
    low: z.boolean(),
    warnings: z.array(z.object({ path: z.string(), message: z.string() })),
  })
  .openapi('OfferCodePool');

const AddResult = CodePool.extend({
  added: z.number().int(),
  duplicates: z.number().int().openapi({ description: 'Given codes already in the pool (skipped)' }),
  collisions: z
    .number()
    .int()
    .openapi({ description: 'Generated codes that were drawn twice and drawn again' }),
}).openapi('OfferCodesAdded');

const postRoute = defineRoute({
  method: 'post',
  path: '/v1/offers/{id}/codes',
  tags: ['offers'],
  summary:
    'Add unique codes to an offer’s pool: given (`codes`) or generated (`count`, `pattern` or `length`, `alphabet`)',
  description:
    'Each message that shows the offer claims one code of the pool at send time (a retried send keeps its code); the code is on the contact history (`sent` event, `codes`) and a purchase line with `coupon_code` converts to its message and offer. A pool running low warns; an empty pool makes the offer ineligible (explain: `codes_exhausted`).',
  roles: ACCESS.marketing,
  request: { params: IdParam, body: jsonBody(CodesBody) },
  responses: { 201: jsonResponse(AddResult, 'The codes were added'), ...notFoundResponse },
});

const getRoute = defineRoute({
  method: 'get',
  path: '/v1/offers/{id}/codes',
  tags: ['offers'],
  summary: 'An offer’s code pool: how many codes, claimed, redeemed, free',
  roles: ACCESS.marketingRead,
  request: { params: IdParam },
  responses: { 200: jsonResponse(CodePool, 'The pool'), ...notFoundResponse },
});

/** The pool with its warning: free codes under `low_at` (default a tenth of all). */
export function describePool(counts: PoolCounts) {
  const threshold = counts.low_at ?? Math.ceil(counts.total / 10);
  const low = counts.total > 0 && counts.available <= threshold;
  const warnings = !low
    ? []
    : [
        {
          path: 'codes',
          message:
            counts.available === 0
              ? 'the code pool is empty: the offer is not eligible until codes are added'
              : `only ${counts.available} of ${counts.total} codes are left`,
        },
      ];
  return { ...counts, low, warnings };
}

export function registerOfferCodeRoutes(app: App): void {
  app.openapi(postRoute, async (c) => {
    const { id } = c.req.valid('param');
    const body = c.req.valid('json');
    const { sql } = c.var.deps;
    if (!(await findOffer(sql, id))) throw notFound('Offer');
    const shape = { pattern: body.pattern, length: body.length, alphabet: body.alphabet };
    if (body.count !== undefined && codeSpace(shape) < body.count * 4) {
      // A pool that fills a quarter of its space draws mostly collisions, and guessable codes.
      throw invalid([
        {
          path: body.pattern ? 'pattern' : 'length',
          in: 'body',
          message: `${patternOf(shape)} makes ${codeSpace(shape)} codes: too few for ${body.count}`,
        },
      ]);
    }
    const result = await sql.begin(async (tx) => {
      let added = 0;
      let duplicates = 0;
      let collisions = 0;
      if (body.codes) {
        const unique = [...new Set(body.codes)];
        added = await insertCodes(tx, id, unique);
        duplicates = body.codes.length - added;
      } else {
        let wanted = body.count!;
        while (wanted > 0) {
          const drawn = new Set<string>();
          while (drawn.size < wanted) drawn.add(generateCode(shape));
          const inserted = await insertCodes(tx, id, [...drawn]);
          collisions += drawn.size - inserted;
          added += inserted;
          wanted -= inserted;
        }
      }
      if (body.low_at !== undefined) await setLowAt(tx, id, body.low_at);
      await audit(c, { action: 'offer.codes.add', entity: 'offer', entity_id: id, data: { added } }, tx);
      return { added, duplicates, collisions, counts: await poolCounts(tx, id) };
    });
    return c.json(
      {
        ...describePool(result.counts),
        added: result.added,
        duplicates: result.duplicates,
        collisions: result.collisions,
      },
      201,
    );
  });

  app.openapi(getRoute, async (c) => {
    const { id } = c.req.valid('param');
    const { sql } = c.var.deps;
    if (!(await findOffer(sql, id))) throw notFound('Offer');
    return c.json(describePool(await poolCounts(sql, id)), 200);
  });
}
