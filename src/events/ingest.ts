import { randomUUID } from 'node:crypto';
import { checkAttributes, loadAttributeRegistry } from '../customers/attributes.js';
import { customerFields, PROFILE_COLUMNS } from '../customers/schema.js';
import { upsertCustomers } from '../customers/upsert.js';
import type { Db } from '../db/sql.js';
import { type FieldError, invalid, zodToFieldErrors } from '../http/problem.js';
import type { EventInput, EventResult } from './schema.js';
import {
  type ClaimedEvent,
  type CustomerRef,
  claimEvents,
  copyEvents,
  customersByEmail,
  type EventRow,
  ensureLeads,
  insertAliases,
  mergeLeadInto,
  renameCustomer,
  selectAliases,
} from './store.js';
import { observeEventTypes } from './types.js';
import { parseEventInput } from './validate.js';

/** What one batch wrote: the answer, and what triggers and webhooks need after it. */
export interface Ingested {
  result: EventResult;
  /** New events, for the triggers on their names. */
  created: {
    event_id: number;
    customer_id: number;
    name: string;
    properties: Record<string, unknown>;
    at: string;
  }[];
  /** Customers created as leads by this batch. */
  leads: number[];
}

const MAX_PROPERTIES_BYTES = 64 * 1024;

// Segment's camelCase trait names for the profile columns Offerflow has.
const TRAIT_ALIASES: Record<string, string> = {
  firstName: 'first_name',
  lastName: 'last_name',
  birthday: 'birth_date',
};

interface Parsed {
  index: number;
  input: EventInput;
  name: string | null;
  properties: Record<string, unknown>;
  /** The properties as JSON, serialised once (measured here, stored as they are). */
  json: string;
  at: string;
  messageId: string;
  profile: Record<string, unknown>;
}

const anonExternalId = (anonymousId: string) => `anon:${anonymousId}`;
const emailExternalId = (email: string) => `email:${email}`;

/** The profile fields and declared attributes in an identify's traits (others are ignored). */
function traitsToProfile(
  traits: Record<string, unknown>,
  registry: Awaited<ReturnType<typeof loadAttributeRegistry>>,
  index: number,
  errors: FieldError[],
): Record<string, unknown> {
  const profile: Record<string, unknown> = {};
  const attributes: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(traits)) {
    const column = TRAIT_ALIASES[key] ?? key;
    if (column !== 'attributes' && (PROFILE_COLUMNS as readonly string[]).includes(column)) {
      const schema = customerFields[column as keyof typeof customerFields];
      const parsed = schema.safeParse(value);
      if (parsed.success) profile[column] = parsed.data;
      else
        for (const e of zodToFieldErrors(parsed.error))
          errors.push({
            index,
            path: `${index}.traits.${key}${e.path ? `.${e.path}` : ''}`,
            message: e.message,
          });
    } else if (registry.has(key)) {
      attributes[key] = value;
    }
  }
  for (const e of checkAttributes(registry, attributes, ''))
    errors.push({ index, path: `${index}.traits.${e.path.replace(/^\./, '')}`, message: e.message });
  if (Object.keys(attributes).length > 0) profile.attributes = attributes;
  return profile;
}

/** What the validation of a batch carries from one chunk to the next. */
interface Validation {
  errors: FieldError[];
  registry?: Awaited<ReturnType<typeof loadAttributeRegistry>>;
}

/** Validates rows `from` to `to` of the batch: each bad row goes to `v.errors` by index. */
async function parseRows(
  db: Db,
  values: readonly unknown[],
  from: number,
  to: number,
  now: Date,
  v: Validation,
): Promise<Parsed[]> {
  const { errors } = v;
  const parsed: Parsed[] = [];
  for (let index = from; index < to; index++) {
    const result = parseEventInput(values[index]);
    if (!result.success) {
      for (const e of zodToFieldErrors(result.error))
        errors.push({ index, path: e.path ? `${index}.${e.path}` : String(index), message: e.message });
      continue;
    }
    const input = result.data;
    if (!input.userId && !input.anonymousId && !input.email) {
      errors.push({
        index,
        path: `${index}.userId`,
        message: 'one of userId, anonymousId or email is required',
      });
      continue;
    }
    let name: string | null = null;
    let properties: Record<string, unknown> = {};
    if (input.type === 'track') {
      name = input.event;
      properties = input.properties ?? {};
    } else if (input.type === 'page' || input.type === 'screen') {
      name = input.type;
      properties = { ...(input.name ? { name: input.name } : {}), ...(input.properties ?? {}) };
    }
    const json = JSON.stringify(properties);
    if (json.length > MAX_PROPERTIES_BYTES) {
      errors.push({ index, path: `${index}.properties`, message: 'must be at most 64 KiB of JSON' });
      continue;
    }
    if (json.includes('\\u0000')) {
      errors.push({ index, path: `${index}.properties`, message: 'must not contain NUL characters' });
      continue;
    }
    let profile: Record<string, unknown> = {};
    if (input.type === 'identify' && input.traits) {
      v.registry ??= await loadAttributeRegistry(db);
      profile = traitsToProfile(input.traits, v.registry, index, errors);
    }
    parsed.push({
      index,
      input,
      name,
      properties,
      json,
      at: new Date(input.timestamp ?? now).toISOString(),
      messageId: input.messageId ?? randomUUID(),
      profile,
    });
  }
  return parsed;
}

/** Resolves customers: by userId, then email, then anonymous id; unknown ones become leads. */
class Resolver {
  readonly leads: number[] = [];
  private byExternal = new Map<string, CustomerRef>();
  private byEmail = new Map<string, CustomerRef>();
  private aliases = new Map<string, number>();
  constructor(private readonly db: Db) {}

  private note(refs: Map<string, CustomerRef>) {
    for (const [k, ref] of refs) {
      this.byExternal.set(k, ref);
      if (ref.created) this.leads.push(ref.id);
    }
  }

  /** Leads created by the statement that records the events (customers named by userId). */
  noteLeads(ids: readonly number[]): void {
    this.leads.push(...ids);
  }

  /**
   * Loads (creating leads for) the customers of the rows without a userId, by email or anonymous
   * id, in a few statements; rows with a userId are resolved by the statement recording them.
   * Called once per chunk: what earlier chunks loaded is kept.
   */
  async load(rows: readonly Parsed[]): Promise<void> {
    const emails = [
      ...new Set(
        rows.filter((r) => !r.input.userId && r.input.email).map((r) => r.input.email!.toLowerCase()),
      ),
    ];
    for (const [e, ref] of await customersByEmail(
      this.db,
      emails.filter((e) => !this.byEmail.has(e)),
    ))
      this.byEmail.set(e, ref);
    const missing = emails.filter((e) => !this.byEmail.has(e));
    if (missing.length > 0) {
      const leads = await ensureLeads(
        this.db,
        missing.map((e) => ({ external_id: emailExternalId(e), email: e })),
      );
      this.note(leads);
      for (const e of missing) this.byEmail.set(e, leads.get(emailExternalId(e))!);
    }
    const anonymous = [
      ...new Set(
        rows
          .filter((r) => !r.input.userId && !r.input.email && r.input.anonymousId)
          .map((r) => r.input.anonymousId!),
      ),
    ];
    for (const [a, id] of await selectAliases(
      this.db,
      anonymous.filter((a) => !this.aliases.has(a)),
    ))
      this.aliases.set(a, id);
    const unknown = anonymous.filter((a) => !this.aliases.has(a));
    if (unknown.length > 0) {
      const leads = await ensureLeads(
        this.db,
        unknown.map((a) => ({ external_id: anonExternalId(a) })),
      );
      this.note(leads);
      await insertAliases(
        this.db,
        unknown.map((a) => ({ anonymous_id: a, customer_id: leads.get(anonExternalId(a))!.id })),
      );
      for (const [a, id] of await selectAliases(this.db, unknown)) this.aliases.set(a, id);
    }
  }

  /**
   * The customer of a row without a userId (null when erased: an erased person is never
   * recorded again).
   */
  customerOf(r: Parsed): number | null {
    const ref = r.input.email ? this.byEmail.get(r.input.email.toLowerCase()) : undefined;
    if (ref) return ref.erased ? null : ref.id;
    return r.input.anonymousId ? (this.aliases.get(r.input.anonymousId) ?? null) : null;
  }

  /**
   * An identify: finds (or creates) the customer, merges the anonymous lead of its anonymousId
   * into it (events, history, purchases), writes its traits.
   */
  async identify(r: Parsed): Promise<number | null> {
    const { userId, anonymousId, email } = r.input;
    const [aliased] = anonymousId ? [...(await selectAliases(this.db, [anonymousId])).values()] : [];
    let target: CustomerRef | undefined;
    if (userId) {
      const existing = await ensureLeadsQuiet(this.db, userId);
      if (existing.created && aliased !== undefined && (await isAnonymousLead(this.db, aliased))) {
        // A first identify of an anonymous visitor: the lead simply becomes the customer.
        await this.db`delete from customers where id = ${existing.id}`;
        await renameCustomer(this.db, aliased, userId);
        target = { id: aliased, external_id: userId, erased: false, created: false };
      } else {
        target = existing;
        if (existing.created) this.leads.push(existing.id);
      }
    } else if (email) {
      const lower = email.toLowerCase();
      target = (await customersByEmail(this.db, [lower])).get(lower);
      if (!target) {
        target = (await ensureLeads(this.db, [{ external_id: emailExternalId(lower), email: lower }])).get(
          emailExternalId(lower),
        )!;
        if (target.created) this.leads.push(target.id);
      }
    } else if (aliased !== undefined) {
      const [row] = await this.db<{ external_id: string; erased: boolean }[]>`
        select external_id, erased_at is not null as erased from customers where id = ${aliased}`;
      target = { id: aliased, external_id: row!.external_id, erased: row!.erased, created: false };
    } else {
      const leads = await ensureLeads(this.db, [{ external_id: anonExternalId(anonymousId!) }]);
      target = leads.get(anonExternalId(anonymousId!))!;
      if (target.created) this.leads.push(target.id);
    }
    if (target.erased) return null;
    if (anonymousId) {
      if (aliased === undefined)
        await insertAliases(this.db, [{ anonymous_id: anonymousId, customer_id: target.id }]);
      else if (aliased !== target.id) {
        if (await isAnonymousLead(this.db, aliased)) await mergeLeadInto(this.db, aliased, target.id);
        else
          await this
            .db`update customer_aliases set customer_id = ${target.id} where anonymous_id = ${anonymousId}`;
      }
    }
    if (Object.keys(r.profile).length > 0) {
      await upsertCustomers(
        this.db,
        [{ external_id: target.external_id, ...r.profile } as never],
        (_i, path) => `${r.index}.traits${path ? `.${path}` : ''}`,
      );
    }
    // The customer of later rows in this batch follows the identify.
    this.byExternal.set(target.external_id, target);
    if (userId) this.byExternal.set(userId, target);
    if (anonymousId) this.aliases.set(anonymousId, target.id);
    return target.id;
  }
}

async function ensureLeadsQuiet(db: Db, externalId: string): Promise<CustomerRef> {
  return (await ensureLeads(db, [{ external_id: externalId }])).get(externalId)!;
}

async function isAnonymousLead(db: Db, id: number): Promise<boolean> {
  const [row] = await db<{ anon: boolean }[]>`
    select external_id like 'anon:%' as anon from customers where id = ${id}`;
  return row?.anon ?? false;
}

type Answer = EventResult['data'][number];

/** One row of the answer; `reason` only on ignored rows, as the schema lists it. */
function answer(
  index: number,
  type: string,
  status: Answer['status'],
  customer_id: number | null,
  event_id: number | null,
  message_id: string | null,
  reason?: string,
): Answer {
  return reason === undefined
    ? { index, type, message_id, status, customer_id, event_id }
    : { index, type, message_id, status, customer_id, event_id, reason };
}

/**
 * Rows per chunk of a batch without identify calls: a chunk's statements (claim, COPY of keys
 * and events) run in PostgreSQL while Node validates the next chunk, instead of PostgreSQL
 * waiting for the whole batch's validation and Node for the whole batch's writes. Two chunks per
 * 10,000-event batch: in three alternated runs (load 4-9 on 2 cores) chunks of 5,000 read
 * 0.38 / 0.32 / 0.32 of COPY against 0.33 / 0.33 / 0.29 for the whole batch at once, and chunks
 * of 2,000 0.34 / 0.23 / 0.27 (each chunk adds six round trips).
 */
const CHUNK = 5_000;

const isIdentify = (value: unknown) =>
  typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'identify';

/** What the writes of a batch's chunks gather, in the batch's order. */
interface Written {
  /** What the claim did with each messageId. */
  byKey: Map<string, ClaimedEvent>;
  /** The first row of each messageId: the event; a repeat in the batch is answered from it. */
  firsts: Map<string, Parsed>;
  /** Leads created by the claims (customers named by userId). */
  leadIds: number[];
  /** The customer of each identify (null: erased). */
  identified: Map<number, number | null>;
}

/**
 * Writes one chunk of valid rows: its identifies (a batch with identifies is one chunk, so they
 * come before any track), then its tracked rows whose messageId is new.
 */
async function writeChunk(db: Db, resolver: Resolver, rows: readonly Parsed[], w: Written): Promise<void> {
  for (const r of rows)
    if (r.input.type === 'identify') w.identified.set(r.index, await resolver.identify(r));
  const tracked = rows.filter((r) => r.name !== null);
  await resolver.load(tracked.filter((r) => !r.input.userId));
  const toWrite: EventRow[] = [];
  for (const r of tracked) {
    if (w.firsts.has(r.messageId)) continue;
    let customer: number | null = null;
    if (!r.input.userId) {
      customer = resolver.customerOf(r);
      if (customer === null) continue;
    }
    w.firsts.set(r.messageId, r);
    toWrite.push({
      index: r.index,
      message_id: r.messageId,
      user_id: r.input.userId ?? null,
      customer_id: customer,
      name: r.name!,
      properties: r.json,
      at: r.at,
    });
  }
  if (toWrite.length === 0) return;
  const claimed = await claimEvents(db, toWrite);
  const toCopy: { event_id: number; customer_id: number; row: EventRow }[] = [];
  for (const c of claimed) {
    if (c.index === null) {
      w.leadIds.push(c.customer_id);
      continue;
    }
    const row = toWrite[c.index]!;
    w.byKey.set(row.message_id, c);
    if (c.created) toCopy.push({ event_id: Number(c.event_id), customer_id: c.customer_id, row });
  }
  await copyEvents(db, toCopy);
}

/**
 * Records a batch of Segment-shaped calls in the caller's transaction: identifies first (so a
 * batch may identify a visitor and track them), then every event whose messageId is new, on
 * the events table (which the contact history reads as kind `event`) and the event types' counts.
 * A bad row anywhere refuses the batch: the chunks already written are rolled back with the
 * caller's transaction when the 422 is thrown.
 */
export async function ingestEvents(db: Db, values: readonly unknown[], now: Date): Promise<Ingested> {
  const resolver = new Resolver(db);
  const validation: Validation = { errors: [] };
  const written: Written = { byKey: new Map(), firsts: new Map(), leadIds: [], identified: new Map() };
  const { byKey, firsts, leadIds, identified } = written;
  const chunk = values.some(isIdentify) ? values.length : CHUNK;
  const rows: Parsed[] = [];
  // The chunks' writes, one after the other on the transaction's connection.
  let writing: Promise<void> = Promise.resolve();
  for (let from = 0; from < values.length; from += chunk) {
    const parsed = await parseRows(db, values, from, Math.min(from + chunk, values.length), now, validation);
    for (const r of parsed) rows.push(r);
    if (validation.errors.length === 0) {
      writing = writing.then(() => writeChunk(db, resolver, parsed, written));
      // Handled here so that a failing write is not an unhandled rejection while the next chunk
      // is validated; it is still thrown by the await below.
      writing.catch(() => {});
    }
    // Lets this chunk's statements go out, and earlier chunks' answers come in, before the next
    // chunk is validated.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { errors } = validation;
  if (errors.length > 0) {
    await writing.catch(() => {});
    throw invalid(
      errors,
      `${new Set(errors.map((e) => e.index)).size} event(s) are not valid; nothing was written`,
    );
  }
  await writing;
  const answers: EventResult['data'] = [];
  const tracked = rows.filter((r) => r.name !== null);
  resolver.noteLeads(leadIds);
  // New events in the batch's order (triggers and journeys see a customer's events in order).
  const created: Ingested['created'] = [];
  const createdIndex = new Set<number>();
  // A userId with an anonymousId ties the two, as Segment does (an id already tied stays).
  const ties = new Map<string, number>();
  for (const r of tracked) {
    const w = byKey.get(r.messageId);
    if (!w) continue;
    if (w.created && firsts.get(r.messageId) === r) {
      createdIndex.add(r.index);
      created.push({
        event_id: Number(w.event_id),
        customer_id: w.customer_id,
        name: r.name!,
        properties: r.properties,
        at: r.at,
      });
    }
    if (r.input.userId && r.input.anonymousId && !ties.has(r.input.anonymousId))
      ties.set(r.input.anonymousId, w.customer_id);
  }
  await insertAliases(
    db,
    [...ties].map(([anonymous_id, customer_id]) => ({ anonymous_id, customer_id })),
  );
  await observeEventTypes(db, created);
  // One object of one shape per row, built once, and the totals counted on the way: the
  // answer of a 10,000-event batch is most of what the request allocates after the rows.
  let createdCount = 0;
  let existingCount = 0;
  let identifiedCount = 0;
  for (const r of rows) {
    const type = r.input.type;
    const messageId = r.input.messageId ?? null;
    if (type === 'identify') {
      const customer = identified.get(r.index) ?? null;
      if (customer === null) answers.push(answer(r.index, type, 'ignored', null, null, messageId, 'erased'));
      else {
        identifiedCount++;
        answers.push(answer(r.index, type, 'identified', customer, null, messageId));
      }
      continue;
    }
    if (r.name === null) {
      answers.push(answer(r.index, type, 'ignored', null, null, messageId, `${type} calls are not recorded`));
      continue;
    }
    const w = byKey.get(r.messageId);
    if (!w) {
      answers.push(answer(r.index, type, 'ignored', null, null, messageId, 'erased'));
      continue;
    }
    const isNew = createdIndex.has(r.index);
    if (isNew) createdCount++;
    else existingCount++;
    answers.push(
      answer(
        r.index,
        type,
        isNew ? 'created' : 'existing',
        Number(w.customer_id),
        w.event_id === null ? null : Number(w.event_id),
        messageId,
      ),
    );
  }
  const leads = [...new Set(resolver.leads)];
  return {
    result: {
      data: answers,
      created: createdCount,
      existing: existingCount,
      identified: identifiedCount,
      leads_created: leads.length,
    },
    created,
    leads,
  };
}
