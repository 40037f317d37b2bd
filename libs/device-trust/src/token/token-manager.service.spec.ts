import { ManualClock } from '@app/common';
import { generateOfflineTokenKey, offlineTokenConfig } from '../offline-token.config';
import { SigningKeyService } from './signing-key.service';
import { TokenManager } from './token-manager.service';

function configWith(pem: string) {
  return offlineTokenConfig.read({ OFFLINE_TOKEN_PRIVATE_KEY: pem, OFFLINE_TOKEN_TTL_DAYS: '30' });
}

describe('TokenManager', () => {
  const config = configWith(generateOfflineTokenKey());
  const sut = new TokenManager(new SigningKeyService(config), config, new ManualClock());
  const subject = { deviceId: 'd1', workerId: 'w1', siteIds: ['s1', 's2'] };
  const now = new Date('2026-01-01T00:00:00Z');

  it('should issue a token that verifies inside its window with the claims it was given', () => {
    const { token, claims } = sut.issue(subject, now);
    const check = sut.verify(token, new Date('2026-01-15T00:00:00Z'));
    expect(check).toEqual({ ok: true, claims });
    expect(claims).toMatchObject({ ...subject, notBefore: now });
    expect(claims.expiresAt).toEqual(new Date('2026-01-31T00:00:00Z'));
  });

  it('should refuse expired, not-yet-valid, tampered and foreign tokens', () => {
    const { token } = sut.issue(subject, now);
    expect(sut.verify(token, new Date('2026-02-01T00:00:00Z'))).toEqual({
      ok: false,
      failure: 'expired',
    });
    expect(sut.verify(token, new Date('2025-12-31T00:00:00Z'))).toEqual({
      ok: false,
      failure: 'not_yet_valid',
    });
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const widened = Buffer.from(JSON.stringify({ ...claims, siteIds: ['*'] })).toString(
      'base64url',
    );
    expect(sut.verify(`${h}.${widened}.${s}`, now).ok).toBe(false);
    const other = configWith(generateOfflineTokenKey());
    const foreign = new TokenManager(new SigningKeyService(other), other, new ManualClock()).issue(
      subject,
      now,
    );
    expect(sut.verify(foreign.token, now)).toEqual({ ok: false, failure: 'bad_signature' });
    expect(sut.verify('a.b', now)).toEqual({ ok: false, failure: 'malformed' });
  });

  it('should refuse a token signed with our key but of another type', () => {
    const key = new SigningKeyService(config);
    const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: key.kid })).toString(
      'base64url',
    );
    const payload = Buffer.from(
      JSON.stringify({ iss: 'mdai', typ: 'session', deviceId: 'd1', nbf: 0, exp: 2e9 }),
    ).toString('base64url');
    const signature = key.sign(`${header}.${payload}`).toString('base64url');
    expect(sut.verify(`${header}.${payload}.${signature}`, now)).toEqual({
      ok: false,
      failure: 'wrong_type',
    });
  });

  it("should refuse a token our key signed whose lifetime is not one we issue (a stolen key's long-lived token)", () => {
    const key = new SigningKeyService(config);
    const { token } = sut.issue(subject, now);
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    const header = token.split('.')[0];
    const signed = (payload: object) => {
      const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
      return `${header}.${body}.${key.sign(`${header}.${body}`, now).toString('base64url')}`;
    };
    const at = new Date('2026-01-15T00:00:00Z');
    // as issued: valid
    expect(sut.verify(signed(claims), at).ok).toBe(true);
    const day = 86_400;
    for (const [what, payload] of [
      ['lasting past a year', { ...claims, exp: claims.iat + 366 * day }],
      ['valid before its issuing', { ...claims, nbf: claims.iat - day }],
      ['without iat', { ...claims, iat: undefined }],
      ['expiring before its issuing', { ...claims, exp: claims.iat - 1 }],
    ] as const) {
      expect([what, sut.verify(signed(payload), at)]).toEqual([
        what,
        { ok: false, failure: 'malformed' },
      ]);
    }
  });

  it('should issue and expire by the injected clock when no time is given', () => {
    const clock = new ManualClock('2026-03-01T06:00:00.000Z');
    const byClock = new TokenManager(new SigningKeyService(config), config, clock);
    const { token, claims } = byClock.issue(subject);
    expect(claims.notBefore).toEqual(new Date('2026-03-01T06:00:00.000Z'));
    expect(claims.expiresAt).toEqual(new Date('2026-03-31T06:00:00.000Z'));

    clock.advance(30 * 86_400_000 - 1000);
    expect(byClock.verify(token)).toEqual({ ok: true, claims });
    clock.advance(1000);
    expect(byClock.verify(token)).toEqual({ ok: false, failure: 'expired' });
    // the skew widens the window at both ends
    expect(byClock.verify(token, undefined, 60).ok).toBe(true);
    clock.set('2026-03-01T05:59:00.000Z');
    expect(byClock.verify(token)).toEqual({ ok: false, failure: 'not_yet_valid' });
  });
});
