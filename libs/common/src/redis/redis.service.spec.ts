import { Logger } from '@nestjs/common';
import { PrivateRedis } from '../../../../test/support/processes';
import { RedisService } from './redis.service';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Against the Redis this machine runs (as the relay e2e suites use): nothing here stops it. */
describe('RedisService.ping (the health probe)', () => {
  let redis: RedisService;

  beforeEach(() => {
    redis = new RedisService({ url: REDIS_URL });
  });
  afterEach(() => redis.onApplicationShutdown());

  it('should answer when every connection in use answers, a subscriber one included', async () => {
    const sub = redis.client('relay-sub');
    await sub.subscribe('mdai:test:redis-service-ping');
    redis.client('relay-pub');

    await expect(redis.ping()).resolves.toBeUndefined();
  });

  it('should fail, naming it, when one connection in use is not up even though the default one is', async () => {
    await redis.client().ping();
    const sub = redis.client('relay-sub');
    await sub.subscribe('mdai:test:redis-service-ping');
    sub.disconnect();

    await expect(redis.ping()).rejects.toThrow(/^connection relay-sub: /);
  });

  it('should open the default connection when nothing has been used yet', async () => {
    await expect(redis.ping()).resolves.toBeUndefined();
  });
});

describe('RedisService outage logging', () => {
  it('should log an outage once (not each reconnect attempt) and its end once', async () => {
    const own = await PrivateRedis.start();
    const redis = new RedisService({ url: own.url });
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const log = jest.spyOn(Logger.prototype, 'log');
    const messages = (spy: jest.SpyInstance) =>
      spy.mock.calls
        .map((call: unknown[]) => call[1])
        .filter((m) => /^Redis connection/.test(String(m)));
    try {
      const client = redis.client('relay-sub');
      await client.ping();
      let errors = 0;
      client.on('error', () => (errors += 1));
      await own.kill();
      // ioredis retries with a growing delay (50 ms, 100 ms, …): several failed attempts
      await until(() => errors >= 5);
      expect(messages(warn)).toEqual([
        'Redis connection relay-sub (relay subscriber) error: reconnecting (a line a minute while it lasts)',
      ]);
      expect(warn.mock.calls.find((call) => /^Redis/.test(String(call[1])))?.[0]).toMatchObject({
        connection: 'relay-sub',
        use: 'relay subscriber',
      });
      await own.restart();
      await until(() => client.status === 'ready');
      const back = 'Redis connection relay-sub (relay subscriber) is back';
      expect(messages(log)).toEqual([back]);
      expect(log.mock.calls.find((call) => call[1] === back)?.[0]).toEqual({
        connection: 'relay-sub',
        use: 'relay subscriber',
        errors: expect.any(Number),
      });
    } finally {
      warn.mockRestore();
      log.mockRestore();
      await redis.onApplicationShutdown();
      await own.kill();
    }
  }, 120_000);
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
}
