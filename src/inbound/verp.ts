import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * VERP return paths: each message goes out with the envelope sender
 * `bounce+<token>@<BOUNCE_DOMAIN>`, so a bounce names the message it is about whatever the
 * remote server writes in it. The token is `hex(message id: 6 bytes | HMAC-SHA256 truncated to
 * 10 bytes)`: lowercase hex, because some relays change the case of local parts, and signed,
 * so nobody can make up a bounce for another message.
 */
const ID_BYTES = 6;
const MAC_BYTES = 10;
const TOKEN = /^[0-9a-f]{32}$/;
const MAX_ID = 2 ** (8 * ID_BYTES) - 1;

function mac(secret: string, body: Buffer): Buffer {
  return createHmac('sha256', secret).update('offerflow-verp:').update(body).digest().subarray(0, MAC_BYTES);
}

/** The signed VERP token of a message. */
export function bounceToken(secret: string, messageId: number): string {
  if (!Number.isSafeInteger(messageId) || messageId < 0 || messageId > MAX_ID) {
    throw new RangeError(`message id out of range: ${messageId}`);
  }
  const body = Buffer.alloc(ID_BYTES);
  body.writeUIntBE(messageId, 0, ID_BYTES);
  return Buffer.concat([body, mac(secret, body)]).toString('hex');
}

/** The message id a token names, or null for anything forged or malformed. */
export function verifyBounceToken(secret: string, token: string): number | null {
  const lower = token.toLowerCase();
  if (!TOKEN.test(lower)) return null;
  const raw = Buffer.from(lower, 'hex');
  const body = raw.subarray(0, ID_BYTES);
  if (!timingSafeEqual(mac(secret, body), raw.subarray(ID_BYTES))) return null;
  return body.readUIntBE(0, ID_BYTES);
}

/** The envelope sender of one message: `bounce+<token>@<domain>`. */
export function returnPathFor(secret: string, domain: string, messageId: number): string {
  return `bounce+${bounceToken(secret, messageId)}@${domain}`;
}

/** What an inbound recipient address is for: a VERP bounce, the mailto unsubscribe, or neither. */
export type InboundAddress =
  | { kind: 'bounce'; messageId: number }
  | { kind: 'bounce_forged' }
  | { kind: 'unsubscribe' }
  | { kind: 'unknown' };

/** Classifies a recipient of the inbound service by its local part (any domain routed here). */
export function classifyRecipient(secret: string, address: string): InboundAddress {
  const at = address.lastIndexOf('@');
  const local = (at === -1 ? address : address.slice(0, at)).toLowerCase();
  if (local === 'unsubscribe' || local.startsWith('unsubscribe+')) return { kind: 'unsubscribe' };
  if (local.startsWith('bounce+')) {
    const messageId = verifyBounceToken(secret, local.slice('bounce+'.length));
    return messageId === null ? { kind: 'bounce_forged' } : { kind: 'bounce', messageId };
  }
  return { kind: 'unknown' };
}

/**
 * The `mailto:` half of List-Unsubscribe (RFC 2369): the subject carries the signed unsubscribe
 * token, and the address is the bounce domain's, whose MX is `offerflow inbound`. Without a
 * bounce domain the From domain's `unsubscribe@` is advertised: route it to the same service.
 */
export function unsubscribeMailto(
  config: { BOUNCE_DOMAIN?: string | undefined },
  fromDomain: string,
  unsubscribeToken: string,
): string {
  return `mailto:unsubscribe@${config.BOUNCE_DOMAIN ?? fromDomain}?subject=unsubscribe-${unsubscribeToken}`;
}

/** The unsubscribe token in a mailto unsubscribe's subject (`unsubscribe-<token>`, maybe with Re: or Fwd:). */
export function unsubscribeTokenInSubject(subject: string | undefined): string | null {
  const match = /unsubscribe-([\w-]{20,64})/i.exec(subject ?? '');
  return match?.[1] ?? null;
}
