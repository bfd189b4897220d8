import { DEFAULT_CLUSTER_PORTS, ensureRedisCluster } from '../src/dev/redis-cluster.js';

// Starts the local 3-master Redis Cluster (REDIS_CLUSTER_PORTS, default 7101,7102,7103) when it
// is down and prints its REDIS_URL: `REDIS_URL=$(npx tsx scripts/redis-cluster.ts)`.
const ports = process.env.REDIS_CLUSTER_PORTS
  ? process.env.REDIS_CLUSTER_PORTS.split(',').map(Number)
  : [...DEFAULT_CLUSTER_PORTS];
process.stdout.write(`${await ensureRedisCluster(ports)}\n`);
