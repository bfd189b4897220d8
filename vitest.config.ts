import { defineConfig } from 'vitest/config';

// Two projects: `fast` is the README's test command; `slow` holds the kill/flush reliability
// suites and browser tests that CI runs separately.
export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: [
            'src/**/*.test.ts',
            'workers/**/*.test.ts',
            'test/integration/**/*.test.ts',
            'test/security/**/*.test.ts',
          ],
        },
      },
      {
        extends: true,
        test: {
          name: 'slow',
          // Added to the root's setup: the Redis Cluster the cluster suite runs on.
          globalSetup: ['test/helpers/redis-cluster-setup.ts'],
          include: ['test/slow/**/*.test.ts', 'test/browser/**/*.test.ts'],
          testTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
