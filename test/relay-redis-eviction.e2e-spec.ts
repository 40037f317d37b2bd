import Redis from 'ioredis';
import { RedisService } from '@app/common';
import { PrivateRedis } from './support/processes';
import { http, pollUntil, startTestApp, TestApp } from './support/test-app';

const PASSWORD = 'eviction-spec-redis-pw';
const MAXMEMORY = String(64 * 1024 * 1024);
const warningOf = (policy: string) =>
  new RegExp(`Redis maxmemory-policy is ${policy} \\(maxmemory`);
const FIX = /; set maxmemory-policy to noeviction$/;

/**
 * A Redis with a `maxmemory` whose maxmemory-policy is not `noeviction` evicts MDAI's keys under
 * memory pressure: `volatile-*` the keys with a TTL (the live relay slots, the legacy apps' used
 * marks, the rate-limit counters), `allkeys-*` those and the relay slot store's run and epoch
 * (each eviction holds free slots back for one slot TTL). Said once in the log and in /health
 * (not degraded), never with the Redis password; nothing with `maxmemory` 0 (Redis then never
 * evicts). The policy is read at connect, never by a /health probe.
 */
describe('Redis maxmemory-policy (e2e)', () => {
  const started: { redis: PrivateRedis; app: TestApp; admin: Redis }[] = [];

  async function appOn(args: string[]) {
    const redis = await PrivateRedis.start({ args: ['--requirepass', PASSWORD, ...args] });
    const app = await startTestApp({
      REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${redis.port}`,
    });
    const admin = new Redis(`redis://:${PASSWORD}@127.0.0.1:${redis.port}`);
    started.push({ redis, app, admin });
    return { t: app, admin };
  }

  /** The CONFIG calls the Redis ran (its INFO commandstats). */
  async function configCalls(admin: Redis): Promise<number> {
    const info = await admin.info('commandstats');
    let calls = 0;
    // Redis 7 counts each subcommand apart (cmdstat_config|get)
    for (const match of info.matchAll(/^cmdstat_config(?:\|[a-z]+)?:calls=(\d+)/gm))
      calls += Number(match[1]);
    return calls;
  }

  /** Both connect-time reads (the relay bus's and the health connection's) done. */
  async function policyRead(t: TestApp, admin: Redis) {
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    const calls = await pollUntil(
      () => configCalls(admin),
      (n) => n >= 4,
    );
    expect(calls).toBeGreaterThanOrEqual(4);
    return health;
  }

  afterAll(async () => {
    for (const { redis, app, admin } of started) {
      admin.disconnect();
      await app.close();
      await redis.kill();
    }
  });

  it('should warn once and report allkeys-lru in /health, not degraded', async () => {
    const { t } = await appOn(['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru']);
    await pollUntil(
      () => Promise.resolve(warningOf('allkeys-lru').test(t.logs())),
      (warned) => warned,
    );
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.info.redis).toMatchObject({
      status: 'up',
      maxmemoryPolicy: 'allkeys-lru',
      maxmemory: MAXMEMORY,
      warning: expect.stringMatching(FIX),
    });
    expect(health.body.info.redis.warning).toMatch(/run and epoch/);
    expect(health.body.info.redis.warning).not.toMatch(/volatile/);
    expect((await http(t.baseUrl, 'GET', '/health')).body).toEqual({ status: 'ok' });
    const lines = t.logs().split('\n');
    expect(lines.filter((line) => warningOf('allkeys-lru').test(line))).toHaveLength(1);
    expect(t.logs()).not.toContain(PASSWORD);
  });

  it('should warn of volatile-lru, which evicts the live slots and used marks (keys with a TTL)', async () => {
    const { t } = await appOn(['--maxmemory', '64mb', '--maxmemory-policy', 'volatile-lru']);
    await pollUntil(
      () => Promise.resolve(warningOf('volatile-lru').test(t.logs())),
      (warned) => warned,
    );
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.info.redis).toMatchObject({
      status: 'up',
      maxmemoryPolicy: 'volatile-lru',
      maxmemory: MAXMEMORY,
      warning: expect.stringMatching(FIX),
    });
    expect(health.body.info.redis.warning).toMatch(/keys with a TTL.*live slot keys.*used marks/);
    const lines = t.logs().split('\n');
    expect(lines.filter((line) => warningOf('volatile-lru').test(line))).toHaveLength(1);
    expect(t.logs()).not.toContain(PASSWORD);
  });

  it('should not warn of allkeys-lru without a maxmemory (Redis then evicts nothing)', async () => {
    const { t, admin } = await appOn(['--maxmemory-policy', 'allkeys-lru']);
    const health = await policyRead(t, admin);
    expect(health.body.info.redis).toEqual({
      status: 'up',
      maxmemoryPolicy: 'allkeys-lru',
      maxmemory: '0',
    });
    // the relay bus's read answered: a warning would be in the log by now
    expect((await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin })).status).toBe(200);
    expect(t.logs()).not.toMatch(/maxmemory-policy is/);
  });

  it('should report noeviction without a warning, read at connect: no CONFIG per /health probe', async () => {
    const { t, admin } = await appOn(['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction']);
    const health = await policyRead(t, admin);
    expect(health.body.info.redis).toEqual({
      status: 'up',
      maxmemoryPolicy: 'noeviction',
      maxmemory: MAXMEMORY,
    });
    expect(t.logs()).not.toMatch(/maxmemory-policy is/);

    const before = await configCalls(admin);
    for (let i = 0; i < 5; i++)
      expect((await http(t.baseUrl, 'GET', '/health')).body).toEqual({ status: 'ok' });
    expect(await configCalls(admin)).toBe(before);
    // an admin's detailed answer reads the value read at connect, too
    for (let i = 0; i < 3; i++) {
      const again = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
      expect(again.body.info.redis.maxmemoryPolicy).toBe('noeviction');
    }
    expect(await configCalls(admin)).toBe(before);
  });

  /** The policy an admin's /health shows, asked until it is `policy` (or a minute went by). */
  const shownPolicy = (t: TestApp, policy: string) =>
    pollUntil(
      async () =>
        (await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin })).body.info.redis
          .maxmemoryPolicy as string,
      (shown) => shown === policy,
    );

  it("should show a policy changed by CONFIG SET once the relay bus's connection reconnects", async () => {
    const { t, admin } = await appOn(['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction']);
    await policyRead(t, admin);
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    // the relay publisher's connection cut (the health connection untouched): it reconnects,
    // and the bus's connect-time read is what /health shows from then on
    const clients = await admin.client('LIST');
    const pub = /^id=(\d+) .*name=mdai-relay-pub /m.exec(String(clients));
    expect(pub).not.toBeNull();
    await admin.client('KILL', 'ID', pub![1]);
    expect(await shownPolicy(t, 'allkeys-lru')).toBe('allkeys-lru');
    await pollUntil(
      () => Promise.resolve(warningOf('allkeys-lru').test(t.logs())),
      (warned) => warned,
    );
    expect(t.logs()).toMatch(warningOf('allkeys-lru'));
  });

  it('should read the policy again, in the background of a probe, once the read is older than its age limit', async () => {
    const { t, admin } = await appOn(['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction']);
    await policyRead(t, admin);
    await admin.config('SET', 'maxmemory-policy', 'volatile-lru');
    // no connection cut: the read is refreshed by age (EVICTION_POLICY_MAX_AGE_MS, 5 minutes,
    // taken down to nothing here rather than waited for)
    t.app.get(RedisService).policyMaxAgeMs = 0;
    expect(await shownPolicy(t, 'volatile-lru')).toBe('volatile-lru');
  });

  it('should not read the policy again at each probe after a background read got no answer in time', async () => {
    const { t, admin } = await appOn(['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction']);
    await policyRead(t, admin);
    const redis = t.app.get(RedisService);
    // the read taken as older than its age limit (one minute here), without waiting for it
    redis.policyMaxAgeMs = 60_000;
    (redis as unknown as { policyAt: number }).policyAt = 0;
    const before = await configCalls(admin);
    // the Redis holds every command past the read's time bound: the background read a probe's
    // call starts gets no answer (called here, not by /health, whose PING would be held first)
    await admin.client('PAUSE', 3000, 'ALL');
    await redis.evictionPolicy();
    const afterFirst = await pollUntil(
      () => configCalls(admin),
      (n) => n >= before + 2,
    );
    expect(afterFirst).toBe(before + 2);
    // the next probes start no read: the default connection's PING after them is answered
    // after any CONFIG they would have sent
    await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    await redis.evictionPolicy();
    await redis.client().ping();
    expect(await configCalls(admin)).toBe(afterFirst);
  });

  it('should say unknown, up, when the Redis forbids CONFIG', async () => {
    const { t } = await appOn(['--rename-command', 'CONFIG', '""']);
    const health = await http(t.baseUrl, 'GET', '/health', { key: t.keys.admin });
    expect(health.status).toBe(200);
    expect(health.body.info.redis).toEqual({
      status: 'up',
      maxmemoryPolicy: 'unknown',
      maxmemory: 'unknown',
    });
  });
});
