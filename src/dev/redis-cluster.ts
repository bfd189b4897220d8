import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { installRedis, portOpen, waitForPort } from './local-services.js';

/** The loopback ports of the local cluster's three masters (each also uses port + 10000, its bus). */
export const DEFAULT_CLUSTER_PORTS = [7101, 7102, 7103] as const;

/** The `REDIS_URL` of a cluster whose seed nodes are these loopback ports. */
export const clusterUrl = (ports: readonly number[]) =>
  `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(',')}`;

const cli = (port: number, ...args: string[]) =>
  execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args], { encoding: 'utf8' });

const clusterInfo = (port: number) =>
  Object.fromEntries(
    cli(port, 'cluster', 'info')
      .split(/\r?\n/)
      .filter((line) => line.includes(':'))
      .map((line) => line.split(':', 2) as [string, string]),
  );

/**
 * Starts a Redis Cluster of three masters (no replicas) on loopback when it is not already up,
 * for the slow suite and for trying Offerflow on a cluster by hand: `redis-server
 * --cluster-enabled yes` per port (AOF, noeviction, like the single Redis of local-services.ts),
 * then `redis-cli --cluster create` once the three answer and none knows the others. Node
 * configs and data live in `.offerflow/redis-cluster/<port>`, so a restarted machine brings back
 * the same cluster. Returns its `REDIS_URL`.
 */
export async function ensureRedisCluster(
  ports: readonly number[] = DEFAULT_CLUSTER_PORTS,
  log: (line: string) => void = (line) => console.error(line),
): Promise<string> {
  for (const port of ports) {
    if (await portOpen('127.0.0.1', port)) continue;
    installRedis(log);
    const dir = resolve('.offerflow', 'redis-cluster', String(port));
    mkdirSync(dir, { recursive: true });
    log(`starting a Redis Cluster node on 127.0.0.1:${port}`);
    const started = spawnSync(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        `nodes-${port}.conf`,
        '--cluster-node-timeout',
        '5000',
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
    if (started.status !== 0) throw new Error(`Could not start redis-server on ${port}: ${started.stderr}`);
    await waitForPort('127.0.0.1', port, `Redis Cluster node ${port}`);
  }
  const infos = ports.map(clusterInfo);
  if (infos.every((info) => info.cluster_known_nodes === '1' && info.cluster_slots_assigned === '0')) {
    log(`creating the Redis Cluster over ${ports.join(', ')}`);
    execFileSync(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...ports.map((p) => `127.0.0.1:${p}`),
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ],
      { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] },
    );
  }
  // Every node must agree the cluster is whole before a client is told it is ready.
  for (let i = 0; i < 300; i++) {
    if (ports.every((port) => clusterInfo(port).cluster_state === 'ok')) return clusterUrl(ports);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `The Redis Cluster on ${ports.join(', ')} is not in state ok; see .offerflow/redis-cluster/*/redis.log ` +
      '(remove that directory and stop the nodes to start over)',
  );
}
