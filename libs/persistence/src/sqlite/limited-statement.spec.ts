import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LimitedStatement, LimitedStatements, literalLimitSql } from './limited-statement';

const PAGE_SQL = 'SELECT id FROM items WHERE id > ? ORDER BY id LIMIT ?';

describe('LimitedStatement', () => {
  let dir: string;
  let db: Database.Database;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'mdai-limited-'));
    db = new Database(join(dir, 'store.db'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE items (id TEXT PRIMARY KEY)');
    const insert = db.prepare('INSERT INTO items (id) VALUES (?)');
    for (let i = 0; i < 150; i++) insert.run(`item-${String(i).padStart(3, '0')}`);
  });

  afterEach(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('should answer every page as the same SQL with a bound LIMIT does', () => {
    const bound = db.prepare<[string, number], { id: string }>(PAGE_SQL);
    const limited = new LimitedStatement<[string], { id: string }>(db, PAGE_SQL);
    // more distinct limits than it keeps statements for, each asked twice, from several cursors
    for (const after of ['', 'item-049', 'item-148', 'item-149', 'zzz']) {
      for (let limit = 0; limit <= 80; limit += 1) {
        const expected = bound.all(after, limit);
        expect(limited.all([after], limit)).toEqual(expected);
        expect(limited.all([after], limit)).toEqual(expected);
      }
    }
  });

  it('should see rows written after its statement was prepared', () => {
    const limited = new LimitedStatement<[string], { id: string }>(db, PAGE_SQL);
    expect(limited.all(['item-149'], 5)).toEqual([]);
    db.prepare('INSERT INTO items (id) VALUES (?)').run('item-150');
    expect(limited.all(['item-149'], 5)).toEqual([{ id: 'item-150' }]);
  });

  it('should refuse a limit that is not a non-negative integer', () => {
    const limited = new LimitedStatement<[string], { id: string }>(db, PAGE_SQL);
    for (const limit of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => limited.all([''], limit)).toThrow(RangeError);
    }
  });

  it('should refuse SQL that does not end in LIMIT ?', () => {
    expect(() => new LimitedStatement(db, 'SELECT id FROM items WHERE id > ? LIMIT 10')).toThrow(
      /LIMIT \?/,
    );
    expect(() => new LimitedStatement(db, 'SELECT id FROM items LIMIT ? OFFSET ?')).toThrow(
      /LIMIT \?/,
    );
  });

  it('should return rows as arrays with raw, as a raw bound statement does', () => {
    const bound = db.prepare<[string, number], unknown[]>(PAGE_SQL).raw(true);
    const limited = new LimitedStatement<[string], unknown[]>(db, PAGE_SQL, { raw: true });
    expect(limited.all(['item-100'], 3)).toEqual(bound.all('item-100', 3));
    expect(limited.all(['item-100'], 3)).toEqual([['item-101'], ['item-102'], ['item-103']]);
  });

  it('should answer each SQL text it is given as its bound statement does', () => {
    const texts = Array.from(
      { length: 70 }, // more texts than it keeps
      (_, i) =>
        `SELECT id FROM items WHERE id > ? AND id <> 'item-${String(i).padStart(3, '0')}' ORDER BY id LIMIT ?`,
    );
    const limited = new LimitedStatements<{ id: string }>(db);
    for (const round of [0, 1]) {
      for (const sql of texts) {
        const limit = 1 + ((round * 7 + sql.length) % 5);
        expect(limited.all(sql, ['item-000'], limit)).toEqual(
          db.prepare(sql).all('item-000', limit),
        );
      }
    }
  });

  it('should write the limit into the SQL only as a non-negative integer', () => {
    expect(literalLimitSql(PAGE_SQL, 25)).toBe(
      'SELECT id FROM items WHERE id > ? ORDER BY id LIMIT 25',
    );
    expect(() => literalLimitSql(PAGE_SQL, -1)).toThrow(RangeError);
    expect(() => literalLimitSql('SELECT id FROM items', 1)).toThrow(/LIMIT \?/);
  });
});
