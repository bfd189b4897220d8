import { z } from '@hono/zod-openapi';
import type { App } from '../http/env.js';
import { ACCESS } from '../http/roles.js';
import { defineRoute, jsonBody, jsonResponse } from '../http/route.js';
import { recordConversion } from './record.js';

const ConversionBody = z
  .strictObject({
    token: z
      .string()
      .min(1)
      .max(100)
      .openapi({ description: 'Any tracking token of the message (from its links)' }),
    amount: z.number().nonnegative().max(1e12).openapi({ example: 49.9 }),
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code like EUR')
      .openapi({ example: 'EUR' }),
    order_ref: z.string().min(1).max(200).optional().openapi({ description: 'Counts once per message' }),
  })
  .openapi('ConversionCreate');

const ConversionSchema = z
  .object({
    id: z.number().int(),
    customer_id: z.number().int(),
    message_id: z.number().int(),
    campaign_id: z.number().int().nullable(),
    offer_id: z.number().int().nullable(),
    revenue: z.number(),
    currency: z.string().nullable(),
    order_ref: z.string().nullable(),
    at: z.string(),
  })
  .openapi('Conversion');

const create = defineRoute({
  method: 'post',
  path: '/v1/conversions',
  roles: ACCESS.integration,
  tags: ['tracking'],
  summary: 'Record a conversion with a message token (e.g. from a shop’s thank-you page)',
  request: { body: jsonBody(ConversionBody) },
  responses: {
    201: jsonResponse(ConversionSchema, 'Recorded'),
    200: jsonResponse(ConversionSchema, 'Already recorded for this order_ref'),
  },
});

export function registerConversionRoutes(app: App): void {
  app.openapi(create, async (c) => {
    const { conversion, created } = await recordConversion(c.var.deps, c.req.valid('json'));
    const body = {
      id: conversion.id,
      customer_id: conversion.customer_id,
      message_id: conversion.message_id,
      campaign_id: conversion.campaign_id,
      offer_id: conversion.offer_id,
      revenue: conversion.revenue,
      currency: conversion.currency,
      order_ref: conversion.order_ref,
      at: new Date(conversion.at).toISOString(),
    };
    return created ? c.json(body, 201) : c.json(body, 200);
  });
}
