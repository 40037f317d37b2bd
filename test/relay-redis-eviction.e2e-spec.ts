import { PrivateRedis } from './support/processes';
import { http, pollUntil, startTestApp, TestApp } from './support/test-app';

const PASSWORD = 'eviction-spec-redis-pw';
const WARNING = /Redis maxmemory-policy is allkeys-lru: it may evict the relay slot store's run/;

/**
 * A Redis whose maxmemory-policy may evict keys without a TTL (allkeys-*) evicts the relay slot
 * store's run and epoch keys now and then, and each eviction holds free slots back for one slot
 * TTL: said once in the log and in /health (not degraded), never with the Redis password.
 */
describe('Redis maxmemory-policy (e2e)', () => {
  const started: { redis: PrivateRedis; app: TestApp }[] = [];

  async function appOn(args: string[]) {
    const redis = await PrivateRedis.start({ args: ['--requirepass', PASSWORD, ...args] });
    const app = await startTestApp({
      REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${redis.port}`,
    });
    started.push({ redis, app });
    return app;
  }

  afterAll(async () => {
    for (const { redis, app } of started) {
      await app.close();
      await redis.kill();
    }
  });

  it('should warn once and report allkeys-lru in /health, not degraded', async () => {
    const t = await appOn(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    await pollUntil(
      () => Promise.resolve(WARNING.test(t.logs())),
      (warned) => warned,
    );
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.info.redis).toMatchObject({
      status: 'up',
      maxmemoryPolicy: 'allkeys-lru',
      maxmemory: String(64 * 1024 * 1024),
      warning: expect.stringMatching(/noeviction \(or a volatile-\* policy\)/),
    });
    expect((await http(t.baseUrl, 'GET', '/health')).body).toEqual({ status: 'ok' });
    const lines = t.logs().split('\n');
    expect(lines.filter((line) => WARNING.test(line))).toHaveLength(1);
    expect(t.logs()).not.toContain(PASSWORD);
  });

  it('should report noeviction without a warning', async () => {
    const t = await appOn(['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction']);
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.info.redis).toEqual({
      status: 'up',
      maxmemoryPolicy: 'noeviction',
      maxmemory: String(64 * 1024 * 1024),
    });
    expect(t.logs()).not.toMatch(/maxmemory-policy is/);
  });

  it('should say unknown, up, when the Redis forbids CONFIG', async () => {
    const t = await appOn(['--rename-command', 'CONFIG', '""']);
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.info.redis).toEqual({
      status: 'up',
      maxmemoryPolicy: 'unknown',
      maxmemory: 'unknown',
    });
  });
});
