import type { Provider } from '@nestjs/common';
import { generateKeyPairSync } from 'node:crypto';
import { newId } from '@app/common';
import { fraudConfig } from '@app/fraud';
import { Store } from '@app/persistence';
import { compileAdapter, CompiledAdapter } from '@app/persistence/testing/compile-adapter';
import { StoreMac, StoreMacKey, tlogConfig } from '@app/tlog';
import { EnrollmentCode, PersonKind } from '../../../domain/workforce';
import { workforceAdapters } from '../workforce-persistence';
import { WorkforceRepository } from '../workforce.repository';

/**
 * What the workforce tags' contract specs (worker-tags, site-tags) share: one signing key, the
 * creation time of their records, enrollment codes, and repositories compiled with the seals.
 */
export const signingKey = generateKeyPairSync('ed25519').privateKey;
export const t0 = new Date('2026-01-01T00:00:00.000Z');

/** An unspent enrollment code of `personId`, expiring a month after t0. */
export function enrollmentCode(personKind: PersonKind, personId: string): EnrollmentCode {
  return {
    codeHash: newId(),
    personKind,
    personId,
    expiresAt: new Date('2026-02-01T00:00:00Z'),
  };
}

/**
 * A repository over the contract's `store` compiled with `seals` (FRAUD_LEGACY_TAGGING on) and
 * a StoreMac under `keys` (none: the signing key's), each closed after its test. Call it inside
 * the contract's body.
 */
export function taggedRepositories(
  store: () => Store,
  seals: Provider[],
): (keys?: { current: StoreMacKey; retired?: StoreMacKey[] }) => Promise<WorkforceRepository> {
  const opened: CompiledAdapter<WorkforceRepository>[] = [];
  afterEach(async () => {
    for (const a of opened.splice(0)) await a.close();
  });
  return async (keys) => {
    const tlog = keys
      ? { signingKey, storeMacKey: keys.current, storeMacRetiredKeys: keys.retired ?? [] }
      : { signingKey };
    const compiled = await compileAdapter(store(), workforceAdapters, {
      providers: [
        { provide: tlogConfig.KEY, useValue: tlog },
        { provide: fraudConfig.KEY, useValue: { legacyTagging: true } },
        StoreMac,
        ...seals,
      ],
    });
    opened.push(compiled);
    return compiled.adapter;
  };
}
