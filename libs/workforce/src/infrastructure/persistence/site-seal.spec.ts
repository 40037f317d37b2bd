import { generateKeyPairSync } from 'node:crypto';
import { StoreMac, StoreMacKey } from '@app/tlog';
import { Thekedar } from '../../domain/workforce';
import { SiteSeal, StoredSite, ThekedarSeal } from './site-seal';

/**
 * The bytes SiteSeal and ThekedarSeal tag, pinned: every site and thekedar stored since the tags
 * carries one, so a change of the encoding (field order, the legacy prefix, how an absent or
 * invalid value reads) would read every honest row tampered.
 */
describe('SiteSeal and ThekedarSeal', () => {
  const signingKey = generateKeyPairSync('ed25519').privateKey;
  const key = (kid: string): StoreMacKey => ({ kid, secret: Buffer.alloc(32, kid) });
  const [a, b] = [key('aaaaaaaaaaaaaaaa'), key('bbbbbbbbbbbbbbbb')];
  const mac = new StoreMac({ signingKey, storeMacKey: a });
  const at = new Date('2026-01-01T00:00:00.000Z');
  /** As SQLite stores it: the creation time an ISO string, the zone as written (an alias). */
  const site: StoredSite = {
    id: 's1',
    name: 'Tower A',
    lat: 28.6,
    lng: 77.2,
    radiusM: 150,
    timeZone: 'Asia/Calcutta',
    createdAt: at.toISOString(),
  };
  const thekedar: Thekedar = {
    id: 't1',
    name: 'Ramesh',
    phone: '+919830000001',
    trustScore: 80,
    siteIds: ['s1', 's2'],
    createdAt: at,
  };
  const siteFields = ['s1', 'Tower A', 28.6, 77.2, 150, 'Asia/Calcutta', at.toISOString()];
  const thekedarFields = ['t1', 'Ramesh', '+919830000001', 80, ['s1', 's2'], at.toISOString()];

  it('should tag the same bytes as stored: the fields, or the fields after "legacy"', () => {
    const sites = new SiteSeal(mac);
    const thekedars = new ThekedarSeal(mac);
    // literally (a fixed key): what the stored rows carry, whatever the code that makes it
    expect(sites.tag(site)).toBe('e-lSdQObvwh-g0aAQIJck6FZ02nU0BtcH-eXEBc9cJs');
    expect(thekedars.tag(thekedar, true)).toBe('omU-4_-uK0wxBgNtehSy0EgyrbrMP3gPERmW2tzoBH4');
    expect(sites.tag(site)).toBe(mac.mac('site-state', JSON.stringify(siteFields)));
    expect(sites.tag(site, true)).toBe(
      mac.mac('site-state', JSON.stringify(['legacy', ...siteFields])),
    );
    // as MongoDB stores it: a Date, the zone absent, a geofence without lat
    expect(sites.tag({ ...site, createdAt: at, timeZone: undefined, lat: undefined })).toBe(
      mac.mac(
        'site-state',
        JSON.stringify(['s1', 'Tower A', null, 77.2, 150, null, at.toISOString()]),
      ),
    );
    expect(sites.tag({ ...site, createdAt: new Date(NaN) })).toBe(
      mac.mac('site-state', JSON.stringify([...siteFields.slice(0, 6), 'invalid'])),
    );
    expect(thekedars.tag(thekedar)).toBe(mac.mac('thekedar-state', JSON.stringify(thekedarFields)));
    expect(thekedars.tag({ ...thekedar, createdAt: new Date(NaN) }, true)).toBe(
      mac.mac(
        'thekedar-state',
        JSON.stringify(['legacy', ...thekedarFields.slice(0, 5), 'invalid']),
      ),
    );
  });

  it('should read verified, legacy or tampered, and plan keys:retag under the current key in the same form', () => {
    const underA = new SiteSeal(mac);
    const underB = new SiteSeal(
      new StoreMac({ signingKey, storeMacKey: b, storeMacRetiredKeys: [a] }),
    );
    expect(underB.integrity(site, underA.tag(site))).toBe('verified');
    expect(underB.integrity(site, underA.tag(site, true))).toBe('legacy');
    // the spelling of the zone is a stored field like any other
    expect(underB.integrity({ ...site, timeZone: 'Asia/Kolkata' }, underB.tag(site))).toBe(
      'tampered',
    );
    expect(underB.integrity(site, null)).toBe('tampered');
    expect(underB.integrity(site, undefined)).toBe('tampered');
    expect(underB.retagPlan(site, underA.tag(site, true))).toEqual({
      result: 'retagged',
      from: a.kid,
      tag: underB.tag(site, true),
    });
    expect(underB.retagPlan(site, underB.tag(site))).toEqual({ result: 'current' });
    expect(underB.retagPlan({ ...site, radiusM: 1 }, underB.tag(site))).toEqual({
      result: 'tampered',
    });
    const thekedars = new ThekedarSeal(
      new StoreMac({ signingKey, storeMacKey: b, storeMacRetiredKeys: [a] }),
    );
    const old = new ThekedarSeal(mac).tag(thekedar);
    expect(thekedars.checked({ ...thekedar }, old).integrity).toBe('verified');
    expect(thekedars.integrity({ ...thekedar, siteIds: ['s1', 's2', 's3'] }, old)).toBe('tampered');
    expect(thekedars.retagPlan(thekedar, old)).toEqual({
      result: 'retagged',
      from: a.kid,
      tag: thekedars.tag(thekedar),
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
