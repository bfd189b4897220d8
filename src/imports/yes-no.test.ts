import { describe, expect, it } from 'vitest';
import { readYesNo } from './yes-no.js';

describe('readYesNo', () => {
  it('reads the yes/no words of English, French and German exports, and refuses the rest', () => {
    for (const yes of ['yes', 'YES', ' Oui ', 'ja', '1', 'true', 'subscribed'])
      expect(readYesNo(yes)).toBe(true);
    for (const no of ['no', 'Non', 'nein', '0', 'FALSE', 'unsubscribed']) expect(readYesNo(no)).toBe(false);
    for (const other of ['maybe', '2', 'yes please', '']) expect(readYesNo(other)).toBeUndefined();
  });
});
