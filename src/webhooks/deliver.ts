import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { Webhook } from 'standardwebhooks';
import type { Db } from '../db/sql.js';
import { isPrivateAddress } from './addresses.js';
import type { InFlightLimit } from './in-flight.js';
import {
  type AttemptOutcome,
  type ClaimedDelivery,
  claimDeliveries,
  disableEndpoint,
  recordAttempts,
} from './store.js';

/** How one delivery attempt is made and retried. */
export interface DeliverDeps {
  sql: Db;
  allowPrivate: boolean;
  /** First retry after this; doubling, capped at MAX_DELAY_MS. */
  retryBaseMs: number;
  /** Retries stop (and the endpoint is disabled) once a delivery has failed this long. */
  retryWindowMs: number;
  timeoutMs?: number;
  clock?: () => Date;
  /** Bounds the POSTs in flight across every job of the process (none: unbounded). */
  inFlight?: InFlightLimit;
}

const MAX_DELAY_MS = 6 * 3600_000;
const LEASE_SECONDS = 60;

/**
 * The DNS lookup the connection itself uses: every address it resolves to is checked, so a
 * name that resolved to a public address when the endpoint was saved cannot be re-pointed at
 * a private one (DNS rebinding): what is checked is what is connected to.
 */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, verbatim: true }, (error, address, family) => {
      if (error) return callback(error, address as string, family);
      const all: LookupAddress[] = Array.isArray(address)
        ? address
        : [{ address: address as string, family: family ?? 4 }];
      if (!allowPrivate && all.some((a) => isPrivateAddress(a.address))) {
        const refused = Object.assign(new Error(`${hostname} resolves to a private address`), {
          code: 'EPRIVATE',
        });
        return callback(refused, '', 4);
      }
      callback(null, address as string, family);
    });
  };
}

/** POSTs a body with the guarded lookup; resolves with the status and the start of the reply. */
export function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { allowPrivate: boolean; timeoutMs: number },
): Promise<{ status: number; text: string }> {
  const target = new URL(url);
  const host = target.hostname.replace(/^\[|\]$/g, '');
  // An address literal is connected to without a lookup: check it here.
  if (!options.allowPrivate && isIP(host) && isPrivateAddress(host)) {
    return Promise.reject(Object.assign(new Error(`${host} is a private address`), { code: 'EPRIVATE' }));
  }
  const client = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        lookup: guardedLookup(options.allowPrivate),
        timeout: options.timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < 500) text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: text.slice(0, 500) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The Standard Webhooks headers of a body: webhook-id, webhook-timestamp, webhook-signature. */
export function signedHeaders(secret: string, msgId: string, body: string, at: Date): Record<string, string> {
  return {
    'content-type': 'application/json',
    'user-agent': 'Offerflow-Webhooks/1',
    'webhook-id': msgId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(msgId, at, body),
  };
}

/** The delay before retry number `attempts` (1-based): exponential, jittered, capped. */
export function retryDelay(attempts: number, baseMs: number): number {
  const base = Math.min(MAX_DELAY_MS, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}

export type AttemptResult = 'skipped' | 'succeeded' | 'retry' | 'failed';

/**
 * Makes one attempt at each delivery that is due and claimable, all at once: one statement
 * claims them, each is POSTed, one statement records every outcome. A 2xx is delivered; anything
 * else (another status, a refused address, a timeout) is retried with backoff until the delivery
 * has failed for `retryWindowMs`, when it fails for good and its endpoint is disabled with the
 * reason. Returns each id's result; those not claimed are `skipped`.
 */
export async function attemptDeliveries(
  deps: DeliverDeps,
  ids: readonly number[],
): Promise<Map<number, AttemptResult>> {
  const results = new Map<number, AttemptResult>(ids.map((id) => [id, 'skipped']));
  const claimed = await claimDeliveries(deps.sql, ids, LEASE_SECONDS);
  const attempts = await Promise.all(claimed.map((d) => attemptClaimed(deps, d)));
  const disables = attempts.flatMap((a) => (a.disable ? [a.disable] : []));
  // A delivery failed for good and the disabling of its endpoint are seen together.
  const record = async (db: Db) => {
    await recordAttempts(
      db,
      attempts.map((a) => a.outcome),
    );
    for (const d of disables) await disableEndpoint(db, d.endpointId, d.reason);
  };
  if (disables.length > 0 && 'begin' in deps.sql) await deps.sql.begin(record);
  else await record(deps.sql);
  for (const a of attempts) results.set(a.outcome.id, a.result);
  return results;
}

/** One attempt at one delivery (see attemptDeliveries). */
export async function attemptDelivery(deps: DeliverDeps, id: number): Promise<AttemptResult> {
  return (await attemptDeliveries(deps, [id])).get(id)!;
}

/** POSTs one claimed delivery and says what to record. */
async function attemptClaimed(
  deps: DeliverDeps,
  d: ClaimedDelivery,
): Promise<{
  outcome: AttemptOutcome;
  result: AttemptResult;
  disable?: { endpointId: number; reason: string };
}> {
  const clock = deps.clock ?? (() => new Date());
  if (!d.enabled) {
    return {
      outcome: { id: d.id, status: 'failed', httpStatus: null, error: 'endpoint disabled' },
      result: 'failed',
    };
  }
  const body = JSON.stringify(d.payload);
  let status: number | null = null;
  let error: string | null = null;
  try {
    const post = () =>
      postJson(d.url, body, signedHeaders(d.secret, d.msg_id, body, clock()), {
        allowPrivate: deps.allowPrivate,
        timeoutMs: deps.timeoutMs ?? 10_000,
      });
    const res = await (deps.inFlight ? deps.inFlight.run(post) : post());
    status = res.status;
    if (res.status >= 200 && res.status < 300) {
      return {
        outcome: { id: d.id, status: 'succeeded', httpStatus: status, error: null },
        result: 'succeeded',
      };
    }
    error = `HTTP ${res.status}${res.text ? `: ${res.text.slice(0, 200)}` : ''}`;
  } catch (e) {
    error = e instanceof Error ? e.message : String(e);
  }
  const now = clock();
  const delay = retryDelay(d.attempts + 1, deps.retryBaseMs);
  if (now.getTime() + delay - d.created_at.getTime() > deps.retryWindowMs) {
    return {
      outcome: { id: d.id, status: 'failed', httpStatus: status, error },
      result: 'failed',
      disable: {
        endpointId: d.endpoint_id,
        reason: `delivery ${d.id} (${d.event}) failed ${d.attempts + 1} times since ${d.created_at.toISOString()}: ${error}`,
      },
    };
  }
  return {
    outcome: {
      id: d.id,
      status: 'pending',
      httpStatus: status,
      error,
      next: new Date(now.getTime() + delay),
    },
    result: 'retry',
  };
}
