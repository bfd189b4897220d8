import { describe, expect, it } from 'vitest';
import {
  loadSuiteCases,
  SUITE_DIR,
  SUITE_TOTAL,
  SUITES_PRESENT,
  type SuiteCase,
  sameValue,
} from '../../test/helpers/jsonlogic-suites.js';
import { compileRule, toRuleError } from './compile.js';

/*
 * The JSON Logic community suites, in process: through compileRule, the production engine
 * configuration and cache. test/integration/rules-conformance-http.test.ts runs the same cases
 * through the API, the validator included.
 */
/**
 * Cases where we knowingly differ from the suites, with the reason. Empty: the engine
 * adjustments in src/rules/operators.ts make every case pass (json-logic-engine as is: 1,127).
 */
const KNOWN_DIFFERENCES: Record<string, string> = {};

function runCase(c: SuiteCase): { ok: boolean; got: string } {
  try {
    const got = compileRule(c.rule)(c.data ?? null);
    if ('error' in c) return { ok: false, got: `value ${JSON.stringify(got)}` };
    return { ok: sameValue(got, c.result), got: JSON.stringify(got) };
  } catch (error) {
    const kind = toRuleError(error).type;
    if (!('error' in c)) return { ok: false, got: `error ${kind}` };
    return { ok: kind === c.error?.type, got: `error ${kind}` };
  }
}

describe.skipIf(!SUITES_PRESENT)(
  `JSON Logic conformance (suites in ${SUITE_DIR}; skipped when absent)`,
  () => {
    it(`passes all ${SUITE_TOTAL} cases`, () => {
      let passed = 0;
      const failures: string[] = [];
      for (const c of loadSuiteCases()) {
        const { ok, got } = runCase(c);
        if (ok) {
          passed++;
          continue;
        }
        const expected = 'error' in c ? `error ${c.error?.type}` : JSON.stringify(c.result);
        failures.push(
          `${c.id} ${c.description ?? ''}: expected ${expected}, got ${got}; ${KNOWN_DIFFERENCES[c.id] ?? 'UNEXPLAINED'}`,
        );
      }
      const total = passed + failures.length;
      console.log(`jsonlogic conformance: ${passed} passed, ${failures.length} failed of ${total}`);
      for (const line of failures) console.log(`  ${line}`);
      expect(total).toBe(SUITE_TOTAL);
      expect(passed).toBe(SUITE_TOTAL - Object.keys(KNOWN_DIFFERENCES).length);
      expect(failures.filter((f) => f.endsWith('UNEXPLAINED'))).toEqual([]);
    });
  },
);
