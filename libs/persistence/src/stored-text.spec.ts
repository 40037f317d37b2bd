import Database from 'better-sqlite3';
import {
  canonicalJsonText,
  canonicalMongoJson,
  canonicalSqliteFlag,
  canonicalSqliteTime,
  storedFormsCanonical,
} from './stored-text';

describe('stored text is canonical', () => {
  it('should hold JSON text to what JSON.stringify writes for its parsed value, in any key order', () => {
    const sponsor = { kind: 'thekedar', thekedarId: 'T1' };
    expect(canonicalJsonText(JSON.stringify(sponsor))).toBe(true);
    // earlier releases' key orders, arrays, an empty array (the thekedars' default)
    expect(canonicalJsonText('{"thekedarId":"T1","kind":"thekedar"}')).toBe(true);
    expect(canonicalJsonText('["s1","s2"]')).toBe(true);
    expect(canonicalJsonText('[]')).toBe(true);
    // json_extract reads the first of duplicate keys, JSON.parse the last
    expect(
      canonicalJsonText(
        '{"kind":"thekedar","thekedarId":"T2","kind":"thekedar","thekedarId":"T1"}',
      ),
    ).toBe(false);
    expect(canonicalJsonText('[ "s1" ]')).toBe(false);
    expect(canonicalJsonText('{"kind":"\\u0074hekedar"}')).toBe(false);
    expect(canonicalJsonText('[1.0]')).toBe(false);
    expect(canonicalJsonText('not json')).toBe(false);
    expect(canonicalJsonText(42)).toBe(false);
  });

  it("should read SQLite's own JSON output (the migrations that built JSON columns in SQL) as canonical", () => {
    const db = new Database(':memory:');
    const [{ sites }] = db
      .prepare(
        "SELECT json_group_array(s) AS sites FROM (SELECT 'a' AS s UNION ALL SELECT 'b' ORDER BY s)",
      )
      .all() as { sites: string }[];
    db.close();
    expect(sites).toBe('["a","b"]');
    expect(canonicalJsonText(sites)).toBe(true);
  });

  it('should hold times to the ISO text toISOString writes, and flags to 0 or 1', () => {
    const at = new Date('2026-12-07T04:08:02.607Z');
    expect(canonicalSqliteTime(at.toISOString())).toBe(true);
    expect(canonicalSqliteTime('Mon Dec 07 2026 04:08:02.607 GMT+0000')).toBe(false);
    expect(canonicalSqliteTime('+002026-12-07T04:08:02.607Z')).toBe(false);
    expect(canonicalSqliteTime('2026-12-07T04:08:02Z')).toBe(false);
    expect([0, 1, 2, -1, '1', true, null].map(canonicalSqliteFlag)).toEqual([
      true,
      true,
      false,
      false,
      false,
      false,
      false,
    ]);
  });

  it('should hold MongoDB values to JSON values, and a row to every form named, null allowed where optional', () => {
    expect(canonicalMongoJson({ a: ['x', 1, true, null, { b: 2.5 }] })).toBe(true);
    expect(canonicalMongoJson({ timestamp: new Date(0) })).toBe(false);
    expect(canonicalMongoJson({ n: Number.NaN })).toBe(false);
    const row = { sponsor: '{"kind":"admin"}', at: '2026-01-01T00:00:00.000Z', until: null, b: 1 };
    expect(
      storedFormsCanonical(row, { sponsor: 'json', at: 'time', until: 'time?', b: 'flag' }),
    ).toBe(true);
    expect(storedFormsCanonical(row, { until: 'time' })).toBe(false);
    expect(storedFormsCanonical({ ...row, b: 2 }, { b: 'flag' })).toBe(false);
    expect(storedFormsCanonical({ at: '2026-01-01T00:00:00.000Z' }, { at: 'mongoTime' })).toBe(
      false,
    );
    expect(
      storedFormsCanonical({ at: new Date(0), x: false }, { at: 'mongoTime', x: 'mongoFlag' }),
    ).toBe(true);
  });
});
