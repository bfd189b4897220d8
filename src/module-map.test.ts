import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// docs/architecture.md maps every folder under src/ (what it owns, what it may import); a new
// folder without its row is a map that no longer matches the tree.
describe('the module map in docs/architecture.md', () => {
  it('has one row per folder under src/', () => {
    const doc = readFileSync(new URL('../docs/architecture.md', import.meta.url), 'utf8');
    const rows = new Set([...doc.matchAll(/^\| `([a-z0-9-]+)\/` \|/gm)].map((m) => m[1]));
    const folders = readdirSync(new URL('.', import.meta.url), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    expect(folders.filter((name) => !rows.has(name))).toEqual([]);
    expect([...rows].filter((name) => !folders.includes(name!))).toEqual([]);
  });
});
