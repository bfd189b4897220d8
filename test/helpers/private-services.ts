import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

// A PostgreSQL cluster and a Redis of a test's own, on free loopback ports, so that a test can
// stop, kill and restart them without touching the machine's shared services.

const run = promisify(execFile);
const PG_BIN = '/usr/lib/postgresql/15/bin';

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const asPostgres = (command: string, args: string[]) =>
  // initdb refuses to run as root: the cluster belongs to the postgres user.
  process.getuid?.() === 0
    ? run('runuser', ['-u', 'postgres', '--', join(PG_BIN, command), ...args])
    : run(join(PG_BIN, command), args);

export interface PrivatePostgres {
  port: number;
  /** The URL of a database of this cluster (superuser `offerflow`, trust on loopback). */
  url(database?: string): string;
  start(settings?: Record<string, string | number>): Promise<void>;
  /** pg_ctl stop -m fast: open connections are terminated (57P01), new ones refused. */
  stop(): Promise<void>;
  /** SIGKILL to the postmaster and every backend: a crash, recovered at the next start. */
  kill9(): Promise<void>;
  remove(): Promise<void>;
  /** The server log so far (to prove a fault happened). */
  log(): string;
}

/** initdb's a new cluster in a temporary directory and starts it on a free port. */
export async function startPrivatePostgres(
  settings: Record<string, string | number> = {},
): Promise<PrivatePostgres> {
  const root = mkdtempSync('/tmp/offerflow-pg-');
  if (process.getuid?.() === 0)
    chownSync(root, Number((await run('id', ['-u', 'postgres'])).stdout.trim()), 0);
  const data = join(root, 'data');
  await asPostgres('initdb', ['-D', data, '-U', 'offerflow', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const port = await freePort();
  let current: Record<string, string | number> = {};
  const options = () =>
    Object.entries({
      port,
      listen_addresses: '127.0.0.1',
      unix_socket_directories: root,
      // A killed process loses nothing that was written (the kernel keeps it), so fsync can be off;
      // synchronous_commit stays on: a commit that was answered must survive a crash.
      fsync: 'off',
      full_page_writes: 'off',
      shared_buffers: '32MB',
      max_connections: 100,
      ...current,
    })
      .map(([k, v]) => `-c ${k}=${v}`)
      .join(' ');
  const pg: PrivatePostgres = {
    port,
    url: (database = 'postgres') => `postgres://offerflow@127.0.0.1:${port}/${database}`,
    async start(extra = {}) {
      current = { ...current, ...extra };
      await asPostgres('pg_ctl', [
        '-D',
        data,
        '-l',
        join(root, 'log'),
        '-o',
        options(),
        '-w',
        '-t',
        '60',
        'start',
      ]);
    },
    async stop() {
      await asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    async kill9() {
      const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const children = (
        await run('ps', ['-o', 'pid=', '--ppid', String(pid)]).catch(() => ({ stdout: '' }))
      ).stdout
        .split('\n')
        .map(Number)
        .filter((n) => n > 0);
      for (const p of [pid, ...children]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      // The next start sees the stale postmaster.pid and runs crash recovery.
      for (let i = 0; i < 100 && [pid, ...children].some(alive); i++) await sleep(50);
    },
    log: () => readFileSync(join(root, 'log'), 'utf8'),
    async remove() {
      if (existsSync(join(data, 'postmaster.pid')))
        await asPostgres('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
  await pg.start(settings);
  return pg;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface PrivateRedis {
  port: number;
  url: string;
  start(): Promise<void>;
  /** SIGKILL: Redis is down until start(). */
  kill(): Promise<void>;
}

/** A redis-server of the test's own (no persistence, noeviction as BullMQ needs). */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const redis: PrivateRedis = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start() {
      if (child && child.exitCode === null && child.signalCode === null) return;
      child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--save',
          '',
          '--appendonly',
          'no',
          '--maxmemory-policy',
          'noeviction',
        ],
        { stdio: 'ignore' },
      );
      for (let i = 0; i < 200; i++) {
        if (await canConnect(port)) return;
        await sleep(25);
      }
      throw new Error('redis-server did not start');
    },
    async kill() {
      const running = child;
      child = undefined;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
  };
  await redis.start();
  return redis;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
