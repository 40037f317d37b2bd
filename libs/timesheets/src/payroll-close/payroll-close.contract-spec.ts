import { describeStoreContract } from '@app/persistence/testing/store-contract';
import { payrollCloseAdapters } from './payroll-close-persistence';
import { PayrollClose } from './payroll-close.repository';

describeStoreContract('PayrollCloseRepository', payrollCloseAdapters, ({ sut }) => {
  const close = (siteId: string, from: string, to: string, at = 1): PayrollClose => ({
    siteId,
    from,
    to,
    at,
    by: 'admin:ops',
    workers: [{ workerId: 'w1', daysPresent: 2, hours: 17, workedSeconds: 61_200, flaggedDays: 1 }],
    tag: `tag-${siteId}-${from}`,
  });

  it('should record a close once: the same period answers the stored one, an overlapping one is refused with the close it meets, another site is apart', async () => {
    const oct = close('s1', '2026-10-01', '2026-10-31');
    expect(await sut().record(oct)).toEqual({ status: 'closed', close: oct });
    expect(await sut().record({ ...oct, at: 2, tag: 'other' })).toEqual({
      status: 'exists',
      close: oct,
    });
    for (const [from, to] of [
      ['2026-10-31', '2026-11-30'],
      ['2026-09-01', '2026-10-01'],
      ['2026-10-10', '2026-10-12'],
      ['2026-09-01', '2026-11-30'],
    ]) {
      expect(await sut().record(close('s1', from, to))).toEqual({ status: 'overlaps', close: oct });
    }
    const nov = close('s1', '2026-11-01', '2026-11-30');
    expect((await sut().record(nov)).status).toBe('closed');
    expect((await sut().record(close('s2', '2026-10-01', '2026-10-31'))).status).toBe('closed');

    expect(await sut().overlapping('s1', '2026-10-31', '2026-11-01')).toEqual([oct, nov]);
    expect(await sut().overlapping('s1', '2026-12-01', '2026-12-31')).toEqual([]);
    expect(await sut().list('s1', 10)).toEqual([nov, oct]);
    expect(await sut().list('s1', 1)).toEqual([nov]);
    expect(await sut().list('s1', 10, '2026-11-01')).toEqual([oct]);
  });

  it("should page every site's closes for keys:retag by site and first day, write a retagged plan's tag over the row as read and nothing else, and answer deleted for a gone id", async () => {
    const rows = [
      close('s2', '2026-10-01', '2026-10-31'),
      close('s1', '2026-11-01', '2026-11-30'),
      close('s1', '2026-10-01', '2026-10-31'),
    ];
    for (const row of rows) expect((await sut().record(row)).status).toBe('closed');
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
});
