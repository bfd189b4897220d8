import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

// Lint refuses an explicit `any` in src/ (biome's noExplicitAny); this keeps the UI from
// opting out of it again, so every page reads the API through the types of its schemas.
const UI = new URL('.', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'static' ? [] : sources(path);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

describe('UI pages read typed API data', () => {
  it('no UI source switches off the no-any rule or casts to any', () => {
    const offenders = sources(UI).filter((file) => {
      const text = readFileSync(file, 'utf8');
      return /noExplicitAny|\bas any\b|:\s*any\b/.test(text);
    });
    expect(offenders).toEqual([]);
    expect(sources(UI).length).toBeGreaterThan(10);
  });
});
