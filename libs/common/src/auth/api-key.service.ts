import { Inject, Injectable } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { Principal, ROLES, Role } from './role';
import { authConfig, AuthSettings } from './auth.config';

interface KeyEntry {
  digest: Buffer;
  role: Role;
  keyId: string;
}

/**
 * Resolves an API key to its roles. Keys are compared as SHA-256 digests with
 * timingSafeEqual against every configured key, so the time taken does not depend on
 * which key (or how much of one) matched.
 */
@Injectable()
export class ApiKeyService {
  private readonly entries: KeyEntry[];

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
    const digest = sha256(presented);
    const roles: Role[] = [];
    let keyId = '';
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, digest)) {
        roles.push(entry.role);
        keyId = entry.keyId;
      }
    }
    return roles.length > 0 ? { roles, keyId } : undefined;
  }

  /** True when `presented` is one of the keys of `role` (used by the legacy `/auth` body key). */
  hasRole(presented: string | undefined, role: Role): boolean {
    return this.resolve(presented)?.roles.includes(role) ?? false;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
