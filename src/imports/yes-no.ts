// How exports write a yes/no flag (consent columns): English, French and German words, 1/0,
// and Shopify's "yes"/"no". Anything else is a row error rather than a guess, because a
// consent read wrongly either mails someone who said no or drops someone who said yes.
const YES = new Set(['yes', 'y', 'true', 't', '1', 'x', 'oui', 'o', 'vrai', 'ja', 'j', 'wahr', 'subscribed']);
const NO = new Set(['no', 'n', 'false', 'f', '0', 'non', 'faux', 'nein', 'falsch', 'unsubscribed']);

/** A yes/no cell as a boolean; undefined for a word it does not know. */
export function readYesNo(cell: string): boolean | undefined {
  const word = cell.trim().toLowerCase();
  if (YES.has(word)) return true;
  if (NO.has(word)) return false;
  return undefined;
}

export const YES_NO_HINT = 'must be yes or no (also true/false, 1/0, oui/non, ja/nein)';
