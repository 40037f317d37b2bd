import { createHmac } from 'node:crypto';
import { AuthSettings, ManualClock } from '@app/common';
import { SessionTokenService } from './session-token.service';

const SECRET = 'session-token-spec-secret-'.padEnd(48, 'x');
const b64url = (value: object | Buffer): string =>
  (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');
const decode = (part: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

/** A JWT made here, without the service: header and claims as given, HMAC by `alg`. */
function forge(
  header: object,
  claims: object,
  secret = SECRET,
  hash: 'sha256' | 'sha512' = 'sha256',
): string {
  const signed = `${b64url(header)}.${b64url(claims)}`;
  return `${signed}.${b64url(createHmac(hash, secret).update(signed).digest())}`;
}

/**
 * The session tokens: HS256 only, the signature and expiry checked (expiry by the injected
 * clock), each token opening only its own socket. `@nestjs/jwt` is loaded at the first token
 * (the service's own `require`), so these also run that path.
 */
describe('SessionTokenService', () => {
  const clock = new ManualClock('2026-06-01T08:00:00.000Z');
  const auth: AuthSettings = {
    jwtSecret: SECRET,
    apiKeys: { admin: [], provisioner: [], auditor: [], mobile: [], hardware: [] },
  };
  const sut = new SessionTokenService(auth, clock);
  const expiresAt = new Date('2026-06-01T08:03:00.000Z');
  const exp = expiresAt.getTime() / 1000;

  beforeEach(() => clock.set('2026-06-01T08:00:00.000Z'));

  it('should issue an HS256 JWT of {sid, typ, jti, exp, iat}, signed with the secret', () => {
    const token = sut.issue('S-1', 'mobile', expiresAt);
    const [header, claims, signature] = token.split('.');
    expect(decode(header)).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(decode(claims)).toEqual({
      sid: 'S-1',
      typ: 'mobile',
      jti: expect.any(String),
      exp,
      iat: expect.any(Number), // jsonwebtoken's issued-at (system time)
    });
    expect(signature).toBe(
      createHmac('sha256', SECRET).update(`${header}.${claims}`).digest('base64url'),
    );
    // a legacy token pairs by jti: it is the session id
    expect(decode(sut.issue('S-2', 'legacy', expiresAt).split('.')[1]).jti).toBe('S-2');
  });

  it('should accept its own token for the expected socket and give the session and deadline', () => {
    expect(sut.check(sut.issue('S-1', 'device', expiresAt), ['device'])).toEqual({
      ok: true,
      sessionId: 'S-1',
      type: 'device',
      expiresAt,
    });
    // one made the same way elsewhere with the same secret is the same token
    const made = forge(
      { alg: 'HS256', typ: 'JWT' },
      { sid: 'S-9', typ: 'legacy', jti: 'S-9', exp },
    );
    expect(sut.check(made, ['legacy'])).toMatchObject({ ok: true, sessionId: 'S-9' });
  });

  it('should refuse a token of another type as wrong_token_type', () => {
    expect(sut.check(sut.issue('S-1', 'device', expiresAt), ['mobile'])).toMatchObject({
      ok: false,
      code: 'wrong_token_type',
    });
  });

  it('should judge expiry by the injected clock', () => {
    const token = sut.issue('S-1', 'mobile', expiresAt);
    clock.set('2026-06-01T08:02:59.000Z');
    expect(sut.check(token, ['mobile'])).toMatchObject({ ok: true });
    clock.set('2026-06-01T08:03:00.000Z');
    expect(sut.check(token, ['mobile'])).toEqual({
      ok: false,
      code: 'session_expired',
      message: 'The session token has expired',
    });
    // long past by the system's time, not yet by the injected clock
    const old = sut.issue('S-2', 'mobile', new Date('2020-01-01T00:00:00.000Z'));
    clock.set('2019-12-31T23:59:00.000Z');
    expect(sut.check(old, ['mobile'])).toMatchObject({ ok: true, sessionId: 'S-2' });
  });

  it('should refuse a tampered, re-signed, unsigned or other-algorithm token as not_authenticated', () => {
    const token = sut.issue('S-1', 'mobile', expiresAt);
    const [header, claims, signature] = token.split('.');
    const refused = {
      ok: false,
      code: 'not_authenticated',
      message: 'The session token is not valid',
    };
    const forgedClaims = b64url({ ...decode(claims), sid: 'S-2' });
    const flipped = Buffer.from(signature, 'base64url');
    flipped[0] ^= 1;
    for (const bad of [
      `${header}.${forgedClaims}.${signature}`, // claims changed, signature kept
      `${header}.${claims}.${b64url(flipped)}`, // signature changed
      `${header}.${claims}.`, // signature dropped
      forge({ alg: 'HS256', typ: 'JWT' }, decode(claims), 'another-secret'.padEnd(48, 'y')),
      // alg "none" with no signature, and with this token's signature
      `${b64url({ alg: 'none', typ: 'JWT' })}.${claims}.`,
      `${b64url({ alg: 'none', typ: 'JWT' })}.${claims}.${signature}`,
      // the same secret, another HMAC: only HS256 is accepted
      forge({ alg: 'HS512', typ: 'JWT' }, decode(claims), SECRET, 'sha512'),
      // an HS256 signature under a header claiming another algorithm
      `${b64url({ alg: 'HS512', typ: 'JWT' })}.${claims}.${signature}`,
      'not.a.jwt',
      'garbage',
    ]) {
      expect(sut.check(bad, ['mobile'])).toEqual(refused);
    }
  });

  it('should refuse a missing or oversized token without parsing it', () => {
    const missing = { ok: false, code: 'not_authenticated' };
    expect(sut.check(undefined, ['mobile'])).toMatchObject(missing);
    expect(sut.check(null, ['mobile'])).toMatchObject(missing);
    expect(sut.check('', ['mobile'])).toMatchObject(missing);
    expect(sut.check('a'.repeat(4097), ['mobile'])).toMatchObject(missing);
  });
});
