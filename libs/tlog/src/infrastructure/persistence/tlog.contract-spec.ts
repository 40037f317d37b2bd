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
  it('should list the logs that have a checkpoint, by origin', async () => {
    await sut().putNodes('log-nodes-only', [{ level: 0, index: 0, hash: h('n') }]);
    await sut().saveCheckpoint(checkpoint('log-z', 1));
    await sut().saveCheckpoint(checkpoint('log-y', 1));
    await sut().saveCheckpoint(checkpoint('log-y', 2));
    expect(await sut().origins()).toEqual(['log-y', 'log-z']);
  });

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

  it('should replace stored nodes with the ones given and store the others (a repair)', async () => {
    await sut().putNodes('log-fix', [
      { level: 0, index: 0, hash: h('rewritten') },
      { level: 0, index: 1, hash: h('kept') },
    ]);
    await sut().putNodes('log-other', [{ level: 0, index: 0, hash: h('other') }]);
    await sut().replaceNodes('log-fix', [
      { level: 0, index: 0, hash: h('0/0') },
      { level: 1, index: 0, hash: h('1/0') },
    ]);
    const found = await sut().findNodes('log-fix', [
      { level: 0, index: 0 },
      { level: 0, index: 1 },
      { level: 1, index: 0 },
    ]);
    expect([...found.entries()].sort()).toEqual([
      ['0/0', h('0/0')],
      ['0/1', h('kept')],
      ['1/0', h('1/0')],
    ]);
    expect((await sut().findNodes('log-other', [{ level: 0, index: 0 }])).get('0/0')).toEqual(
      h('other'),
    );
  });

  it('should store every node of one call whatever their order, runs and repeats', async () => {
    // an append's runs (levels 0..2 at consecutive indexes), a gap, a level given out of
    // order, a repeat within the call (the first kept), one across calls, and a level no tree has
    const nodes = [
      ...[5, 6, 7, 8, 9].map((index) => ({ level: 0, index, hash: h(`0/${index}`) })),
      { level: 0, index: 11, hash: h('0/11') },
      { level: 1, index: 4, hash: h('1/4') },
      { level: 1, index: 3, hash: h('1/3') },
      { level: 1, index: 2, hash: h('1/2') },
      { level: 1, index: 3, hash: h('1/3 again') },
      { level: 2, index: 1, hash: h('2/1') },
      { level: -1, index: 0, hash: h('-1/0') },
    ];
    await sut().putNodes('log-r', [{ level: 0, index: 7, hash: h('0/7 first') }]);
    await sut().putNodes('log-r', nodes);
    const keys = [
      ...[4, 5, 6, 7, 8, 9, 10, 11].map((index) => ({ level: 0, index })),
      ...[1, 2, 3, 4, 5].map((index) => ({ level: 1, index })),
      { level: 2, index: 1 },
      { level: -1, index: 0 },
    ];
    const found = await sut().findNodes('log-r', keys);
    expect([...found.entries()].sort()).toEqual(
      [
        ['0/5', h('0/5')],
        ['0/6', h('0/6')],
        ['0/7', h('0/7 first')],
        ['0/8', h('0/8')],
        ['0/9', h('0/9')],
        ['0/11', h('0/11')],
        ['1/2', h('1/2')],
        ['1/3', h('1/3')],
        ['1/4', h('1/4')],
        ['2/1', h('2/1')],
        ['-1/0', h('-1/0')],
      ].sort(),
    );
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
    expect(await sut().latestCheckpoint('L', 5)).toEqual(checkpoint('L', 2));
    expect(await sut().latestCheckpoint('L', 2)).toBeUndefined();
  });

  it('should answer the latest checkpoint of each of many logs in one read, leaving out the ones without any', async () => {
    await sut().saveCheckpoint(checkpoint('each/L', 2));
    await sut().saveCheckpoint(checkpoint('each/L', 7));
    await sut().saveCheckpoint(checkpoint('each/L', 5));
    await sut().saveCheckpoint(checkpoint('each/M', 1));
    // a log with nodes but no checkpoint yet (a seal that failed between the two writes)
    await sut().putNodes('each/N', [{ level: 0, index: 0, hash: Buffer.alloc(32, 1) }]);
    const latest = await sut().latestCheckpoints(['each/L', 'each/M', 'each/N', 'each/none']);
    expect([...latest.keys()].sort()).toEqual(['each/L', 'each/M']);
    expect(latest.get('each/L')).toEqual(checkpoint('each/L', 7));
    expect(latest.get('each/M')).toEqual(checkpoint('each/M', 1));
    expect((await sut().latestCheckpoints([])).size).toBe(0);
  });
});
