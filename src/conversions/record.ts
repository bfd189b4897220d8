import type { AppDeps } from '../deps.js';
import { AppError } from '../http/problem.js';
import { offerPositionOfLink } from '../tracking/links.js';
import { type ClickTarget, findClickTarget, findMessage } from '../tracking/store.js';
import { type TokenClaims, type TokenPurpose, verifyToken } from '../tracking/tokens.js';
import { type Conversion, findDirectConversion, insertDirectConversion } from './store.js';

export interface DirectConversion {
  token: string;
  amount: number;
  currency: string;
  order_ref?: string | undefined;
}

const PURPOSES: TokenPurpose[] = ['click', 'open', 'unsubscribe'];

/**
 * Records a conversion reported with any token of a message (a click token also names the
 * offer). `created` is false when the same order_ref was already recorded for that message.
 */
export async function recordConversion(
  deps: AppDeps,
  input: DirectConversion,
): Promise<{ conversion: Conversion; created: boolean }> {
  let claims: TokenClaims | null = null;
  let purpose: TokenPurpose | undefined;
  for (const p of PURPOSES) {
    claims = verifyToken(deps.config.OFFERFLOW_SECRET, p, input.token);
    if (claims) {
      purpose = p;
      break;
    }
  }
  const unknown = new AppError(422, 'validation', 'token: not a valid message token', [
    { path: 'token', message: 'not a valid message token', in: 'body' },
  ]);
  if (!claims) throw unknown;
  const { messageId, linkIndex } = claims;
  return deps.sql.begin(async (tx) => {
    const message =
      purpose === 'click'
        ? await findClickTarget(tx, messageId, linkIndex, offerPositionOfLink(linkIndex))
        : await findMessage(tx, messageId);
    if (!message) throw unknown;
    const offerId = 'offer_id' in message ? (message as ClickTarget).offer_id : null;
    const conversion = await insertDirectConversion(tx, {
      customer_id: message.customer_id,
      message_id: message.id,
      campaign_id: message.campaign_id,
      trigger_id: message.trigger_id,
      offer_id: offerId,
      amount: input.amount,
      currency: input.currency,
      order_ref: input.order_ref,
      at: deps.clock(),
    });
    if (conversion) return { conversion, created: true };
    const existing = await findDirectConversion(tx, message.id, input.order_ref ?? '');
    if (!existing) throw new AppError(409, 'conflict', 'The conversion could not be recorded');
    return { conversion: existing, created: false };
  });
}
