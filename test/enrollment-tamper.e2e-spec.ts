import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoStore, SqliteStore, Store } from '@app/persistence';
import { parseStoreMacKey, serializeStoreMacHistory, StoreMac } from '@app/tlog';
import { enrollmentBindingData, enrollmentCodeData } from '@app/workforce/domain/enrollment-code';
import { http, startTestApp, TestApp } from './support/test-app';
import { nextPhoneNumber } from './support/worker-client';

/**
 * Enrollment codes against someone who can write the database but holds no secret (the red
 * team's finding 1): a code's stored hash is a keyed MAC, and a tag binds it to its person and
 * expiry, so neither a code of the editor's own nor a worker's code moved to a thekedar
 * enrolls a phone.
 */
describe('enrollment codes changed in the database (e2e)', () => {
  let t: TestApp;
  let siteId: string;
  beforeAll(async () => {
    t = await startTestApp();
    const site = await http(t.baseUrl, 'POST', '/api/v5/sites', {
      key: t.keys.admin,
      body: { name: 'Tower E', geo: { lat: 28.6, lng: 77.2 }, radiusM: 150 },
    });
    siteId = site.body.siteId;
  });
  afterAll(async () => t.close());

  const register = (enrollmentCode: string, simHash: string) =>
    http(t.baseUrl, 'POST', '/api/v5/device/register', {
      body: { enrollmentCode, fingerprint: { os: 'Android 14', model: 'Redmi', simHash } },
    });

  async function newThekedar(): Promise<{ thekedarId: string; enrollmentCode: string }> {
    const res = await http(t.baseUrl, 'POST', '/api/v5/thekedars', {
      key: t.keys.admin,
      body: { name: 'Ramesh', phone: nextPhoneNumber() },
    });
    expect(res.status).toBe(201);
    return res.body;
  }

  async function newWorker(): Promise<{ workerId: string; enrollmentCode: string }> {
    const res = await http(t.baseUrl, 'POST', '/api/v5/workers', {
      key: t.keys.admin,
      body: { name: 'Sita Devi', phone: nextPhoneNumber(), siteIds: [siteId] },
    });
    expect(res.status).toBe(201);
    return res.body;
  }

  /** The person's stored code (SQLite rows, MongoDB's embedded `enrollment`) changed by `edit`. */
  async function editCode(
    kind: 'workers' | 'thekedars',
    personId: string,
    edit: { codeHash?: string; movedTo?: { kind: 'thekedars'; id: string } },
  ): Promise<void> {
    const store = t.app.get(Store);
    if (store instanceof MongoStore) {
      const from = store.connection.collection(kind);
      const doc = await from.findOne({ _id: personId as never });
      const enrollment = {
        ...doc!.enrollment,
        ...(edit.codeHash ? { codeHash: edit.codeHash } : {}),
      };
      if (edit.movedTo) {
        await from.updateOne({ _id: personId as never }, { $unset: { enrollment: '' } });
        await store.connection
          .collection(edit.movedTo.kind)
          .updateOne({ _id: edit.movedTo.id as never }, { $set: { enrollment } });
      } else {
        await from.updateOne({ _id: personId as never }, { $set: { enrollment } });
      }
      return;
    }
    const db = (store as SqliteStore).db;
    if (edit.codeHash)
      db.prepare('UPDATE enrollment_codes SET code_hash = ? WHERE person_id = ?').run(
        edit.codeHash,
        personId,
      );
    if (edit.movedTo) {
      db.prepare('DELETE FROM enrollment_codes WHERE person_id = ?').run(edit.movedTo.id);
      db.prepare(
        "UPDATE enrollment_codes SET person_kind = 'thekedar', person_id = ? WHERE person_id = ?",
      ).run(edit.movedTo.id, personId);
    }
  }

  it('should enroll no phone with a code the database editor chose', async () => {
    const thekedar = await newThekedar();
    // the hash as stored before the hashes were keyed: anyone could compute it
    const chosen = 'EEEE-FFFF-GGGG-HHHH';
    const plain = createHash('sha256').update('mdai-enrollment|EEEEFFFFGGGGHHHH').digest('hex');
    await editCode('thekedars', thekedar.thekedarId, { codeHash: plain });
    const res = await register(chosen, 'feedface0000e001');
    expect([res.status, res.body.code]).toEqual([403, 'invalid_enrollment_code']);
  });

  it("should enroll no thekedar's phone with a worker's code moved to the thekedar", async () => {
    const worker = await newWorker();
    const thekedar = await newThekedar();
    await editCode('workers', worker.workerId, {
      movedTo: { kind: 'thekedars', id: thekedar.thekedarId },
    });
    const res = await register(worker.enrollmentCode, 'feedface0000e002');
    expect([res.status, res.body.code]).toEqual([403, 'invalid_enrollment_code']);
    expect(t.logs()).toContain("ALARM: an enrollment code's tag does not verify");
    expect(t.logs()).not.toContain(worker.enrollmentCode);
  });

  it('should enroll no phone with a spent code set back to unused', async () => {
    const worker = await newWorker();
    expect((await register(worker.enrollmentCode, 'feedface0000e005')).status).toBe(201);
    const store = t.app.get(Store);
    if (store instanceof MongoStore)
      await store.connection
        .collection('workers')
        .updateOne(
          { _id: worker.workerId as never },
          { $unset: { 'enrollment.usedAt': '', 'enrollment.usedByDeviceId': '' } },
        );
    else
      (store as SqliteStore).db
        .prepare(
          'UPDATE enrollment_codes SET used_at = NULL, used_by_device_id = NULL WHERE person_id = ?',
        )
        .run(worker.workerId);
    const again = await register(worker.enrollmentCode, 'feedface0000e006');
    expect([again.status, again.body.code]).toEqual([403, 'invalid_enrollment_code']);
  });

  it('should still enroll with the codes the server issued', async () => {
    const worker = await newWorker();
    const thekedar = await newThekedar();
    expect((await register(worker.enrollmentCode, 'feedface0000e003')).status).toBe(201);
    // typed in lower case with spaces: the same code
    const typed = thekedar.enrollmentCode.toLowerCase().replace(/-/g, ' ');
    expect((await register(typed, 'feedface0000e004')).status).toBe(201);
  });
});

describe('enrollment codes across a store-MAC key rotation (e2e)', () => {
  const old = parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));
  const current = parseStoreMacKey('STORE_MAC_KEY', randomBytes(32).toString('base64'));
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-e2e-enroll-keys-'));
  const env = (key: typeof old) => ({
    DATA_DIR: dataDir,
    STORE_MAC_KEY: key.secret.toString('base64'),
  });

  it('should redeem a code issued under the old key until the restart, and no code keyed under it past the grace', async () => {
    const before = await startTestApp(env(old));
    let issued: { workerId: string; enrollmentCode: string };
    let thekedarId: string;
    try {
      const site = await http(before.baseUrl, 'POST', '/api/v5/sites', {
        key: before.keys.admin,
        body: { name: 'Tower K', geo: { lat: 28.6, lng: 77.2 }, radiusM: 150 },
      });
      issued = (
        await http(before.baseUrl, 'POST', '/api/v5/workers', {
          key: before.keys.admin,
          body: { name: 'Sita Devi', phone: nextPhoneNumber(), siteIds: [site.body.siteId] },
        })
      ).body;
      thekedarId = (
        await http(before.baseUrl, 'POST', '/api/v5/thekedars', {
          key: before.keys.admin,
          body: { name: 'Ramesh', phone: nextPhoneNumber() },
        })
      ).body.thekedarId;
    } finally {
      await before.close();
    }
    // retired an hour before the code was issued: the rotation stamped it, and the replica
    // went on issuing under the old key until it was restarted with the new one
    const retired = serializeStoreMacHistory([
      { ...old, retiredAt: new Date(Date.now() - 3_600_000) },
    ]);
    const t = await startTestApp({ ...env(current), STORE_MAC_RETIRED_KEYS: retired });
    try {
      const register = (enrollmentCode: string, simHash: string) =>
        http(t.baseUrl, 'POST', '/api/v5/device/register', {
          body: { enrollmentCode, fingerprint: { os: 'Android 14', model: 'Redmi', simHash } },
        });
      expect((await register(issued.enrollmentCode, 'feedface0000e101')).status).toBe(201);
      // the retired key leaked: a code minted under it now, for the thekedar, binding and all
      const leaked = new StoreMac({
        signingKey: generateKeyPairSync('ed25519').privateKey,
        storeMacKey: old,
      });
      const codeHash = leaked.mac('enrollment-code', enrollmentCodeData('KKKK-MMMM-NNNN-PPPP'));
      // issued (its expiry less the 7-day TTL) two days from now: past the retirement's grace
      const expiresAt = new Date(Date.now() + 9 * 24 * 3_600_000);
      const tag = leaked.mac(
        'enrollment-binding',
        enrollmentBindingData({
          codeHash,
          personKind: 'thekedar',
          personId: thekedarId,
          expiresAt,
        }),
      );
      const store = t.app.get(Store);
      if (store instanceof MongoStore)
        await store.connection
          .collection('thekedars')
          .updateOne(
            { _id: thekedarId as never },
            { $set: { enrollment: { codeHash, expiresAt, tag } } },
          );
      else
        (store as SqliteStore).db
          .prepare(
            "UPDATE enrollment_codes SET code_hash = ?, expires_at = ?, tag = ? WHERE person_kind = 'thekedar' AND person_id = ?",
          )
          .run(codeHash, expiresAt.toISOString(), tag, thekedarId);
      const minted = await register('KKKK-MMMM-NNNN-PPPP', 'feedface0000e102');
      expect([minted.status, minted.body.code]).toEqual([403, 'invalid_enrollment_code']);
      expect(t.logs()).toContain('ALARM: an enrollment code is keyed under a store-MAC key');
    } finally {
      await t.close();
    }
  });
});
