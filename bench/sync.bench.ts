/**
 * Offline sync throughput: packets per second verified (token, HMAC over JCS, time window)
 * and committed to the hash chain through the real HTTP endpoint, against raw better-sqlite3
 * inserts of the same rows (same columns, same WAL file settings, same 500-row transactions).
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { jcs } from '@app/common';
import { now, printRows } from './support';
import { enrollCrew, postJson, signedBatch, startSyncBenchApi } from './support/crew';

const BATCHES = 20;
const BATCH_SIZE = 500;

export async function run(): Promise<void> {
  const api = await startSyncBenchApi('sync');
  const { dataDir, siteId } = api;
  try {
    // one phone per worker, one batch per phone, alternating check-in/check-out at the site.
    // FRAUD_HEAVY=1: every packet a rapid repeat, all flagged.
    const fraudHeavy = process.env.FRAUD_HEAVY === '1';
    const phones = await enrollCrew(api, BATCHES);
    const batches = phones.map((phone) => signedBatch(phone, siteId, BATCH_SIZE, fraudHeavy));

    const t0 = now();
    for (const { packets, token } of batches) {
      const res = await postJson(
        api.base,
        '/api/v5/sync',
        { packets },
        { authorization: `Bearer ${token}` },
      );
      if (res.accepted !== BATCH_SIZE)
        throw new Error(`batch not accepted: ${JSON.stringify(res).slice(0, 200)}`);
    }
    const oursMs = now() - t0;

    // baseline: the same rows inserted with raw better-sqlite3
    const db = new Database(join(dataDir, 'baseline.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`CREATE TABLE rows (site_id TEXT NOT NULL, seq INTEGER NOT NULL, packet_id TEXT NOT NULL UNIQUE,
      prev_hash TEXT NOT NULL, record_hash TEXT NOT NULL, data TEXT NOT NULL, meta TEXT NOT NULL,
      PRIMARY KEY (site_id, seq)) WITHOUT ROWID`);
    const insert = db.prepare('INSERT INTO rows VALUES (?, ?, ?, ?, ?, ?, ?)');
    const meta = jcs({
      isOfflineSync: true,
      syncTimestamp: new Date().toISOString(),
      deviceTrustScore: 50,
    });
    const hash = 'a'.repeat(64);
    let seq = 0;
    const insertBatch = db.transaction((packets: (typeof batches)[number]['packets']) => {
      for (const p of packets) {
        seq += 1;
        insert.run(
          siteId,
          seq,
          p.payload.packetId,
          hash,
          hash,
          jcs({ ...p.payload, signature: p.signature }),
          meta,
        );
      }
    });
    const t1 = now();
    for (const { packets } of batches) insertBatch.immediate(packets);
    const baselineMs = now() - t1;
    db.close();

    const total = BATCHES * BATCH_SIZE;
    printRows(fraudHeavy ? 'Offline sync (every packet flagged)' : 'Offline sync', [
      {
        metric: `packets/s, ${BATCHES} batches of ${BATCH_SIZE} (HTTP + token + HMAC + chain) vs raw inserts`,
        ours: total / (oursMs / 1000),
        baseline: total / (baselineMs / 1000),
        unit: 'pkt/s',
      },
      {
        metric: 'ms per 500-packet batch',
        ours: oursMs / BATCHES,
        baseline: baselineMs / BATCHES,
        unit: 'ms',
      },
    ]);
  } finally {
    await api.close();
  }
}
