import { TestingModule } from '@nestjs/testing';
import { constants, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuthModule, ManualClock, MetricsModule, Principal } from '@app/common';
import { compileServiceModule } from '@app/api/testing/service-testing-module';
import { KioskRegistryService } from '@app/kiosk-registry';
import { ProvisioningModule } from './provisioning.module';
import { ProvisioningService } from './provisioning.service';
import { ProvisioningError } from './provisioning.errors';

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
