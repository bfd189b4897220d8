import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { assertClusterPrefix, createRedis, isCluster, parseClusterUrl } from './connection.js';

describe('Redis Cluster URLs', () => {
  it('reads the seed nodes, credentials and TLS of a redis+cluster URL', () => {
    expect(parseClusterUrl('redis+cluster://127.0.0.1:7101,127.0.0.1:7102,[::1]:7103')).toEqual({
      nodes: [
        { host: '127.0.0.1', port: 7101 },
        { host: '127.0.0.1', port: 7102 },
        { host: '::1', port: 7103 },
      ],
      tls: false,
    });
    expect(parseClusterUrl('rediss+cluster://app:p%40ss@r1.internal:6380/')).toEqual({
      nodes: [{ host: 'r1.internal', port: 6380 }],
      username: 'app',
      password: 'p@ss',
      tls: true,
    });
    expect(parseClusterUrl('redis://127.0.0.1:6379')).toBeNull();
  });

  it('config accepts a cluster URL and names REDIS_URL for a bad one', () => {
    const url = 'redis+cluster://127.0.0.1:7101,127.0.0.1:7102';
    expect(loadConfig({ REDIS_URL: url }).REDIS_URL).toBe(url);
    expect(() => loadConfig({ REDIS_URL: 'redis+cluster://127.0.0.1' })).toThrow(/REDIS_URL/);
    expect(() => loadConfig({ REDIS_URL: 'redis+cluster://a:1,,b:2' })).toThrow(/REDIS_URL/);
  });

  it('a cluster client refuses a prefix without a hash tag; a plain Redis takes any', () => {
    const cluster = createRedis('redis+cluster://127.0.0.1:1');
    const plain = createRedis('redis://127.0.0.1:1');
    plain.on('error', () => {});
    cluster.on('error', () => {});
    try {
      expect(isCluster(cluster)).toBe(true);
      expect(() => assertClusterPrefix(cluster, 'offerflow')).toThrow(/QUEUE_PREFIX=\{offerflow\}/);
      expect(() => assertClusterPrefix(cluster, '{offerflow}')).not.toThrow();
      expect(() => assertClusterPrefix(cluster, 'acme:{offerflow}')).not.toThrow();
      expect(() => assertClusterPrefix(plain, 'offerflow')).not.toThrow();
    } finally {
      cluster.disconnect();
      plain.disconnect();
    }
  });
});
