import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Tracking tokens: `base64url(message id: 6 bytes | link index: 2 bytes | HMAC-SHA256 truncated
 * to 16 bytes)`, 32 characters. The MAC covers the purpose too, so an open token cannot be
 * replayed as an unsubscribe token. Nothing else is in the token: the target of a click is
 * looked up from the stored message, never taken from the request (no open redirect).
 */
export type TokenPurpose = 'open' | 'click' | 'unsubscribe' | 'web';

export interface TokenClaims {
  messageId: number;
  linkIndex: number;
}

const ID_BYTES = 6;
const LINK_BYTES = 2;
const MAC_BYTES = 16;
const TOKEN_BYTES = ID_BYTES + LINK_BYTES + MAC_BYTES;
const MAX_ID = 2 ** (8 * ID_BYTES) - 1;
const TOKEN_CHARS = Math.ceil((TOKEN_BYTES * 4) / 3);

function mac(secret: string, purpose: TokenPurpose, body: Buffer): Buffer {
  return createHmac('sha256', secret)
    .update(`offerflow-token:${purpose}:`)
    .update(body)
    .digest()
    .subarray(0, MAC_BYTES);
}

/** Signs (message id, link index) for one purpose with OFFERFLOW_SECRET. */
export function signToken(secret: string, purpose: TokenPurpose, claims: TokenClaims): string {
  const { messageId, linkIndex } = claims;
  if (!Number.isSafeInteger(messageId) || messageId < 0 || messageId > MAX_ID) {
    throw new RangeError(`message id out of range: ${messageId}`);
  }
  if (!Number.isInteger(linkIndex) || linkIndex < 0 || linkIndex > 0xffff) {
    throw new RangeError(`link index out of range: ${linkIndex}`);
  }
  const body = Buffer.alloc(ID_BYTES + LINK_BYTES);
  body.writeUIntBE(messageId, 0, ID_BYTES);
  body.writeUInt16BE(linkIndex, ID_BYTES);
  return Buffer.concat([body, mac(secret, purpose, body)]).toString('base64url');
}

/** The claims of a token signed for this purpose, or null for anything tampered or malformed. */
export function verifyToken(secret: string, purpose: TokenPurpose, token: string): TokenClaims | null {
  if (typeof token !== 'string' || token.length !== TOKEN_CHARS || !/^[\w-]+$/.test(token)) return null;
  const raw = Buffer.from(token, 'base64url');
  if (raw.length !== TOKEN_BYTES) return null;
  const body = raw.subarray(0, ID_BYTES + LINK_BYTES);
  const expected = mac(secret, purpose, body);
  if (!timingSafeEqual(expected, raw.subarray(ID_BYTES + LINK_BYTES))) return null;
  return { messageId: body.readUIntBE(0, ID_BYTES), linkIndex: body.readUInt16BE(ID_BYTES) };
}
