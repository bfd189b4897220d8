import { z } from '@hono/zod-openapi';

/** A holdout's size: the share of eligible customers kept from the mailing to measure its lift. */
export const HoldoutPercent = z.number().finite().min(0).max(50).openapi({
  description:
    'Percent of eligible customers held out at random (a stable hash of the customer): they get no mail, and the report compares them with those mailed',
  example: 10,
});
