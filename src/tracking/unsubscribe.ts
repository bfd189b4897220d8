import { recordContactEvents } from '../customers/events.js';
import type { AppDeps } from '../deps.js';
import { requestOptIns } from '../opt-in/requests.js';
import {
  findRecipient,
  insertConsent,
  latestConsentsOf,
  lockCustomer,
  offerTopics,
  type Recipient,
} from './store.js';
import { verifyToken } from './tokens.js';

export const MARKETING_PURPOSE = 'marketing_email';
export const TOPIC_PREFIX = 'topic:';

/** What unsubscribing and the preference page need. */
export type ConsentDeps = Pick<AppDeps, 'sql' | 'config' | 'clock'>;

export type UnsubscribeOutcome = 'unsubscribed' | 'already' | 'gone';

/** The message and customer behind an unsubscribe token, or null for a bad token. */
export async function resolveUnsubscribe(
  deps: ConsentDeps,
  token: string,
): Promise<{ messageId: number; recipient: Recipient | null } | null> {
  const claims = verifyToken(deps.config.OFFERFLOW_SECRET, 'unsubscribe', token);
  if (!claims) return null;
  return { messageId: claims.messageId, recipient: await findRecipient(deps.sql, claims.messageId) };
}

function isSubscribed(deps: ConsentDeps, consents: Map<string, boolean>): boolean {
  return consents.get(MARKETING_PURPOSE) ?? deps.config.MARKETING_LEGAL_BASIS === 'legitimate_interest';
}

/**
 * Revokes marketing email for the customer of a message (RFC 8058 one-click or the page's
 * button) and records `unsubscribed`. Replays change nothing; a message whose customer was
 * erased or deleted answers `gone` and writes nothing (there is nobody left to mail).
 */
export async function unsubscribe(
  deps: ConsentDeps,
  recipient: Recipient | null,
  source: string,
): Promise<UnsubscribeOutcome> {
  if (!recipient || recipient.erased) return 'gone';
  return deps.sql.begin(async (tx) => {
    // Serialize concurrent unsubscribes of one customer so a replay storm writes one row.
    await lockCustomer(tx, recipient.customer_id);
    const consents = await latestConsentsOf(
      tx,
      recipient.customer_id,
      [MARKETING_PURPOSE],
      MARKETING_PURPOSE,
    );
    if (consents.get(MARKETING_PURPOSE) === false) return 'already';
    const at = deps.clock();
    await insertConsent(tx, {
      customer_id: recipient.customer_id,
      purpose: MARKETING_PURPOSE,
      granted: false,
      source,
      at,
    });
    await recordContactEvents(tx, [
      {
        customer_id: recipient.customer_id,
        kind: 'unsubscribed',
        message_id: recipient.message_id,
        campaign_id: recipient.campaign_id,
        trigger_id: recipient.trigger_id,
        data: { source },
        at,
      },
    ]);
    return 'unsubscribed';
  });
}

export interface Preferences {
  subscribed: boolean;
  topics: Array<{ name: string; chosen: boolean }>;
}

/** What the preference page shows: marketing email on or off, and each topic (offer category). */
export async function loadPreferences(deps: ConsentDeps, recipient: Recipient): Promise<Preferences> {
  const [consents, categories] = await Promise.all([
    latestConsentsOf(deps.sql, recipient.customer_id, [MARKETING_PURPOSE], TOPIC_PREFIX),
    offerTopics(deps.sql),
  ]);
  const names = new Set(categories);
  for (const purpose of consents.keys()) {
    if (purpose.startsWith(TOPIC_PREFIX)) names.add(purpose.slice(TOPIC_PREFIX.length));
  }
  return {
    subscribed: isSubscribed(deps, consents),
    topics: [...names]
      .sort()
      .map((name) => ({ name, chosen: consents.get(`${TOPIC_PREFIX}${name}`) ?? true })),
  };
}

/**
 * Whether a preference link still works. RFC 8058 asks that one-click unsubscribe keep working
 * (receivers may POST it long after delivery, and CAN-SPAM requires at least 30 days), so the
 * unsubscribe token never expires; the preference page, which shows and changes more, stops
 * PREFERENCE_LINK_DAYS after its message.
 */
export function preferencesLinkLive(
  deps: Pick<ConsentDeps, 'config' | 'clock'>,
  recipient: Recipient,
): boolean {
  const age = deps.clock().getTime() - new Date(recipient.sent_at).getTime();
  return age <= deps.config.PREFERENCE_LINK_DAYS * 86_400_000;
}

/**
 * Saves the page's choices as consent rows, only for what changed, in one transaction. The
 * page's token is only a link from an old mail: it may withdraw marketing consent, never grant
 * it. Turning marketing back on mails a confirmation link to the address instead (double
 * opt-in), and consent is recorded when that is confirmed.
 */
export async function savePreferences(
  deps: ConsentDeps,
  recipient: Recipient,
  choice: { subscribed: boolean; topics: string[] },
  proof: { ip: string | null } = { ip: null },
): Promise<Preferences & { confirmationMailed: boolean }> {
  const current = await loadPreferences(deps, recipient);
  const chosen = new Set(choice.topics);
  const at = deps.clock();
  let confirmationMailed = false;
  await deps.sql.begin(async (tx) => {
    const source = 'preference_page';
    const base = { customer_id: recipient.customer_id, source, at };
    for (const topic of current.topics) {
      const wanted = chosen.has(topic.name);
      if (wanted !== topic.chosen) {
        await insertConsent(tx, { ...base, purpose: `${TOPIC_PREFIX}${topic.name}`, granted: wanted });
      }
    }
    if (choice.subscribed && !current.subscribed) {
      // A request already open is not opened twice; either way a confirmation link is on its way.
      await requestOptIns(tx, { doubleOptIn: true, linkDays: deps.config.OPT_IN_LINK_DAYS }, [
        { customer_id: recipient.customer_id, source, ip: proof.ip },
      ]);
      confirmationMailed = true;
    }
    if (!choice.subscribed && current.subscribed) {
      await insertConsent(tx, { ...base, purpose: MARKETING_PURPOSE, granted: false });
      await recordContactEvents(tx, [
        {
          customer_id: recipient.customer_id,
          kind: 'unsubscribed',
          message_id: recipient.message_id,
          campaign_id: recipient.campaign_id,
          trigger_id: recipient.trigger_id,
          data: { source },
          at,
        },
      ]);
    }
  });
  return { ...(await loadPreferences(deps, recipient)), confirmationMailed };
}
