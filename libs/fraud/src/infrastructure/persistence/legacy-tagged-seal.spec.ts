import { generateKeyPairSync } from 'node:crypto';
import { StoreMac } from '@app/tlog';
import { FraudSeal } from './fraud-seal';
import { LegacyTaggedSeal } from './legacy-tagged-seal';

/** A seal of one purpose over a string, to reach the shared helpers. */
class PlainSeal extends LegacyTaggedSeal {
  tag(value: string, legacy = false): string {
    return this.mac.mac('fraud-event', data(value, legacy));
  }
  integrity(value: string, tag: unknown) {
    return this.formIntegrity('fraud-event', (legacy) => data(value, legacy), tag);
  }
  retag(value: string, tag: unknown, except: readonly string[] = []) {
    const found = this.vouched('fraud-event', (legacy) => data(value, legacy), tag);
    return { found, row: this.retagRow('fraud-event', found, except) };
  }
}

function data(value: string, legacy: boolean): string {
  return JSON.stringify(legacy ? ['legacy', value] : [value]);
}

describe('LegacyTaggedSeal', () => {
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const key = (kid: string) => ({ kid, secret: Buffer.alloc(32, kid) });
  const [a, b] = [key('aaaaaaaaaaaaaaaa'), key('bbbbbbbbbbbbbbbb')];

  it('reads FRAUD_LEGACY_TAGGING: allowed without settings, forced only when set explicitly', () => {
    const mac = new StoreMac({ signingKey });
    expect(new PlainSeal(mac)).toMatchObject({
      legacyTaggingAllowed: true,
      legacyTaggingForced: false,
    });
    expect(new PlainSeal(mac, { legacyTagging: false })).toMatchObject({
      legacyTaggingAllowed: false,
      legacyTaggingForced: false,
    });
    expect(new PlainSeal(mac, { legacyTagging: true, legacyTaggingExplicit: true })).toMatchObject({
      legacyTaggingAllowed: true,
      legacyTaggingForced: true,
    });
  });

  it('never forces the fraud tagging, FRAUD_LEGACY_TAGGING=1 explicit or not', () => {
    const seal = new FraudSeal(new StoreMac({ signingKey }), {
      legacyTagging: true,
      legacyTaggingExplicit: true,
    });
    expect(seal.legacyTaggingAllowed).toBe(true);
    expect(seal.legacyTaggingForced).toBe(false);
  });

  it('tells the current form from the legacy one, and neither from a changed value', () => {
    const seal = new PlainSeal(new StoreMac({ signingKey }));
    expect(seal.integrity('x', seal.tag('x'))).toBe('verified');
    expect(seal.integrity('x', seal.tag('x', true))).toBe('legacy');
    expect(seal.integrity('y', seal.tag('x'))).toBe('tampered');
  });

  it('re-tags under the current key in the form found, leaves the current and the excepted', () => {
    const underA = new PlainSeal(new StoreMac({ signingKey, storeMacKey: a }));
    const underB = new PlainSeal(
      new StoreMac({ signingKey, storeMacKey: b, storeMacRetiredKeys: [a] }),
    );
    const legacyA = underA.tag('x', true);
    const { found, row } = underB.retag('x', legacyA);
    expect(found).toMatchObject({ kid: a.kid, legacy: true });
    expect(row).toEqual({ result: 'retagged', from: a.kid, tag: underB.tag('x', true) });
    expect(underB.retag('x', underB.tag('x')).row).toEqual({ result: 'current' });
    expect(underB.retag('x', legacyA, [a.kid]).row).toEqual({ result: 'suspect', from: a.kid });
    expect(underB.retag('y', legacyA).row).toEqual({ result: 'tampered' });
  });
});
