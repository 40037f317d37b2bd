import { isDuplicateKeyOn } from './mongo-errors';

describe('isDuplicateKeyOn', () => {
  const e11000 = (fields: Partial<{ keyPattern: object; message: string; code: number }>) =>
    Object.assign(new Error(fields.message ?? 'E11000 duplicate key error'), {
      code: 11000,
      ...fields,
    });

  it('should name the index by the error keyPattern when the server sends one', () => {
    const onSeq = e11000({ keyPattern: { siteId: 1, seq: 1 } });
    expect(isDuplicateKeyOn(onSeq, 'seq')).toBe(true);
    expect(isDuplicateKeyOn(onSeq, 'packetId')).toBe(false);
    const onKey = e11000({ keyPattern: { packetId: 1, deviceId: 1 } });
    expect(isDuplicateKeyOn(onKey, 'seq')).toBe(false);
  });

  it('should read the index name in the message when there is no keyPattern', () => {
    const onSeq = e11000({
      message:
        'E11000 duplicate key error collection: mdai.attendance_logs index: siteId_1_seq_1 dup key',
    });
    expect(isDuplicateKeyOn(onSeq, 'seq')).toBe(true);
    expect(isDuplicateKeyOn(onSeq, 'siteId')).toBe(true);
    const onKey = e11000({
      message: 'E11000 duplicate key error index: packetId_1_deviceId_1 dup key',
    });
    expect(isDuplicateKeyOn(onKey, 'seq')).toBe(false);
    expect(isDuplicateKeyOn(e11000({ message: 'E11000 duplicate key error' }), 'seq')).toBe(false);
  });

  it('should be false for any error that is not E11000', () => {
    expect(isDuplicateKeyOn(Object.assign(new Error('x'), { keyPattern: { seq: 1 } }), 'seq')).toBe(
      false,
    );
    expect(isDuplicateKeyOn(undefined, 'seq')).toBe(false);
  });
});
