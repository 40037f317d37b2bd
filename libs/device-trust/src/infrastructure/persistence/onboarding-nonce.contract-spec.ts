import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { onboardingNonceAdapters } from './worker-persistence';

const now = new Date('2026-01-01T00:00:00Z');
const later = new Date('2026-01-01T00:10:00Z');

describeStoreContract('OnboardingNonceRepository', onboardingNonceAdapters, ({ sut }) => {
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
    expect(await sut().claim('d'.repeat(64), later, new Date('2026-01-01T00:09:59Z'))).toBe(false);
    expect(await sut().claim('d'.repeat(64), new Date('2026-01-01T00:20:00Z'), later)).toBe(true);
  });
});
