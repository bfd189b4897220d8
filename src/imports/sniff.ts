/** What the first bytes of a file say about how to read it. */
export interface Sniffed {
  encoding: 'utf-8' | 'windows-1252';
  separator: ',' | ';' | '\t';
  /** Bytes of a UTF-8 byte order mark to skip. */
  bomLength: number;
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * Guesses the encoding (a head that is not valid UTF-8 is Windows-1252, the usual export of
 * French ERPs) and the separator (the most frequent of `,` `;` tab on the header line, outside
 * quotes).
 */
export function sniff(head: Buffer): Sniffed {
  const bomLength = head.subarray(0, 3).equals(UTF8_BOM) ? 3 : 0;
  const body = head.subarray(bomLength);
  // A multi-byte character may be cut at the end of the head: drop up to 3 trailing bytes.
  let encoding: Sniffed['encoding'] = 'utf-8';
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let valid = false;
  for (let cut = 0; cut <= Math.min(3, body.length) && !valid; cut++) {
    try {
      decoder.decode(body.subarray(0, body.length - cut));
      valid = true;
    } catch {
      // try a shorter slice
    }
  }
  if (!valid) encoding = 'windows-1252';
  return { encoding, separator: detectSeparator(body), bomLength };
}

/** The most frequent candidate separator on the first line (quoted text ignored). */
export function detectSeparator(head: Buffer): Sniffed['separator'] {
  const counts = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const byte of head) {
    if (byte === 0x22) quoted = !quoted;
    else if (!quoted && (byte === 0x0a || byte === 0x0d)) break;
    else if (!quoted && byte === 0x2c) counts[',']++;
    else if (!quoted && byte === 0x3b) counts[';']++;
    else if (!quoted && byte === 0x09) counts['\t']++;
  }
  let best: Sniffed['separator'] = ',';
  for (const candidate of [';', '\t'] as const) if (counts[candidate] > counts[best]) best = candidate;
  return best;
}
