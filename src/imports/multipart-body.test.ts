import { describe, expect, it } from 'vitest';
import { receiveMultipart } from './multipart.js';
import { multipartBody } from './multipart-body.js';

async function* pieces(text: string) {
  for (let i = 0; i < text.length; i += 5) yield Buffer.from(text.slice(i, i + 5));
}

describe('multipartBody', () => {
  it('writes fields, the file as it is read, then the later fields, as a parser reads them back', async () => {
    const csv = 'external_line_id;amount\r\nL-1;2,50\r\n--not-a-boundary\r\n';
    const form = multipartBody({
      before: { kind: 'purchases' },
      file: { name: 'file', filename: 'a"b\r\nc.csv', stream: pieces(csv) },
      after: Promise.resolve({ kind: 'customers', separator: 'semicolon' }),
    });
    expect(form.contentType).toMatch(/^multipart\/form-data; boundary=offerflow-/);
    const read = await receiveMultipart(form.body, form.contentType, 'file', async ({ filename, stream }) => {
      let text = '';
      for await (const piece of stream) text += piece.toString();
      return { filename, text };
    });
    // A header cannot be broken out of; a field already sent is not sent again.
    expect(read.file).toEqual({ filename: 'a_b__c.csv', text: csv });
    expect(read.fields).toEqual({ kind: 'purchases', separator: 'semicolon' });
    expect(read.problems).toEqual([]);
  });

  it('fails the body when the later fields never come', async () => {
    const form = multipartBody({
      before: {},
      file: { name: 'file', filename: 'x.csv', stream: pieces('a\n') },
      after: Promise.reject(new Error('the form broke')),
    });
    const reader = form.body.getReader();
    await expect(
      (async () => {
        for (;;) if ((await reader.read()).done) return;
      })(),
    ).rejects.toThrow('the form broke');
  });
});
