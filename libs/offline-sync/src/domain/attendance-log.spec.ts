import { jcs, sha256Hex } from '@app/common';
import {
  AttendanceMeta,
  canonicalLinkAfter,
  EMPTY_HEAD,
  metaJcsOfEach,
  PendingLogEntry,
} from './attendance-log';

const entry: PendingLogEntry = {
  siteId: 'site-1',
  packetId: '3b241101-e2bb-4255-8caf-4136c566a962',
  data: {
    packetId: '3b241101-e2bb-4255-8caf-4136c566a962',
    workerId: 'w1',
    siteId: 'site-1',
    deviceId: 'd1',
    type: 'check_in',
    timestamp: '2026-01-01T08:00:00.123Z',
    geo: { lat: 28.6, lng: -0, accuracyM: 1e-7 },
    signature: 'ab'.repeat(32),
  },
  meta: { isOfflineSync: true, syncTimestamp: '2026-01-01T08:00:01.000Z', deviceTrustScore: 72.5 },
};

describe('canonicalLinkAfter', () => {
  it('should hash exactly JCS({siteId, seq, prevHash, data, meta}) and keep the texts it hashed', () => {
    const head = { seq: 41, recordHash: 'f'.repeat(64) };
    const sut = canonicalLinkAfter(head, entry);
    const expected = sha256Hex(
      jcs({
        siteId: 'site-1',
        seq: 42,
        prevHash: head.recordHash,
        data: entry.data,
        meta: entry.meta,
      }),
    );
    expect(sut.log).toMatchObject({ seq: 42, prevHash: head.recordHash, recordHash: expected });
    expect(sut.dataJcs).toBe(jcs(entry.data));
    expect(sut.metaJcs).toBe(jcs(entry.meta));
  });

  it('should take the caller JCS text of data as it is', () => {
    const sut = canonicalLinkAfter(EMPTY_HEAD, { ...entry, dataJcs: jcs(entry.data) });
    expect(sut.log.recordHash).toBe(canonicalLinkAfter(EMPTY_HEAD, entry).log.recordHash);
  });
});

describe('metaJcsOfEach', () => {
  it('should give jcs(meta) for every meta of a run, copies, changes and member order alike', () => {
    const first: AttendanceMeta = {
      isOfflineSync: true,
      syncTimestamp: '2026-01-01T08:00:01.000Z',
      deviceTrustScore: 72.5,
    };
    const metas: AttendanceMeta[] = [
      first,
      { ...first },
      { ...first, deviceTrustScore: 40 },
      { ...first, deviceTrustScore: 40, lowTrust: true },
      { ...first, deviceTrustScore: 40 },
      { syncTimestamp: first.syncTimestamp, deviceTrustScore: 72.5, isOfflineSync: true },
      { isOfflineSync: true, syncTimestamp: first.syncTimestamp },
      { isOfflineSync: true, syncTimestamp: first.syncTimestamp, deviceTrustScore: undefined },
      { isOfflineSync: false, syncTimestamp: first.syncTimestamp },
      first,
    ];
    const sut = metaJcsOfEach();
    for (const meta of metas) expect(sut(meta)).toBe(jcs(meta));
  });

  it('should hash a link with the memoized meta text exactly as without it', () => {
    const sut = metaJcsOfEach();
    const link = canonicalLinkAfter(EMPTY_HEAD, entry, sut({ ...entry.meta }));
    expect(link).toEqual(canonicalLinkAfter(EMPTY_HEAD, entry));
  });
});
