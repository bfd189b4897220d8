import type { Db } from '../db/sql.js';
import { AppError } from '../http/problem.js';
import { insertChunk } from './store.js';

/** Pieces of the stored file: a worker reads one at a time, on any machine. */
const CHUNK_BYTES = 1024 * 1024;

export const tooLarge = (maxBytes: number) =>
  new AppError(
    413,
    'too-large',
    `The file is over the ${maxBytes} bytes an import accepts (IMPORT_MAX_BYTES)`,
  );

/**
 * Stores an uploaded file as it arrives, in 1 MB pieces of `import_chunks` (the spool the import
 * job streams back). Throws a 413 as soon as the file passes `maxBytes`; run it in the upload's
 * transaction so that a refused or broken upload leaves nothing behind. Returns the file's size.
 */
export async function spoolUpload(
  tx: Db,
  importId: number,
  stream: AsyncIterable<Buffer>,
  maxBytes: number,
): Promise<number> {
  let seq = 0;
  let size = 0;
  let pending: Buffer[] = [];
  let pendingLength = 0;
  for await (const piece of stream) {
    size += piece.length;
    if (size > maxBytes) throw tooLarge(maxBytes);
    pending.push(piece);
    pendingLength += piece.length;
    // Whole pieces of CHUNK_BYTES, whatever the sizes the parser hands over.
    while (pendingLength >= CHUNK_BYTES) {
      const joined = Buffer.concat(pending, pendingLength);
      await insertChunk(tx, importId, seq++, joined.subarray(0, CHUNK_BYTES));
      pending = [joined.subarray(CHUNK_BYTES)];
      pendingLength -= CHUNK_BYTES;
    }
  }
  if (pendingLength > 0) await insertChunk(tx, importId, seq++, Buffer.concat(pending, pendingLength));
  return size;
}
