import { AuthError } from '../errors/common.errors';
import { ROLES, Role } from './role';
import { ApiKeyService } from './api-key.service';

function service(keys: Partial<Record<Role, string[]>>): ApiKeyService {
  const apiKeys = Object.fromEntries(ROLES.map((role) => [role, keys[role] ?? []]));
  return new ApiKeyService({
    jwtSecret: 'x'.repeat(32),
    apiKeys: apiKeys as Record<Role, string[]>,
  });
}

describe('ApiKeyService', () => {
  const admin = 'mdai_adm_aaaaaaaaaaaaaaaaaaaaaaaa';
  const shared = 'mdai_shared_bbbbbbbbbbbbbbbbbbbbbbbb';

  it('should resolve a key to all of its roles, the same on every request', () => {
    const sut = service({ admin: [admin, shared], auditor: [shared] });
    const first = sut.resolve(shared);
    expect(first).toEqual({ roles: ['admin', 'auditor'], keyId: expect.any(String) });
    expect(sut.resolve(shared)).toEqual(first);
    expect(sut.resolve(admin)?.roles).toEqual(['admin']);
    expect(sut.resolve(admin)?.keyId).not.toBe(first?.keyId);
  });

  it('should refuse unknown, empty and oversized keys, however often they are tried', () => {
    const sut = service({ admin: [admin] });
    for (let i = 0; i < 3; i++) {
      expect(sut.resolve(`${admin}x`)).toBeUndefined();
      expect(sut.resolve(admin.slice(0, -1))).toBeUndefined();
      expect(sut.resolve('')).toBeUndefined();
      expect(sut.resolve(undefined)).toBeUndefined();
      expect(sut.resolve('a'.repeat(513))).toBeUndefined();
    }
    expect(sut.hasRole(admin, 'admin')).toBe(true);
    expect(sut.hasRole(admin, 'auditor')).toBe(false);
  });

  it('should hand out a principal nobody can change', () => {
    const sut = service({ admin: [admin] });
    const principal = sut.resolve(admin)!;
    expect(() => principal.roles.push('auditor')).toThrow(TypeError);
    expect(sut.resolve(admin)?.roles).toEqual(['admin']);
  });

  it('should remember a bounded number of verified keys and still resolve the rest', () => {
    const keys = Array.from({ length: 300 }, (_, i) => `mdai_adm_${String(i).padStart(24, '0')}`);
    const sut = service({ admin: keys });
    for (const key of keys) expect(sut.resolve(key)?.roles).toEqual(['admin']);
    const verified = (sut as unknown as { verified: Map<string, unknown> }).verified;
    expect(verified.size).toBe(256);
    expect(verified.has(keys[0])).toBe(false);
    expect(sut.resolve(keys[0])?.roles).toEqual(['admin']);
  });
});

const authorizeKeys = {
  admin: ['k-admin'],
  provisioner: [],
  auditor: ['k-auditor'],
  mobile: [],
  hardware: [],
};

function refusal(run: () => unknown): AuthError {
  try {
    run();
  } catch (error) {
    if (error instanceof AuthError) return error;
    throw error;
  }
  throw new Error('expected an AuthError');
}

describe('ApiKeyService.authorize', () => {
  const sut = new ApiKeyService({ jwtSecret: 'unused', apiKeys: authorizeKeys });

  it('should admit a key of one of the roles, as that role', () => {
    const admission = sut.authorize('k-auditor', ['admin', 'auditor']);
    expect(admission.role).toBe('auditor');
    expect(admission.principal.keyId).toMatch(/^[0-9a-f]{12}$/);
  });

  it('should refuse a missing or unknown key as unauthorized, without a principal', () => {
    for (const key of [undefined, '', 'k-nobody', 'x'.repeat(600)]) {
      const error = refusal(() => sut.authorize(key, ['admin']));
      expect([error.code, error.principal]).toEqual(['unauthorized', undefined]);
    }
  });

  it('should refuse a known key of another role as forbidden, naming the roles and carrying who it was', () => {
    const error = refusal(() => sut.authorize('k-auditor', ['admin', 'provisioner']));
    expect(error.code).toBe('forbidden');
    expect(error.message).toBe('This route needs one of the roles: admin, provisioner');
    expect(error.principal?.roles).toEqual(['auditor']);
  });
});
