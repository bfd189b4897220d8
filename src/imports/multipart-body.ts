import { randomUUID } from 'node:crypto';

// A multipart/form-data body written as a stream: text fields, one file whose bytes are read
// only as the body is consumed, then fields known only later. FormData cannot do this (its file
// must be a whole Blob), and the UI relays uploads of any size to the API through it.

/** A header-safe quoted value: quotes and line breaks cannot end the header early. */
const quoted = (value: string) => `"${value.replace(/[\r\n"\\]/g, '_')}"`;

export interface StreamedForm {
  contentType: string;
  body: ReadableStream<Uint8Array>;
}

export function multipartBody(input: {
  before: Readonly<Record<string, string>>;
  file: { name: string; filename: string; type?: string; stream: AsyncIterable<Uint8Array> };
  /** Fields after the file, once known (those already in `before` are not repeated). */
  after?: Promise<Readonly<Record<string, string>>>;
}): StreamedForm {
  const boundary = `offerflow-${randomUUID()}`;
  const encoder = new TextEncoder();
  const field = (name: string, value: string) =>
    encoder.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name=${quoted(name)}\r\n\r\n${value}\r\n`,
    );
  async function* parts(): AsyncGenerator<Uint8Array> {
    for (const [name, value] of Object.entries(input.before)) yield field(name, value);
    const { name, filename, type = 'text/csv', stream } = input.file;
    yield encoder.encode(
      `--${boundary}\r\nContent-Disposition: form-data; name=${quoted(name)}; filename=${quoted(filename)}\r\n` +
        `Content-Type: ${type}\r\n\r\n`,
    );
    yield* stream;
    yield encoder.encode('\r\n');
    const after = (await input.after) ?? {};
    for (const [key, value] of Object.entries(after)) {
      if (!(key in input.before)) yield field(key, value);
    }
    yield encoder.encode(`--${boundary}--\r\n`);
  }
  const iterator = parts();
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    body: new ReadableStream<Uint8Array>({
      async pull(controller) {
        const next = await iterator.next();
        if (next.done) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel(reason) {
        await iterator.throw?.(reason).catch(() => undefined);
      },
    }),
  };
}
