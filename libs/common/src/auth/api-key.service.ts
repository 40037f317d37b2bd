import { Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { AuthError } from '../errors/common.errors';
import { Principal, ROLES, Role } from './role';
import { authConfig, AuthSettings } from './auth.config';

interface KeyEntry {
  digest: Buffer;
  role: Role;
  keyId: string;
}

/** Verified keys remembered (the configured keys, so a handful in practice). */
const VERIFIED_CACHE_SIZE = 256;

/**
 * Resolves an API key to its roles. Keys are compared as SHA-256 digests with
 * timingSafeEqual against every configured key, so the time taken does not depend on
 * which key (or how much of one) matched. A key that matched is remembered with its principal
 * (a bounded map, least recently used out first; keys come from config and do not change
 * while the process runs), so a client's next requests skip the hashing. A key that did not
 * match is never remembered: every wrong guess is compared in full.
 */
@Injectable()
export class ApiKeyService {
  private readonly entries: KeyEntry[];
  private readonly verified = new Map<string, Principal>();

  constructor(@Inject(authConfig.KEY) { apiKeys }: AuthSettings) {
    this.entries = ROLES.flatMap((role) =>
      apiKeys[role].map((key) => {
        const digest = sha256(key);
        return { digest, role, keyId: digest.subarray(0, 6).toString('hex') };
      }),
    );
  }

  resolve(presented: string | undefined): Principal | undefined {
    if (!presented || presented.length > 512) return undefined;
    const known = this.verified.get(presented);
    if (known) {
      // most recently used last
      this.verified.delete(presented);
      this.verified.set(presented, known);
      return known;
    }
    const principal = this.compare(presented);
    if (principal) {
      if (this.verified.size >= VERIFIED_CACHE_SIZE)
        this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(presented, principal);
    }
    return principal;
  }

  private compare(presented: string): Principal | undefined {
    const digest = sha256(presented);
    const roles: Role[] = [];
    let keyId = '';
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, digest)) {
        roles.push(entry.role);
        keyId = entry.keyId;
      }
    }
    // shared by every request that presents the key: nobody may change it
    return roles.length > 0
      ? Object.freeze({ roles: Object.freeze(roles) as Role[], keyId })
      : undefined;
  }

  /**
   * The one "key → roles" check of every guard and service: the key's principal and the first of
   * `roles` it holds. No key or an unknown one → `unauthorized` (401); a known key holding none
   * of `roles` → `forbidden` (403), carrying the principal so a caller can audit who was refused.
   */
  authorize(presented: string | undefined, roles: readonly Role[]): Admission {
    const principal = this.resolve(presented);
    if (!principal) throw new AuthError('unauthorized', 'A valid x-api-key header is required');
    const role = principal.roles.find((held) => roles.includes(held));
    if (!role) {
      throw new AuthError(
        'forbidden',
        `This route needs one of the roles: ${roles.join(', ')}`,
        principal,
      );
    }
    return { principal, role };
  }

  /** True when `presented` is one of the keys of `role` (used by the legacy `/auth` body key). */
  hasRole(presented: string | undefined, role: Role): boolean {
    return this.resolve(presented)?.roles.includes(role) ?? false;
  }
}

/** A key that passed `authorize`: who it is and the route role it was admitted as. */
export interface Admission {
  principal: Principal;
  role: Role;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
