import { createHash } from 'node:crypto';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { SignedCheckpoint } from '../../domain/checkpoint';
import { tlogAdapters } from './tlog-persistence';

const h = (s: string) => createHash('sha256').update(s).digest();

function checkpoint(origin: string, size: number, root = 'a'): SignedCheckpoint {
  return {
    origin,
    size,
    rootHash: h(root).toString('hex'),
    signedAt: new Date('2026-01-01T00:00:00.000Z'),
    note: `${origin}\n${size}\n${h(root).toString('base64')}\n\n\u2014 ${origin} AAAA\n`,
  };
}

describeStoreContract('TlogRepository', tlogAdapters, ({ sut }) => {
  it('should store nodes per log, keep the first hash of a node and find only the asked ones', async () => {
    await sut().putNodes('log-a', [
      { level: 0, index: 0, hash: h('x') },
      { level: 1, index: 0, hash: h('y') },
    ]);
    await sut().putNodes('log-a', [{ level: 0, index: 0, hash: h('other') }]);
    await sut().putNodes('log-b', [{ level: 0, index: 0, hash: h('b') }]);
    const found = await sut().findNodes('log-a', [
      { level: 0, index: 0 },
      { level: 1, index: 0 },
      { level: 2, index: 0 },
    ]);
    expect([...found.entries()]).toEqual([
      ['0/0', h('x')],
      ['1/0', h('y')],
    ]);
    expect((await sut().findNodes('log-b', [{ level: 0, index: 0 }])).get('0/0')).toEqual(h('b'));
    expect((await sut().findNodes('log-c', [{ level: 0, index: 0 }])).size).toBe(0);
  });

  it('should keep the first checkpoint of a size, list by size and answer the latest', async () => {
    await sut().saveCheckpoint(checkpoint('L', 5));
    await sut().saveCheckpoint(checkpoint('L', 2));
    await sut().saveCheckpoint(checkpoint('L', 5, 'other'));
    await sut().saveCheckpoint(checkpoint('M', 9));
    expect(await sut().latestCheckpoint('L')).toEqual(checkpoint('L', 5));
    expect(await sut().checkpointAt('L', 2)).toEqual(checkpoint('L', 2));
    expect(await sut().checkpointAt('L', 3)).toBeUndefined();
    expect((await sut().listCheckpoints('L', 0, 10)).map((c) => c.size)).toEqual([2, 5]);
    expect((await sut().listCheckpoints('L', 2, 10)).map((c) => c.size)).toEqual([5]);
    expect(await sut().latestCheckpoint('none')).toBeUndefined();
  });
});
