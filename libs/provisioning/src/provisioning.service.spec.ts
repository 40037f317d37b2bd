import { TestingModule } from '@nestjs/testing';
import { Logger } from '@nestjs/common';
import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthModule, ManualClock, MetricsModule, Principal, storageErrorOf } from '@app/common';
import { compileServiceModule } from '@app/api/testing/service-testing-module';
import { KioskRegistryService } from '@app/kiosk-registry';
import { ProvisioningModule } from './provisioning.module';
import { ProvisioningService } from './provisioning.service';
import { ProvisioningError } from './provisioning.errors';
import { WifiChallengeRepository } from './infrastructure/persistence/wifi-challenge.repository';

const SECOND = 1000;
const ADMIN: Principal = { roles: ['admin'], keyId: 'spec' };

/**
 * Challenge expiry by the injected clock: the real ProvisioningModule on a real SQLite file,
 * with a clock that moves only when told to, so a 10-minute TTL is tested without waiting.
 */
describe('ProvisioningService (expiry by the injected clock)', () => {
  let dataDir: string;
  let moduleRef: TestingModule;
  let sut: ProvisioningService;
  const clock = new ManualClock('2026-06-01T08:00:00.000Z');
  const kiosk = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const answerOf = (challenge: string) =>
    privateDecrypt(
      { key: kiosk.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(challenge, 'base64'),
    ).toString('base64');

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-provisioning-'));
    moduleRef = await compileServiceModule({
      dataDir,
      env: { CHALLENGE_TTL_SECONDS: '600' },
      clock,
      imports: [AuthModule, MetricsModule, ProvisioningModule],
    });
    sut = moduleRef.get(ProvisioningService);
    await moduleRef
      .get(KioskRegistryService)
      .register(
        'TEE-CLOCK-1',
        kiosk.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        ADMIN,
      );
  });
  afterAll(async () => {
    await moduleRef.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should wait until the TTL passes by the clock, then call the challenge expired', async () => {
    clock.set('2026-06-01T08:00:00.000Z');
    const issued = await sut.generate('TEE-CLOCK-1', 'site-wifi', 'hunter2-long', ADMIN);
    expect(issued.expiresAt.toISOString()).toBe('2026-06-01T08:10:00.000Z');

    clock.advance(600 * SECOND - SECOND);
    expect((await sut.state(issued.id)).state).toBe('waiting');
    clock.advance(SECOND);
    expect((await sut.state(issued.id)).state).toBe('expired');

    const late = await sut.validate(issued.id, answerOf(issued.challenge)).catch((e) => e);
    expect(late).toBeInstanceOf(ProvisioningError);
    expect(late).toMatchObject({ code: 'challenge_expired' });
  });

  it('should release the credentials one second before expiry', async () => {
    clock.set('2026-06-02T08:00:00.000Z');
    const issued = await sut.generate('TEE-CLOCK-1', 'site-wifi', 'hunter2-long', ADMIN);
    clock.advance(600 * SECOND - SECOND);
    await expect(sut.validate(issued.id, answerOf(issued.challenge))).resolves.toEqual({
      ssid: 'site-wifi',
      password: 'hunter2-long',
    });
    expect((await sut.state(issued.id)).usedAt?.toISOString()).toBe('2026-06-02T08:09:59.000Z');
  });

  it('should keep an expired challenge for a day, then sweep it', async () => {
    clock.set('2026-06-03T08:00:00.000Z');
    const issued = await sut.generate('TEE-CLOCK-1', 'site-wifi', 'hunter2-long', ADMIN);
    clock.advance(600 * SECOND + 24 * 3600 * SECOND - SECOND);
    await sut.sweep();
    expect((await sut.state(issued.id)).state).toBe('expired');
    clock.advance(2 * SECOND);
    expect(await sut.sweep()).toBeGreaterThanOrEqual(1);
    await expect(sut.state(issued.id)).rejects.toMatchObject({ code: 'challenge_not_found' });
  });
});

/**
 * The kiosk's record is read again once the challenge is marked used; a store error on that
 * read releases nothing, so the challenge is given back (the kiosk tries again) and the
 * store's error goes to the client (503 storage_unavailable), never a spent QR for nothing.
 * The real module on a real SQLite file; the fault is the kiosk read's, on its second call.
 */
describe('ProvisioningService (a store error after the challenge is marked used)', () => {
  let dataDir: string;
  let moduleRef: TestingModule;
  let sut: ProvisioningService;
  let kiosks: KioskRegistryService;
  const clock = new ManualClock('2026-06-01T08:00:00.000Z');
  const kiosk = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const answerOf = (challenge: string) =>
    privateDecrypt(
      { key: kiosk.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(challenge, 'base64'),
    ).toString('base64');
  const ioError = () => Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_READ' });
  /** The kiosk read fails from its `nth` call on (1 = the first), `times` times. */
  const failKioskRead = (nth: number, times = 1) => {
    const real = kiosks.find.bind(kiosks);
    let calls = 0;
    return jest.spyOn(kiosks, 'find').mockImplementation(async (id) => {
      calls += 1;
      if (calls >= nth && calls < nth + times) throw ioError();
      return real(id);
    });
  };

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'mdai-provisioning-'));
    moduleRef = await compileServiceModule({
      dataDir,
      clock,
      imports: [AuthModule, MetricsModule, ProvisioningModule],
    });
    sut = moduleRef.get(ProvisioningService);
    kiosks = moduleRef.get(KioskRegistryService);
    await kiosks.register(
      'TEE-FAULT-1',
      kiosk.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      ADMIN,
    );
  });
  afterEach(() => jest.restoreAllMocks());
  afterAll(async () => {
    await moduleRef.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('should give the challenge back and answer the store error when the re-read fails, then redeem it once', async () => {
    const issued = await sut.generate('TEE-FAULT-1', 'site-wifi', 'hunter2-long', ADMIN);
    const answer = answerOf(issued.challenge);
    failKioskRead(2);
    const failed = await sut.validate(issued.id, answer).catch((e: unknown) => e);
    expect(failed).toMatchObject({ code: 'SQLITE_IOERR_READ' });
    expect(storageErrorOf(failed)?.code).toBe('storage_unavailable');
    expect(await sut.state(issued.id)).toMatchObject({ state: 'waiting', usedAt: undefined });
    jest.restoreAllMocks();

    await expect(sut.validate(issued.id, answer)).resolves.toEqual({
      ssid: 'site-wifi',
      password: 'hunter2-long',
    });
    await expect(sut.validate(issued.id, answer)).rejects.toMatchObject({
      code: 'challenge_used',
    });
  });

  it('should keep the challenge spent (never released) when giving it back fails too', async () => {
    const issued = await sut.generate('TEE-FAULT-1', 'site-wifi', 'hunter2-long', ADMIN);
    failKioskRead(2);
    const challenges = moduleRef.get(WifiChallengeRepository);
    jest.spyOn(challenges, 'unmarkUsed').mockRejectedValue(ioError());
    await expect(sut.validate(issued.id, answerOf(issued.challenge))).rejects.toMatchObject({
      code: 'challenge_spent_unreleased',
    });
    expect((await sut.state(issued.id)).state).toBe('used');
  });

  it('should log a warning when the challenge cannot be given back because its row changed', async () => {
    const issued = await sut.generate('TEE-FAULT-1', 'site-wifi', 'hunter2-long', ADMIN);
    failKioskRead(2);
    const challenges = moduleRef.get(WifiChallengeRepository);
    jest.spyOn(challenges, 'unmarkUsed').mockResolvedValue(false);
    const warn = jest.spyOn(Logger.prototype, 'warn');
    await expect(sut.validate(issued.id, answerOf(issued.challenge))).rejects.toMatchObject({
      code: 'challenge_spent_unreleased',
    });
    expect((await sut.state(issued.id)).state).toBe('used');
    const lines = warn.mock.calls.map((args) => JSON.stringify(args));
    expect(lines.filter((l) => l.includes('could not be given back'))).toHaveLength(1);
    expect(lines.join('\n')).not.toContain('hunter2-long');
  });
});
