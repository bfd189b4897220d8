import type { Db } from '../db/sql.js';

// Every query of the senders module.

export interface SenderRow {
  id: number;
  from_address: string;
  from_name: string | null;
  reply_to: string | null;
  dkim_domain: string | null;
  dkim_selector: string | null;
  dkim_private_key_encrypted: string | null;
  dkim_public_key: string | null;
  is_default: boolean;
  created_at: Date;
  updated_at: Date;
}

export type SenderWrite = Omit<SenderRow, 'id' | 'created_at' | 'updated_at'>;

const COLUMNS = [
  'from_address',
  'from_name',
  'reply_to',
  'dkim_domain',
  'dkim_selector',
  'dkim_private_key_encrypted',
  'dkim_public_key',
  'is_default',
] as const;

/** Inserts a sender. */
export async function insertSender(sql: Db, w: SenderWrite): Promise<SenderRow> {
  const [row] = await sql<SenderRow[]>`insert into senders ${sql(w, ...COLUMNS)} returning *`;
  return row!;
}

/** Replaces a sender's fields. */
export async function updateSender(sql: Db, id: number, w: SenderWrite): Promise<SenderRow> {
  const [row] = await sql<SenderRow[]>`
    update senders set ${sql(w, ...COLUMNS)}, updated_at = now() where id = ${id} returning *`;
  return row!;
}

/** Clears the default flag on every sender but `keep` (one default at a time). */
export async function clearOtherDefaults(sql: Db, keep: number | null): Promise<void> {
  await sql`update senders set is_default = false, updated_at = now()
    where is_default and id is distinct from ${keep}`;
}

/** One sender; `lock` takes a row lock for an update. */
export async function findSender(sql: Db, id: number, lock = false): Promise<SenderRow | undefined> {
  const [row] = lock
    ? await sql<SenderRow[]>`select * from senders where id = ${id} for update`
    : await sql<SenderRow[]>`select * from senders where id = ${id}`;
  return row;
}

/** The default sender, if one is set. */
export async function findDefaultSender(sql: Db): Promise<SenderRow | undefined> {
  const [row] = await sql<SenderRow[]>`select * from senders where is_default`;
  return row;
}

/** A page of senders by id. */
export async function listSenders(sql: Db, afterId: number, limit: number): Promise<SenderRow[]> {
  return sql<SenderRow[]>`select * from senders where id > ${afterId} order by id limit ${limit + 1}`;
}

/** Whether a sender exists (for campaigns and triggers naming one). */
export async function senderExists(sql: Db, id: number): Promise<boolean> {
  const [row] = await sql`select 1 from senders where id = ${id}`;
  return row !== undefined;
}

/** The first sender with this From address. */
export async function findSenderByFrom(sql: Db, address: string): Promise<SenderRow | undefined> {
  const [row] = await sql<
    SenderRow[]
  >`select * from senders where from_address = ${address.toLowerCase()} order by id limit 1`;
  return row;
}
