import { TimesheetEntryRow, TimesheetSqliteMapper } from './timesheet.mapper';

function row(overrides: Partial<TimesheetEntryRow> = {}): TimesheetEntryRow {
  return {
    site_id: 'S',
    seq: 7,
    worker_id: 'w1',
    packet_id: '00000000-0000-4000-8000-000000000007',
    kind: 'punch',
    punch_type: 'check_in',
    action: null,
    target_seq: null,
    at: 1_767_254_400_000,
    effective_at: 1_767_254_460_000,
    voided: 0,
    corrected_by: '[]',
    low_trust: 0,
    out_at: null,
    ...overrides,
  };
}

describe('TimesheetSqliteMapper', () => {
  it.each([
    ['a plain punch', {}],
    [
      'a voided, corrected, low-trust check-out',
      { punch_type: 'check_out', voided: 1, corrected_by: '[9,12]', low_trust: 1 },
    ],
    ['a punch without its times', { at: null, effective_at: null }],
    ['a moved punch without an effective time', { effective_at: null }],
  ] as Array<[string, Partial<TimesheetEntryRow>]>)(
    'should read %s on the punch path as the shared conversion does, key order included',
    (_name, overrides) => {
      const r = row(overrides);
      const fast = TimesheetSqliteMapper.toDomain(r);
      const full = TimesheetSqliteMapper.toDomainInFull(r);
      expect(fast).toEqual(full);
      expect(Object.keys(fast)).toEqual(Object.keys(full));
    },
  );

  it('should read a correction through the shared conversion, leaving out what it has not', () => {
    const r = row({
      kind: 'correction',
      punch_type: null,
      action: 'void',
      target_seq: 3,
      effective_at: null,
    });
    expect(TimesheetSqliteMapper.toDomain(r)).toStrictEqual({
      siteId: 'S',
      seq: 7,
      workerId: 'w1',
      packetId: '00000000-0000-4000-8000-000000000007',
      kind: 'correction',
      action: 'void',
      targetSeq: 3,
      at: 1_767_254_400_000,
      voided: false,
      correctedBy: [],
      lowTrust: false,
    });
  });

  it('should write back the row it read', () => {
    for (const r of [
      row(),
      row({
        kind: 'correction',
        punch_type: 'check_out',
        action: 'add_check_out',
        target_seq: 2,
        corrected_by: '[4]',
      }),
      row({
        kind: 'correction',
        punch_type: 'shift',
        action: 'add_shift',
        effective_at: 1_767_254_400_000,
        out_at: 1_767_283_200_000,
      }),
    ]) {
      expect(TimesheetSqliteMapper.toPersistence(TimesheetSqliteMapper.toDomain(r))).toEqual(r);
    }
  });
});
