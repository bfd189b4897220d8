import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markUnsendable } from '../../src/messages/ledger.js';
import { confirmBeforeSmtp } from '../../src/messages/send-guard.js';
import { createHarness, type Harness } from '../helpers/harness.js';

// An erasure while a sender holds one of the customer's rows: the row is left to the sender,
// whose last look before SMTP sees the erasure, and the erasure answers once the send settled.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h?.close());

async function rowFor(status: 'queued' | 'sending') {
  const [customer] = await h.db.sql<{ id: number }[]>`
    insert into customers (external_id, email) values (${`e${Date.now()}${Math.random()}`}, 'gone@example.org') returning id`;
  const [template] = await h.db.sql<{ id: number }[]>`
    insert into templates (name) values (${`t${Math.random()}`}) returning id`;
  const [campaign] = await h.db.sql<{ id: number }[]>`
    insert into campaigns (name, status) values ('in flight', 'sending') returning id`;
  const [message] = await h.db.sql<{ id: number }[]>`
    insert into messages (campaign_id, customer_id, template_id, template_version, status)
    values (${campaign!.id}, ${customer!.id}, ${template!.id}, 1, ${status}) returning id`;
  return { customerId: customer!.id, messageId: message!.id };
}

const statusOf = async (id: number) =>
  (
    await h.db.sql<{ status: string; reason: string | null }[]>`
    select status, suppressed_reason as reason from messages where id = ${id}`
  )[0];

describe('erasure of a customer whose mail is in flight', () => {
  it('leaves the sending row to its sender, whose last check stops the mail; the erasure answers after', async () => {
    const { customerId, messageId } = await rowFor('sending');
    expect(await confirmBeforeSmtp(h.db.sql, messageId)).toBe('ok');
    let answered = false;
    const erasure = h.delete(`/v1/customers/${customerId}`).then((res) => {
      answered = true;
      return res;
    });
    // The sender's next look sees the erasure (it has committed; the request waits on the send).
    let guard = await confirmBeforeSmtp(h.db.sql, messageId);
    while (guard === 'ok') {
      await new Promise((r) => setTimeout(r, 20));
      guard = await confirmBeforeSmtp(h.db.sql, messageId);
    }
    expect(guard).toBe('erased');
    expect(answered).toBe(false);
    expect(await statusOf(messageId)).toEqual({ status: 'sending', reason: null });
    await markUnsendable(h.db.sql, messageId, 'cancelled', 'erased');
    expect((await erasure).status).toBe(204);
    expect(await statusOf(messageId)).toEqual({ status: 'cancelled', reason: 'erased' });
    expect(await confirmBeforeSmtp(h.db.sql, messageId)).toBe('settled');
  });

  it('cancels rows no sender holds yet at once', async () => {
    const { customerId, messageId } = await rowFor('queued');
    expect((await h.delete(`/v1/customers/${customerId}`)).status).toBe(204);
    expect(await statusOf(messageId)).toEqual({ status: 'cancelled', reason: 'erased' });
  });
});
