import { timingSafeEqual } from 'node:crypto';
import { AppError } from '../../http/problem.js';
import type { DeliveryReport } from '../apply.js';

/**
 * What a provider's verifier makes of a request it accepted: the reports to apply and the key
 * that identifies this very request (the SNS MessageId, SendGrid's signature, Mailgun's token,
 * a Postmark event id). A key seen before is a replay.
 */
export interface VerifiedWebhook {
  replayKey: string;
  reports: DeliveryReport[];
  /** For SNS: a subscription to confirm once the request is known to be genuine. */
  subscribeUrl?: string;
}

/** The one refusal of a webhook: forged, stale, replayed or not configured. Nothing is applied. */
export const refused = (detail: string) => new AppError(401, 'webhook-signature', detail);

/** Constant-time comparison of two strings (signatures, passwords). */
export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** Whether a signed timestamp (seconds) is within the tolerance of now, either way. */
export function fresh(timestampSeconds: number, now: Date, toleranceSeconds: number): boolean {
  return (
    Number.isFinite(timestampSeconds) && Math.abs(now.getTime() / 1000 - timestampSeconds) <= toleranceSeconds
  );
}

/** Parses JSON, or refuses the request as malformed (after the signature, so still nothing applied). */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AppError(400, 'bad-request', 'The body is not JSON');
  }
}

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
export const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Our message id from a header or custom field value, when it is one. */
export function messageIdOf(v: unknown): number | undefined {
  const n =
    typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : Number.NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}
