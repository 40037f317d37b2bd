import { ThrottlerStorageService } from '@nestjs/throttler';
import { LocalThrottlerStorage } from './local-throttler-storage';

describe('LocalThrottlerStorage', () => {
  let clock = 1_000_000;
  let sut: LocalThrottlerStorage;
  let library: ThrottlerStorageService;

  beforeEach(() => {
    clock = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => clock);
    sut = new LocalThrottlerStorage();
    library = new ThrottlerStorageService();
  });

  afterEach(() => {
    sut.onApplicationShutdown();
    library.onApplicationShutdown();
    jest.restoreAllMocks();
  });

  it('should answer every request as @nestjs/throttler’s in-memory storage does', async () => {
    // a random walk of requests on a few keys, with and without blocking, over several windows
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const keys = ['ip:a', 'ip:b', 'credential:c'];
    for (let i = 0; i < 5000; i++) {
      clock += Math.floor(random() * 60);
      const key = keys[Math.floor(random() * keys.length)];
      const block = key === 'ip:b' ? 0 : 2_000;
      const args = [key, 1_000, 12, block, key.split(':')[0]] as const;
      const expected = await library.increment(...args);
      const actual = await sut.increment(...args);
      expect([i, actual]).toEqual([i, expected]);
    }
  });

  it('should hold at most limit + 1 hits for a key that keeps asking', () => {
    for (let i = 0; i < 10_000; i++) sut.incrementNow('k', 60_000, 5, 60_000, 'ip', clock + i);
    const counters = (sut as unknown as { counters: Map<string, { hits: number[]; head: number }> })
      .counters;
    const c = counters.get('ip\nk')!;
    expect(c.hits.length - c.head).toBe(6);
  });

  it('should forget idle keys when swept', () => {
    sut.incrementNow('k', 1_000, 5, 1_000, 'ip', clock);
    sut.evictIdle(clock + 500);
    expect(sut.incrementNow('k', 1_000, 5, 1_000, 'ip', clock + 600).totalHits).toBe(2);
    sut.evictIdle(clock + 5_000);
    expect(sut.incrementNow('k', 1_000, 5, 1_000, 'ip', clock + 5_000).totalHits).toBe(1);
  });
});
