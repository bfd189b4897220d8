import type { Context } from 'hono';

// Vendored libraries come straight from node_modules (never copied into the repo); our own
// assets from src/ui/static. The set of names is fixed: the vendored files below and the files
// of src/ui/static, listed once. Only those are read (once) and kept in memory, so a request for
// any other name is a 404 that costs nothing and leaves nothing behind: a public route that
// remembered every name asked for would let anyone fill the server's memory.
// `entry` is what the package exports; `file` sits next to it (Chart.js does not export its UMD build).
const VENDOR = new Map<string, { entry: string; file: string }>([
  ['htmx.js', { entry: 'htmx.org/dist/htmx.min.js', file: 'htmx.min.js' }],
  ['chart.js', { entry: 'chart.js', file: 'chart.umd.min.js' }],
  // The block email editor (static/email-editor.js): GrapesJS and its MJML plugin.
  ['grapes.js', { entry: 'grapesjs', file: 'grapes.min.js' }],
  ['grapes.css', { entry: 'grapesjs', file: 'css/grapes.min.css' }],
  ['grapesjs-mjml.js', { entry: 'grapesjs-mjml', file: 'index.js' }],
]);

const TYPES = new Map<string, string>([
  ['css', 'text/css; charset=utf-8'],
  ['js', 'text/javascript; charset=utf-8'],
  ['svg', 'image/svg+xml'],
  ['png', 'image/png'],
  ['webmanifest', 'application/manifest+json'],
]);

const OWN_ASSET = /^[\w-]+\.(css|js|svg|png|webmanifest)$/;

/** Where each servable asset lives on disk, by name (`static/app.css`, `vendor/htmx.js`). */
let sources: Promise<Map<string, string>> | undefined;
/** The bytes of the assets read so far: a subset of `sources`, so bounded by it. */
const loaded = new Map<string, Promise<Uint8Array | null>>();

function listSources(): Promise<Map<string, string>> {
  sources ??= (async () => {
    // Imported lazily: the Workers build of the app has no file system and never serves /ui.
    const { readdir } = await import('node:fs/promises');
    const { createRequire } = await import('node:module');
    const { dirname, join } = await import('node:path');
    const out = new Map<string, string>();
    const dir = new URL('./static/', import.meta.url).pathname;
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      if (OWN_ASSET.test(file)) out.set(`static/${file}`, join(dir, file));
    }
    const require = createRequire(import.meta.url);
    for (const [name, target] of VENDOR) {
      out.set(`vendor/${name}`, join(dirname(require.resolve(target.entry)), target.file));
    }
    return out;
  })();
  return sources;
}

async function load(name: string): Promise<Uint8Array | null> {
  const path = (await listSources()).get(name);
  if (path === undefined) return null;
  let data = loaded.get(name);
  if (!data) {
    const { readFile } = await import('node:fs/promises');
    data = readFile(path).catch(() => null);
    loaded.set(name, data);
  }
  return data;
}

/** How many assets are held in memory: never more than the fixed set, whatever was asked for. */
export const assetsInMemory = (): number => loaded.size;

/** Serves a static asset or vendored library by name; any name outside the fixed set is a 404. */
export async function serveAsset(c: Context, name: string): Promise<Response> {
  const data = await load(name);
  if (!data) return c.text('Not found', 404);
  const ext = name.slice(name.lastIndexOf('.') + 1);
  const headers: Record<string, string> = {
    'content-type': TYPES.get(ext) ?? 'application/octet-stream',
    'cache-control': name.startsWith('vendor/') ? 'public, max-age=86400' : 'no-cache',
  };
  if (name === 'static/sw.js') headers['service-worker-allowed'] = '/ui/';
  return new Response(data as unknown as ArrayBuffer, { headers });
}
