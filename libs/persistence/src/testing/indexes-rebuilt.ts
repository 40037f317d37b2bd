import type { Database } from 'better-sqlite3';

/**
 * Runs `fill` (a bulk insert) on `tables` with their indexes dropped, then creates each again
 * from its own definition in sqlite_master, in the order SQLite lists them: the schema ends up
 * as the migrations made it (an index a migration changes comes along), built once over the
 * filled table instead of row by row. The indexes of PRIMARY KEY and UNIQUE constraints (no SQL
 * of their own) stay throughout. Returns the ms the rebuild took. If `fill` throws, the indexes
 * stay dropped.
 */
export function withIndexesRebuilt(
  db: Database,
  tables: readonly string[],
  fill: () => void,
): number {
  const indexes = db
    .prepare<[string], { name: string; sql: string }>(
      `SELECT name, sql FROM sqlite_master
       WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN (SELECT value FROM json_each(?))
       ORDER BY rowid`,
    )
    .all(JSON.stringify(tables));
  for (const index of indexes) db.exec(`DROP INDEX "${index.name.replaceAll('"', '""')}"`);
  fill();
  const start = performance.now();
  for (const index of indexes) db.exec(index.sql);
  return performance.now() - start;
}
