#!/usr/bin/env node
// The npm registry proxy on our machines serves only the Linux builds of packages that ship
// per-platform binaries as optional dependencies (Biome, msgpackr-extract). `npm install` then
// leaves the other platforms out of package-lock.json and `npm ci` rejects the lock as out of
// sync. This records those platform packages in the lock with their os/cpu, so that npm skips
// them here (wrong platform) and fetches them on machines that need them.
// Run after any `npm install`: node scripts/lock-platforms.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const OS = ['android', 'darwin', 'linux', 'win32', 'freebsd', 'openbsd', 'netbsd', 'sunos', 'aix'];
const CPU = ['arm64', 'x64', 'arm', 'ia32', 'riscv64', 'ppc64', 's390x', 'loong64', 'mips64el'];

let added = 0;
for (const [key, entry] of Object.entries(lock.packages)) {
  if (!entry.optionalDependencies) continue;
  const base = key === '' ? '' : `${key}/`;
  for (const [name, spec] of Object.entries(entry.optionalDependencies)) {
    if (lock.packages[`${base}node_modules/${name}`] || lock.packages[`node_modules/${name}`]) continue;
    const parts = name.toLowerCase().split(/[/-]/);
    const os = OS.find((o) => parts.includes(o));
    const cpu = CPU.find((c) => parts.includes(c));
    if (!os) continue; // not a platform package: leave it to npm
    const version = String(spec).replace(/^[\^~=]/, '');
    lock.packages[`node_modules/${name}`] = {
      version,
      ...(entry.dev ? { dev: true } : {}),
      optional: true,
      os: [os],
      ...(cpu ? { cpu: [cpu] } : {}),
      ...(parts.includes('musl') ? { libc: ['musl'] } : {}),
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-platforms: recorded ${added} platform-only optional packages`);
