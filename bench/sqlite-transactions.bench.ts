/**
 * What the transaction modes cost (branch txlock): a read-only transaction through
 * `readTransaction` (deferred, with `PRAGMA query_only` on around it) against the raw deferred
 * `db.transaction(fn)()` it replaced, and a write transaction begun IMMEDIATE against the same
 * one begun DEFERRED, on one connection to a WAL file (no contention: the mode's own cost).
 * Interleaved rounds, medians of µs per transaction. readTransaction's guard is on outside
 * production only: run it both ways.
 *
 *   npm run bench -- sqlite-transactions
 *   NODE_ENV=production npm run bench -- sqlite-transactions
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteConnection } from '../libs/persistence/src/sqlite/sqlite-connection';
import { readTransaction } from '../libs/persistence/src/sqlite/sqlite-transactions';
import { median, now, printRows } from './support';

const ROWS = 100_000;
const ROUNDS = 15;

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-tx-'));
  const db = openSqliteConnection(join(dir, 'store.db'));
  try {
    db.exec('CREATE TABLE e (id INTEGER PRIMARY KEY, device TEXT, at TEXT, body TEXT)');
    db.exec('CREATE INDEX e_device_at ON e (device, at)');
    const insert = db.prepare('INSERT INTO e (device, at, body) VALUES (?, ?, ?)');
    db.transaction(() => {
      for (let i = 0; i < ROWS; i++) {
        insert.run(`d${i % 1000}`, new Date(1.7e12 + i * 1000).toISOString(), 'x'.repeat(64));
      }
    }).immediate();
    const point = db.prepare('SELECT * FROM e WHERE id = ?');
    const page = db.prepare('SELECT * FROM e WHERE device = ? ORDER BY at DESC LIMIT 20');
    const bump = db.prepare('UPDATE e SET body = ? WHERE id = ?');
    let k = 0;
    const one = () => point.get((k++ % ROWS) + 1);
    // a trust history's read: the pages of 8 devices (fraud's weighingHistories reads 8 types)
    const pages = () => {
      for (let d = 0; d < 8; d++) page.all(`d${k++ % 1000}`);
    };
    const write = () => {
      // reads, then writes (the shape the rule is for); uncontended, deferred does not fail
      const row = point.get((k % ROWS) + 1) as { body: string };
      bump.run(row.body, (k++ % ROWS) + 1);
    };

    const cases: { metric: string; ours: () => unknown; baseline: () => unknown; n: number }[] = [
      {
        metric: 'read-only, one point read: readTransaction vs raw deferred',
        ours: () => readTransaction(db, one),
        // the raw deferred transaction it replaced (the lint rule is off in bench/)
        baseline: () => db.transaction(one)(),
        n: 20_000,
      },
      {
        metric: 'read-only, 8 pages of 20 rows: readTransaction vs raw deferred',
        ours: () => readTransaction(db, pages),
        baseline: () => db.transaction(pages)(),
        n: 2_000,
      },
      {
        metric: 'read then write: IMMEDIATE vs DEFERRED',
        ours: () => db.transaction(write).immediate(),
        baseline: () => db.transaction(write)(),
        n: 5_000,
      },
    ];
    const rows = [];
    for (const c of cases) {
      const ours: number[] = [];
      const baseline: number[] = [];
      const time = (f: () => unknown) => {
        const t0 = now();
        for (let i = 0; i < c.n; i++) f();
        return ((now() - t0) * 1000) / c.n;
      };
      time(c.ours);
      time(c.baseline);
      for (let r = 0; r < ROUNDS; r++) {
        // interleaved, the order swapped each round
        if (r % 2 === 0) {
          ours.push(time(c.ours));
          baseline.push(time(c.baseline));
        } else {
          baseline.push(time(c.baseline));
          ours.push(time(c.ours));
        }
      }
      rows.push({ metric: c.metric, ours: median(ours), baseline: median(baseline), unit: 'µs' });
    }
    printRows(
      `SQLite transaction modes, NODE_ENV=${process.env.NODE_ENV ?? ''} (µs per transaction, medians, lower is better)`,
      rows,
    );
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
