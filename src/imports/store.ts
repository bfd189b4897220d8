import type { Db } from '../db/sql.js';

export interface ImportRow {
  id: number;
  kind: 'customers' | 'purchases' | 'products';
  status: 'uploading' | 'queued' | 'running' | 'done' | 'failed';
  filename: string | null;
  options: Record<string, unknown>;
  size_bytes: number;
  bytes_done: number;
  rows_done: number;
  rows_created: number;
  rows_unchanged: number;
  rows_failed: number;
  committed_line: number;
  /** File offsets where the committed batches end (a purchases import commits out of order). */
  committed_batches: number[];
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

export interface BatchCounts {
  /** Where the file's data starts (after the header), counted as read with the first batch. */
  dataOffset: number;
  /** Bytes of the file this batch read. */
  bytes: number;
  /** The file offset where the batch ends, recorded so that a resumed job skips it. */
  end?: number | undefined;
  lastLine: number;
  rows: number;
  created: number;
  failed: number;
}

/** Creates an import row (the file follows in chunks when status is `uploading`). */
export async function insertImport(
  db: Db,
  input: {
    kind: string;
    filename: string | null;
    options: Record<string, unknown>;
    status: 'uploading' | 'running';
  },
): Promise<ImportRow> {
  const [row] = await db<ImportRow[]>`
    insert into imports (kind, filename, options, status, started_at)
    values (${input.kind}, ${input.filename}, ${JSON.stringify(input.options)}::text::jsonb, ${input.status},
      ${input.status === 'running' ? db`now()` : null})
    returning *`;
  return row!;
}

/** One stored piece of an uploaded file. */
export async function insertChunk(db: Db, importId: number, seq: number, data: Buffer): Promise<void> {
  await db`insert into import_chunks (import_id, seq, data) values (${importId}, ${seq}, ${data})`;
}

/** Completes an upload with what its form said (the file may come before the fields), ready for a worker. */
export async function markUploaded(
  db: Db,
  importId: number,
  upload: { kind: string; filename: string | null; options: Record<string, unknown>; size: number },
): Promise<void> {
  await db`
    update imports set status = 'queued', kind = ${upload.kind}, filename = ${upload.filename},
      options = ${JSON.stringify(upload.options)}::text::jsonb, size_bytes = ${upload.size}
    where id = ${importId}`;
}

/** The stored pieces of an upload, one query per piece so memory holds one piece at a time. */
export async function* readChunks(db: Db, importId: number): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const [row] = await db<
      { data: Buffer }[]
    >`select data from import_chunks where import_id = ${importId} and seq = ${seq}`;
    if (!row) return;
    yield row.data;
  }
}

export async function findImport(db: Db, id: number): Promise<ImportRow | undefined> {
  const [row] = await db<ImportRow[]>`select * from imports where id = ${id}`;
  return row;
}

/** Imports newest first, keyset on id, optionally of one kind or status; one row more than `limit`. */
export function listImports(
  db: Db,
  input: {
    limit: number;
    beforeId?: number | undefined;
    kind?: string | undefined;
    status?: string | undefined;
  },
) {
  return db<ImportRow[]>`
    select * from imports
    where true
      ${input.beforeId === undefined ? db`` : db`and id < ${input.beforeId}`}
      ${input.kind === undefined ? db`` : db`and kind = ${input.kind}`}
      ${input.status === undefined ? db`` : db`and status = ${input.status}`}
    order by id desc
    limit ${input.limit + 1}`;
}

/** Uploads waiting for a worker (the edge build stores them without a queue), oldest first. */
export async function queuedImportIds(db: Db, limit: number): Promise<number[]> {
  const rows = await db<
    { id: number }[]
  >`select id from imports where status = 'queued' order by id limit ${limit}`;
  return rows.map((r) => r.id);
}

/** Claims a queued (or resumed running) import for a worker. */
export async function startImport(db: Db, id: number): Promise<ImportRow | undefined> {
  const [row] = await db<ImportRow[]>`
    update imports set status = 'running', started_at = coalesce(started_at, now())
    where id = ${id} and status in ('queued', 'running') returning *`;
  return row;
}

/** Adds a committed batch's counts; runs in the batch's transaction so progress never lies. */
export async function addBatch(db: Db, id: number, counts: BatchCounts): Promise<void> {
  await db`
    update imports set bytes_done = greatest(bytes_done, ${counts.dataOffset}) + ${counts.bytes},
      committed_line = greatest(committed_line, ${counts.lastLine}),
      committed_batches = case when ${counts.end ?? null}::bigint is null then committed_batches
        else committed_batches || ${counts.end ?? null}::bigint end,
      rows_done = rows_done + ${counts.rows}, rows_created = rows_created + ${counts.created},
      rows_failed = rows_failed + ${counts.failed},
      rows_unchanged = rows_unchanged + ${counts.rows - counts.created - counts.failed}
    where id = ${id}`;
}

/** Records per-row errors found outside SQL (malformed CSV lines, wrong column counts). */
/**
 * Reports quote the file (header names, cells): PostgreSQL text cannot hold U+0000, so a NUL
 * there is shown as U+FFFD rather than failing the import's bookkeeping.
 */
const storable = (text: string) => (text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text);

export async function insertErrors(
  db: Db,
  importId: number,
  errors: { line: number; column: string | null; reason: string }[],
): Promise<void> {
  if (errors.length === 0) return;
  const rows = errors.map((e) => ({
    line: e.line,
    column: e.column === null ? null : storable(e.column),
    reason: storable(e.reason),
  }));
  await db`
    insert into import_errors (import_id, line, "column", reason)
    select ${importId}, line, "column", reason
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as e(line bigint, "column" text, reason text)`;
}

/** Ends an import; the stored file is dropped, its report kept. */
export async function finishImport(db: Db, id: number, error: string | null): Promise<void> {
  await db`
    update imports set status = ${error ? 'failed' : 'done'}, error = ${error === null ? null : storable(error)},
      finished_at = now()
    where id = ${id}`;
  await db`delete from import_chunks where import_id = ${id}`;
}

export interface ImportError {
  id: number;
  line: number;
  column: string | null;
  reason: string;
}

/**
 * A page of an import's errors in line order (batches commit out of order, so ids are not),
 * after the keyset position of the last error seen.
 */
export function selectErrors(
  db: Db,
  importId: number,
  after: Pick<ImportError, 'line' | 'id'> | null,
  limit: number,
) {
  return db<ImportError[]>`
    select id, line, "column", reason from import_errors
    where import_id = ${importId} and (line, id) > (${after?.line ?? -1}, ${after?.id ?? 0})
    order by line, id limit ${limit}`;
}

/** Enabled automations fired by purchases (what a purchases import could mail). */
export async function countPurchaseTriggers(sql: Db): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    select count(*)::int as n from triggers where enabled and deleted_at is null and event = 'purchase'`;
  return row?.n ?? 0;
}
