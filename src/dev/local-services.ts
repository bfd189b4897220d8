import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';

/**
 * Starts PostgreSQL and Redis on this machine when the configured URLs point at localhost and
 * nothing answers there: the Debian cluster 15/main, and a redis-server (installed with apt when
 * missing). Used by the test command, the demo and the benchmarks so that a fresh machine needs
 * nothing but `npm ci`.
 */
export async function ensureLocalServices(
  env: { DATABASE_URL?: string; REDIS_URL?: string } = process.env,
  log: (line: string) => void = (line) => console.error(line),
): Promise<void> {
  const databaseUrl = new URL(env.DATABASE_URL || 'postgres://offerflow:offerflow@127.0.0.1:5432/offerflow');
  await ensurePostgres(databaseUrl, log);
  // A Redis Cluster (`redis+cluster://`) is the operator's, or scripts/redis-cluster.ts's.
  const redis = env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (!/^rediss?\+cluster:/.test(redis)) await ensureRedis(new URL(redis), log);
}

const isLocal = (host: string) => ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host);

export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolvePort) => {
    const socket = connect({ host: host.replace(/^\[|\]$/g, ''), port });
    const done = (open: boolean) => {
      socket.destroy();
      resolvePort(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function waitForPort(host: string, port: number, what: string, seconds = 30): Promise<void> {
  for (let i = 0; i < seconds * 10; i++) {
    if (await portOpen(host, port)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start listening on ${host}:${port} within ${seconds} s`);
}

function run(command: string, args: string[], input?: string): string {
  return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

function psqlAsPostgres(statement: string): string {
  return run('runuser', ['-u', 'postgres', '--', 'psql', '-v', 'ON_ERROR_STOP=1', '-tAc', statement]);
}

const quoteLiteral = (value: string) => `'${value.replace(/'/g, "''")}'`;
const quoteIdent = (value: string) => `"${value.replace(/"/g, '""')}"`;

async function ensurePostgres(url: URL, log: (line: string) => void): Promise<void> {
  const host = url.hostname;
  const port = Number(url.port || 5432);
  if (!isLocal(host)) return;
  if (!(await portOpen(host, port))) {
    log(`PostgreSQL is not answering on ${host}:${port}; starting the local cluster 15/main`);
    const started = spawnSync('pg_ctlcluster', ['15', 'main', 'start'], { encoding: 'utf8' });
    if (started.status !== 0 && !/already running/.test(started.stderr)) {
      throw new Error(
        `Could not start PostgreSQL (pg_ctlcluster 15 main start): ${started.stderr || started.error?.message}. ` +
          'Start PostgreSQL yourself or set DATABASE_URL.',
      );
    }
    await waitForPort(host, port, 'PostgreSQL');
  }
  const user = decodeURIComponent(url.username || 'offerflow');
  const password = decodeURIComponent(url.password || 'offerflow');
  const database = decodeURIComponent(url.pathname.replace(/^\//, '') || 'offerflow');
  if (process.getuid?.() !== 0) return; // Without root we cannot create roles: trust the URL.
  try {
    const hasRole = psqlAsPostgres(`select 1 from pg_roles where rolname = ${quoteLiteral(user)}`).trim();
    if (!hasRole) {
      log(`Creating PostgreSQL role ${user}`);
      psqlAsPostgres(`create role ${quoteIdent(user)} login superuser password ${quoteLiteral(password)}`);
    }
    const hasDb = psqlAsPostgres(
      `select 1 from pg_database where datname = ${quoteLiteral(database)}`,
    ).trim();
    if (!hasDb) {
      log(`Creating PostgreSQL database ${database}`);
      psqlAsPostgres(`create database ${quoteIdent(database)} owner ${quoteIdent(user)}`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`Could not prepare PostgreSQL role and database: ${message}`);
  }
}

function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** Installs redis-server (and redis-cli) with apt-get when missing; throws when it cannot. */
export function installRedis(log: (line: string) => void = (line) => console.error(line)): void {
  if (!commandExists('redis-server')) {
    if (process.getuid?.() !== 0) {
      throw new Error(
        'Redis is not installed and this user cannot install it: apt-get install -y redis-server',
      );
    }
    log('Redis is not installed; installing redis-server with apt-get');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    const install = spawnSync('apt-get', ['install', '-y', '-qq', 'redis-server'], { stdio: 'ignore', env });
    if (update.status !== 0 || install.status !== 0 || !commandExists('redis-server')) {
      throw new Error('Could not install redis-server with apt-get; install Redis or set REDIS_URL');
    }
  }
}

async function ensureRedis(url: URL, log: (line: string) => void): Promise<void> {
  const host = url.hostname;
  const port = Number(url.port || 6379);
  if (!isLocal(host) || (await portOpen(host, port))) return;
  installRedis(log);
  const dir = resolve('.offerflow', 'redis');
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
  log(`Redis is not answering on ${host}:${port}; starting redis-server (AOF on, noeviction)`);
  // BullMQ needs noeviction; AOF keeps queued work across a Redis restart.
  const started = spawnSync(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--daemonize',
      'yes',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'noeviction',
      '--save',
      '',
      '--logfile',
      resolve(dir, 'redis.log'),
    ],
    { encoding: 'utf8' },
  );
  if (started.status !== 0) throw new Error(`Could not start redis-server: ${started.stderr}`);
  await waitForPort(host, port, 'Redis');
}
