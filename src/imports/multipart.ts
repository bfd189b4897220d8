import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { Busboy } from '@fastify/busboy';
import { AppError, type FieldError } from '../http/problem.js';

export interface MultipartFile {
  filename: string;
  /** The part's bytes, in order, as they arrive (backpressure reaches the client). */
  stream: AsyncIterable<Buffer>;
  /** Every text field of the form, once the whole body is read (fields may follow the file). */
  complete: Promise<Readonly<Record<string, string>>>;
}

export interface ReceivedForm<T> {
  fields: Record<string, string>;
  /** What `onFile` returned for the file part, if there was one. */
  file: T | undefined;
  /** Problems with the form's shape (a second file, an oversized field), to report with the fields'. */
  problems: FieldError[];
}

// Fields are small options; a file part is the only thing allowed to be big.
const LIMITS = { fields: 20, fieldSize: 64 * 1024, fieldNameSize: 100, parts: 40, headerPairs: 100 };

const badBody = (message: string) =>
  new AppError(400, 'bad-request', 'Not a valid multipart/form-data body', [
    { path: 'body', in: 'body', message },
  ]);

/**
 * Reads a multipart/form-data body as a stream, never whole: text fields are collected, and the
 * part named `fileField` is handed to `onFile` while it arrives, with backpressure: the body is
 * read only as fast as `onFile` consumes it. Memory stays bounded whatever the file's size. If
 * `onFile` throws, reading stops at once and the error is rethrown.
 */
export async function receiveMultipart<T>(
  body: AsyncIterable<Uint8Array> | null,
  contentType: string,
  fileField: string,
  onFile: (file: MultipartFile, fieldsSoFar: Readonly<Record<string, string>>) => Promise<T>,
): Promise<ReceivedForm<T>> {
  let parser: ReturnType<typeof Busboy>;
  try {
    parser = Busboy({ headers: { 'content-type': contentType }, limits: LIMITS });
  } catch (error) {
    throw badBody(error instanceof Error ? error.message : String(error));
  }
  const fields: Record<string, string> = {};
  const problems: FieldError[] = [];
  let file: Readable | undefined;
  let fileTask: Promise<T> | undefined;
  let failure: { error: unknown } | undefined;
  let onFailure: () => void = () => {};
  const failed = new Promise<void>((resolve) => (onFailure = resolve));
  const fail = (error: unknown) => {
    if (failure) return;
    failure = { error };
    onFailure();
  };
  const noop = () => undefined;

  parser.on('field', (name, value, _nameTruncated, valueTruncated) => {
    if (valueTruncated)
      problems.push({ path: name, in: 'body', message: `longer than ${LIMITS.fieldSize} bytes` });
    else fields[name] = value;
  });
  parser.on('file', (name, stream: Readable, filename) => {
    if (name !== fileField || file) {
      problems.push({
        path: name,
        in: 'body',
        message: `unexpected file part; send one file, as "${fileField}"`,
      });
      stream.resume();
      return;
    }
    file = stream;
    // Listening at once: a body cut short errors the part even before onFile reads it.
    stream.on('error', (error) => fail(badBody(error.message)));
    // A form that breaks after its file never completes: whoever waits for it fails too.
    const whole = Promise.race([
      complete,
      failed.then(() => {
        throw failure?.error;
      }),
    ]);
    whole.catch(noop);
    fileTask = onFile({ filename, stream, complete: whole }, { ...fields });
    fileTask.catch(fail);
  });
  parser.on('partsLimit', () => problems.push({ path: 'body', in: 'body', message: 'too many parts' }));
  parser.on('fieldsLimit', () => problems.push({ path: 'body', in: 'body', message: 'too many fields' }));
  // 'finish' comes once every part is consumed, so after onFile has read the whole file.
  const finished = new Promise<void>((resolve, reject) => {
    parser.once('finish', resolve);
    parser.once('error', reject);
  });
  finished.catch((error: unknown) => fail(badBody(error instanceof Error ? error.message : String(error))));
  const complete = finished.then(() => ({ ...fields }));
  complete.catch(noop);

  try {
    for await (const chunk of body ?? []) {
      if (failure) break;
      // When the parser is full, wait for it to drain, or for onFile to fail (then it never drains).
      if (!parser.write(chunk)) await Promise.race([once(parser, 'drain').catch(noop), failed]);
      if (failure) break;
    }
    if (!failure) {
      parser.end();
      await Promise.race([finished.catch(noop), failed]);
    }
  } catch (error) {
    // The client went away mid-upload.
    fail(badBody(`the body could not be read: ${error instanceof Error ? error.message : String(error)}`));
  }
  if (failure) {
    parser.destroy();
    file?.destroy();
    // onFile writes through the caller's transaction: let it stop before the caller rolls back.
    await fileTask?.catch(noop);
    throw failure.error;
  }
  return { fields, file: fileTask ? await fileTask : undefined, problems };
}
