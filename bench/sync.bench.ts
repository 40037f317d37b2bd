/**
 * Offline sync throughput: packets per second verified (token, HMAC over JCS, time window)
 * and committed to the hash chain through the real HTTP endpoint, against raw better-sqlite3
 * inserts of the same rows (same columns, same WAL file settings, same 500-row transactions).
 */
import Database from 'better-sqlite3';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '@app/api/bootstrap';
import { jcs } from '@app/common';
import { now, printRows } from './support';

const BATCHES = 20;
const BATCH_SIZE = 500;

async function call(base: string, path: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return (await res.json()) as Record<string, any>;
}

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-sync-'));
  const { app, config } = await createApp({
    DATA_DIR: dataDir,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    // the fraud-heavy run floods one phone's history; keep it syncing to measure the cost
    TRUST_AUTO_BLOCK_FLOOR: '0',
  });
  await app.listen(0, '127.0.0.1');
  const base = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  try {
    const admin = { 'x-api-key': config.auth.apiKeys.admin[0] };
    const site = await call(
      base,
      '/api/v5/sites',
      { name: 'bench', geo: { lat: 1, lng: 1 }, radiusM: 100 },
      admin,
    );
    // one phone per worker, one batch per phone, alternating check-in/check-out at the site.
    // A token's window starts at registration, so the packets are packed into the seconds after
    // it (inside the allowed clock skew). FRAUD_HEAVY=1: every packet a rapid repeat, all flagged.
    const fraudHeavy = process.env.FRAUD_HEAVY === '1';
    const phones = [];
    for (let w = 0; w < BATCHES; w++) {
      const worker = await call(
        base,
        '/api/v5/workers',
        { name: `w${w}`, phone: `+91 90000 ${String(w).padStart(5, '0')}`, siteIds: [site.siteId] },
        admin,
      );
      const reg = await call(
        base,
        '/api/v5/device/register',
        {
          enrollmentCode: worker.enrollmentCode,
          fingerprint: { os: 'Android', model: 'bench', simHash: `sim-${w}-0123456789` },
        },
        {},
      );
      phones.push({ workerId: worker.workerId as string, reg });
    }
    const batches = phones.map(({ workerId, reg }) => {
      const secret = Buffer.from(reg.deviceSecret as string, 'base64');
      const packets = Array.from({ length: BATCH_SIZE }, (_, i) => {
        const payload = {
          packetId: randomUUID(),
          workerId,
          siteId: site.siteId,
          deviceId: reg.deviceId as string,
          type: fraudHeavy || i % 2 === 0 ? 'check_in' : 'check_out',
          timestamp: new Date(fraudHeavy ? Date.now() : Date.now() + i * 400).toISOString(),
          geo: { lat: 1.00001, lng: 1.00002, accuracyM: 5 },
        };
        return {
          payload,
          signature: createHmac('sha256', secret).update(jcs(payload)).digest('hex'),
        };
      });
      return { packets, token: reg.offlineToken as string };
    });

    const t0 = now();
    for (const { packets, token } of batches) {
      const res = await call(
        base,
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
          site.siteId,
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
    await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
