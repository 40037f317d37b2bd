import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { compileAdapter } from '@app/persistence/testing/compile-adapter';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { TimesheetDay } from '../../domain/timesheet-day';
import { TimesheetEntry } from '../../domain/timesheet-entry';
import { timesheetPunch } from '../../testing/timesheet-punch';
import { DayQuery } from './timesheet.repository';
import { timesheetAdapters } from './timesheet-persistence';

const entry = timesheetPunch;

function day(workerId: string, d: string, seconds = 3600): TimesheetDay {
  return {
    siteId: 'S',
    workerId,
    day: d,
    shifts: [{ inSeq: 1, in: 0, outSeq: 2, out: seconds * 1000, seconds }],
    workedSeconds: seconds,
    firstIn: 0,
    lastOut: seconds * 1000,
    flags: [{ type: 'low_trust', seq: 1 }],
    corrected: false,
    seqs: [1, 2],
    packets: [['packet-1', 1]],
  };
}

describeStoreContract('TimesheetRepository', timesheetAdapters, ({ sut, store, driver }) => {
  it('should store an entry once and round-trip every field', async () => {
    const correction = entry(3, {
      kind: 'correction',
      action: 'add_check_out',
      punchType: 'check_out',
      targetSeq: 1,
      correctedBy: [4],
      lowTrust: true,
    });
    const voider: TimesheetEntry = {
      ...entry(4, { kind: 'correction', action: 'void', targetSeq: 3 }),
      punchType: undefined,
      effectiveAt: undefined,
      at: undefined,
    };
    delete voider.punchType;
    delete voider.effectiveAt;
    delete voider.at;
    await sut().insertEntries([entry(1), entry(2), correction, voider]);
    await sut().insertEntries([{ ...entry(1), workerId: 'other' }]);
    expect(await sut().findEntries('S', [1, 3, 4, 9])).toEqual([entry(1), correction, voider]);
    expect(await sut().findCorrectionsOf('S', [1, 3])).toEqual([correction, voider]);
    expect(await sut().progress('S')).toEqual({ maxSeq: 4, count: 4 });
    expect(await sut().progress('T')).toEqual({ maxSeq: 0, count: 0 });
    expect(await sut().countThrough('S', 3)).toEqual({ count: 3, between: 0 });
    expect(await sut().countThrough('S', 9)).toEqual({ count: 4, between: 0 });
    expect(await sut().countThrough('T', 9)).toEqual({ count: 0, between: 0 });
    expect(await sut().maxSeq('S')).toBe(4);
    expect(await sut().maxSeq('T')).toBe(0);
    expect((await sut().listEntries('S', 2, 1)).map((e) => e.seq)).toEqual([3]);
  });

  it('should round-trip an added shift (its check-out too), list it among the punches and void it', async () => {
    const shift = entry(5, {
      kind: 'correction',
      action: 'add_shift',
      punchType: 'shift',
      at: 3_000,
      effectiveAt: 3_000,
      outAt: 9_000,
    });
    await sut().insertEntries([entry(1), entry(2), shift]);
    expect(await sut().findEntries('S', [5])).toEqual([shift]);
    expect((await sut().listPunches('S', 'w1', 0, 10_000)).map((p) => p.seq)).toEqual([1, 2, 5]);
    await sut().updateEntryStates([{ ...shift, voided: true, correctedBy: [6] }]);
    expect(await sut().findEntries('S', [5])).toEqual([
      { ...shift, voided: true, correctedBy: [6] },
    ]);
  });

  it('should update derived state and list a worker punches by effective time', async () => {
    await sut().insertEntries([entry(1), entry(2), entry(3, { workerId: 'w2' })]);
    await sut().updateEntryStates([
      { ...entry(1), effectiveAt: 5_000, voided: true, correctedBy: [7, 9] },
    ]);
    const punches = await sut().listPunches('S', 'w1', 0, 10_000);
    expect(punches.map((p) => [p.seq, p.effectiveAt, p.voided, p.correctedBy])).toEqual([
      [2, 2_000, false, []],
      [1, 5_000, true, [7, 9]],
    ]);
    expect((await sut().listPunches('S', 'w1', 0, 5_000)).map((p) => p.seq)).toEqual([2]);
  });

  it('should replace a worker range of days and page days by (worker, day)', async () => {
    const range = { siteId: 'S', fromDay: '2026-03-01', toDay: '2026-03-03' };
    await sut().replaceDays([
      { ...range, workerId: 'a', days: [day('a', '2026-03-01'), day('a', '2026-03-02')] },
      { ...range, workerId: 'b', days: [day('b', '2026-03-01')] },
    ]);
    await sut().replaceDays([
      { ...range, fromDay: '2026-03-02', workerId: 'a', days: [day('a', '2026-03-03', 60)] },
    ]);
    const all = await sut()
      .listDays({
        siteId: 'S',
        fromDay: '2026-03-01',
        toDay: '2026-03-31',
        limit: 10,
      })
      .then((p) => p.days);
    expect(all.map((d) => [d.workerId, d.day, d.workedSeconds])).toEqual([
      ['a', '2026-03-01', 3600],
      ['a', '2026-03-03', 60],
      ['b', '2026-03-01', 3600],
    ]);
    expect(all[0]).toEqual(day('a', '2026-03-01'));
    const page = await sut()
      .listDays({
        siteId: 'S',
        fromDay: '2026-03-01',
        toDay: '2026-03-31',
        after: { workerId: 'a', day: '2026-03-01' },
        limit: 1,
      })
      .then((p) => p.days);
    expect(page.map((d) => [d.workerId, d.day])).toEqual([['a', '2026-03-03']]);
    const onlyB = await sut()
      .listDays({
        siteId: 'S',
        fromDay: '2026-03-01',
        toDay: '2026-03-02',
        workerIds: ['b'],
        limit: 10,
      })
      .then((p) => p.days);
    expect(onlyB.map((d) => d.workerId)).toEqual(['b']);
    expect(
      await sut()
        .listDays({
          siteId: 'S',
          fromDay: '2026-03-01',
          toDay: '2026-03-02',
          workerIds: [],
          limit: 10,
        })
        .then((p) => p.days),
    ).toEqual([]);
    await sut().clearSite('S');
    expect(
      await sut()
        .listDays({ siteId: 'S', fromDay: '2026-03-01', toDay: '2026-03-31', limit: 10 })
        .then((p) => p.days),
    ).toEqual([]);
  });

  it('should page the days of a sparse period, following next across short pages, for the site, a worker and a crew', async () => {
    // six workers with a long history; a sparse period: a day of b, two of d, none of the rest
    const workers = ['a', 'b', 'c', 'd', 'e', 'f'];
    const history = ['2026-01-05', '2026-01-06', '2026-02-10', '2026-02-11', '2026-03-20'];
    const sparse: Record<string, string[]> = {
      b: ['2026-02-01'],
      d: ['2026-02-01', '2026-02-03'],
    };
    await sut().replaceDays(
      workers.map((w) => ({
        siteId: 'S',
        workerId: w,
        fromDay: '2026-01-01',
        toDay: '2026-03-31',
        days: [...history, ...(sparse[w] ?? [])].sort().map((d) => day(w, d)),
      })),
    );
    // a tombstone (MongoDB) or a deleted day inside the period, and another site's day
    await sut().replaceDays([
      { siteId: 'S', workerId: 'e', fromDay: '2026-02-02', toDay: '2026-02-02', days: [] },
      { siteId: 'T', workerId: 'c', fromDay: '2026-02-01', toDay: '2026-02-01', days: [] },
    ]);
    await sut().replaceDays([
      {
        siteId: 'T',
        workerId: 'c',
        fromDay: '2026-02-01',
        toDay: '2026-02-01',
        days: [{ ...day('c', '2026-02-01'), siteId: 'T' }],
      },
    ]);
    const period = { siteId: 'S', fromDay: '2026-02-01', toDay: '2026-02-09' };
    const walk = async (q: Partial<DayQuery>) => {
      const seen: string[] = [];
      const sizes: number[] = [];
      let after: DayQuery['after'];
      do {
        const page = await sut().listDays({ ...period, limit: 1, maxWorkers: 2, ...q, after });
        seen.push(...page.days.map((d) => `${d.workerId}/${d.day}`));
        sizes.push(page.days.length);
        after = page.next;
      } while (after && sizes.length < 100);
      return { seen, sizes };
    };
    const site = await walk({});
    expect(site.seen).toEqual(['b/2026-02-01', 'd/2026-02-01', 'd/2026-02-03']);
    if (driver() === 'sqlite') {
      // pages of one day, two workers at most (the cursor's, resumed, not counted when it has
      // no day left): a b (full) | c d (full) | d (full) | e f (the last, empty)
      expect(site.sizes).toEqual([1, 1, 1, 0]);
    }
    expect((await walk({ limit: 2 })).seen).toEqual(site.seen);
    expect((await walk({ workerIds: ['d'] })).seen).toEqual(['d/2026-02-01', 'd/2026-02-03']);
    const crew = await walk({ workerIds: ['f', 'd', 'a', 'zz', 'b', 'd'] });
    expect(crew.seen).toEqual(site.seen);
    expect((await walk({ workerIds: ['a', 'c', 'e'] })).seen).toEqual([]);
    // a cursor of the period's last day: the worker is done
    const rest = await sut().listDays({
      ...period,
      limit: 10,
      after: { workerId: 'b', day: '2026-02-09' },
    });
    expect(rest.days.map((d) => `${d.workerId}/${d.day}`)).toEqual(site.seen.slice(1));
    expect(rest.next).toBeUndefined();
  });

  it('should say how many entries were new and leave a seq range out of a punch list', async () => {
    expect(await sut().insertEntries([entry(1), entry(2)])).toBe(2);
    expect(await sut().insertEntries([entry(2), entry(3), entry(4), entry(5)])).toBe(3);
    const except = { fromSeq: 2, toSeq: 4 };
    expect((await sut().listPunches('S', 'w1', 0, 10_000, except)).map((p) => p.seq)).toEqual([
      1, 5,
    ]);
  });

  it("should read a recompute's punches at its site and the other sites as the two reads give them", async () => {
    await sut().insertEntries([
      entry(1),
      entry(2, { at: 3_000, effectiveAt: 3_000, punchType: 'check_out' }),
      entry(3, { at: 3_000, effectiveAt: 3_000, voided: true }),
      entry(4, { at: 7_000, effectiveAt: 7_000 }),
      entry(6, { at: 12_000, effectiveAt: 12_000 }),
      entry(2, { siteId: 'T', at: 500, effectiveAt: 500, punchType: 'check_out' }),
      entry(3, { siteId: 'U', at: 3_000, effectiveAt: 3_000 }),
      entry(4, { siteId: 'T', workerId: 'w2' }),
      entry(5, {
        siteId: 'T',
        kind: 'correction',
        action: 'void',
        targetSeq: 2,
        punchType: undefined,
        effectiveAt: undefined,
      }),
      entry(9, { siteId: 'T', at: 11_000, effectiveAt: 11_000 }),
      entry(1, { siteId: 'R', at: 8_000, effectiveAt: 8_000 }),
    ]);
    const ranges: [number, number, number, number][] = [
      [2_000, 8_000, 0, 10_000],
      [0, 20_000, 1_000, 9_000],
      [3_000, 3_001, 3_000, 3_001],
      [5_000, 6_000, 0, 20_000],
    ];
    for (const site of ['S', 'T', 'Z']) {
      for (const except of [undefined, { fromSeq: 2, toSeq: 3 }]) {
        for (const [ownFrom, ownTo, othersFrom, othersTo] of ranges) {
          expect(
            await sut().listRecomputePunches(
              site,
              'w1',
              { fromMs: ownFrom, toMs: ownTo },
              { fromMs: othersFrom, toMs: othersTo },
              except,
            ),
          ).toEqual({
            own: await sut().listPunches(site, 'w1', ownFrom, ownTo, except),
            others: await sut().listOtherSitePunches(site, 'w1', othersFrom, othersTo),
          });
        }
      }
    }
    const read = await sut().listRecomputePunches(
      'S',
      'w1',
      { fromMs: 2_000, toMs: 8_000 },
      { fromMs: 0, toMs: 12_000 },
      { fromSeq: 2, toSeq: 2 },
    );
    expect(read.own.map((e) => e.seq)).toEqual([3, 4]);
    expect(read.others.map((e) => [e.siteId, e.seq])).toEqual([
      ['T', 2],
      ['U', 3],
      ['R', 1],
      ['T', 9],
    ]);
  });

  it("should list a worker's punches at the other sites by time, and write another site's marks with a replacement", async () => {
    await sut().insertEntries([
      entry(1),
      entry(2, { siteId: 'T', punchType: 'check_out' }),
      entry(3, { siteId: 'U', voided: true }),
      entry(4, { siteId: 'T', workerId: 'w2' }),
      entry(5, {
        siteId: 'T',
        kind: 'correction',
        action: 'void',
        targetSeq: 2,
        punchType: undefined,
        effectiveAt: undefined,
      }),
      entry(9, { siteId: 'T' }),
      entry(1, { siteId: 'R', at: 8_000, effectiveAt: 8_000 }),
    ]);
    const others = await sut().listOtherSitePunches('S', 'w1', 0, 9_000);
    // by time: the correction (no punch type) and w2's punch are not the worker's punches
    expect(others.map((e) => [e.siteId, e.seq, e.punchType, e.voided])).toEqual([
      ['T', 2, 'check_out', false],
      ['U', 3, 'check_in', true],
      ['R', 1, 'check_in', false],
    ]);
    expect(
      (await sut().listOtherSitePunches('T', 'w1', 2_000, 10_000)).map((e) => e.siteId),
    ).toEqual(['U', 'R']);
    expect(await sut().listOtherSitePunches('S', 'w3', 0, 10_000)).toEqual([]);
    await sut().replaceDays([
      {
        siteId: 'S',
        workerId: 'w1',
        fromDay: '2026-03-01',
        toDay: '2026-03-01',
        days: [],
        others: [{ siteId: 'T', workerId: 'w1', min: 100, max: 200 }],
      },
    ]);
    expect(await sut().listPending(10)).toEqual([
      { siteId: 'T', workerId: 'w1', min: 100, max: 200 },
    ]);
  });

  it('should keep pending marks widened by each write until days covering them are stored', async () => {
    const mark = (workerId: string, min: number, max: number) => ({
      siteId: 'S',
      workerId,
      min,
      max,
    });
    await sut().insertEntries([entry(1)], [mark('w1', 1_000, 1_000), mark('w2', 7, 9)]);
    await sut().updateEntryStates([], [mark('w1', 500, 800), { ...mark('w3', 1, 2), siteId: 'T' }]);
    await sut().insertEntries([], [mark('w1', 900, 4_000)]);
    expect(await sut().listPending(10)).toEqual([
      mark('w1', 500, 4_000),
      mark('w2', 7, 9),
      { ...mark('w3', 1, 2), siteId: 'T' },
    ]);
    expect(await sut().listPending(10, { siteId: 'S', workerId: 'w1' })).toEqual([
      mark('w2', 7, 9),
      { ...mark('w3', 1, 2), siteId: 'T' },
    ]);
    expect(await sut().listPending(1, undefined, 'S')).toEqual([mark('w1', 500, 4_000)]);
    const range = { siteId: 'S', fromDay: '2026-03-01', toDay: '2026-03-03', days: [] };
    // a recompute of less than the mark leaves it; one covering it clears it
    await sut().replaceDays([
      { ...range, workerId: 'w1', settles: { min: 600, max: 5_000 } },
      { ...range, workerId: 'w2', settles: { min: 7, max: 9 } },
    ]);
    expect((await sut().listPending(10, undefined, 'S')).map((p) => p.workerId)).toEqual(['w1']);
    await sut().replaceDays([{ ...range, workerId: 'w1', settles: { min: 500, max: 4_000 } }]);
    expect(await sut().listPending(10, undefined, 'S')).toEqual([]);
    await sut().clearSite('T');
    expect(await sut().listPending(10)).toEqual([]);
  });

  it('should order recomputes by write version: on MongoDB an older one never overwrites newer days', async () => {
    const mark = { siteId: 'S', workerId: 'w1', min: 1_000, max: 1_000 };
    const version = async () => (await sut().versionsOf('S', ['w1', 'w9'])).get('w1') ?? 0;
    expect(await version()).toBe(0);
    await sut().insertEntries([entry(1)], [mark]);
    if (driver() === 'sqlite') {
      // one writer process: no versions, and replacements are unconditional
      expect((await sut().versionsOf('S', ['w1'])).size).toBe(0);
      return;
    }
    const v1 = await version();
    expect(v1).toBeGreaterThan(0);
    await sut().updateEntryStates([], [mark]);
    const v2 = await version();
    expect(v2).toBeGreaterThan(v1);
    expect((await sut().versionsOf('S', ['w1', 'w9'])).has('w9')).toBe(false);

    const range = { siteId: 'S', workerId: 'w1', fromDay: '2026-03-01', toDay: '2026-03-03' };
    const days = () =>
      sut()
        .listDays({ siteId: 'S', fromDay: '2026-03-01', toDay: '2026-03-31', limit: 10 })
        .then((p) => p.days);
    // a recompute that read version v2 found only 03-02 (03-01 and 03-03 empty)
    await sut().replaceDays([{ ...range, days: [day('w1', '2026-03-02', 60)], basis: v2 + 5 }]);
    // one that read v1 lands later: each day it meets of a newer basis is kept
    await sut().replaceDays([
      { ...range, days: [day('w1', '2026-03-01'), day('w1', '2026-03-02')], basis: v1 },
    ]);
    expect((await days()).map((d) => [d.day, d.workedSeconds])).toEqual([['2026-03-02', 60]]);
    // one of the current version lands after days of a newer basis: each day it meets is kept
    // (an emptied day too: its tombstone holds the newer basis)
    await sut().replaceDays([
      { ...range, days: [day('w1', '2026-03-01'), day('w1', '2026-03-02')], basis: v2 },
    ]);
    expect((await days()).map((d) => [d.day, d.workedSeconds])).toEqual([['2026-03-02', 60]]);
    // a newer recompute empties the day; having read the mark (every write of it done), it clears it
    const seen = (await sut().pendingBasis('S', ['w1'])).get('w1');
    await sut().replaceDays([{ ...range, days: [], basis: v2 + 6, settles: mark, mark: seen }]);
    expect(await days()).toEqual([]);
    expect(await sut().listPending(10)).toEqual([]);
  });

  it("should store the days of a recompute older than the worker's version where no newer one wrote, and keep its mark", async () => {
    const mark = { siteId: 'S', workerId: 'w1', min: 1_000, max: 1_000 };
    await sut().insertEntries([entry(1)], [mark]);
    const read = (await sut().versionsOf('S', ['w1'])).get('w1') ?? 0;
    // another replica stores an entry of the same worker on another day, and recomputes that
    // day only: its recompute does not reach 04-01
    await sut().insertEntries([entry(2, { effectiveAt: 9_000_000_000 })], [mark]);
    const range = { siteId: 'S', workerId: 'w1', fromDay: '2026-04-01', toDay: '2026-04-02' };
    await sut().replaceDays([
      { ...range, days: [day('w1', '2026-04-01')], basis: read, settles: mark },
    ]);
    const days = await sut()
      .listDays({
        siteId: 'S',
        fromDay: '2026-04-01',
        toDay: '2026-04-30',
        limit: 10,
      })
      .then((p) => p.days);
    expect(days.map((d) => d.day)).toEqual(['2026-04-01']);
    // the mark may cover entries stored after this recompute read the version: it stays on
    // MongoDB for the newer recompute (SQLite has one writer: settled)
    expect(await sut().listPending(10)).toHaveLength(driver() === 'sqlite' ? 0 : 1);
  });

  it('should keep, on MongoDB, an entry state resolved from a higher seq over one from a lower', async () => {
    await sut().insertEntries([entry(1)]);
    const voided = (v: boolean) => [{ ...entry(1), voided: v, correctedBy: v ? [11] : [10] }];
    // the tree resolved up to seq 11 (the replica that took both corrections) lands first
    await sut().updateEntryStates(voided(true), [], 11);
    // the one resolved up to seq 10 lands later
    await sut().updateEntryStates(voided(false), [], 10);
    const [stored] = await sut().findEntries('S', [1]);
    // SQLite has one writer, whose resolutions come in seq order: the last one
    expect(stored.voided).toBe(driver() === 'mongo');
    await sut().updateEntryStates(voided(false), [], 12);
    expect((await sut().findEntries('S', [1]))[0]).toMatchObject({
      voided: false,
      correctedBy: [10],
    });
    // an entry inserted by another process with its states keeps the higher basis's too
    await sut().insertEntries([entry(2)], [], [entry(2)], 20);
    await sut().insertEntries([entry(2)], [], [{ ...entry(2), voided: true }], 13);
    expect((await sut().findEntries('S', [2]))[0].voided).toBe(driver() === 'sqlite');
  });
  it("should keep, on MongoDB, a pending mark whose writer's entries a recompute may have missed (the writer failing before its own recompute)", async () => {
    if (driver() === 'sqlite') return; // one writer process: entries and marks are one transaction
    const db = (store() as MongoStore).connection.db!;
    const mark = { siteId: 'S', workerId: 'w1', min: 1_000, max: 1_000 };
    const range = { siteId: 'S', workerId: 'w1', fromDay: '2026-03-01', toDay: '2026-03-03' };
    const settles = { min: 0, max: 10_000 };
    // replica A's recompute reads the worker's version and mark (none), and punches (none)
    const basis = (await sut().versionsOf('S', ['w1'])).get('w1') ?? 0;
    expect((await sut().pendingBasis('S', ['w1'])).has('w1')).toBe(false);
    expect(await sut().listPunches('S', 'w1', 0, 10_000)).toEqual([]);
    // replica B marks and stores an entry of the worker, then fails before its version bump
    // (a real store fault: a unique index the bump's version value violates) and so before its
    // own recompute: as a crash there would
    const versions = db.collection('timesheet_worker_versions');
    await versions.createIndex({ v: 1 }, { unique: true, sparse: true, name: 'fault' });
    await versions.insertOne({ siteId: 'decoy', workerId: 'decoy', v: basis + 1 });
    await expect(sut().insertEntries([entry(1)], [mark])).rejects.toMatchObject({
      message: expect.stringMatching(/E11000 .*index: fault\b/),
    });
    expect(await sut().findEntries('S', [1])).toHaveLength(1);
    // A's replacement (from no punch) lands: its days are written, B's mark must stay
    await sut().replaceDays([{ ...range, days: [], basis, settles }]);
    expect(await sut().listPending(10)).toEqual([mark]);
    await versions.dropIndex('fault');
    await versions.deleteOne({ siteId: 'decoy' });

    // B marks again and fails before storing its entry (a unique index its packet id violates)
    const entries = db.collection('timesheet_entries');
    await entries.createIndex({ packetId: 1 }, { unique: true, name: 'fault' });
    await entries.insertOne({ siteId: 'decoy', seq: 1, packetId: 'p2' });
    await expect(sut().insertEntries([entry(2)], [mark])).rejects.toMatchObject({
      message: expect.stringMatching(/E11000 .*index: fault\b/),
    });
    // a recompute now cannot settle the mark: a write that marked it has not stored its entry
    expect((await sut().pendingBasis('S', ['w1'])).has('w1')).toBe(false);
    await entries.dropIndex('fault');
    await entries.deleteOne({ siteId: 'decoy' });
    // the entry is taken again (another replica, or the next process's catch-up): the failed
    // writes' entries are all stored, so a recompute reading the mark now settles it
    expect(await sut().insertEntries([entry(2)])).toBe(1);
    const seen = (await sut().pendingBasis('S', ['w1'])).get('w1');
    expect(seen).toBeDefined();
    expect((await sut().listPunches('S', 'w1', 0, 10_000)).map((p) => p.seq)).toEqual([1, 2]);
    const read = (await sut().versionsOf('S', ['w1'])).get('w1') ?? 0;
    // but not once another write has widened it since that read
    await sut().insertEntries([entry(3)], [{ ...mark, max: 3_000 }]);
    // the write that stored its entry took its name out; the two that failed stay named
    const named = await db.collection('timesheet_pending_days').findOne({ workerId: 'w1' });
    expect(named?.open).toHaveLength(2);
    await sut().replaceDays([{ ...range, days: [], basis: read, settles, mark: seen }]);
    expect(await sut().listPending(10)).toEqual([{ ...mark, max: 3_000 }]);
    const last = (await sut().pendingBasis('S', ['w1'])).get('w1');
    await sut().replaceDays([{ ...range, days: [], basis: read + 1, settles, mark: last }]);
    expect(await sut().listPending(10)).toEqual([]);

    // a write whose seqs do not fill their range (10 and 12) stores one of them and fails;
    // another worker's entry fills the gap (11): the write is still not done
    await entries.createIndex({ packetId: 1 }, { unique: true, name: 'fault' });
    await entries.insertOne({ siteId: 'decoy', seq: 1, packetId: 'p12' });
    await expect(sut().insertEntries([entry(10), entry(12)], [mark])).rejects.toMatchObject({
      message: expect.stringMatching(/E11000 .*index: fault\b/),
    });
    await sut().insertEntries([entry(11, { workerId: 'w2' })]);
    expect((await sut().findEntries('S', [10, 11, 12])).map((e) => e.seq)).toEqual([10, 11]);
    expect((await sut().pendingBasis('S', ['w1'])).has('w1')).toBe(false);
  });
  it('should keep, on MongoDB, the days of a rebuild over those of a recompute that read across its clear', async () => {
    const mark = { siteId: 'S', workerId: 'w1', min: 1_000, max: 1_000 };
    const range = { siteId: 'S', workerId: 'w1', fromDay: '2026-03-01', toDay: '2026-03-03' };
    const days = () =>
      sut()
        .listDays({ siteId: 'S', fromDay: '2026-03-01', toDay: '2026-03-31', limit: 10 })
        .then((p) => p.days);
    const recompute = async () => ({
      basis: (await sut().versionsOf('S', ['w1'])).get('w1') ?? 0,
      mark: (await sut().pendingBasis('S', ['w1'])).get('w1'),
    });
    await sut().insertEntries([entry(1)], [mark]);
    // a replica's recompute reads the version and mark, then the rebuild clears the site, and
    // only then does the replica read the punches: none
    const stale = await recompute();
    await sut().clearSite('S');
    expect(await sut().listPunches('S', 'w1', 0, 10_000)).toEqual([]);
    // the rebuild takes the entry again and recomputes: its days land first
    await sut().insertEntries([entry(1)], [mark]);
    const fresh = await recompute();
    expect(await sut().listPunches('S', 'w1', 0, 10_000)).toHaveLength(1);
    await sut().replaceDays([
      { ...range, days: [day('w1', '2026-03-02')], ...fresh, settles: mark },
    ]);
    // the replica's replacement (from no punch) lands after: on MongoDB the cleared site's
    // versions stayed, so it is the older and the rebuild's day is kept (SQLite: one process,
    // whose projector serializes a rebuild with its recomputes)
    await sut().replaceDays([{ ...range, days: [], ...stale, settles: mark }]);
    expect((await days()).map((d) => d.day)).toEqual(driver() === 'mongo' ? ['2026-03-02'] : []);
    expect(await sut().listPending(10)).toEqual([]);
  });

  it("should let one rebuild hold a site's mark until it ends or its lease expires, as generations", async () => {
    const t0 = 1_000_000;
    expect(await sut().rebuildMark('S')).toBeUndefined();
    const first = await sut().startRebuild('S', 'a', t0 + 30_000, t0);
    expect(first).toEqual({ siteId: 'S', generation: 1, owner: 'a', expiresAt: t0 + 30_000 });
    // another holder while it is live: refused, nothing written
    expect(await sut().startRebuild('S', 'b', t0 + 60_000, t0 + 1_000)).toBeUndefined();
    expect(await sut().rebuildMark('S')).toEqual(first);
    // another site is its own
    expect(await sut().startRebuild('T', 'b', t0 + 30_000, t0)).toMatchObject({ generation: 1 });
    expect(await sut().renewRebuild('S', 'a', 1, t0 + 50_000)).toBe(true);
    expect(await sut().renewRebuild('S', 'b', 1, t0 + 90_000)).toBe(false);
    expect(await sut().rebuildMark('S')).toMatchObject({ expiresAt: t0 + 50_000 });
    // expired (a dead rebuild): another takes it as the next generation, and the old holder
    // can neither renew nor end it
    const second = await sut().startRebuild('S', 'b', t0 + 120_000, t0 + 60_000);
    expect(second).toEqual({ siteId: 'S', generation: 2, owner: 'b', expiresAt: t0 + 120_000 });
    expect(await sut().renewRebuild('S', 'a', 1, t0 + 200_000)).toBe(false);
    await sut().endRebuild('S', 'a', 1);
    expect(await sut().rebuildMark('S')).toEqual(second);
    // ended: taken again at once, by anyone
    await sut().endRebuild('S', 'b', 2);
    expect(await sut().rebuildMark('S')).toEqual({ ...second, expiresAt: 0 });
    expect(await sut().startRebuild('S', 'a', t0 + 130_000, t0 + 61_000)).toMatchObject({
      generation: 3,
      owner: 'a',
    });
  });

  it('should refuse, on SQLite, writes of a site to another connection under a live rebuild mark, and keep them on MongoDB', async () => {
    // a second adapter on its own connection: the rebuild process (SQLite), a replica (MongoDB)
    const other: Store =
      driver() === 'sqlite' ? new SqliteStore((store() as SqliteStore).path) : store();
    const rebuild = await compileAdapter(other, timesheetAdapters);
    try {
      const now = Date.now();
      const mark = { siteId: 'S', workerId: 'w1', min: 1_000, max: 1_000 };
      const range = { siteId: 'S', workerId: 'w1', fromDay: '2026-03-01', toDay: '2026-03-03' };
      expect(await rebuild.adapter.startRebuild('S', 'job', now + 60_000, now)).toBeDefined();
      // the holder writes
      await rebuild.adapter.insertEntries([entry(1)], [mark]);
      const writes = [
        () => sut().insertEntries([entry(2)], [mark]),
        () => sut().updateEntryStates([{ ...entry(1), voided: true }], [mark]),
        () => sut().replaceDays([{ ...range, days: [day('w1', '2026-03-02')] }]),
      ];
      for (const write of writes) {
        if (driver() === 'sqlite') {
          await expect(write()).rejects.toMatchObject({ code: 'timesheets_rebuilding' });
        } else {
          await write();
        }
      }
      // another site is not held
      await sut().insertEntries([{ ...entry(1), siteId: 'T' }]);
      const stored = await sut().findEntries('S', [1, 2]);
      expect(stored.map((e) => [e.seq, e.voided])).toEqual(
        driver() === 'sqlite'
          ? [[1, false]]
          : [
              [1, true],
              [2, false],
            ],
      );
      // once the rebuild has ended, the site is written again
      await rebuild.adapter.endRebuild('S', 'job', 1);
      await sut().insertEntries([entry(3)], [mark]);
      expect(await sut().findEntries('S', [3])).toHaveLength(1);
    } finally {
      await rebuild.close();
      if (other !== store()) await (other as SqliteStore).close();
    }
  });

  it('should be empty with no entry, day or pending day, and not with any one of them', async () => {
    // the start tags a read model that is empty without a warning, and warns when it clears
    // one with rows (TimesheetProjector's reseal): each kind of row alone is a read model
    expect(await sut().isEmpty()).toBe(true);
    // the list of keys is not a row of the read model
    await sut().resetAll('k0');
    expect(await sut().isEmpty()).toBe(true);

    await sut().insertEntries([entry(1)]);
    expect(await sut().isEmpty()).toBe(false);
    await sut().clearSite('S');
    expect(await sut().isEmpty()).toBe(true);

    const range = { siteId: 'S', fromDay: '2026-03-01', toDay: '2026-03-03' };
    await sut().replaceDays([{ ...range, workerId: 'a', days: [day('a', '2026-03-01')] }]);
    expect(await sut().isEmpty()).toBe(false);
    await sut().resetAll('k1');
    expect(await sut().isEmpty()).toBe(true);

    // a pending mark of a site with no entry of its own
    await sut().insertEntries([], [{ siteId: 'T', workerId: 'w1', min: 1, max: 2 }]);
    expect(await sut().listPending(10)).toHaveLength(1);
    expect(await sut().isEmpty()).toBe(false);
    await sut().resetAll('k2');
    expect(await sut().isEmpty()).toBe(true);
  });

  it('should keep every key id two connections add, and answer a malformed list as such', async () => {
    // review L2: each replica records its key id at its start; the add is one atomic write.
    // This test cannot tell that write from the older read-then-write (review LOW-3): on SQLite
    // each add is one synchronous transaction, so two connections of one process never
    // interleave, and a read snapshot held open on the second makes its write fail
    // (SQLITE_BUSY_SNAPSHOT) whatever the add's form; on MongoDB the older add was already an
    // `$addToSet` (of the list it read), losing no concurrent id, its hole (a reset between its
    // read and write, the reset's dropped ids written back) needing an interleave no test forces
    const other: Store =
      driver() === 'sqlite' ? new SqliteStore((store() as SqliteStore).path) : store();
    const replica = await compileAdapter(other, timesheetAdapters);
    try {
      expect(await sut().sealKids()).toBeUndefined();
      await sut().addSealKid('k1'); // no list yet: nothing (a reset records the first)
      expect(await sut().sealKids()).toBeUndefined();
      await sut().resetAll('k0');
      const kids = Array.from({ length: 10 }, (_, i) => `k${i + 1}`);
      await Promise.all(kids.map((kid, i) => (i % 2 ? replica.adapter : sut()).addSealKid(kid)));
      await sut().addSealKid('k3');
      const stored = await sut().sealKids();
      expect(Array.isArray(stored) && [...stored].sort()).toEqual(['k0', ...kids].sort());
      // review L1: a list written outside the server is answered as malformed, never thrown
      const malformed: Array<[string | null, unknown]> =
        driver() === 'sqlite'
          ? [
              ['not json [', undefined],
              ['{"kid":"x"}', undefined],
              ['[1]', undefined],
              ['[]', undefined],
            ]
          : [
              [null, 'garbage'],
              [null, { kid: 'x' }],
              [null, [1]],
              [null, []],
            ];
      for (const [text, value] of malformed) {
        if (driver() === 'sqlite') {
          (store() as SqliteStore).db
            .prepare('UPDATE timesheet_seal SET kids = ? WHERE id = 1')
            .run(text);
        } else {
          await (store() as MongoStore).connection
            .collection('timesheet_seal')
            .updateOne({ _id: 'kid' as never }, { $set: { kids: value } });
        }
        expect(await sut().sealKids()).toBe('malformed');
      }
      // a list from before `kids` (its one kid): the kid added beside it
      if (driver() === 'sqlite') {
        (store() as SqliteStore).db.prepare('UPDATE timesheet_seal SET kids = NULL').run();
      } else {
        await (store() as MongoStore).connection
          .collection('timesheet_seal')
          .updateOne({ _id: 'kid' as never }, { $unset: { kids: '' } });
      }
      expect(await sut().sealKids()).toEqual(['k0']);
      await replica.adapter.addSealKid('k5');
      await sut().addSealKid('k5');
      expect(await sut().sealKids()).toEqual(['k0', 'k5']);
      // a list stored as null (MongoDB: `kids: null`; SQLite: NULL, as above) is read as one
      // from before `kids`, and the add takes it as such (review LOW-2: it threw on MongoDB)
      if (driver() === 'sqlite') {
        (store() as SqliteStore).db.prepare('UPDATE timesheet_seal SET kids = NULL').run();
      } else {
        await (store() as MongoStore).connection
          .collection('timesheet_seal')
          .updateOne({ _id: 'kid' as never }, { $set: { kids: null } });
      }
      expect(await sut().sealKids()).toEqual(['k0']);
      await sut().addSealKid('k6');
      expect(await sut().sealKids()).toEqual(['k0', 'k6']);
    } finally {
      await replica.close();
      if (other !== store()) await (other as SqliteStore).close();
    }
  });

  it('should count only whole seqs from 1 in progress and countThrough', async () => {
    // review L3: a row between two seqs (written outside the server) made up for a deleted one
    await sut().insertEntries([entry(1), entry(3), entry(2.5), entry(0), entry(-1)]);
    expect(await sut().countThrough('S', 3)).toEqual({ count: 2, between: 1 });
    expect(await sut().countThrough('S', 2)).toEqual({ count: 1, between: 0 });
    expect(await sut().progress('S')).toEqual({ maxSeq: 3, count: 2 });
    // review L4: the stored whole seqs, to find those a short count misses
    expect(await sut().listSeqs('S', 0, 3, 10)).toEqual([1, 3]);
    expect(await sut().listSeqs('S', 1, 3, 1)).toEqual([3]);
    expect(await sut().listSeqs('T', 0, 3, 10)).toEqual([]);
    await sut().insertEntries([entry(2)]);
    expect(await sut().countThrough('S', 3)).toEqual({ count: 3, between: 1 });
    expect(await sut().progress('S')).toEqual({ maxSeq: 3, count: 3 });
  });
});
