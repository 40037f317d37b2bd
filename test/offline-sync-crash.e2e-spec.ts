import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiProcess, startApiProcess } from './support/processes';
import { e2eDriver, gauge, http, itOnSqliteFile, slowOnMongo } from './support/test-app';
import { enrollPhone, Packet, signPacket, syncBatch } from './support/worker-client';

/**
 * Packets per batch (6 batches). On MongoDB the batches are smaller: the wire-protocol test
 * server (mongomock) scans a collection per query, so 3000 chained appends would take minutes;
 * a fifth of them still keeps the batches in flight when the process is killed.
 */
const PER_BATCH = e2eDriver === 'mongo' ? 100 : 500;
const TOTAL = 6 * PER_BATCH;

describe('offline sync crash recovery (e2e)', () => {
  let dataDir: string;
  let server: ApiProcess | undefined;
  beforeAll(() => (dataDir = mkdtempSync(join(tmpdir(), 'mdai-crash-'))));
  afterAll(async () => {
    if (server) await server.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it(
    'should end with every packet in the ledger exactly once after a SIGKILL mid-sync and a retry',
    async () => {
      server = await startApiProcess({ DATA_DIR: dataDir });
      const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8'));
      const admin = secrets.ADMIN_API_KEYS as string;
      const phone = await enrollPhone(server.baseUrl, admin);
      const batches: Packet[][] = Array.from({ length: 6 }, () =>
        Array.from({ length: PER_BATCH }, () => signPacket(phone)),
      );

      // send everything at once and kill the server as soon as the first batch is answered
      const answered: boolean[] = batches.map(() => false);
      const crashing = server;
      let killed: Promise<void> | undefined;
      await Promise.allSettled(
        batches.map(async (packets, i) => {
          const res = await syncBatch(crashing.baseUrl, phone.token, packets);
          answered[i] = res.status === 200;
          killed ??= crashing.kill();
        }),
      );
      await (killed ?? crashing.kill());
      expect(answered.filter(Boolean).length).toBeLessThan(batches.length);

      server = await startApiProcess({ DATA_DIR: dataDir });
      const retried = batches.map(() => ({ accepted: 0, duplicates: 0 }));
      for (const [i, packets] of batches.entries()) {
        const res = await syncBatch(server.baseUrl, phone.token, packets);
        expect(res.status).toBe(200);
        expect(res.body.rejected).toBe(0);
        retried[i] = { accepted: res.body.accepted, duplicates: res.body.duplicates };
      }
      // every batch answered before the crash comes back as all duplicates
      for (const [i, ok] of answered.entries())
        if (ok) expect(retried[i].duplicates).toBe(PER_BATCH);

      const exported = await fetch(`${server.baseUrl}/api/v5/ledger/${phone.siteId}/export`, {
        headers: { 'x-api-key': admin },
      });
      const lines = (await exported.text())
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const ids = lines.map((l) => l.data.packetId as string);
      expect(ids).toHaveLength(TOTAL);
      expect(new Set(ids).size).toBe(TOTAL);
      expect(new Set(ids)).toEqual(new Set(batches.flat().map((p) => p.payload.packetId)));
      const verdict = await http(server.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/verify`, {
        key: admin,
      });
      expect(verdict.body).toMatchObject({ ok: true, length: TOTAL });
    },
    slowOnMongo(120_000),
  );
});

describe('offline sync crash recovery with the checkpoint thread (e2e)', () => {
  let dataDir: string;
  let server: ApiProcess | undefined;
  beforeAll(() => (dataDir = mkdtempSync(join(tmpdir(), 'mdai-crash-checkpoints-'))));
  afterAll(async () => {
    if (server) await server.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  itOnSqliteFile(
    'should lose no acknowledged packet to a SIGKILL while the thread checkpoints the WAL',
    async () => {
      server = await startApiProcess({ DATA_DIR: dataDir, SQLITE_CHECKPOINTS: 'worker' });
      const secrets = JSON.parse(readFileSync(join(dataDir, 'secrets.json'), 'utf8'));
      const admin = secrets.ADMIN_API_KEYS as string;
      const phone = await enrollPhone(server.baseUrl, admin);
      const health = await http(server.baseUrl, 'GET', '/health', { key: admin });
      expect(health.body.info.store).toMatchObject({ checkpoints: 'worker' });

      // batches one after another until the thread has copied WAL frames into the file
      const acknowledged: Packet[] = [];
      while ((await gauge(server.baseUrl, 'mdai_sqlite_wal_frames{state="checkpointed"}')) === 0) {
        const packets = Array.from({ length: 500 }, () => signPacket(phone));
        const res = await syncBatch(server.baseUrl, phone.token, packets);
        expect(res.body.accepted).toBe(500);
        acknowledged.push(...packets);
      }
      expect(await gauge(server.baseUrl, 'mdai_sqlite_checkpoint_thread_up')).toBe(1);

      // then several batches at once, and a SIGKILL as soon as the first is answered
      const sequential = acknowledged.length;
      const crashing = server;
      const inFlight = Array.from({ length: 4 }, () =>
        Array.from({ length: 500 }, () => signPacket(phone)),
      );
      let killed: Promise<void> | undefined;
      await Promise.allSettled(
        inFlight.map(async (packets) => {
          const res = await syncBatch(crashing.baseUrl, phone.token, packets);
          if (res.status === 200 && res.body.accepted === 500) acknowledged.push(...packets);
          killed ??= crashing.kill();
        }),
      );
      await (killed ?? crashing.kill());

      // after the restart, every acknowledged packet is in the ledger: the phone's retry of
      // the batches in flight finds each of them a duplicate, and the rest appended once
      server = await startApiProcess({ DATA_DIR: dataDir, SQLITE_CHECKPOINTS: 'worker' });
      const known = new Set(acknowledged.map((p) => p.payload.packetId as string));
      for (const packets of inFlight) {
        const res = await syncBatch(server.baseUrl, phone.token, packets);
        expect(res.status).toBe(200);
        const acked = packets.filter((p) => known.has(p.payload.packetId as string)).length;
        expect(res.body.duplicates).toBeGreaterThanOrEqual(acked);
      }
      const exported = await fetch(`${server.baseUrl}/api/v5/ledger/${phone.siteId}/export`, {
        headers: { 'x-api-key': admin },
      });
      const ids = (await exported.text())
        .split('\n')
        .filter(Boolean)
        .map((l) => (JSON.parse(l) as { data: { packetId: string } }).data.packetId);
      // each packet exactly once: the sequential batches and every batch that was in flight
      expect(ids).toHaveLength(sequential + inFlight.length * 500);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...known].filter((id) => !ids.includes(id))).toEqual([]);
      const verdict = await http(server.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/verify`, {
        key: admin,
      });
      expect(verdict.body).toMatchObject({ ok: true, length: ids.length });
    },
    120_000,
  );
});
