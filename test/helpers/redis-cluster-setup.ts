import { ensureRedisCluster } from '../../src/dev/redis-cluster.js';

/** The slow suite's Redis Cluster (three masters on loopback), started when down like the other services. */
export default async function setup(): Promise<void> {
  await ensureRedisCluster();
}
