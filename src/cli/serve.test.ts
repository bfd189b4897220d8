import { describe, expect, it } from 'vitest';
import { parseProcesses } from './serve.js';

describe('serve --processes', () => {
  it('takes 1 to 64, auto, or nothing (one process)', () => {
    expect(parseProcesses(undefined)).toBe(1);
    expect(parseProcesses('')).toBe(1);
    expect(parseProcesses('4')).toBe(4);
    expect(parseProcesses('auto')).toBeGreaterThanOrEqual(1);
    for (const bad of ['0', '-1', '1.5', '65', 'two']) {
      expect(() => parseProcesses(bad)).toThrow(/--processes must be a whole number from 1 to 64/);
    }
  });
});
