import { Cluster, Redis } from 'ioredis';

/** A connection to a single Redis or to a Redis Cluster: BullMQ and our commands take either. */
export type RedisConnection = Redis | Cluster;

/** The nodes of a `redis+cluster://` (or `rediss+cluster://`) URL, or null for a plain Redis URL. */
export interface ClusterUrl {
  nodes: { host: string; port: number }[];
  username?: string;
  password?: string;
  tls: boolean;
}

const CLUSTER_URL = /^(rediss?)\+cluster:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?([^/?#]+)\/?$/;

/**
 * Reads `redis+cluster://[user:password@]host:port,host:port,…`: the seed nodes of a Redis
 * Cluster (any few masters; the client discovers the rest). `new URL` cannot hold several hosts,
 * so this is parsed here, the one place a connection is built.
 */
export function parseClusterUrl(url: string): ClusterUrl | null {
  const match = CLUSTER_URL.exec(url);
  if (!match) return null;
  const nodes = match[4]!.split(',').map((node) => {
    const at = node.lastIndexOf(':');
    const host = (at > 0 ? node.slice(0, at) : node).replace(/^\[|\]$/g, '');
    const port = at > 0 ? Number(node.slice(at + 1)) : 6379;
    if (!host || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new Error(`invalid Redis Cluster node "${node}" in REDIS_URL`);
    }
    return { host, port };
  });
  const decode = (value: string | undefined) => (value ? decodeURIComponent(value) : undefined);
  const username = decode(match[2]);
  const password = decode(match[3]);
  return {
    nodes,
    tls: match[1] === 'rediss',
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
  };
}

/**
 * A Redis connection as BullMQ wants it (no per-command retry limit, so blocking calls wait):
 * a Cluster client for a `redis+cluster://` URL, a plain one otherwise.
 */
export function createRedis(url: string): RedisConnection {
  const cluster = parseClusterUrl(url);
  if (!cluster)
    return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
  return new Cluster(cluster.nodes, {
    enableReadyCheck: true,
    redisOptions: {
      maxRetriesPerRequest: null,
      ...(cluster.username ? { username: cluster.username } : {}),
      ...(cluster.password ? { password: cluster.password } : {}),
      ...(cluster.tls ? { tls: {} } : {}),
    },
  });
}

/** Whether a connection is to a Redis Cluster. */
export const isCluster = (redis: RedisConnection): redis is Cluster => redis instanceof Cluster;

/**
 * On a cluster, every key a BullMQ script touches must hash to one slot, or Redis answers
 * CROSSSLOT mid-job. A `{tag}` in the prefix makes every key of every queue share the tag's
 * slot: refuse a prefix without one before any worker starts.
 */
export function assertClusterPrefix(redis: RedisConnection, prefix: string): void {
  if (!isCluster(redis) || /\{[^}]+\}/.test(prefix)) return;
  throw new Error(
    `QUEUE_PREFIX "${prefix}" has no hash tag, and REDIS_URL is a Redis Cluster: BullMQ's keys would ` +
      `spread over slots and its scripts fail with CROSSSLOT. Use a prefix with a hash tag, e.g. QUEUE_PREFIX={${prefix}}.`,
  );
}

/**
 * BullMQ loses jobs silently when Redis evicts keys: refuse to run unless the eviction policy
 * is `noeviction` (on every master of a cluster: any of them may hold the queues' slot).
 */
export async function assertNoEviction(redis: RedisConnection): Promise<void> {
  for (const node of await everyMaster(redis)) {
    const reply = (await node.config('GET', 'maxmemory-policy')) as string[];
    const policy = reply[1];
    if (policy !== 'noeviction') {
      const where = isCluster(redis) ? ` on ${node.options.host}:${node.options.port}` : '';
      throw new Error(
        `Redis maxmemory-policy is "${policy}"${where}; BullMQ needs "noeviction" or queued jobs may vanish. ` +
          'Set it with: redis-cli CONFIG SET maxmemory-policy noeviction (and in redis.conf).',
      );
    }
  }
}

/**
 * Each node that holds data: the master nodes of a cluster (once its slots are known), or the
 * one Redis. What is asked of the whole server (a setting, its memory) is asked of each.
 */
export async function everyMaster(redis: RedisConnection): Promise<Redis[]> {
  if (!isCluster(redis)) return [redis];
  const cluster = redis;
  if (cluster.status !== 'ready') {
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', resolve);
      cluster.once('error', reject);
    });
  }
  return cluster.nodes('master');
}

/** The memory the Redis server uses (`used_memory`), summed over the masters of a cluster. */
export async function usedMemoryBytes(redis: RedisConnection): Promise<number> {
  const infos = await Promise.all((await everyMaster(redis)).map((node) => node.info('memory')));
  return infos.reduce((sum, info) => sum + Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0), 0);
}
