import { TestingModule } from '@nestjs/testing';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthModule, ManualClock, MetricsModule } from '@app/common';
import { compileServiceModule } from '@app/api/testing/service-testing-module';
import { SessionRepository } from './infrastructure/persistence/session.repository';
import { SessionTokenService } from './session-token.service';
import { SessionModule } from './session.module';
import { SessionService } from './session.service';

const SECOND = 1000;
const WEEK = 7 * 24 * 3600 * SECOND;

/**
 * Session expiry by the injected clock: the real SessionModule on a real SQLite file, with a
 * clock that moves only when told to, so expiry is tested without waiting for it.
 */
describe('SessionService (expiry by the injected clock)', () => {
  let dataDir: string;
  let moduleRef: TestingModule;
  let sut: SessionService;
  let tokens: SessionTokenService;
  const clock = new ManualClock('2026-06-01T08:00:00.000Z');

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-session-'));
    moduleRef = await compileServiceModule({
      dataDir,
      env: { SESSION_TTL_SECONDS: '180' },
      clock,
      imports: [AuthModule, MetricsModule, SessionModule],
    });
    sut = moduleRef.get(SessionService);
    tokens = moduleRef.get(SessionTokenService);
  });
  afterAll(async () => {
    await moduleRef.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should set the deadline from the clock and refuse its tokens once the clock passes it', async () => {
    clock.set('2026-06-01T08:00:00.000Z');
    const { session, mobileToken, deviceToken } = await sut.openMobileSession('u1', 'PLT_1');
    expect(session.createdAt.toISOString()).toBe('2026-06-01T08:00:00.000Z');
    expect(session.expiresAt.toISOString()).toBe('2026-06-01T08:03:00.000Z');

    clock.advance(180 * SECOND - 2 * SECOND);
    expect(tokens.check(mobileToken, ['mobile'])).toMatchObject({ ok: true });
    expect(tokens.check(deviceToken, ['device'])).toMatchObject({ ok: true });

    clock.advance(2 * SECOND);
    expect(tokens.check(mobileToken, ['mobile'])).toMatchObject({
      ok: false,
      code: 'session_expired',
    });
    expect(tokens.check(deviceToken, ['device'])).toMatchObject({
      ok: false,
      code: 'session_expired',
    });
  });

  it('should keep an expired session for a week, then sweep it', async () => {
    clock.set('2026-06-02T08:00:00.000Z');
    const { token } = await sut.openLegacySession();
    const check = tokens.check(token, ['legacy']);
    if (!check.ok) throw new Error(check.message);

    clock.advance(180 * SECOND + WEEK - SECOND);
    await sut.sweep();
    expect(await sut.find(check.sessionId)).toBeDefined();

    clock.advance(2 * SECOND);
    expect(await sut.sweep()).toBeGreaterThanOrEqual(1);
    expect(await sut.find(check.sessionId)).toBeUndefined();
  });

  it('should sweep the week-old sessions even when dropping expired outcomes fails', async () => {
    clock.set('2026-06-03T08:00:00.000Z');
    const { token } = await sut.openLegacySession();
    const check = tokens.check(token, ['legacy']);
    if (!check.ok) throw new Error(check.message);
    clock.advance(180 * SECOND + WEEK + SECOND);
    const drop = jest
      .spyOn(moduleRef.get(SessionRepository), 'dropExpiredOutcomes')
      .mockRejectedValueOnce(new Error('store hiccup'));
    try {
      expect(await sut.sweep()).toBeGreaterThanOrEqual(1);
    } finally {
      drop.mockRestore();
    }
    expect(await sut.find(check.sessionId)).toBeUndefined();
  });

  it('should stamp a completed submission with the clock', async () => {
    clock.set('2026-06-03T09:30:00.000Z');
    const { session } = await sut.openMobileSession('u2', 'PLT_2');
    expect(await sut.claimSubmission(session.id)).toBe(true);
    clock.advance(5 * SECOND);
    await sut.completeSubmission(session.id, { status: 'success', statusCode: 200, latencyMs: 5 });
    const done = await sut.find(session.id);
    expect(done?.status).toBe('completed');
    expect(done?.completedAt?.toISOString()).toBe('2026-06-03T09:30:05.000Z');
  });
});
