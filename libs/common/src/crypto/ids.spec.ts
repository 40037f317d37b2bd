import { ObjectId } from 'bson';
import { isObjectId, newId } from './ids';

describe('newId', () => {
  it('should make ObjectIds: 24 hex characters that bson parses, stamped with the current second', () => {
    const before = Math.floor(Date.now() / 1000);
    const id = newId();
    const after = Math.floor(Date.now() / 1000);
    expect(isObjectId(id)).toBe(true);
    const parsed = new ObjectId(id);
    expect(parsed.toHexString()).toBe(id);
    const seconds = parsed.getTimestamp().getTime() / 1000;
    expect(seconds).toBeGreaterThanOrEqual(before);
    expect(seconds).toBeLessThanOrEqual(after);
  });

  it('should never repeat, share the process part and count up within a process', () => {
    const ids = Array.from({ length: 10_000 }, () => newId());
    expect(new Set(ids).size).toBe(ids.length);
    expect(new Set(ids.map((id) => id.slice(8, 18))).size).toBe(1);
    const counters = ids.map((id) => parseInt(id.slice(18), 16));
    for (let i = 1; i < counters.length; i++) {
      expect(counters[i]).toBe((counters[i - 1] + 1) % 0x1000000);
    }
  });
});
