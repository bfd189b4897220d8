import { describe, expect, it } from 'vitest';
import { previewCsv } from './preview.js';

async function* pieces(text: string): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += 10_000) yield bytes.subarray(i, i + 10_000);
}

describe('previewCsv', () => {
  it('leaves out a record the byte limit cuts, rather than showing half of it', async () => {
    const note = 'x'.repeat(60_000);
    const rows = Array.from({ length: 6 }, (_, i) => `k${i},${note}${i}`);
    const preview = await previewCsv('customers', pieces(`external_id,first_name\n${rows.join('\n')}\n`), {});
    // 256 KB hold four 60 KB records whole; the fifth is cut and left out.
    expect(preview.sample.map((r) => r.values.external_id)).toEqual(['k0', 'k1', 'k2', 'k3']);
    expect(preview.sample.every((r) => r.values.first_name?.length === 60_001)).toBe(true);
  });

  it('shows the records of a short file, with a missing trailing newline, line by line', async () => {
    const preview = await previewCsv(
      'customers',
      pieces('external_id,email\nk1,a@example.com\n\nk2,b@example.com'),
      {},
    );
    expect(preview.sample).toEqual([
      { line: 2, values: { external_id: 'k1', email: 'a@example.com' } },
      { line: 4, values: { external_id: 'k2', email: 'b@example.com' } },
    ]);
  });
});
