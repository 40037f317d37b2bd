import { Inject, Injectable } from '@nestjs/common';
import type { JwtService } from '@nestjs/jwt';
import { randomUUID } from 'node:crypto';
import { AccessDoc, authConfig, AuthSettings, Clock } from '@app/common';

/** Which socket path a token opens. Checked on every connection. */
export type SessionTokenType = 'mobile' | 'device' | 'legacy';

interface SessionClaims {
  sid: string;
  typ: SessionTokenType;
  jti: string;
  exp: number;
}

export type TokenCheck =
  | { ok: true; sessionId: string; type: SessionTokenType; expiresAt: Date }
  | {
      ok: false;
      code: 'not_authenticated' | 'wrong_token_type' | 'session_expired';
      message: string;
    };

/**
 * Short-lived HS256 JWTs bound to a session id. None carries the platform id. The phone's
 * token opens only /ws/mobile, the QR's only /ws/device, so whoever photographs the QR cannot
 * pose as the phone. Legacy tokens (`/auth`) open /ws/app and /ws/hardware and pair by `jti`.
 */

/** What `check` refuses a session token with, on a route that takes the mobile token as Bearer. */
export const SESSION_TOKEN_ACCESS: AccessDoc = {
  credentials: [{ scheme: 'session-token' }],
  errors: { 401: ['not_authenticated', 'wrong_token_type', 'session_expired'] },
};

@Injectable()
export class SessionTokenService {
  private signer?: JwtService;

  constructor(
    @Inject(authConfig.KEY) private readonly auth: AuthSettings,
    private readonly clock: Clock,
  ) {}

  /**
   * `@nestjs/jwt`'s JwtService, as `JwtModule.register` would build it, made at the first
   * token issued or checked: with `jsonwebtoken` and `semver` it is ~85 modules, loaded at
   * boot by no other code (startup time; test/store-loading.e2e-spec.ts keeps it so).
   */
  private get jwt(): JwtService {
    if (!this.signer) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { JwtService } = require('@nestjs/jwt') as typeof import('@nestjs/jwt');
      this.signer = new JwtService({
        secret: this.auth.jwtSecret,
        signOptions: { algorithm: 'HS256' },
      });
    }
    return this.signer;
  }

  issue(sessionId: string, type: SessionTokenType, expiresAt: Date): string {
    const claims: SessionClaims = {
      sid: sessionId,
      typ: type,
      // legacy clients pair by jti: it is the session id
      jti: type === 'legacy' ? sessionId : randomUUID(),
      exp: Math.floor(expiresAt.getTime() / 1000),
    };
    return this.jwt.sign(claims, { algorithm: 'HS256' });
  }

  check(token: string | undefined | null, expected: SessionTokenType[]): TokenCheck {
    if (!token || token.length > 4096) {
      return {
        ok: false,
        code: 'not_authenticated',
        message: 'A session token is required (?token=…)',
      };
    }
    let claims: SessionClaims;
    try {
      claims = this.jwt.verify<SessionClaims>(token, {
        algorithms: ['HS256'],
        // expiry is judged by the injected clock, like the session's own deadline
        clockTimestamp: Math.floor(this.clock.now().getTime() / 1000),
      });
    } catch (error) {
      if ((error as Error).name === 'TokenExpiredError') {
        return { ok: false, code: 'session_expired', message: 'The session token has expired' };
      }
      return { ok: false, code: 'not_authenticated', message: 'The session token is not valid' };
    }
    if (typeof claims.sid !== 'string' || !expected.includes(claims.typ)) {
      return {
        ok: false,
        code: 'wrong_token_type',
        message: 'This token does not open this socket',
      };
    }
    return {
      ok: true,
      sessionId: claims.sid,
      type: claims.typ,
      expiresAt: new Date(claims.exp * 1000),
    };
  }
}
