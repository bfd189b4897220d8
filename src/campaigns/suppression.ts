import { createHmac } from 'node:crypto';

/**
 * The key of an address in `suppressions`: HMAC-SHA256 of the lowercased, trimmed address with
 * OFFERFLOW_SECRET. An erased person's address is never stored in clear, yet a later import of
 * the same address is still recognised.
 */
export function emailHash(secret: string, email: string): Buffer {
  return createHmac('sha256', secret)
    .update('offerflow-suppression:')
    .update(email.trim().toLowerCase())
    .digest();
}
