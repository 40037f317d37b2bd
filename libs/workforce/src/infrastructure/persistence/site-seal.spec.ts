import { generateKeyPairSync } from 'node:crypto';
import { StoreMac } from '@app/tlog';
import { Site, Thekedar } from '../../domain/workforce';
import { SiteSeal, ThekedarSeal } from './site-seal';

describe('SiteSeal and ThekedarSeal', () => {
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const mac = new StoreMac({ signingKey });
  const at = new Date('2026-01-01T00:00:00.000Z');
  const site: Site = {
    id: 's1',
    name: 'Tower A',
    geo: { lat: 28.6, lng: 77.2 },
    radiusM: 150,
    timeZone: 'Asia/Kolkata',
    createdAt: at,
  };
  const thekedar: Thekedar = {
    id: 't1',
    name: 'Ramesh',
    phone: '+919830000001',
    trustScore: 80,
    siteIds: ['s1', 's2'],
    createdAt: at,
  };

  it('should tag the same bytes as stored: the fields, or the fields after "legacy"', () => {
    const siteFields = ['s1', 'Tower A', 28.6, 77.2, 150, 'Asia/Kolkata', at.toISOString()];
    const thekedarFields = ['t1', 'Ramesh', '+919830000001', 80, ['s1', 's2'], at.toISOString()];
    const sites = new SiteSeal(mac);
    const thekedars = new ThekedarSeal(mac);
    expect(sites.tag(site)).toBe(mac.mac('site-state', JSON.stringify(siteFields)));
    expect(sites.tag(site, true)).toBe(
      mac.mac('site-state', JSON.stringify(['legacy', ...siteFields])),
    );
    expect(thekedars.tag(thekedar)).toBe(mac.mac('thekedar-state', JSON.stringify(thekedarFields)));
    expect(thekedars.tag({ ...thekedar, createdAt: new Date(NaN) }, true)).toBe(
      mac.mac(
        'thekedar-state',
        JSON.stringify(['legacy', ...thekedarFields.slice(0, 5), 'invalid']),
      ),
    );
    expect(sites.tag({ ...site, timeZone: undefined })).toBe(
      mac.mac('site-state', JSON.stringify([...siteFields.slice(0, 5), null, at.toISOString()])),
    );
  });

  it('should read verified, legacy or tampered, and retag by the base rule with except', () => {
    const key = (kid: string) => ({ kid, secret: Buffer.alloc(32, kid) });
    const [a, b] = [key('aaaaaaaaaaaaaaaa'), key('bbbbbbbbbbbbbbbb')];
    const underA = new SiteSeal(new StoreMac({ signingKey, storeMacKey: a }));
    const underB = new SiteSeal(
      new StoreMac({ signingKey, storeMacKey: b, storeMacRetiredKeys: [a] }),
    );
    expect(underB.checked({ ...site }, underB.tag(site)).integrity).toBe('verified');
    expect(underB.integrity(site, underA.tag(site, true))).toBe('legacy');
    expect(underB.integrity({ ...site, timeZone: 'UTC' }, underB.tag(site))).toBe('tampered');
    expect(underB.integrity(site, null)).toBe('tampered');
    expect(underB.retag(site, underA.tag(site, true), [])).toEqual({
      plan: { result: 'retagged', from: a.kid, tag: underB.tag(site, true) },
      outcome: { id: 's1', result: 'retagged', from: a.kid },
    });
    expect(underB.retag(site, underA.tag(site), [a.kid]).outcome).toEqual({
      id: 's1',
      result: 'suspect',
      from: a.kid,
    });
    expect(underB.retag(site, underB.tag(site), []).outcome).toEqual({
      id: 's1',
      result: 'current',
    });
    expect(underB.retag({ ...site, radiusM: 1 }, underB.tag(site), []).outcome).toEqual({
      id: 's1',
      result: 'tampered',
    });
  });

  it('should hold the legacy switch of FRAUD_LEGACY_TAGGING', () => {
    expect(new ThekedarSeal(mac)).toMatchObject({
      legacyTaggingAllowed: true,
      legacyTaggingForced: false,
    });
    expect(new SiteSeal(mac, { legacyTagging: true, legacyTaggingExplicit: true })).toMatchObject({
      legacyTaggingAllowed: true,
      legacyTaggingForced: true,
    });
    expect(new SiteSeal(mac, { legacyTagging: false })).toMatchObject({
      legacyTaggingAllowed: false,
    });
  });
});
