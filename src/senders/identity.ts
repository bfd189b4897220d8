import { readFileSync } from 'node:fs';
import type { Config } from '../config.js';
import type { Db } from '../db/sql.js';
import { domainOf } from './alignment.js';
import { decryptPrivateKey } from './key-vault.js';
import { findDefaultSender, findSender, type SenderRow } from './store.js';

/** Who a mail is from, where replies go, and how it is signed: what the send path needs. */
export interface SendingIdentity {
  /** The sender identity's id; null when none exists and the configured fallback is used. */
  senderId: number | null;
  from: { name?: string; address: string };
  replyTo: string | null;
  dkim: DkimKey | null;
}

export interface DkimKey {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

export type IdentityConfig = Pick<
  Config,
  'OFFERFLOW_SECRET' | 'PUBLIC_URL' | 'DKIM_DOMAIN' | 'DKIM_SELECTOR' | 'DKIM_PRIVATE_KEY' | 'MAIL_FROM'
>;

const TTL_MS = 60_000;

/** The DKIM_* settings' key (PEM text or a path to a PEM file), or null. */
export function envDkimKey(config: IdentityConfig): DkimKey | null {
  const { DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY } = config;
  if (!DKIM_DOMAIN || !DKIM_SELECTOR || !DKIM_PRIVATE_KEY) return null;
  const privateKey = DKIM_PRIVATE_KEY.includes('-----BEGIN')
    ? DKIM_PRIVATE_KEY
    : readFileSync(DKIM_PRIVATE_KEY, 'utf8');
  return { domainName: DKIM_DOMAIN, keySelector: DKIM_SELECTOR, privateKey };
}

/** `Name <address>` or `address`, as MAIL_FROM holds it. */
export function parseFrom(value: string): { name?: string; address: string } {
  const match = /^\s*"?([^"<]*?)"?\s*<([^>]+)>\s*$/.exec(value);
  if (!match) return { address: value.trim() };
  return match[1] ? { name: match[1], address: match[2]!.trim() } : { address: match[2]!.trim() };
}

/**
 * Resolves sender identities for sending, with their keys decrypted, cached a minute per
 * process (an edited sender takes effect within that). The DKIM_* settings sign for a sender
 * that holds no key of its own: they are the default sender's key.
 */
export function createIdentityResolver(deps: { sql: Db; config: IdentityConfig }) {
  const cache = new Map<string, { identity: SendingIdentity; until: number }>();
  const envKey = envDkimKey(deps.config);

  function fromRow(row: SenderRow): SendingIdentity {
    const own = row.dkim_private_key_encrypted
      ? {
          domainName: row.dkim_domain!,
          keySelector: row.dkim_selector!,
          privateKey: decryptPrivateKey(deps.config.OFFERFLOW_SECRET, row.dkim_private_key_encrypted),
        }
      : null;
    return {
      senderId: row.id,
      from: row.from_name
        ? { name: row.from_name, address: row.from_address }
        : { address: row.from_address },
      replyTo: row.reply_to,
      dkim: own ?? envKey,
    };
  }

  /** The identity when there is no sender at all: MAIL_FROM, else an address at the DKIM domain. */
  function fallback(): SendingIdentity {
    const host = deps.config.DKIM_DOMAIN ?? new URL(deps.config.PUBLIC_URL).hostname;
    const from = deps.config.MAIL_FROM ? parseFrom(deps.config.MAIL_FROM) : { address: `offers@${host}` };
    return { senderId: null, from, replyTo: null, dkim: envKey };
  }

  async function load(senderId: number | null): Promise<SendingIdentity> {
    const row = senderId !== null ? await findSender(deps.sql, senderId) : await findDefaultSender(deps.sql);
    if (row) return fromRow(row);
    // A sender deleted under a campaign falls back to the default one.
    if (senderId !== null) return load(null);
    return fallback();
  }

  /**
   * The identity a mail goes out with: the named sender, else the default sender. A campaign's
   * own `from` (set before sender identities existed) replaces the default sender's From.
   */
  async function resolve(
    senderId: number | null,
    legacyFrom?: { address: string | null; name: string | null },
  ): Promise<SendingIdentity> {
    const key = String(senderId);
    const now = Date.now();
    let hit = cache.get(key);
    if (!hit || hit.until < now) {
      hit = { identity: await load(senderId), until: now + TTL_MS };
      cache.set(key, hit);
    }
    if (senderId === null && legacyFrom?.address) {
      const from = legacyFrom.name
        ? { name: legacyFrom.name, address: legacyFrom.address }
        : { address: legacyFrom.address };
      return { ...hit.identity, from };
    }
    return hit.identity;
  }

  return { resolve };
}

export type IdentityResolver = ReturnType<typeof createIdentityResolver>;

/** The domain a sender's Message-IDs and List-Ids are under: its From domain. */
export const identityDomain = (identity: SendingIdentity): string =>
  domainOf(identity.from.address) || 'localhost';
