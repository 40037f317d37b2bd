/**
 * One-off timing of the SQLite legacy tagging of fraud events (review finding M2): N untagged
 * events (every tenth with a review), then the start of a server with the tags, timed.
 * `node -r @swc-node/register bench/fraud-legacy-seal-time.ts [events]` (default 100000).
 * Not a `*.bench.ts`: it runs once per call (the tagging runs once per store).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { FraudSeal } from '../libs/fraud/src/infrastructure/persistence/fraud-seal';
import { SqliteFraudEventRepository } from '../libs/fraud/src/infrastructure/persistence/sqlite/repositories/sqlite-fraud-event.repository';

const count = Number(process.argv[2] ?? 100_000);
const dir = mkdtempSync(join(tmpdir(), 'mdai-fraud-seal-time-'));
const store = new SqliteStore(join(dir, 'seal.sqlite'));
new SqliteFraudEventRepository(store); // the migrations, no tags (as before the upgrade)
const hex = (i: number, p: string) => p + i.toString(16).padStart(24 - p.length, '0');
const insert = store.db.prepare(
  `INSERT INTO fraud_events (id, type, device_id, worker_id, site_id, packet_id, detail, at)
   VALUES (?, 'impossible_travel', ?, ?, ?, ?, '50 km in a minute', ?)`,
);
const review = store.db.prepare(
  `INSERT INTO fraud_event_reviews (id, event_id, seq, decision, reason, actor, at)
   VALUES (?, ?, 1, 'confirmed', 'seen on camera', 'admin:key-1', ?)`,
);
const setReview = store.db.prepare(
  `UPDATE fraud_events SET review_id = ?, review_decision = 'confirmed',
     review_reason = 'seen on camera', review_by = 'admin:key-1', review_at = ? WHERE id = ?`,
);
store.db.transaction(() => {
  for (let i = 0; i < count; i++) {
    const id = hex(i, 'e');
    const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
    insert.run(id, hex(i % 5000, 'd'), hex(i % 5000, 'w'), hex(i % 50, 's'), hex(i, 'p'), at);
    if (i % 10 === 0) {
      review.run(hex(i, 'r'), id, at);
      setReview.run(hex(i, 'r'), at, id);
    }
  }
})();
const seal = new FraudSeal(new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey }));
const started = process.hrtime.bigint();
new SqliteFraudEventRepository(store, seal);
const ms = Number(process.hrtime.bigint() - started) / 1e6;
const tagged = store.db
  .prepare('SELECT count(*) AS n FROM fraud_events WHERE tag IS NOT NULL')
  .get() as { n: number };
console.log(JSON.stringify({ events: count, tagged: tagged.n, ms: Math.round(ms) }));
void store.close().then(() => rmSync(dir, { recursive: true, force: true }));
