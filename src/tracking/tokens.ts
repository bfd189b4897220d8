import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Tracking tokens: `base64url(message id: 6 bytes | link index: 2 bytes | HMAC-SHA256 truncated
 * to 16 bytes)`, 32 characters. The MAC covers the purpose too, so an open token cannot be
 * replayed as an unsubscribe token.
 *
 * A click token may also carry its target: `{32 characters}.{base64url(url)}`, the MAC then
 * covering the url as well, so it cannot be changed (no open redirect). The stored message stays
 * the source of the target; the token's copy lets a click still reach its link while the
 * database cannot be read.
 */
export type TokenPurpose = 'open' | 'click' | 'unsubscribe' | 'web';

export interface TokenClaims {
  messageId: number;
  linkIndex: number;
  /** The link's target, signed into a click token (absent from older links). */
  target?: string;
}

const ID_BYTES = 6;
const LINK_BYTES = 2;
const MAC_BYTES = 16;
const TOKEN_BYTES = ID_BYTES + LINK_BYTES + MAC_BYTES;
const MAX_ID = 2 ** (8 * ID_BYTES) - 1;
const TOKEN_CHARS = Math.ceil((TOKEN_BYTES * 4) / 3);
/** A signed target is at most an 8 KB url. */
const MAX_TARGET_CHARS = Math.ceil((8192 * 4) / 3);

function mac(secret: string, purpose: TokenPurpose, body: Buffer, target?: string): Buffer {
  const hmac = createHmac('sha256', secret).update(`offerflow-token:${purpose}:`).update(body);
  // A distinct label: a token with a target never verifies as one without, nor the reverse.
  if (target !== undefined) hmac.update('\0target:').update(target);
  return hmac.digest().subarray(0, MAC_BYTES);
}

/** Signs (message id, link index) for one purpose with OFFERFLOW_SECRET. */
export function signToken(secret: string, purpose: TokenPurpose, claims: TokenClaims): string {
  const { messageId, linkIndex, target } = claims;
  if (!Number.isSafeInteger(messageId) || messageId < 0 || messageId > MAX_ID) {
    throw new RangeError(`message id out of range: ${messageId}`);
  }
  if (!Number.isInteger(linkIndex) || linkIndex < 0 || linkIndex > 0xffff) {
    throw new RangeError(`link index out of range: ${linkIndex}`);
  }
  const body = Buffer.alloc(ID_BYTES + LINK_BYTES);
  body.writeUIntBE(messageId, 0, ID_BYTES);
  body.writeUInt16BE(linkIndex, ID_BYTES);
  const token = Buffer.concat([body, mac(secret, purpose, body, target)]).toString('base64url');
  return target === undefined ? token : `${token}.${Buffer.from(target, 'utf8').toString('base64url')}`;
}

/** The claims of a token signed for this purpose, or null for anything tampered or malformed. */
export function verifyToken(secret: string, purpose: TokenPurpose, token: string): TokenClaims | null {
  if (typeof token !== 'string') return null;
  let target: string | undefined;
  let head = token;
  if (token.length > TOKEN_CHARS && token[TOKEN_CHARS] === '.') {
    const tail = token.slice(TOKEN_CHARS + 1);
    if (tail.length === 0 || tail.length > MAX_TARGET_CHARS || !/^[\w-]+$/.test(tail)) return null;
    target = Buffer.from(tail, 'base64url').toString('utf8');
    head = token.slice(0, TOKEN_CHARS);
  }
  if (head.length !== TOKEN_CHARS || !/^[\w-]+$/.test(head)) return null;
  const raw = Buffer.from(head, 'base64url');
  if (raw.length !== TOKEN_BYTES) return null;
  const body = raw.subarray(0, ID_BYTES + LINK_BYTES);
  const expected = mac(secret, purpose, body, target);
  if (!timingSafeEqual(expected, raw.subarray(ID_BYTES + LINK_BYTES))) return null;
  const claims: TokenClaims = {
    messageId: body.readUIntBE(0, ID_BYTES),
    linkIndex: body.readUInt16BE(ID_BYTES),
  };
  if (target !== undefined) claims.target = target;
  return claims;
}
