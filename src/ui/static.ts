import type { Context } from 'hono';

// Vendored libraries come straight from node_modules (never copied into the repo); our own
// assets from src/ui/static. Both are read once and kept in memory.
// `entry` is what the package exports; `file` sits next to it (Chart.js does not export its UMD build).
const VENDOR: Record<string, { entry: string; file: string }> = {
  'htmx.js': { entry: 'htmx.org/dist/htmx.min.js', file: 'htmx.min.js' },
  'chart.js': { entry: 'chart.js', file: 'chart.umd.min.js' },
};

const TYPES: Record<string, string> = {
  css: 'text/css; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  svg: 'image/svg+xml',
  png: 'image/png',
  webmanifest: 'application/manifest+json',
};

const cache = new Map<string, Uint8Array | null>();

async function load(name: string): Promise<Uint8Array | null> {
  if (cache.has(name)) return cache.get(name) ?? null;
  // Imported lazily: the Workers build of the app has no file system and never serves /ui.
  const { readFile } = await import('node:fs/promises');
  let path: string | undefined;
  if (name.startsWith('vendor/')) {
    const target = VENDOR[name.slice('vendor/'.length)];
    if (target) {
      const { createRequire } = await import('node:module');
      const { dirname, join } = await import('node:path');
      path = join(dirname(createRequire(import.meta.url).resolve(target.entry)), target.file);
    }
  } else if (/^static\/[\w-]+\.(css|js|svg|png|webmanifest)$/.test(name)) {
    path = new URL(`./${name}`, import.meta.url).pathname;
  }
  const data = path ? await readFile(path).catch(() => null) : null;
  cache.set(name, data);
  return data;
}

/** Serves a static asset or vendored library by name. */
export async function serveAsset(c: Context, name: string): Promise<Response> {
  const data = await load(name);
  if (!data) return c.text('Not found', 404);
  const ext = name.slice(name.lastIndexOf('.') + 1);
  const headers: Record<string, string> = {
    'content-type': TYPES[ext] ?? 'application/octet-stream',
    'cache-control': name.startsWith('vendor/') ? 'public, max-age=86400' : 'no-cache',
  };
  if (name === 'static/sw.js') headers['service-worker-allowed'] = '/ui/';
  return new Response(data as unknown as ArrayBuffer, { headers });
}
