import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { onboardingNonceAdapters } from './worker-persistence';

const MINUTE = 60_000;

describeStoreContract('OnboardingNonceRepository', onboardingNonceAdapters, ({ sut }) => {
  // Dates relative to the wall clock: on MongoDB the TTL index on expiresAt deletes marks whose
  // expiry has passed in real time (a real mongod within a minute, the test server at once), so
  // a mark "valid until" a fixed date in the past would vanish mid-test.
  let now: Date;
  let later: Date;
  beforeEach(() => {
    now = new Date();
    later = new Date(now.getTime() + 10 * MINUTE);
  });

  it('should let a nonce be claimed once', async () => {
    expect(await sut().claim('a'.repeat(64), later, now)).toBe(true);
    expect(await sut().claim('a'.repeat(64), later, now)).toBe(false);
    expect(await sut().claim('b'.repeat(64), later, now)).toBe(true);
  });

  it('should let exactly one of concurrent claims win', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => sut().claim('c'.repeat(64), later, now)),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('should forget a nonce once it has expired', async () => {
    expect(await sut().claim('d'.repeat(64), later, now)).toBe(true);
    const justBefore = new Date(later.getTime() - 1000);
    expect(await sut().claim('d'.repeat(64), later, justBefore)).toBe(false);
    const afterExpiry = new Date(later.getTime() + 10 * MINUTE);
    expect(await sut().claim('d'.repeat(64), afterExpiry, later)).toBe(true);
  });

  it("should hold a mark for its window when the application's clock is behind the store's", async () => {
    // a skewed replica, or a controllable clock in tests: expiry in the store's past
    const appNow = new Date('2026-01-01T00:00:00Z');
    const appLater = new Date('2026-01-01T00:10:00Z');
    expect(await sut().claim('e'.repeat(64), appLater, appNow)).toBe(true);
    expect(await sut().claim('e'.repeat(64), appLater, new Date('2026-01-01T00:05:00Z'))).toBe(
      false,
    );
  });
});
