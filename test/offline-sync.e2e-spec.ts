import { createPublicKey, createSign, randomUUID, verify as verifySignature } from 'node:crypto';
import { withStoreFile } from './support/tamper';
import { http, itOnSqliteFile, slowOnMongo, startTestApp, TestApp } from './support/test-app';
import { checkpointSignedBy } from './support/tlog-check';
import {
  canonicalJson,
  enrollPhone,
  hmacHex,
  Phone,
  phoneHeaders,
  sha256Hex,
  signPacket,
  syncBatch,
  syncBatchAsPhone,
} from './support/worker-client';
import { rewriteChain, verifyLedger } from './support/ledger-client';

async function ledgerLines(t: TestApp, siteId: string): Promise<any[]> {
  const res = await fetch(`${t.baseUrl}/api/v5/ledger/${siteId}/export`, {
    headers: { 'x-api-key': t.keys.auditor },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/x-ndjson');
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
}

async function fraudEvents(t: TestApp, query: string) {
  const res = await http(t.baseUrl, 'GET', `/api/v5/fraud/events?${query}`, { key: t.keys.admin });
  expect(res.status).toBe(200);
  return res.body as any[];
}

describe('offline sync (e2e)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // These phones share one SIM hash and sync bursts of identical check-ins: the pattern rules
    // flag that, and with the default floor the trust engine would block them. This suite is
    // about sync and the ledger (test/fraud-trust.e2e-spec.ts covers trust), so auto-block is off.
    t = await startTestApp({
      SYNC_MAX_OFFLINE_AGE_HOURS: '48',
      TRUST_AUTO_BLOCK_FLOOR: '0',
    });
  });
  afterAll(async () => t.close());

  describe('enrollment and devices', () => {
    it('should register a phone once per enrollment code, even under concurrent requests', async () => {
      const site = await http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.admin,
        body: { name: 'Yard', geo: { lat: 19.07, lng: 72.87 }, radiusM: 200 },
      });
      const worker = await http(t.baseUrl, 'POST', '/api/v5/workers', {
        key: t.keys.admin,
        body: { name: 'Ravi', phone: '+91 90000 00002', siteIds: [site.body.siteId] },
      });
      expect(worker.body).toMatchObject({ trustScore: 50 });
      expect(worker.body.enrollmentCode).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
      const body = {
        enrollmentCode: worker.body.enrollmentCode,
        fingerprint: { os: 'Android 13', model: 'Moto G', simHash: '00112233445566' },
      };
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          http(t.baseUrl, 'POST', '/api/v5/device/register', { body }),
        ),
      );
      const ok = results.filter((r) => r.status === 201);
      expect(ok).toHaveLength(1);
      expect(results.filter((r) => r.status === 403).map((r) => r.body.code)).toEqual(
        Array(9).fill('invalid_enrollment_code'),
      );
      const reg = ok[0].body;
      expect(Buffer.from(reg.deviceSecret, 'base64')).toHaveLength(32);
      expect(reg.trustScore).toBe(50);
      expect(new Date(reg.offlineTokenExpiresAt).getTime()).toBeGreaterThan(
        Date.now() + 29 * 86_400_000,
      );
      const devices = await http(t.baseUrl, 'GET', '/api/v5/devices?limit=500', {
        key: t.keys.admin,
      });
      const listed = devices.body.find((d: any) => d.deviceId === reg.deviceId);
      expect(listed).toMatchObject({
        user: { kind: 'worker', id: worker.body.workerId },
        fingerprint: body.fingerprint,
        trustScore: 50,
        isBlocked: false,
      });
      expect(JSON.stringify(devices.body)).not.toContain('sealed');
    });

    it('should give a thekedar an enrollment code and refuse workers at unknown sites', async () => {
      const thekedar = await http(t.baseUrl, 'POST', '/api/v5/thekedars', {
        key: t.keys.admin,
        body: { name: 'Ramesh', phone: '+91 90000 00003' },
      });
      expect(thekedar.status).toBe(201);
      expect(thekedar.body.thekedarId).toMatch(/^[0-9a-f]{24}$/);
      const reg = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
        body: {
          enrollmentCode: thekedar.body.enrollmentCode.toLowerCase(),
          fingerprint: { os: 'iOS 17', model: 'iPhone 13', simHash: 'aabbccddeeff0011' },
        },
      });
      expect(reg.status).toBe(201);
      expect(reg.body.trustScore).toBe(80);
      const unknown = await http(t.baseUrl, 'POST', '/api/v5/workers', {
        key: t.keys.admin,
        body: { name: 'X', phone: '+91 90000 00004', siteIds: ['0123456789abcdef01234567'] },
      });
      expect(unknown.status).toBe(404);
      expect(unknown.body.code).toBe('site_not_found');
      const mobile = await http(t.baseUrl, 'POST', '/api/v5/sites', {
        key: t.keys.mobile,
        body: { name: 'Y', geo: { lat: 1, lng: 1 }, radiusM: 100 },
      });
      expect(mobile.status).toBe(403);
    });

    it('should issue an ES256 offline token that checks out against the JWKS alone', async () => {
      const phone = await enrollPhone(t.baseUrl, t.keys.admin);
      const jwks = await http(t.baseUrl, 'GET', '/api/v5/.well-known/jwks.json');
      expect(jwks.status).toBe(200);
      const [h, p, s] = phone.token.split('.');
      const header = JSON.parse(Buffer.from(h, 'base64url').toString());
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      const jwk = jwks.body.keys.find((k: any) => k.kid === header.kid);
      expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(jwk.d).toBeUndefined();
      const key = createPublicKey({ key: jwk, format: 'jwk' });
      expect(
        verifySignature(
          'sha256',
          Buffer.from(`${h}.${p}`),
          { key, dsaEncoding: 'ieee-p1363' },
          Buffer.from(s, 'base64url'),
        ),
      ).toBe(true);
      expect(header.alg).toBe('ES256');
      expect(claims).toMatchObject({
        typ: 'mdai.offline+jwt',
        deviceId: phone.deviceId,
        workerId: phone.workerId,
        siteIds: [phone.siteId],
      });
      expect(claims.exp - claims.nbf).toBe(30 * 86_400);
    });
  });

  describe('sync', () => {
    let phone: Phone;
    beforeAll(async () => {
      phone = await enrollPhone(t.baseUrl, t.keys.admin);
    });

    it('should accept packets signed by an independent JCS + HMAC client and chain them', async () => {
      const packets = [
        signPacket(phone, { type: 'check_in' }),
        signPacket(phone, { type: 'check_out', geo: { lat: 28.6, lng: 77.2, accuracyM: 1e-7 } }),
      ];
      const res = await syncBatch(t.baseUrl, phone.token, packets);
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ accepted: 2, duplicates: 0, rejected: 0 });
      expect(res.body.results.map((r: any) => [r.packetId, r.status, r.seq])).toEqual([
        [packets[0].payload.packetId, 'accepted', 1],
        [packets[1].payload.packetId, 'accepted', 2],
      ]);
      const lines = await ledgerLines(t, phone.siteId);
      let prev = '0'.repeat(64);
      for (const [i, line] of lines.entries()) {
        const { recordHash, ...hashed } = line;
        expect(line.prevHash).toBe(prev);
        expect(sha256Hex(canonicalJson(hashed))).toBe(recordHash);
        expect(recordHash).toBe(res.body.results[i].recordHash);
        const { signature, ...payload } = line.data;
        expect(payload).toEqual(packets[i].payload);
        expect(hmacHex(phone.secret, canonicalJson(payload))).toBe(signature);
        // 50 (the worker's standing) + 5 User-Agent names the model + 5 app version + 5 x-device-id
        expect(line.meta).toEqual({
          isOfflineSync: true,
          syncTimestamp: expect.any(String),
          deviceTrustScore: 65,
        });
        prev = recordHash;
      }
      expect(await verifyLedger(t, phone.siteId, t.keys.admin)).toMatchObject({
        ok: true,
        length: 2,
        headHash: prev,
      });
    });

    it('should answer a resent batch with duplicates and keep one ledger entry per packet', async () => {
      const packets = Array.from({ length: 3 }, () => signPacket(phone));
      const first = await syncBatch(t.baseUrl, phone.token, packets);
      const again = await syncBatch(t.baseUrl, phone.token, packets);
      expect(first.body.accepted).toBe(3);
      expect(again.body).toMatchObject({ accepted: 0, duplicates: 3, rejected: 0 });
      expect(again.body.results.map((r: any) => [r.status, r.seq, r.recordHash])).toEqual(
        first.body.results.map((r: any) => ['duplicate', r.seq, r.recordHash]),
      );
      const ids = packets.map((p) => p.payload.packetId);
      const lines = await ledgerLines(t, phone.siteId);
      expect(lines.filter((l) => ids.includes(l.data.packetId))).toHaveLength(3);
    });

    it("should answer a large batch as res.json would, in ASCII: JSON.stringify bytes (the note's dash escaped), charset, length, no ETag (a POST's answer is never conditional)", async () => {
      // answers of 100+ KiB, two at once: encoded into the pooled buffers of sendJson
      const batches = [0, 1].map(() =>
        Array.from({ length: 150 }, (_, i) =>
          signPacket(phone, { type: i % 2 === 0 ? 'check_in' : 'check_out' }),
        ),
      );
      const answers = await Promise.all(
        batches.map(async (packets) => {
          const res = await fetch(`${t.baseUrl}/api/v5/sync`, {
            method: 'POST',
            headers: {
              ...phoneHeaders(phone),
              authorization: `Bearer ${phone.token}`,
              'content-type': 'application/json',
            },
            body: JSON.stringify({ packets }),
          });
          return { res, bytes: Buffer.from(await res.arrayBuffer()) };
        }),
      );
      for (const [k, { res, bytes }] of answers.entries()) {
        expect(res.status).toBe(200);
        const body = JSON.parse(bytes.toString('utf8'));
        expect(body).toMatchObject({ accepted: 150, duplicates: 0, rejected: 0 });
        expect(body.results.map((r: any) => r.packetId)).toEqual(
          batches[k].map((p) => p.payload.packetId),
        );
        // the one character outside ASCII, the checkpoint note's "—", comes as \u2014
        expect(body.checkpoints[0].note).toContain('\n\u2014 ');
        expect(bytes.toString('latin1')).not.toMatch(/[\u0080-\uffff]/);
        expect(bytes.toString('latin1')).toBe(JSON.stringify(body).replace(/\u2014/g, '\\u2014'));
        expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
        expect(res.headers.get('content-length')).toBe(String(bytes.length));
        expect(res.headers.get('etag')).toBeNull();
      }
    });

    it(
      'should keep one chain with no gaps or forks under 20 concurrent syncs to one site',
      async () => {
        const phones = [
          phone,
          ...(await Promise.all(
            Array.from({ length: 3 }, () => enrollPhone(t.baseUrl, t.keys.admin, phone.siteId)),
          )),
        ];
        const before = (await verifyLedger(t, phone.siteId, t.keys.admin)).length;
        const batches = Array.from({ length: 20 }, (_, i) => {
          const p = phones[i % phones.length];
          return { p, packets: Array.from({ length: 10 }, () => signPacket(p)) };
        });
        const shared = batches[0].packets.slice(0, 3);
        // sent as a phone sends them: on MongoDB, 21 writers racing for one chain head through
        // the slow test server can pass a sync's insert deadline (503 store_unavailable, resent)
        const responses = await Promise.all([
          ...batches.map((b) => syncBatchAsPhone(t.baseUrl, b.p.token, b.packets)),
          syncBatchAsPhone(t.baseUrl, batches[0].p.token, shared),
        ]);
        expect(responses.map((r) => r.status)).toEqual(responses.map(() => 200));
        const statuses = responses.flatMap((r) => r.body.results.map((x: any) => x.status));
        expect(statuses.filter((s) => s !== 'accepted' && s !== 'duplicate')).toEqual([]);
        const accepted = responses.reduce((n, r) => n + r.body.accepted, 0);
        // a resent batch answers what its cut-short send stored as accepted or duplicate
        if (responses.every((r) => r.tries === 1)) expect(accepted).toBe(200);
        else expect(accepted).toBeLessThanOrEqual(200);
        const verdict = await verifyLedger(t, phone.siteId, t.keys.admin);
        expect(verdict).toMatchObject({ ok: true, length: before + 200 });
        const lines = await ledgerLines(t, phone.siteId);
        expect(lines.map((l) => l.seq)).toEqual(
          Array.from({ length: before + 200 }, (_, i) => i + 1),
        );
        // each punch sent is in the ledger once, and nothing else came in
        const key = (deviceId: string, packetId: string) => `${deviceId}/${packetId}`;
        const sent = batches.flatMap((b) =>
          b.packets.map((p) => key(p.payload.deviceId, p.payload.packetId)),
        );
        expect(
          lines
            .slice(before)
            .map((l) => key(l.data.deviceId, l.data.packetId))
            .sort(),
        ).toEqual(sent.sort());
      },
      slowOnMongo(120_000),
    );

    it('should reject bad packets with distinct reasons and a fraud event each', async () => {
      const other = await enrollPhone(t.baseUrl, t.keys.admin, phone.siteId);
      const tampered = signPacket(phone);
      tampered.payload.type = 'check_out';
      const wrongSecret = signPacket(phone, {}, Buffer.alloc(32, 7));
      const othersPacket = signPacket(other);
      const future = signPacket(phone, {
        timestamp: new Date(Date.now() + 3_600_000).toISOString(),
      });
      const old = signPacket(phone, {
        timestamp: new Date(Date.now() - 72 * 3_600_000).toISOString(),
      });
      const otherSite = signPacket(phone, { siteId: '0123456789abcdef01234567' });
      const malformed = signPacket(phone, { timestamp: '2026-02-30T10:00:00Z' });
      const good = signPacket(phone);
      const res = await syncBatch(t.baseUrl, phone.token, [
        tampered,
        wrongSecret,
        othersPacket,
        future,
        old,
        otherSite,
        malformed,
        good,
      ]);
      expect(res.status).toBe(200);
      expect(res.body.results.map((r: any) => r.reason ?? r.status)).toEqual([
        'invalid_signature',
        'invalid_signature',
        'device_mismatch',
        'timestamp_in_future',
        'timestamp_too_old',
        'site_not_allowed',
        'malformed_packet',
        'accepted',
      ]);
      expect(res.body).toMatchObject({ accepted: 1, rejected: 7 });
      const events = await fraudEvents(t, `deviceId=${phone.deviceId}`);
      for (const packet of [tampered, wrongSecret, othersPacket, future, old, otherSite]) {
        expect(events.some((e) => e.packetId === packet.payload.packetId)).toBe(true);
      }
      const future1 = await fraudEvents(t, `type=timestamp_in_future&deviceId=${phone.deviceId}`);
      expect(future1).toHaveLength(1);
      expect(future1[0]).toMatchObject({ workerId: phone.workerId, siteId: phone.siteId });
    });

    it("should refuse another device's token for a phone's packets", async () => {
      const other = await enrollPhone(t.baseUrl, t.keys.admin, phone.siteId);
      const res = await syncBatch(t.baseUrl, other.token, [signPacket(phone)]);
      expect(res.body.results[0]).toMatchObject({ status: 'rejected', reason: 'device_mismatch' });
      expect(await fraudEvents(t, `type=device_mismatch&deviceId=${other.deviceId}`)).toHaveLength(
        1,
      );
    });

    it('should refuse a packetId replayed with other content', async () => {
      const original = signPacket(phone);
      await syncBatch(t.baseUrl, phone.token, [original]);
      const forged = signPacket(phone, { packetId: original.payload.packetId, type: 'check_out' });
      const res = await syncBatch(t.baseUrl, phone.token, [forged]);
      expect(res.body.results[0]).toMatchObject({
        status: 'rejected',
        reason: 'packet_id_conflict',
      });
    });

    it('should answer 403 with a fraud event to an all-bad-signature batch, a bad token and a blocked device', async () => {
      const victim = await enrollPhone(t.baseUrl, t.keys.admin, phone.siteId);
      const forged = [
        signPacket(victim, {}, Buffer.alloc(32, 1)),
        signPacket(victim, {}, Buffer.alloc(32, 2)),
      ];
      const allBad = await syncBatch(t.baseUrl, victim.token, forged);
      expect(allBad.status).toBe(403);
      expect(allBad.body).toMatchObject({ statusCode: 403, code: 'invalid_signatures' });
      expect(
        await fraudEvents(t, `type=invalid_signature&deviceId=${victim.deviceId}`),
      ).toHaveLength(2);

      const [h, p] = victim.token.split('.');
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
      const forgedClaims = Buffer.from(JSON.stringify({ ...claims, siteIds: ['x'] })).toString(
        'base64url',
      );
      const badToken = await syncBatch(
        t.baseUrl,
        `${h}.${forgedClaims}.${victim.token.split('.')[2]}`,
        [signPacket(victim)],
      );
      expect(badToken.status).toBe(403);
      expect(badToken.body.code).toBe('invalid_token');
      const none = await syncBatch(t.baseUrl, 'not-a-token', [signPacket(victim)]);
      expect(none.status).toBe(403);
      const missing = await http(t.baseUrl, 'POST', '/api/v5/sync', { body: { packets: [] } });
      expect(missing.status).toBe(401);
      expect(missing.body.code).toBe('missing_token');
      expect((await fraudEvents(t, 'type=invalid_token')).length).toBeGreaterThanOrEqual(2);
      // the warn line names the type and count (a type ending in _token is no token to mask)
      const logged = t
        .logs()
        .split('\n')
        .filter((line) => line.includes('Fraud events recorded'))
        .flatMap((line) => (JSON.parse(line) as { fraud: unknown[] }).fraud);
      expect(logged).toContainEqual({ type: 'invalid_token', count: 1 });

      const block = await http(t.baseUrl, 'POST', `/api/v5/devices/${victim.deviceId}/block`, {
        key: t.keys.admin,
        body: { reason: 'phone reported stolen' },
      });
      expect(block.status).toBe(200);
      expect(block.body.isBlocked).toBe(true);
      const blocked = await syncBatch(t.baseUrl, victim.token, [signPacket(victim)]);
      expect(blocked.status).toBe(403);
      expect(blocked.body.code).toBe('device_blocked');
      expect(await fraudEvents(t, `type=device_blocked&deviceId=${victim.deviceId}`)).toHaveLength(
        1,
      );
      const unblock = await http(t.baseUrl, 'POST', `/api/v5/devices/${victim.deviceId}/unblock`, {
        key: t.keys.admin,
        body: { reason: 'found' },
      });
      expect(unblock.body.isBlocked).toBe(false);
      const detail = await http(t.baseUrl, 'GET', `/api/v5/devices/${victim.deviceId}`, {
        key: t.keys.admin,
      });
      expect(detail.body.events.map((e: any) => [e.action, e.reason])).toEqual([
        ['registered', undefined],
        ['blocked', 'phone reported stolen'],
        ['unblocked', 'found'],
      ]);
      expect(detail.body.events[1].actor).toMatch(/^admin:[0-9a-f]{12}$/);
      expect((await syncBatch(t.baseUrl, victim.token, [signPacket(victim)])).body.accepted).toBe(
        1,
      );
    });

    it('should refuse a token of another kind signed with the right key type', async () => {
      const { generateKeyPairSync } = await import('node:crypto');
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString(
        'base64url',
      );
      const body = Buffer.from(JSON.stringify({ deviceId: phone.deviceId })).toString('base64url');
      const sig = createSign('sha256')
        .update(`${header}.${body}`)
        .sign(privateKey)
        .toString('base64url');
      const res = await syncBatch(t.baseUrl, `${header}.${body}.${sig}`, [signPacket(phone)]);
      expect(res.status).toBe(403);
      expect(res.body.code).toBe('invalid_token');
    });

    it('should bound the batch size', async () => {
      const packets = Array.from({ length: 501 }, () => signPacket(phone));
      const res = await syncBatch(t.baseUrl, phone.token, packets);
      expect(res.status).toBe(413);
      expect(res.body.code).toBe('too_many_packets');
    });
  });

  describe('ledger', () => {
    itOnSqliteFile(
      'should sign a checkpoint after every batch, verifiable with the log key, and catch a wholesale rewrite',
      async () => {
        const phone = await enrollPhone(t.baseUrl, t.keys.admin);
        for (let i = 0; i < 3; i++) {
          await syncBatch(
            t.baseUrl,
            phone.token,
            Array.from({ length: 4 }, () => signPacket(phone)),
          );
        }
        const cps = await http(t.baseUrl, 'GET', `/api/v5/ledger/${phone.siteId}/checkpoints`, {
          key: t.keys.auditor,
        });
        expect(cps.body.map((c: any) => c.treeSize)).toEqual([4, 8, 12]);
        const keys = await http(t.baseUrl, 'GET', '/api/v5/tlog/keys');
        const active = keys.body.keys.find((k: any) => k.status === 'active');
        for (const c of cps.body) expect(checkpointSignedBy(c.note, active.publicKey)).toBe(true);

        // rewrite the whole chain with consistent hashes: only the checkpoints can tell
        withStoreFile(t.dataDir, (db) => {
          rewriteChain(db, phone.siteId, 1, (data) => ({ ...data, type: 'check_out' }));
        });
        expect(await verifyLedger(t, phone.siteId, t.keys.admin)).toMatchObject({
          ok: false,
          length: 12,
          brokenAtSeq: 4,
          reason: 'checkpoint_mismatch',
        });
      },
    );

    itOnSqliteFile(
      'should report the first broken seq after a row is edited in the SQLite file',
      async () => {
        const phone = await enrollPhone(t.baseUrl, t.keys.admin);
        await syncBatch(
          t.baseUrl,
          phone.token,
          Array.from({ length: 4 }, () => signPacket(phone)),
        );
        withStoreFile(t.dataDir, (db) => {
          expect(() =>
            db
              .prepare("UPDATE attendance_logs SET meta = '{}' WHERE site_id = ?")
              .run(phone.siteId),
          ).toThrow(/append-only/);
          db.exec('DROP TRIGGER IF EXISTS attendance_logs_append_only_update');
          const row = db
            .prepare('SELECT data FROM attendance_logs WHERE site_id = ? AND seq = 3')
            .get(phone.siteId) as { data: string };
          const edited = row.data.replace('"check_in"', '"check_out"');
          db.prepare('UPDATE attendance_logs SET data = ? WHERE site_id = ? AND seq = 3').run(
            edited,
            phone.siteId,
          );
        });
        expect(await verifyLedger(t, phone.siteId, t.keys.admin)).toMatchObject({
          ok: false,
          length: 2,
          brokenAtSeq: 3,
          reason: 'record_hash_mismatch',
        });
      },
    );

    it('should answer 404 for an unknown site and refuse the mobile role', async () => {
      const unknown = await http(
        t.baseUrl,
        'GET',
        '/api/v5/ledger/0123456789abcdef01234567/verify',
        {
          key: t.keys.admin,
        },
      );
      expect(unknown.status).toBe(404);
      const mobile = await http(
        t.baseUrl,
        'GET',
        '/api/v5/ledger/0123456789abcdef01234567/export',
        {
          key: t.keys.mobile,
        },
      );
      expect(mobile.status).toBe(403);
    });
  });

  it('should never log device secrets, offline tokens or enrollment codes', async () => {
    const worker = await http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name: 'Logs', geo: { lat: 1, lng: 1 }, radiusM: 100 },
    });
    const w = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'L', phone: '+91 90000 00009', siteIds: [worker.body.siteId] },
    });
    const code = w.body.enrollmentCode as string;
    const reg = await http(t.baseUrl, 'POST', '/api/v5/device/register', {
      body: { enrollmentCode: code, fingerprint: { os: 'a', model: 'b', simHash: '0123456789' } },
    });
    await syncBatch(t.baseUrl, reg.body.offlineToken, [
      { payload: { packetId: randomUUID() }, signature: 'x' },
    ]);
    const logs = t.logs();
    expect(logs).toContain('Worker device registered');
    expect(logs).not.toContain(reg.body.deviceSecret);
    expect(logs).not.toContain(reg.body.offlineToken);
    expect(logs).not.toContain(code);
  });
});
