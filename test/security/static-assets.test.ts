import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assetsInMemory } from '../../src/ui/static.js';
import { createHarness, type Harness } from '../helpers/harness.js';

// /ui/static/* and /ui/vendor/* are public (no session): they serve a fixed set of files, and a
// name outside it is a plain 404 that the server does not remember.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h.close());

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

describe('public assets', () => {
  it('serves the known assets', async () => {
    for (const path of ['/ui/static/app.css', '/ui/static/app.js', '/ui/vendor/htmx.js', '/ui/sw.js']) {
      const res = await h.app.request(path);
      expect(res.status, path).toBe(200);
      expect((await res.arrayBuffer()).byteLength, path).toBeGreaterThan(0);
    }
  });

  it('answers 404 to names of Object.prototype, never a 500', async () => {
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype']) {
      for (const dir of ['static', 'vendor']) {
        const res = await h.app.request(`/ui/${dir}/${name}`);
        expect(res.status, `${dir}/${name}`).toBe(404);
      }
    }
  });

  it('answers 404 to unknown names and holds no more in memory for them', async () => {
    // Warm up: the known assets are read once and then kept.
    await h.app.request('/ui/static/app.css');
    const held = assetsInMemory();
    const before = heapUsed();
    const long = 'x'.repeat(8_000);
    for (let i = 0; i < 2_000; i++) {
      const dir = i % 2 ? 'static' : 'vendor';
      const res = await h.app.request(`/ui/${dir}/${long}-${i}.css`);
      expect(res.status).toBe(404);
      await res.arrayBuffer();
    }
    expect(assetsInMemory()).toBe(held);
    // 2,000 names of 8 kB are 16 MB (32 MB as UTF-16) if anything keeps them.
    expect(heapUsed() - before).toBeLessThan(4 * 1024 * 1024);
  });
});
