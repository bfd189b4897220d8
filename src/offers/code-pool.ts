import { randomInt } from 'node:crypto';

/** Letters and digits that cannot be misread for one another (no 0/O, 1/I/L). */
export const DEFAULT_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

export interface CodeShape {
  /** `#` is a random character of the alphabet, anything else is kept (`SOFA-####-####`). */
  pattern?: string | undefined;
  /** Random characters when there is no pattern (default 10). */
  length?: number | undefined;
  alphabet?: string | undefined;
}

/** The pattern a shape generates: its own, or `length` random characters. */
export function patternOf(shape: CodeShape): string {
  return shape.pattern ?? '#'.repeat(shape.length ?? 10);
}

/** How many distinct codes a shape can make (Infinity past 2^53). */
export function codeSpace(shape: CodeShape): number {
  const slots = [...patternOf(shape)].filter((c) => c === '#').length;
  const size = new Set(shape.alphabet ?? DEFAULT_ALPHABET).size;
  const space = size ** slots;
  return Number.isFinite(space) ? space : Number.POSITIVE_INFINITY;
}

/** One random code of a shape (crypto-random: codes are unguessable vouchers). */
export function generateCode(shape: CodeShape): string {
  const alphabet = [...new Set(shape.alphabet ?? DEFAULT_ALPHABET)];
  let out = '';
  for (const c of patternOf(shape)) out += c === '#' ? alphabet[randomInt(alphabet.length)] : c;
  return out;
}
