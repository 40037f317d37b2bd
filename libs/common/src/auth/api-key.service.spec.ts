import { AuthError } from '../errors/common.errors';
import { ApiKeyService } from './api-key.service';

const keys = {
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
  const sut = new ApiKeyService({ jwtSecret: 'unused', apiKeys: keys });

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
