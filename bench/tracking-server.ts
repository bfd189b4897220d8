// Child process for bench/tracking.ts: serves either a bare Hono hello-world or the whole
// Offerflow app on an ephemeral port, prints `PORT n`, and on SIGTERM flushes the tracking
// buffer (as a real shutdown would), prints `STATS {json}` (cache hits, events written, the
// statements sent to PostgreSQL, the process's CPU time) and exits.
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createSql } from '../src/db/sql.js';
import type { AppDeps } from '../src/deps.js';
import { flushTrackingEvents } from '../src/tracking/event-buffer.js';
import { EventSpool } from '../src/tracking/event-spool.js';
import { tracker } from '../src/tracking/track.js';

const [mode, databaseUrl] = process.argv.slice(2);
let deps: AppDeps | undefined;
let statements = 0;
let spoolDir: string | undefined;
let fetch: (request: Request) => Response | Promise<Response>;
if (mode === 'hello') {
  const hello = new Hono();
  hello.get('/', (c) => c.text('Hello Hono!'));
  fetch = hello.fetch;
} else {
  const config = loadConfig({ ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' });
  // As `offerflow serve` runs it: every acknowledged event journaled to a local spool first.
  spoolDir = mkdtempSync(join(tmpdir(), 'offerflow-bench-spool-'));
  deps = {
    // BENCH_TRACKING_STATEMENTS=on counts every statement the server sends (the bench prints
    // them per request); off by default, as postgres.js takes a stack trace per query in debug.
    sql: createSql(config.DATABASE_URL, {
      max: 10,
      ...(process.env.BENCH_TRACKING_STATEMENTS === 'on' ? { debug: () => void statements++ } : {}),
    }),
    config,
    logger: pino({ level: 'silent' }),
    metrics: new Registry(),
    clock: () => new Date(),
    // BENCH_TRACKING_SPOOL=off measures without it, to see what it costs.
    ...(process.env.BENCH_TRACKING_SPOOL === 'off'
      ? {}
      : { trackingSpool: EventSpool.open(spoolDir, config.DATABASE_URL) }),
  };
  fetch = createApp(deps).fetch;
}
let listening = process.cpuUsage();
const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
  listening = process.cpuUsage();
  process.stdout.write(`PORT ${info.port}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  void (async () => {
    const stats: Record<string, number> = {};
    if (deps) {
      await flushTrackingEvents(deps);
      Object.assign(stats, tracker(deps).stats());
      if (process.env.BENCH_TRACKING_STATEMENTS === 'on') stats.statements = statements;
      deps.trackingSpool?.close();
      await deps.sql.end({ timeout: 5 });
      if (spoolDir) rmSync(spoolDir, { recursive: true, force: true });
    }
    // CPU spent serving (and writing the events), not starting up.
    const cpu = process.cpuUsage(listening);
    stats.cpu_ms = Math.round((cpu.user + cpu.system) / 1000);
    process.stdout.write(`STATS ${JSON.stringify(stats)}\n`, () => process.exit(0));
  })();
});
