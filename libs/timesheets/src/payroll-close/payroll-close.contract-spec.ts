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
});
