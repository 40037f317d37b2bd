import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localDay } from '@app/common';
import { LEDGER_SQLITE_MIGRATIONS } from '@app/offline-sync/infrastructure/persistence/sqlite/sqlite-ledger.migrations';
import { http, itOnSqliteFile, startTestApp, TestApp } from './support/test-app';
import { verifyLedger } from './support/ledger-client';
import { allTimesheetDays, createSite, phoneAt, punch, SITE_GEO } from './support/timesheet-client';
import { Phone, signPacket, syncBatch } from './support/worker-client';

/**
 * A packet's identity is (device, packetId): a device that learns another device's packetId
 * before that packet is synced cannot take it. Its own packet with that id is its own punch;
 * the genuine packet is still accepted, and nothing is charged to its device.
 */
describe('a packetId is unique per device: no device can take another device’s packetIds (e2e)', () => {
  let t: TestApp;
  let siteId: string;
  /** The site's time zone: a punch's day is its local day there, not its UTC date. */
  let zone: string;
  beforeAll(async () => {
    t = await startTestApp({ TRUST_AUTO_BLOCK_FLOOR: '0' });
    ({ siteId, timeZone: zone } = await createSite(t.baseUrl, t.keys.admin));
  });
  afterAll(async () => t.close());

  async function trustOf(deviceId: string) {
    const res = await http(t.baseUrl, 'GET', `/api/v5/devices/${deviceId}/trust`, {
      key: t.keys.admin,
    });
    expect(res.status).toBe(200);
    return res.body as { score: number; factors: { name: string; effect: number }[] };
  }

  async function fraudOf(deviceId: string) {
    const res = await http(t.baseUrl, 'GET', `/api/v5/fraud/events?deviceId=${deviceId}`, {
      key: t.keys.admin,
    });
    expect(res.status).toBe(200);
    return res.body as { type: string; packetId?: string }[];
  }

  async function ledgerLines(): Promise<any[]> {
    const res = await fetch(`${t.baseUrl}/api/v5/ledger/${siteId}/export`, {
      headers: { 'x-api-key': t.keys.auditor },
    });
    expect(res.status).toBe(200);
    return (await res.text())
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }

  /** `victim`'s packet, and `squatter`'s own packet (its worker, its device) with the same packetId. */
  function squatted(victim: Phone, squatter: Phone) {
    // inside the tokens' window (just issued, with the allowed clock skew)
    const at = new Date(Date.now() - 5_000).toISOString();
    const genuine = punch(victim, 'check_in', at);
    const squat = signPacket(squatter, {
      packetId: genuine.payload.packetId,
      type: 'check_in',
      timestamp: at,
      geo: { ...SITE_GEO, accuracyM: 8 },
    });
    return { genuine, squat, packetId: genuine.payload.packetId as string };
  }

  it("should accept a device's packet whose packetId another device synced first, keep both punches and charge nothing to it", async () => {
    const victim = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const squatter = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const trustBefore = await trustOf(victim.deviceId);
    const { genuine, squat, packetId } = squatted(victim, squatter);

    const first = await syncBatch(t.baseUrl, squatter.token, [squat]);
    expect(first.status).toBe(200);
    expect(first.body.results[0]).toMatchObject({ packetId, status: 'accepted' });

    const res = await syncBatch(t.baseUrl, victim.token, [genuine]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 1, duplicates: 0, rejected: 0 });
    expect(res.body.results[0]).toMatchObject({
      packetId,
      status: 'accepted',
      receipt: expect.any(Object),
    });
    expect(res.body.results[0].seq).not.toBe(first.body.results[0].seq);

    // nothing charged to the victim: no fraud event, the same trust
    expect(await fraudOf(victim.deviceId)).toEqual([]);
    expect(await fraudOf(squatter.deviceId)).toEqual([]);
    const trustAfter = await trustOf(victim.deviceId);
    expect(trustAfter.score).toBe(trustBefore.score);
    expect(trustAfter.factors.find((f) => f.name === 'fraud_history')?.effect ?? 0).toBe(0);

    // both punches in the ledger, each its own device's, and the chain verifies
    const lines = (await ledgerLines()).filter((l) => l.data.packetId === packetId);
    expect(lines.map((l) => [l.seq, l.data.deviceId, l.data.workerId])).toEqual([
      [first.body.results[0].seq, squatter.deviceId, squatter.workerId],
      [res.body.results[0].seq, victim.deviceId, victim.workerId],
    ]);
    expect(await verifyLedger(t, siteId)).toMatchObject({ ok: true });

    // both in the timesheets, each on its worker's day
    // (after 18:30 UTC a punch's UTC date is the day before its day in Asia/Kolkata)
    const day = localDay(Date.parse(genuine.payload.timestamp), zone);
    const days = await allTimesheetDays(t.baseUrl, t.keys.admin, siteId, `from=${day}&to=${day}`);
    const seqsOf = (workerId: string) =>
      days.filter((d) => d.workerId === workerId).flatMap((d) => d.seqs as number[]);
    expect(seqsOf(victim.workerId)).toEqual([res.body.results[0].seq]);
    expect(seqsOf(squatter.workerId)).toEqual([first.body.results[0].seq]);

    // an inclusion proof by packetId names the device: a packetId alone names no link
    const alone = await http(
      t.baseUrl,
      'GET',
      `/api/v5/ledger/${siteId}/proof/inclusion?packetId=${packetId}`,
      { key: t.keys.auditor },
    );
    expect(alone.status).toBe(400);
    expect(alone.body).toMatchObject({ code: 'invalid_proof_request' });
    for (const [phone, seq] of [
      [victim, res.body.results[0].seq],
      [squatter, first.body.results[0].seq],
    ] as const) {
      const proof = await http(
        t.baseUrl,
        'GET',
        `/api/v5/ledger/${siteId}/proof/inclusion?packetId=${packetId}&deviceId=${phone.deviceId}`,
        { key: t.keys.auditor },
      );
      expect(proof.status).toBe(200);
      expect(proof.body.seq).toBe(seq);
    }
  });

  it("should answer a device's retry as a duplicate with its original receipt, though another device has the packetId too", async () => {
    const victim = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const squatter = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const { genuine, squat, packetId } = squatted(victim, squatter);
    await syncBatch(t.baseUrl, squatter.token, [squat]);
    const first = await syncBatch(t.baseUrl, victim.token, [genuine]);
    expect(first.body.results[0].status).toBe('accepted');

    for (const [phone, packet] of [
      [victim, genuine],
      [squatter, squat],
    ] as const) {
      const again = await syncBatch(t.baseUrl, phone.token, [packet]);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ accepted: 0, duplicates: 1, rejected: 0 });
      const mine = (await ledgerLines()).find(
        (l) => l.data.packetId === packetId && l.data.deviceId === phone.deviceId,
      );
      expect(again.body.results[0]).toMatchObject({
        packetId,
        status: 'duplicate',
        seq: mine.seq,
        recordHash: mine.recordHash,
        receipt: { seq: mine.seq },
      });
    }
    expect(await fraudOf(victim.deviceId)).toEqual([]);
  });

  it('should still refuse a packetId its own device sent with other content, and charge the device that sent it', async () => {
    const victim = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const squatter = await phoneAt(t.baseUrl, t.keys.admin, siteId);
    const { genuine, squat, packetId } = squatted(victim, squatter);
    await syncBatch(t.baseUrl, victim.token, [genuine]);
    await syncBatch(t.baseUrl, squatter.token, [squat]);

    // the squatter again, with other content under its own (packetId, device)
    const forged = signPacket(squatter, {
      ...squat.payload,
      type: 'check_out',
    });
    const res = await syncBatch(t.baseUrl, squatter.token, [forged]);
    expect(res.status).toBe(200);
    expect(res.body.results[0]).toMatchObject({
      packetId,
      status: 'rejected',
      reason: 'packet_id_conflict',
    });
    expect((await fraudOf(squatter.deviceId)).map((e) => [e.type, e.packetId])).toEqual([
      ['packet_id_conflict', packetId],
    ]);
    expect(await fraudOf(victim.deviceId)).toEqual([]);
    const lines = (await ledgerLines()).filter((l) => l.data.packetId === packetId);
    expect(lines).toHaveLength(2);

    // the timesheets flag the squatter's punch with its event, not the victim's punch: both
    // workers' days on one page, and each worker's days alone
    // (after 18:30 UTC a punch's UTC date is the day before its day in Asia/Kolkata)
    const day = localDay(Date.parse(genuine.payload.timestamp), zone);
    const period = `from=${day}&to=${day}`;
    const days = await allTimesheetDays(t.baseUrl, t.keys.admin, siteId, period);
    const seqOf = (phone: Phone) => lines.find((l) => l.data.deviceId === phone.deviceId).seq;
    for (const phone of [victim, squatter]) {
      const alone = await allTimesheetDays(
        t.baseUrl,
        t.keys.admin,
        siteId,
        `${period}&workerId=${phone.workerId}`,
      );
      expect(alone.flatMap((d) => d.flags).filter((f: any) => f.type === 'fraud')).toEqual(
        phone === squatter
          ? [{ type: 'fraud', seq: seqOf(squatter), detail: 'packet_id_conflict' }]
          : [],
      );
    }
    const fraudFlagsOf = (phone: Phone) =>
      days
        .filter((d) => d.workerId === phone.workerId)
        .flatMap((d) => d.flags as { type: string; seq: number; detail?: string }[])
        .filter((f) => f.type === 'fraud');
    expect(fraudFlagsOf(victim)).toEqual([]);
    expect(fraudFlagsOf(squatter)).toEqual([
      { type: 'fraud', seq: seqOf(squatter), detail: 'packet_id_conflict' },
    ]);
  });
});

/**
 * The ledger table of `path` put back as the schema before migration 4 made it (packet_id
 * unique across the ledger, no device_id), rows as they are: a file an older build wrote.
 */
function toOldSchema(path: string): void {
  const db = new Database(path);
  db.transaction(() => {
    db.exec(`
      ALTER TABLE attendance_logs RENAME TO attendance_logs_new;
      CREATE TABLE attendance_logs (
        site_id TEXT NOT NULL,
        seq INTEGER NOT NULL CHECK (seq >= 1),
        packet_id TEXT NOT NULL UNIQUE,
        prev_hash TEXT NOT NULL,
        record_hash TEXT NOT NULL,
        data TEXT NOT NULL,
        meta TEXT NOT NULL,
        PRIMARY KEY (site_id, seq)
      ) WITHOUT ROWID;
      INSERT INTO attendance_logs
        SELECT site_id, seq, packet_id, prev_hash, record_hash, data, meta FROM attendance_logs_new;
      DROP TABLE attendance_logs_new;
      CREATE TRIGGER attendance_logs_append_only_update BEFORE UPDATE ON attendance_logs
        BEGIN SELECT RAISE(ABORT, 'attendance_logs is append-only'); END;
      CREATE TRIGGER attendance_logs_append_only_delete BEFORE DELETE ON attendance_logs
        BEGIN SELECT RAISE(ABORT, 'attendance_logs is append-only'); END;
      ${LEDGER_SQLITE_MIGRATIONS.find((m) => m.version === 2)!.up}
      DELETE FROM schema_migrations WHERE scope = 'offline-sync.ledger' AND version > 3;
    `);
  })();
  db.close();
}

describe('a ledger written before the per-device key, upgraded at boot (e2e)', () => {
  itOnSqliteFile(
    'should keep every link and checkpoint verifying, and take a packetId per device from then on',
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'mdai-e2e-pktdev-'));
      let t: TestApp | undefined;
      try {
        t = await startTestApp({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
        const { siteId } = await createSite(t.baseUrl, t.keys.admin);
        const victim = await phoneAt(t.baseUrl, t.keys.admin, siteId);
        const squatter = await phoneAt(t.baseUrl, t.keys.admin, siteId);
        const at = (s: number) => new Date(Date.now() - s * 1000).toISOString();
        const synced = [punch(victim, 'check_in', at(8)), punch(squatter, 'check_in', at(7))];
        for (const [phone, packet] of [
          [victim, synced[0]],
          [squatter, synced[1]],
        ] as const) {
          expect((await syncBatch(t.baseUrl, phone.token, [packet])).body.accepted).toBe(1);
        }
        const before = await verifyLedger(t, siteId);
        expect(before).toMatchObject({ ok: true, length: 2 });
        await t.close();
        t = undefined;

        const file = join(dataDir, 'mdai.sqlite');
        toOldSchema(file);
        const old = new Database(file, { readonly: true });
        const columns = old
          .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('attendance_logs')")
          .all()
          .map((c) => c.name);
        old.close();
        expect(columns).not.toContain('device_id');

        // the new build boots on it: migration 4
        t = await startTestApp({ DATA_DIR: dataDir, TRUST_AUTO_BLOCK_FLOOR: '0' });
        expect(await verifyLedger(t, siteId)).toMatchObject({
          ok: true,
          length: 2,
          headHash: before.headHash,
          rootHash: before.rootHash,
          checkpointsChecked: before.checkpointsChecked,
        });
        // a link from before answers its device's retry as its duplicate
        const retry = await syncBatch(t.baseUrl, victim.token, [synced[0]]);
        expect(retry.body.results[0]).toMatchObject({ status: 'duplicate', seq: 1 });
        // a packetId of the old ledger is the squatter's to take no more than a new one
        const squatOld = signPacket(squatter, {
          ...synced[1].payload,
          packetId: synced[0].payload.packetId,
        });
        const genuine = punch(victim, 'check_out', at(1));
        const squatNew = signPacket(squatter, {
          ...synced[1].payload,
          packetId: genuine.payload.packetId,
          type: 'check_out',
          timestamp: at(1),
        });
        const squats = await syncBatch(t.baseUrl, squatter.token, [squatOld, squatNew]);
        expect(squats.body).toMatchObject({ accepted: 2, rejected: 0 });
        const res = await syncBatch(t.baseUrl, victim.token, [genuine]);
        expect(res.body.results[0]).toMatchObject({ status: 'accepted', seq: 5 });
        expect(await verifyLedger(t, siteId)).toMatchObject({ ok: true, length: 5 });
        const db = new Database(join(dataDir, 'mdai.sqlite'), { readonly: true });
        try {
          const keys = db
            .prepare<[string], { packet_id: string; device_id: string }>(
              'SELECT packet_id, device_id FROM attendance_logs WHERE site_id = ? ORDER BY seq',
            )
            .all(siteId);
          expect(keys.map((k) => [k.packet_id, k.device_id])).toEqual([
            [synced[0].payload.packetId, victim.deviceId],
            [synced[1].payload.packetId, squatter.deviceId],
            [synced[0].payload.packetId, squatter.deviceId],
            [genuine.payload.packetId, squatter.deviceId],
            [genuine.payload.packetId, victim.deviceId],
          ]);
        } finally {
          db.close();
        }
      } finally {
        await t?.close();
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  );
});
