/**
 * `npm run db:sql -- [--write] "<sql>"` (in the image: `node dist/apps/api/apps/api/src/admin.js
 * db:sql [--write] "<sql>"`): runs SQL on `<DATA_DIR>/mdai.sqlite` with the server's
 * own SQLite (better-sqlite3's bundled build), the safe way to look into or repair the store by
 * hand. An older `sqlite3` CLI (before 3.42) breaks the ledger table's indexes, which use
 * `unixepoch(…, 'subsec')`: its writes leave them corrupt (docs/architecture.md, Persistence).
 *
 * A statement that returns rows prints each as one JSON line. Without `--write` the file is
 * opened read-only and a statement that would change it is refused (exit 64); with `--write` it
 * runs, with a warning on stderr: a write bypasses the server (rows it tags with the store MAC
 * read `tampered` when changed, a running server's caches do not see it), so stop the server
 * first. Several statements (`;`-separated) count as a write: with `--write` they run in one go and
 * print how many rows changed.
 */
import Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const USAGE =
  'usage: npm run db:sql -- [--write] "<sql>"\n' +
  '   or: node dist/apps/api/apps/api/src/admin.js db:sql [--write] "<sql>"';

/** Runs the command with its arguments; its exit code is set on `process.exitCode`. */
export function dbSql(argv: string[]): void {
  process.exitCode = run(argv);
}

function run(argv: string[]): number {
  const write = argv.includes('--write');
  const rest = argv.filter((arg) => arg !== '--write');
  if (rest.length !== 1 || rest[0].trim() === '') {
    process.stderr.write(`${USAGE}\n`);
    return 64;
  }
  const sql = rest[0];
  const file = join(resolve(process.env.DATA_DIR ?? './data'), 'mdai.sqlite');
  if (!existsSync(file)) {
    process.stderr.write(`no store at ${file} (DATA_DIR)\n`);
    return 66;
  }
  const db = new Database(file, { readonly: !write, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    let statement: Database.Statement | undefined;
    try {
      statement = db.prepare(sql);
    } catch (error) {
      if (!/more than one statement/i.test((error as Error).message)) throw error;
    }
    const changes = statement === undefined || !statement.readonly;
    if (changes && !write) {
      process.stderr.write(
        'refused: this SQL changes the store; run it with --write (with the server stopped)\n',
      );
      return 64;
    }
    if (changes) {
      process.stderr.write(
        'warning: writes bypass the server: rows it tags with the store MAC read "tampered" ' +
          'when changed here, and a running server does not see them; stop it first\n',
      );
    }
    if (statement === undefined) {
      const total = () => db.prepare('SELECT total_changes()').pluck().get() as number;
      const before = total();
      db.exec(sql);
      process.stdout.write(`${JSON.stringify({ changes: total() - before })}\n`);
    } else if (statement.reader) {
      for (const row of statement.iterate()) process.stdout.write(`${JSON.stringify(row)}\n`);
    } else {
      process.stdout.write(`${JSON.stringify({ changes: statement.run().changes })}\n`);
    }
    return 0;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 65;
  } finally {
    db.close();
  }
}
