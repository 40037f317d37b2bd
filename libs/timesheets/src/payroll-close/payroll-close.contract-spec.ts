import { MongoStore, SqliteStore } from '@app/persistence';
import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { payrollCloseAdapters } from './payroll-close-persistence';
import { CloseHead, CloseSeal, PayrollClose } from './payroll-close.repository';

describeStoreContract('PayrollCloseRepository', payrollCloseAdapters, ({ sut, store, driver }) => {
  type Draft = Omit<PayrollClose, 'seq' | 'prev' | 'tag'>;
  const draft = (siteId: string, from: string, to: string, at = 1): Draft => ({
    siteId,
    from,
    to,
    at,
    by: 'admin:ops',
    workers: [{ workerId: 'w1', daysPresent: 2, hours: 17, workedSeconds: 61_200, flaggedDays: 1 }],
  });
  /** A test seal: linked after the tip as read, the digest its `<siteId>|<from>`. */
  const seal =
    (d: Draft, seen?: Array<[PayrollClose | undefined, CloseHead | undefined]>): CloseSeal =>
    (tip, head) => {
      seen?.push([tip, head]);
      const seq = (tip?.seq ?? 0) + 1;
      const close = {
        ...d,
        seq,
        prev: tip ? `${tip.siteId}|${tip.from}` : '',
        tag: `tag-${d.siteId}-${d.from}`,
      };
      return {
        close,
        head: { siteId: d.siteId, seq, digest: `${d.siteId}|${d.from}`, tag: `head-${seq}` },
      };
    };
  const record = (d: Draft) => sut().record(d, seal(d));
  const closed = async (d: Draft): Promise<PayrollClose> => {
    const result = await record(d);
    if (result.status !== 'closed') throw new Error(`not closed: ${result.status}`);
    return result.close;
  };

  it('should record a close once: the same period answers the stored one, an overlapping one is refused with the close it meets, another site is apart', async () => {
    const oct = await closed(draft('s1', '2026-10-01', '2026-10-31'));
    expect(oct).toMatchObject({ seq: 1, prev: '', tag: 'tag-s1-2026-10-01' });
    expect(await record({ ...draft('s1', '2026-10-01', '2026-10-31'), at: 2 })).toEqual({
      status: 'exists',
      close: oct,
    });
    for (const [from, to] of [
      ['2026-10-31', '2026-11-30'],
      ['2026-09-01', '2026-10-01'],
      ['2026-10-10', '2026-10-12'],
      ['2026-09-01', '2026-11-30'],
    ]) {
      expect(await record(draft('s1', from, to))).toEqual({ status: 'overlaps', close: oct });
    }
    const nov = await closed(draft('s1', '2026-11-01', '2026-11-30'));
    await closed(draft('s2', '2026-10-01', '2026-10-31'));

    expect(await sut().overlapping('s1', '2026-10-31', '2026-11-01')).toEqual([oct, nov]);
    expect(await sut().overlapping('s1', '2026-12-01', '2026-12-31')).toEqual([]);
    expect(await sut().list('s1', 10)).toEqual([nov, oct]);
    expect(await sut().list('s1', 1)).toEqual([nov]);
    expect(await sut().list('s1', 10, '2026-11-01')).toEqual([oct]);
  });

  it("should link each close after the site's chain as read in the write (its tip and head) and store the head with it, by seq whatever the periods' order", async () => {
    const seen: Array<[PayrollClose | undefined, CloseHead | undefined]> = [];
    const nov = draft('s1', '2026-11-01', '2026-11-30');
    const oct = draft('s1', '2026-10-01', '2026-10-31');
    expect(await sut().chain('s1')).toEqual({ closes: [] });
    expect((await sut().record(nov, seal(nov, seen))).status).toBe('closed');
    expect((await sut().record(oct, seal(oct, seen))).status).toBe('closed');
    const first = { ...nov, seq: 1, prev: '', tag: 'tag-s1-2026-11-01' };
    const second = { ...oct, seq: 2, prev: 's1|2026-11-01', tag: 'tag-s1-2026-10-01' };
    expect(seen).toEqual([
      [undefined, undefined],
      [first, { siteId: 's1', seq: 1, digest: 's1|2026-11-01', tag: 'head-1' }],
    ]);
    expect(await sut().chain('s1')).toEqual({
      closes: [first, second],
      head: { siteId: 's1', seq: 2, digest: 's1|2026-10-01', tag: 'head-2' },
    });
    // a seal that refuses stores nothing
    const dec = draft('s1', '2026-12-01', '2026-12-31');
    await expect(
      sut().record(dec, () => {
        throw new Error('broken');
      }),
    ).rejects.toThrow('broken');
    expect((await sut().chain('s1')).closes).toHaveLength(2);
    expect(await sut().chain('s2')).toEqual({ closes: [] });
  });

  it('should refuse a second close in the same place of the chain (another replica extending it at once) without storing it', async () => {
    const oct = draft('s1', '2026-10-01', '2026-10-31');
    await closed(oct);
    // a seal that read the chain before oct: it links at the same place again
    const nov = draft('s1', '2026-11-01', '2026-11-30');
    const stale: CloseSeal = () => ({
      close: { ...nov, seq: 1, prev: '', tag: 'stale' },
      head: { siteId: 's1', seq: 1, digest: 's1|2026-11-01', tag: 'head-stale' },
    });
    const result = await sut().record(nov, stale);
    expect(result.status).toBe('raced');
    expect(await sut().chain('s1')).toEqual({
      closes: [{ ...oct, seq: 1, prev: '', tag: 'tag-s1-2026-10-01' }],
      head: { siteId: 's1', seq: 1, digest: 's1|2026-10-01', tag: 'head-1' },
    });
  });

  /** A close as an earlier release stored it: no seq, no prev. */
  const storeUnlinked = async (d: Draft, tag: string) => {
    if (driver() === 'sqlite') {
      (store() as SqliteStore).db
        .prepare(
          `INSERT INTO payroll_closes (site_id, from_day, to_day, closed_at, closed_by, workers, tag)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(d.siteId, d.from, d.to, d.at, d.by, JSON.stringify(d.workers), tag);
    } else {
      await (store() as MongoStore).connection.db!.collection('payroll_closes').insertOne({
        _id: `${d.siteId}|${d.from}` as never,
        siteId: d.siteId,
        from: d.from,
        to: d.to,
        at: d.at,
        by: d.by,
        workers: JSON.stringify(d.workers),
        tag,
      });
    }
  };

  it('should name the sites holding closes of an earlier release, hand them to the link by time recorded and store what it makes of them with the head, once', async () => {
    const dec = draft('s1', '2026-12-01', '2026-12-31', 5);
    const oct = draft('s1', '2026-10-01', '2026-10-31', 9);
    await storeUnlinked(dec, 'old-dec');
    await storeUnlinked(oct, 'old-oct');
    await storeUnlinked(draft('s3', '2026-10-01', '2026-10-31'), 'old-s3');
    await closed(draft('s2', '2026-10-01', '2026-10-31'));
    expect(await sut().unlinkedSiteIds(10)).toEqual(['s1', 's3']);
    expect(await sut().unlinkedSiteIds(1)).toEqual(['s1']);
    // unlinked closes read with seq 0, first in the chain
    expect((await sut().chain('s1')).closes.map((c) => [c.from, c.seq, c.prev, c.tag])).toEqual(
      [
        ['2026-12-01', 0, '', 'old-dec'],
        ['2026-10-01', 0, '', 'old-oct'],
      ].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    );

    const given: Array<[string[], PayrollClose | undefined, CloseHead | undefined]> = [];
    expect(
      await sut().link('s1', (unlinked, tip, head) => {
        given.push([unlinked.map((c) => c.tag), tip, head]);
        const closes = unlinked.map((c, i) => ({
          ...c,
          seq: i + 1,
          prev: `p${i}`,
          tag: `new-${i}`,
        }));
        return { closes, head: { siteId: 's1', seq: 2, digest: 'd2', tag: 'h2' } };
      }),
    ).toBe(true);
    expect(given).toEqual([[['old-dec', 'old-oct'], undefined, undefined]]);
    expect(await sut().chain('s1')).toEqual({
      closes: [
        { ...dec, seq: 1, prev: 'p0', tag: 'new-0' },
        { ...oct, seq: 2, prev: 'p1', tag: 'new-1' },
      ],
      head: { siteId: 's1', seq: 2, digest: 'd2', tag: 'h2' },
    });
    expect(await sut().unlinkedSiteIds(10)).toEqual(['s3']);
    expect(await sut().chainPlaces('s1')).toEqual({
      places: [
        { seq: 1, from: dec.from, to: dec.to },
        { seq: 2, from: oct.from, to: oct.to },
      ],
      tip: { ...oct, seq: 2, prev: 'p1', tag: 'new-1' },
      head: { siteId: 's1', seq: 2, digest: 'd2', tag: 'h2' },
    });
    // an unlinked close reads in place 0; a site without closes has no tip nor head
    expect(await sut().chainPlaces('s3')).toEqual({
      places: [{ seq: 0, from: '2026-10-01', to: '2026-10-31' }],
    });
    expect(await sut().chainPlaces('s9')).toEqual({ places: [] });
    // nothing left to link: the link is not called
    expect(
      await sut().link('s1', () => {
        throw new Error('called');
      }),
    ).toBe(false);
  });

  // closemend2, MED: on MongoDB a close another replica stored after the link read the tip took
  // the place first: the duplicate key passed as a 500 to the site's reads (at boot an alarm)
  it('should answer false, not throw, when a linked close would take a place another close holds, and leave it unlinked', async () => {
    const oct = await closed(draft('s1', '2026-10-01', '2026-10-31'));
    await storeUnlinked(draft('s1', '2026-09-01', '2026-09-30'), 'old-sep');
    expect(
      await sut().link('s1', (unlinked) => ({
        closes: unlinked.map((c) => ({ ...c, seq: 1, prev: '', tag: 'new-sep' })),
        head: { siteId: 's1', seq: 1, digest: 'd1', tag: 'h1' },
      })),
    ).toBe(false);
    const { places, head } = await sut().chainPlaces('s1');
    expect(places).toContainEqual({ seq: 0, from: '2026-09-01', to: '2026-09-30' });
    expect(places).toContainEqual({ seq: 1, from: oct.from, to: oct.to });
    expect(head).toEqual({ siteId: 's1', seq: 1, digest: 's1|2026-10-01', tag: 'head-1' });
  });

  it("should page every site's closes for keys:retag by site and first day, write a retagged plan's tag over the row as read and nothing else, and answer deleted for a gone id", async () => {
    const rows = [
      await closed(draft('s2', '2026-10-01', '2026-10-31')),
      await closed(draft('s1', '2026-11-01', '2026-11-30')),
      await closed(draft('s1', '2026-10-01', '2026-10-31')),
    ];
    const ids = ['s1|2026-10-01', 's1|2026-11-01', 's2|2026-10-01'];
    expect(await sut().retagIds('', 10)).toEqual(ids);
    expect(await sut().retagIds('', 2)).toEqual(ids.slice(0, 2));
    expect(await sut().retagIds(ids[1], 2)).toEqual(ids.slice(2));
    expect(await sut().retagIds(ids[2], 2)).toEqual([]);

    const seen: PayrollClose[] = [];
    expect(
      await sut().retag(ids[0], (c) => {
        seen.push(c);
        return { result: 'retagged', from: 'old', tag: 'new-tag' };
      }),
    ).toEqual({ id: ids[0], result: 'retagged', from: 'old' });
    expect(seen).toEqual([rows[2]]);
    expect(await sut().retag(ids[1], () => ({ result: 'suspect', from: 'leaked' }))).toEqual({
      id: ids[1],
      result: 'suspect',
      from: 'leaked',
    });
    expect(await sut().retag(ids[2], () => ({ result: 'tampered' }))).toEqual({
      id: ids[2],
      result: 'tampered',
    });
    expect(await sut().retag('s3|2026-10-01', () => ({ result: 'current' }))).toEqual({
      id: 's3|2026-10-01',
      result: 'deleted',
    });
    // only the retagged close's tag changed, every other field as it was
    expect(await sut().list('s1', 10)).toEqual([rows[1], { ...rows[2], tag: 'new-tag' }]);
    expect(await sut().list('s2', 10)).toEqual([rows[0]]);
  });

  it("should page the sites' heads for keys:retag and write a retagged plan's tag over the head as read and nothing else", async () => {
    await closed(draft('s2', '2026-10-01', '2026-10-31'));
    await closed(draft('s1', '2026-10-01', '2026-10-31'));
    await closed(draft('s1', '2026-11-01', '2026-11-30'));
    expect(await sut().retagHeadIds('', 10)).toEqual(['s1', 's2']);
    expect(await sut().retagHeadIds('', 1)).toEqual(['s1']);
    expect(await sut().retagHeadIds('s1', 10)).toEqual(['s2']);
    const seen: CloseHead[] = [];
    expect(
      await sut().retagHead('s1', (h) => {
        seen.push(h);
        return { result: 'retagged', from: 'old', tag: 'new-head' };
      }),
    ).toEqual({ id: 's1', result: 'retagged', from: 'old' });
    expect(seen).toEqual([{ siteId: 's1', seq: 2, digest: 's1|2026-11-01', tag: 'head-2' }]);
    expect(await sut().retagHead('s2', () => ({ result: 'tampered' }))).toEqual({
      id: 's2',
      result: 'tampered',
    });
    expect(await sut().retagHead('s3', () => ({ result: 'current' }))).toEqual({
      id: 's3',
      result: 'deleted',
    });
    expect((await sut().chain('s1')).head).toEqual({
      siteId: 's1',
      seq: 2,
      digest: 's1|2026-11-01',
      tag: 'new-head',
    });
    expect((await sut().chain('s2')).head?.tag).toBe('head-1');
  });
  it("should read a site's linked closes after a place, and move its head only from the head as read (every field)", async () => {
    const oct = await closed(draft('s1', '2026-10-01', '2026-10-31'));
    const nov = await closed(draft('s1', '2026-11-01', '2026-11-30'));
    await closed(draft('s2', '2026-10-01', '2026-10-31'));
    await storeUnlinked(draft('s3', '2026-10-01', '2026-10-31'), 'old-s3');
    expect(await sut().closesAfter('s1', 0)).toEqual([oct, nov]);
    expect(await sut().closesAfter('s1', 1)).toEqual([nov]);
    expect(await sut().closesAfter('s1', 2)).toEqual([]);
    expect(await sut().closesAfter('s3', 0)).toEqual([]);

    const head = { siteId: 's1', seq: 2, digest: 's1|2026-11-01', tag: 'head-2' };
    const back = { siteId: 's1', seq: 0, digest: '', tag: 'head-0' };
    for (const stale of [
      { ...head, tag: 'head-x' },
      { ...head, seq: 1 },
      { ...head, digest: 's1|2026-10-01' },
    ]) {
      expect(await sut().rollHead(stale, back)).toBe(false);
    }
    expect((await sut().chain('s1')).head).toEqual(head);
    expect(await sut().rollHead(head, back)).toBe(true);
    expect((await sut().chain('s1')).head).toEqual(back);
    expect(await sut().rollHead(back, head)).toBe(true);
    expect((await sut().chain('s1')).head).toEqual(head);
    // no head to move: none written
    expect(await sut().rollHead({ ...back, siteId: 's9' }, { ...head, siteId: 's9' })).toBe(false);
    expect(await sut().chain('s9')).toEqual({ closes: [] });
    // only MongoDB writes a close and its head apart
    expect(sut().headMayTrail).toBe(driver() === 'mongo');
  });

  it("should store a site's first close with its head whatever the empty chain's head given with it (MongoDB writes that one first)", async () => {
    const oct = draft('s1', '2026-10-01', '2026-10-31');
    const base = { siteId: 's1', seq: 0, digest: '', tag: 'head-0' };
    const seen: Array<[PayrollClose | undefined, CloseHead | undefined]> = [];
    const withBase: CloseSeal = (tip, head) => ({ ...seal(oct, seen)(tip, head), base });
    expect((await sut().record(oct, withBase)).status).toBe('closed');
    expect(seen).toEqual([[undefined, undefined]]);
    expect((await sut().chain('s1')).head).toEqual({
      siteId: 's1',
      seq: 1,
      digest: 's1|2026-10-01',
      tag: 'head-1',
    });
    // a site's closes of an earlier release linked with the empty chain's head given too
    await storeUnlinked(draft('s3', '2026-10-01', '2026-10-31'), 'old-s3');
    expect(
      await sut().link('s3', (unlinked) => ({
        closes: unlinked.map((c) => ({ ...c, seq: 1, prev: '', tag: 'new-s3' })),
        head: { siteId: 's3', seq: 1, digest: 'd1', tag: 'h1' },
        base: { ...base, siteId: 's3' },
      })),
    ).toBe(true);
    expect((await sut().chain('s3')).head).toEqual({
      siteId: 's3',
      seq: 1,
      digest: 'd1',
      tag: 'h1',
    });
  });
  /**
   * `h` written as another server would amid the next record: SQLite inside its transaction
   * (from the seal: the record writes its head after), MongoDB right after its close is inserted
   * (`after: 'close'`) or right before it writes the site's first head (`'head'`).
   */
  const amid = (h: CloseHead, after: 'close' | 'head', seal: CloseSeal): CloseSeal => {
    const write = () =>
      (store() as MongoStore).connection
        .db!.collection('payroll_close_heads')
        .updateOne(
          { _id: h.siteId as never },
          { $set: { seq: h.seq, digest: h.digest, tag: h.tag } },
          { upsert: true },
        );
    if (driver() === 'mongo') {
      const model = (store() as MongoStore).connection.model(
        after === 'close' ? 'PayrollCloseDocument' : 'PayrollCloseHeadDocument',
      );
      const create = model.create.bind(model) as (doc: unknown) => Promise<unknown>;
      jest.spyOn(model, 'create').mockImplementationOnce((async (doc: unknown) => {
        if (after === 'head') await write();
        const made = await create(doc);
        if (after === 'close') await write();
        return made;
      }) as never);
      return seal;
    }
    return (tip, head) => {
      (store() as SqliteStore).db
        .prepare(
          `INSERT INTO payroll_close_heads (site_id, seq, digest, tag) VALUES (?, ?, ?, ?)
           ON CONFLICT (site_id) DO UPDATE SET seq = excluded.seq, digest = excluded.digest, tag = excluded.tag`,
        )
        .run(h.siteId, h.seq, h.digest, h.tag);
      return seal(tip, head);
    };
  };

  it("should keep a close whose head another server moved onto it first (a read rolling it forward), and on MongoDB answer raced when another wrote the site's first head first", async () => {
    const oct = draft('s1', '2026-10-01', '2026-10-31');
    await closed(oct);
    const nov = draft('s1', '2026-11-01', '2026-11-30');
    const rolled = { siteId: 's1', seq: 2, digest: 's1|2026-11-01', tag: 'rolled-2' };
    expect((await sut().record(nov, amid(rolled, 'close', seal(nov)))).status).toBe('closed');
    const { closes, head } = await sut().chain('s1');
    expect(closes.map((c) => c.from)).toEqual([oct.from, nov.from]);
    // SQLite: its own head, written after in the one transaction
    expect(head).toEqual(driver() === 'mongo' ? rolled : { ...rolled, tag: 'head-2' });

    // a site's first close, another server writing its first head meanwhile
    const dec = draft('s2', '2026-12-01', '2026-12-31');
    const other = { siteId: 's2', seq: 0, digest: '', tag: 'other-0' };
    const withBase: CloseSeal = (tip, h) => ({
      ...seal(dec)(tip, h),
      base: { ...other, tag: 'head-0' },
    });
    const result = await sut().record(dec, amid(other, 'head', withBase));
    if (driver() === 'mongo') {
      expect(result).toEqual({ status: 'raced' });
      expect(await sut().chain('s2')).toEqual({ closes: [], head: other });
    } else {
      expect(result.status).toBe('closed');
      expect((await sut().chain('s2')).head?.tag).toBe('head-1');
    }
  });
});
