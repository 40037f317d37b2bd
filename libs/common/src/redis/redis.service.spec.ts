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
