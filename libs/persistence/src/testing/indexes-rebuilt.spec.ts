import Database from 'better-sqlite3';
import { withIndexesRebuilt } from './indexes-rebuilt';

/** The schema's indexes by name: table, name and definition (NULL: a constraint's own). */
const indexes = (db: Database.Database) =>
  db
    .prepare<[], { tbl_name: string; name: string; sql: string | null }>(
      "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name",
    )
    .all();

describe('withIndexesRebuilt', () => {
  let db: Database.Database;

  beforeEach(() => {
    db = new Database(':memory:');
    db.exec(`
      CREATE TABLE t (k TEXT PRIMARY KEY, a INTEGER, b TEXT UNIQUE, "odd name" TEXT) WITHOUT ROWID;
      CREATE INDEX t_a ON t (a DESC, k);
      CREATE INDEX t_b_lower ON t (lower(b)) WHERE a > 10;
      CREATE INDEX "t odd" ON t ("odd name");
      CREATE TABLE u (x INTEGER);
      CREATE INDEX u_x ON u (x);
    `);
  });
  afterEach(() => db.close());

  it('should fill without the tables indexes, then create each again from its definition', () => {
    const before = indexes(db);
    let during: string[] = [];

    withIndexesRebuilt(db, ['t'], () => {
      during = indexes(db).map((i) => i.name);
      const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?)');
      for (let i = 0; i < 100; i++) insert.run(`k${i}`, i, `B${i}`, `o${i % 7}`);
    });

    // the constraints' own indexes (no SQL) and another table's stay; t's are gone while filling
    expect(during).toEqual(['sqlite_autoindex_t_2', 'u_x']);
    expect(indexes(db)).toEqual(before);
    expect(db.pragma('integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    const partial = db
      .prepare('SELECT count(*) AS n FROM t INDEXED BY t_b_lower WHERE lower(b) > ? AND a > 10')
      .get('') as { n: number };
    expect(partial.n).toBe(89);
  });

  it('should leave the indexes dropped when fill throws', () => {
    expect(() =>
      withIndexesRebuilt(db, ['t', 'u'], () => {
        throw new Error('fill failed');
      }),
    ).toThrow('fill failed');

    expect(indexes(db).map((i) => i.name)).toEqual(['sqlite_autoindex_t_2']);
  });
});
