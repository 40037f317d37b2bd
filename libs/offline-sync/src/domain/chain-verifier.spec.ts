import { AttendanceLog, EMPTY_HEAD, linkAfter, PendingLogEntry } from './attendance-log';
import { ChainVerifier } from './chain-verifier';

function chain(length: number): AttendanceLog[] {
  const links: AttendanceLog[] = [];
  let head = EMPTY_HEAD;
  for (let i = 0; i < length; i++) {
    const packetId = `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
    const entry: PendingLogEntry = {
      siteId: 'S',
      packetId,
      data: {
        packetId,
        workerId: 'w',
        siteId: 'S',
        deviceId: 'd',
        type: 'check_in',
        timestamp: '2026-01-01T00:00:00Z',
        geo: { lat: 1, lng: 2, accuracyM: 3 },
        signature: '0'.repeat(64),
      },
      meta: { isOfflineSync: true, syncTimestamp: '2026-01-01T00:00:01Z', deviceTrustScore: 50 },
    };
    const link = linkAfter(head, entry);
    links.push(link);
    head = link;
  }
  return links;
}

function run(links: AttendanceLog[]): ChainVerifier {
  const sut = new ChainVerifier('S');
  for (const link of links) sut.accept(link);
  return sut;
}

describe('ChainVerifier', () => {
  it('should accept an intact chain and report its length and head', () => {
    const links = chain(5);
    const sut = run(links);
    expect(sut.firstBreak).toBeUndefined();
    expect(sut.length).toBe(5);
    expect(sut.headHash).toBe(links[4].recordHash);
  });

  it('should report an edited link at its own seq', () => {
    const links = chain(5);
    links[2] = { ...links[2], data: { ...links[2].data, type: 'check_out' } };
    expect(run(links).firstBreak).toEqual({ seq: 3, reason: 'record_hash_mismatch' });
  });

  it('should report a removed link as a gap at the missing seq', () => {
    const links = chain(5);
    links.splice(1, 1);
    const sut = run(links);
    expect(sut.firstBreak).toEqual({ seq: 2, reason: 'seq_gap' });
    expect(sut.length).toBe(1);
  });

  it('should report a link that points to another predecessor', () => {
    const links = chain(3);
    links[1] = { ...links[1], prevHash: 'f'.repeat(64) };
    expect(run(links).firstBreak).toEqual({ seq: 2, reason: 'prev_hash_mismatch' });
  });
});
