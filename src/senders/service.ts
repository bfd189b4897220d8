import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import type { Config } from '../config.js';
import type { Db } from '../db/sql.js';
import { type FieldError, invalid, notFound } from '../http/problem.js';
import { dkimAligned, domainOf } from './alignment.js';
import { dkimPublicKey, dnsRecordsFor } from './dns-records.js';
import { envDkimKey, type IdentityConfig } from './identity.js';
import { encryptPrivateKey } from './key-vault.js';
import type { SenderCreate, SenderPatch, SenderView } from './schema.js';
import {
  clearOtherDefaults,
  findDefaultSender,
  findSender,
  insertSender,
  type SenderRow,
  type SenderWrite,
  updateSender,
} from './store.js';

type SenderConfig = Pick<Config, 'OFFERFLOW_SECRET' | 'DKIM_DOMAIN'>;

/** The selector a generated key is published under when none is given. */
export const DEFAULT_SELECTOR = 'offerflow';

/** A private key checked for DKIM use: PEM, RSA of 1024 bits or more (RFC 8301), or Ed25519. */
function checkPrivateKey(pem: string): string | null {
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType === 'ed25519') return null;
    if (key.asymmetricKeyType !== 'rsa') return 'must be an RSA or Ed25519 private key';
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return bits >= 1024
      ? null
      : `an RSA key of ${bits} bits is too short: receivers ignore keys under 1024 bits`;
  } catch {
    return 'must be a PEM private key (-----BEGIN PRIVATE KEY----- …)';
  }
}

/** A 2048-bit RSA key, the size every receiver accepts and DNS hosts can publish. */
export function generateDkimKey(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
}

/**
 * The row to write for a create (no `base`) or a patch over `base`: validates alignment and the
 * key, seals the key, generates one for a DKIM domain that has none. Throws a 422 naming fields.
 */
function toWrite(
  config: SenderConfig,
  input: SenderPatch,
  base: SenderRow | undefined,
  isDefault: boolean,
): SenderWrite {
  const pick = <K extends keyof SenderPatch & keyof SenderRow>(key: K): SenderRow[K] | null =>
    (input[key] !== undefined ? input[key] : (base?.[key] ?? null)) as SenderRow[K] | null;
  const from_address = (input.from_address ?? base?.from_address)!.toLowerCase();
  const dkim_domain = pick('dkim_domain')?.toLowerCase() ?? null;
  const errors: FieldError[] = [];
  let sealed = base?.dkim_private_key_encrypted ?? null;
  let publicKey = base?.dkim_public_key ?? null;
  if (input.dkim_domain === null) {
    sealed = null;
    publicKey = null;
  }
  if (input.dkim_private_key !== undefined && input.dkim_private_key !== null) {
    const problem = checkPrivateKey(input.dkim_private_key);
    if (problem) errors.push({ path: 'dkim_private_key', in: 'body', message: problem });
    else if (!dkim_domain)
      errors.push({ path: 'dkim_domain', in: 'body', message: 'required with a DKIM private key' });
    else {
      sealed = encryptPrivateKey(config.OFFERFLOW_SECRET, input.dkim_private_key);
      publicKey = dkimPublicKey(input.dkim_private_key).p;
    }
  } else if (input.dkim_private_key === null) {
    sealed = null;
    publicKey = null;
  }
  if (dkim_domain && !sealed && errors.length === 0) {
    const pem = generateDkimKey();
    sealed = encryptPrivateKey(config.OFFERFLOW_SECRET, pem);
    publicKey = dkimPublicKey(pem).p;
  }
  // The domain that will sign: the sender's own, else (for the default sender) DKIM_DOMAIN.
  const signing = dkim_domain ?? (isDefault ? (config.DKIM_DOMAIN ?? null) : null);
  if (signing && !dkimAligned(domainOf(from_address), signing)) {
    const why = `the From domain ${domainOf(from_address)} is not aligned with the DKIM domain ${signing} (DMARC needs the same organizational domain)`;
    errors.push({ path: dkim_domain ? 'dkim_domain' : 'from_address', in: 'body', message: why });
    if (dkim_domain) errors.push({ path: 'from_address', in: 'body', message: why });
  }
  if (errors.length > 0) throw invalid(errors);
  return {
    from_address,
    from_name: pick('from_name'),
    reply_to: pick('reply_to')?.toLowerCase() ?? null,
    dkim_domain,
    dkim_selector: dkim_domain ? (pick('dkim_selector') ?? DEFAULT_SELECTOR) : null,
    dkim_private_key_encrypted: sealed,
    dkim_public_key: publicKey,
    is_default: isDefault,
  };
}

/** Creates a sender; the first one becomes the default unless told otherwise. */
export async function createSenderIdentity(
  sql: Db,
  config: SenderConfig,
  input: SenderCreate,
): Promise<SenderRow> {
  const current = await findDefaultSender(sql);
  const isDefault = input.is_default ?? current === undefined;
  const write = toWrite(config, input, undefined, isDefault);
  if (isDefault) await clearOtherDefaults(sql, null);
  return insertSender(sql, write);
}

/** Updates a sender; making it the default unsets the previous default. */
export async function patchSenderIdentity(
  sql: Db,
  config: SenderConfig,
  id: number,
  input: SenderPatch,
): Promise<SenderRow> {
  const base = await findSender(sql, id, true);
  if (!base) throw notFound(`sender ${id}`);
  const isDefault = input.is_default ?? base.is_default;
  const write = toWrite(config, input, base, isDefault);
  if (isDefault) await clearOtherDefaults(sql, id);
  return updateSender(sql, id, write);
}

/**
 * The DNS records to publish for a sender. The default sender without a key of its own signs
 * with the DKIM_* settings' key, so its DKIM record is that key's.
 */
export function senderDnsRecords(row: SenderRow, config?: IdentityConfig) {
  const env = !row.dkim_public_key && row.is_default && config ? envDkimKey(config) : null;
  return dnsRecordsFor(
    env
      ? {
          ...row,
          dkim_domain: env.domainName,
          dkim_selector: env.keySelector,
          dkim_public_key: dkimPublicKey(env.privateKey).p,
        }
      : row,
  );
}

/** The API view: never the private key. */
export function senderView(row: SenderRow, config?: IdentityConfig): SenderView {
  return {
    id: row.id,
    from_address: row.from_address,
    from_name: row.from_name,
    reply_to: row.reply_to,
    dkim_domain: row.dkim_domain,
    dkim_selector: row.dkim_selector,
    dkim_key_set: row.dkim_private_key_encrypted !== null,
    dkim_public_key: row.dkim_public_key,
    is_default: row.is_default,
    dns_records: senderDnsRecords(row, config),
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}
