import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('points at local services by default', () => {
    const config = loadConfig({});
    expect(config.DATABASE_URL).toMatch(/^postgres:\/\/.*127\.0\.0\.1:5432/);
    expect(config.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(config.PORT).toBe(3000);
    expect(config.PUBLIC_URL).toBe('http://localhost:3000');
  });

  it('names the variable that is wrong, and why', () => {
    expect(() => loadConfig({ PORT: 'eighty', REDIS_URL: 'http://x' })).toThrow(ConfigError);
    try {
      loadConfig({ PORT: 'eighty', REDIS_URL: 'http://x', OFFERFLOW_SECRET: 'short' });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain('PORT');
      expect(message).toContain('REDIS_URL: must be a URL starting with redis://');
      expect(message).toContain('OFFERFLOW_SECRET: must be at least 32 characters');
    }
  });

  it('strips a trailing slash from PUBLIC_URL', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://crm.example.com/' }).PUBLIC_URL).toBe('https://crm.example.com');
  });

  it('refuses to start in production unless PUBLIC_URL is https, saying why', () => {
    for (const env of [{ NODE_ENV: 'production' }, { OFFERFLOW_ENV: 'production' }]) {
      expect(() => loadConfig({ ...env, PUBLIC_URL: 'http://crm.example.com' })).toThrow(
        /PUBLIC_URL: must be an https:\/\/ URL in production/,
      );
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(loadConfig({ ...env, PUBLIC_URL: 'https://crm.example.com' }).PUBLIC_URL).toBe(
        'https://crm.example.com',
      );
    }
    expect(loadConfig({ NODE_ENV: 'development', PUBLIC_URL: 'http://crm.example.com' }).PUBLIC_URL).toBe(
      'http://crm.example.com',
    );
  });

  it('wants all three DKIM settings or none', () => {
    expect(() => loadConfig({ DKIM_DOMAIN: 'shop.example' })).toThrow(
      /DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY/,
    );
  });
});
