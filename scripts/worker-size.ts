import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

// Prints the size Cloudflare counts for the Worker built by `npm run build:worker` (the
// modules, compressed; source maps are not part of the limit) and fails past the free plan's.
const FREE_LIMIT = 3 * 1024 * 1024;
const dir = process.argv[2] ?? 'dist/worker';

const files = (await readdir(dir)).filter((f) => /\.(m?js|wasm)$/.test(f));
if (files.length === 0) throw new Error(`no Worker modules in ${dir}: run npm run build:worker first`);
let raw = 0;
let gzipped = 0;
for (const file of files) {
  const bytes = await readFile(join(dir, file));
  raw += bytes.length;
  gzipped += gzipSync(bytes, { level: 9 }).length;
}
const kib = (n: number) => `${(n / 1024).toFixed(0)} KiB`;
console.log(`worker bundle: ${kib(gzipped)} gzipped (limit 3 MiB free / 10 MiB paid); ${kib(raw)} raw`);
if (gzipped > FREE_LIMIT) {
  console.error('worker bundle is over the Workers free plan limit');
  process.exitCode = 1;
}
