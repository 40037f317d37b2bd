/**
 * Fraud event reviews (branch fraudreview), in temp SQLite files of REVIEW_BENCH_ROWS events
 * (200,000 by default; 15% reviewed, two thirds of those dismissed):
 * - the sync path's write: `recordAll` of 10 events (a flagged batch) with the review index
 *   against a store whose review index was dropped (the write as it was before), interleaved;
 * - the device's trust history (the one query a sync scores with): dismissed events left out
 *   against the same query without that filter (what it read before);
 * - the listing's `?review=` filters, first page and a page at 90% depth, through the
 *   repository against the same page read with raw SQL on the review index.
 * Medians of interleaved rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { FraudEvent, FraudReviewState } from '@app/fraud/domain/fraud-event';
import { SqliteFraudEventRepository } from '@app/fraud/infrastructure/persistence/sqlite/repositories/sqlite-fraud-event.repository';
import { BenchRow, median, now, printRows } from './support';

const ROWS = Number(process.env.REVIEW_BENCH_ROWS ?? 200_000);
const ROUNDS = Number(process.env.REVIEW_BENCH_ROUNDS ?? 200);
const START = Date.parse('2026-01-01T00:00:00Z');
const DEVICES = 1000;

function hexId(i: number): string {
  return i.toString(16).padStart(24, '0');
}

/** Raw inserts: event i on device i % DEVICES, one second apart; every 7th reviewed. */
function fill(db: SqliteStore['db']): void {
  const insert = db.prepare(
    `INSERT INTO fraud_events (id, type, device_id, worker_id, site_id, packet_id, detail, at,
       review_id, review_decision, review_reason, review_by, review_at)
     VALUES (?, 'impossible_travel', ?, ?, 'site-1', NULL, 'bench', ?, ?, ?, ?, ?, ?)`,
  );
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const at = new Date(START + i * 1000).toISOString();
      const decision = i % 7 !== 0 ? null : i % 3 === 0 ? 'confirmed' : 'dismissed';
      insert.run(
        hexId(i),
        `dev-${i % DEVICES}`,
        `wrk-${i % DEVICES}`,
        at,
        decision ? hexId(ROWS + i) : null,
        decision,
        decision ? 'bench review' : null,
        decision ? 'admin:bench' : null,
        decision ? at : null,
      );
    }
  });
  for (let i = 0; i < ROWS; i += 50_000) batch(i, Math.min(ROWS, i + 50_000));
}

function time(fn: () => unknown): number {
  const t = now();
  fn();
  return now() - t;
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t = now();
  await fn();
  return now() - t;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mdai-bench-review-'));
  const withIndex = new SqliteStore(join(dir, 'with-index.sqlite'));
  const without = new SqliteStore(join(dir, 'without.sqlite'));
  try {
    const ours = new SqliteFraudEventRepository(withIndex);
    const before = new SqliteFraudEventRepository(without);
    without.db.exec('DROP INDEX fraud_events_review_at_id');
    const t0 = now();
    fill(withIndex.db);
    fill(without.db);
    process.stdout.write(`filled 2 × ${ROWS} events in ${((now() - t0) / 1000).toFixed(1)} s\n`);
    const rows: BenchRow[] = [];

    // the sync path's write: a flagged batch of 10 events
    let next = 2 * ROWS;
    const flagged = (): FraudEvent[] =>
      Array.from({ length: 10 }, () => ({
        id: hexId(next++),
        type: 'rapid_repeat',
        deviceId: `dev-${next % DEVICES}`,
        workerId: `wrk-${next % DEVICES}`,
        siteId: 'site-1',
        packetId: `pkt-${next}`,
        detail: 'bench',
        at: new Date(START + next * 1000),
      }));
    const oursWrite: number[] = [];
    const beforeWrite: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const pair: Array<[number[], SqliteFraudEventRepository]> = [
        [oursWrite, ours],
        [beforeWrite, before],
      ];
      if (r % 2) pair.reverse();
      for (const [samples, repo] of pair) {
        const events = flagged();
        samples.push(await timeAsync(() => repo.recordAll(events)));
      }
    }
    rows.push({
      metric: 'recordAll, 10 events (sync write), with the review index vs without',
      ours: median(oursWrite) * 1000,
      baseline: median(beforeWrite) * 1000,
      unit: 'µs',
    });

    // the trust history a sync scores with: one device, the 30-day window
    const from = new Date(START + (ROWS - 30 * 86_400) * 1000);
    const historyOurs: number[] = [];
    const historyBefore: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const deviceId = `dev-${r % DEVICES}`;
      const a = () => ours.listRecent({ deviceId, from, limit: 1000, excludeDismissed: true });
      const b = () => ours.listRecent({ deviceId, from, limit: 1000 });
      if (r % 2) {
        historyBefore.push(await timeAsync(b));
        historyOurs.push(await timeAsync(a));
      } else {
        historyOurs.push(await timeAsync(a));
        historyBefore.push(await timeAsync(b));
      }
    }
    rows.push({
      metric: "a device's trust history (30 days), dismissed left out vs all",
      ours: median(historyOurs) * 1000,
      baseline: median(historyBefore) * 1000,
      unit: 'µs',
    });

    // ?review= listings, first page and a page at 90% depth
    const db = withIndex.db;
    const raw = {
      unreviewed: db.prepare(
        `SELECT * FROM fraud_events WHERE review_decision IS NULL AND (at, id) < (?, ?)
         ORDER BY at DESC, id DESC LIMIT 100`,
      ),
      decided: db.prepare(
        `SELECT * FROM fraud_events WHERE review_decision = ? AND (at, id) < (?, ?)
         ORDER BY at DESC, id DESC LIMIT 100`,
      ),
    };
    const states: FraudReviewState[] = ['unreviewed', 'dismissed', 'confirmed'];
    for (const review of states) {
      const where = review === 'unreviewed' ? 'review_decision IS NULL' : 'review_decision = ?';
      const params = review === 'unreviewed' ? [] : [review];
      const count = (
        db.prepare(`SELECT count(*) AS n FROM fraud_events WHERE ${where}`).get(...params) as {
          n: number;
        }
      ).n;
      const deep = db
        .prepare(
          `SELECT at, id FROM fraud_events WHERE ${where} ORDER BY at DESC, id DESC
           LIMIT 1 OFFSET ?`,
        )
        .get(...params, Math.floor(count * 0.9)) as { at: string; id: string };
      for (const [page, cursor] of [
        ['first page', undefined],
        ['page at 90% depth', { at: new Date(deep.at), id: deep.id }],
      ] as const) {
        const bound = cursor ?? { at: new Date('9999-01-01T00:00:00Z'), id: 'z' };
        const rawPage = () =>
          review === 'unreviewed'
            ? raw.unreviewed.all(bound.at.toISOString(), bound.id)
            : raw.decided.all(review, bound.at.toISOString(), bound.id);
        const oursSamples: number[] = [];
        const rawSamples: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const a = async () =>
            oursSamples.push(
              await timeAsync(() => ours.listRecent({ review, limit: 100, before: cursor })),
            );
          const b = () => rawSamples.push(time(rawPage));
          if (r % 2) {
            b();
            await a();
          } else {
            await a();
            b();
          }
        }
        rows.push({
          metric: `listing ?review=${review} (${count} rows), ${page}, limit 100`,
          ours: median(oursSamples) * 1000,
          baseline: median(rawSamples) * 1000,
          unit: 'µs',
        });
      }
    }
    printRows(`Fraud event reviews (${ROWS} events)`, rows);
  } finally {
    await withIndex.close();
    await without.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
