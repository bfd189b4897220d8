import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * The JSON Logic community suites (json-logic/compat-tables) are not part of the repository:
 * they sit, read-only, in a `shared/` folder beside the clone, and are read in place at run
 * time. A checkout nested deeper (a worktree under a sibling folder) finds them by walking up;
 * JSONLOGIC_SUITES points anywhere else.
 */
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function locate(): string {
  if (process.env.JSONLOGIC_SUITES) return path.resolve(process.env.JSONLOGIC_SUITES);
  let dir = path.dirname(repoRoot);
  for (;;) {
    const candidate = path.join(dir, 'shared', 'conformance', 'jsonlogic');
    if (existsSync(path.join(candidate, 'index.json'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) return path.resolve(repoRoot, '..', 'shared', 'conformance', 'jsonlogic');
    dir = parent;
  }
}

export const SUITE_DIR = locate();
export const SUITES_PRESENT = existsSync(path.join(SUITE_DIR, 'index.json'));
/** Cases in the suites as published. */
export const SUITE_TOTAL = 1138;

/** One case: `{rule, data?, result}` or `{rule, data?, error: {type}}`. */
export interface SuiteCase {
  id: string;
  description?: string;
  rule: unknown;
  data?: unknown;
  result?: unknown;
  error?: { type: string };
}

/** Every case of every file listed in index.json, with a stable `file#index` id. */
export function loadSuiteCases(): SuiteCase[] {
  const files = JSON.parse(readFileSync(path.join(SUITE_DIR, 'index.json'), 'utf8')) as string[];
  const out: SuiteCase[] = [];
  for (const file of files) {
    const cases = JSON.parse(readFileSync(path.join(SUITE_DIR, file), 'utf8')) as unknown[];
    cases.forEach((c, i) => {
      if (typeof c === 'string') return;
      out.push({ ...(c as Omit<SuiteCase, 'id'>), id: `${file}#${i}` });
    });
  }
  return out;
}

/** Equal as the suites mean it: JSON equality, NaN equal to NaN. */
export const sameValue = (a: unknown, b: unknown) =>
  (typeof a === 'number' && typeof b === 'number' && Number.isNaN(a) && Number.isNaN(b)) ||
  JSON.stringify(a) === JSON.stringify(b);
