import { randomBytes } from 'node:crypto';
import { connect, createServer, Server, Socket } from 'node:net';
import { retagStoreMac } from '@app/api/admin/keys-retag';
import { rotateLocalKeys } from '@app/api/config/key-rotation';
import { FraudEvent, FraudService } from '@app/fraud';
import { MongoStore, Store } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { ReplicaRegistryRepository } from '@app/tlog/infrastructure/persistence/replicas/replica-registry.repository';
import { PayrollCloseRepository } from '@app/timesheets/payroll-close/payroll-close.repository';
import { TestKiosk } from './support/kiosk';
import { createSite } from './support/timesheet-client';
import { ApiProcess, runScript, startApiProcess } from './support/processes';
import { dataDirApp, dropRetiredStoreMacKey, withStoreFile } from './support/tamper';
import {
  http,
  itOnMongo,
  itOnSqliteFile,
  mongoDatabaseUrl,
  secretsOf,
  slowOnMongo,
  storeSet,
} from './support/test-app';
import { enrollPhone, refreshToken } from './support/worker-client';

/**
 * `npm run keys:retag`: fraud events and their reviews carry the server's tag, and store no key
 * id, so once a retired STORE_MAC_KEY was dropped every row tagged under it read `tampered` for
 * good (the docs said to keep every such key forever). The command, run beside the server
 * after a rotation, tags them again under the current key, review chains in order, and never
 * re-tags a row that verifies under no held key. Here on the suite's store, the command a
 * process of its own as an operator runs it.
 */
const id = () => randomBytes(12).toString('hex');

describe('keys:retag (e2e)', () => {
  let replica: ApiProcess | undefined;
  // declared before the app's: the replica process is killed before the server and DATA_DIR go
  afterEach(async () => {
    await replica?.kill();
    replica = undefined;
  });
  const app = dataDirApp('retag', { TRUST_AUTO_BLOCK_FLOOR: '0' });
  /** A rotation of the store-MAC key (the old one retired) with the server stopped. */
  const rotateMac = () => app.restart((dir) => rotateLocalKeys(dir, ['mac'], new Date()));

  const get = (path: string) => http(app.t.baseUrl, 'GET', path, { key: app.t.keys.admin });
  const review = async (eventId: string, decision: string, reason: string) => {
    const res = await http(app.t.baseUrl, 'POST', `/api/v5/fraud/events/${eventId}/review`, {
      key: app.t.keys.admin,
      body: { decision, reason },
    });
    expect(res.status).toBe(201);
  };
  const flagged = async (): Promise<FraudEvent> =>
    (await app.t.app.get(FraudService).record({
      type: 'impossible_travel',
      deviceId: id(),
      workerId: id(),
      siteId: id(),
      packetId: id(),
      detail: '50 km in a minute',
    }))!;
  const detail = async (eventId: string) => {
    const res = await get(`/api/v5/fraud/events/${eventId}`);
    expect(res.status).toBe(200);
    return {
      integrity: res.body.integrity as string,
      reviews: (res.body.reviews as Array<{ integrity: string }>).map((r) => r.integrity),
    };
  };
  /** The server restarted with the retired store-MAC key `kid` dropped, as the docs allow. */
  const dropRetired = (kid: string) => app.restart((dir) => dropRetiredStoreMacKey(dir, kid));

  /**
   * Events and reviews under key A; a rotation to B (A retired) and a restart; a review under
   * B chained onto A's tags. Returns A's id and the events.
   */
  async function taggedUnderAThenRotated() {
    const t = await app.start();
    const a = t.app.get(StoreMac).kid;
    const [plain, chained, mixed] = [await flagged(), await flagged(), await flagged()];
    await review(chained.id, 'confirmed', 'seen on camera');
    await review(chained.id, 'dismissed', 'the camera was wrong');
    await review(mixed.id, 'confirmed', 'under a');
    // a worker phone, blocked and unblocked: its block state and events tagged under A
    const phone = await enrollPhone(t.baseUrl, t.keys.admin);
    for (const action of ['block', 'unblock']) {
      const res = await http(t.baseUrl, 'POST', `/api/v5/devices/${phone.deviceId}/${action}`, {
        key: t.keys.admin,
        body: { reason: `${action} under a` },
      });
      expect(res.status).toBe(200);
    }
    // a kiosk: its key and status tagged under A
    const kiosk = await TestKiosk.registered(t, `TEE-RETAG-${id()}`);
    expect((await rotateMac()).app.get(StoreMac).kid).not.toBe(a);
    await review(mixed.id, 'dismissed', 'under b');
    return { a, plain, chained, mixed, phone, kiosk };
  }

  it(
    'should keep events and review chains tagged under a retired key verified once it is dropped after keys:retag',
    async () => {
      const { a, plain, chained, mixed, phone, kiosk } = await taggedUnderAThenRotated();
      // beside the running server, as an operator runs it
      const run = await runScript('keys-retag', app.dataDir);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('fraud events: 3 read, 3 re-tagged under');
      expect(run.stdout).toContain('worker devices (block state and events): 1 read, 1 re-tagged');
      expect(run.stdout).toMatch(
        /kiosks \(key, status and events\): 1 read, 1 re-tagged under \S+ \(1 from /,
      );
      expect(run.stdout).toContain(
        `the oldest retired key ${a} can be removed from STORE_MAC_RETIRED_KEYS`,
      );
      // an enrollment code is not stored, so none is re-keyed: said, with until when
      expect(run.stdout).toMatch(
        /enrollment codes issued before it was retired may be keyed under it and stay redeemable until \S+Z while it is held/,
      );
      // idempotent: a second run finds everything under the current key
      const again = await runScript('keys-retag', app.dataDir);
      expect(again.code).toBe(0);
      expect(again.stdout).toContain('0 re-tagged under');

      await dropRetired(a);
      expect(await detail(plain.id)).toEqual({ integrity: 'verified', reviews: [] });
      expect(await detail(chained.id)).toEqual({
        integrity: 'verified',
        reviews: ['verified', 'verified'],
      });
      expect(await detail(mixed.id)).toEqual({
        integrity: 'verified',
        reviews: ['verified', 'verified'],
      });
      // the listing too, and a review chains onto the re-tagged history
      const listed = await get(`/api/v5/fraud/events?deviceId=${chained.deviceId}`);
      expect(listed.body[0].integrity).toBe('verified');
      await review(chained.id, 'confirmed', 'after the drop');
      expect((await detail(chained.id)).reviews).toEqual(['verified', 'verified', 'verified']);
      // the phone's block state and events verify under the current key: not read as blocked
      const device = await get(`/api/v5/devices/${phone.deviceId}`);
      expect(device.body).toMatchObject({ isBlocked: false, blockIntegrity: 'verified' });
      expect(device.body.events.map((e: { integrity: string }) => e.integrity)).toEqual([
        'verified',
        'verified',
        'verified',
      ]);
      const refreshed = await refreshToken(app.t.baseUrl, phone);
      expect(refreshed.body.code).toBeUndefined();
      expect(refreshed.status).toBeLessThan(300);
      // the kiosk's key and status too: not read as tampered (blocked)
      const kiosks = await get(`/api/kiosks?prefix=${kiosk.deviceId}`);
      expect(kiosks.body).toEqual([
        expect.objectContaining({
          device_id: kiosk.deviceId,
          status: 'active',
          integrity: 'verified',
        }),
      ]);
    },
    slowOnMongo(240_000),
  );

  it(
    "should re-tag a payroll close made under the retired key: after keys:retag and the key's drop its period's payroll answers 200 with the close (suspect under --except)",
    async () => {
      const t = await app.start();
      const a = t.app.get(StoreMac).kid;
      const { siteId } = await createSite(t.baseUrl, t.keys.admin, 'Asia/Kolkata');
      const period = { from: '2026-01-01', to: '2026-01-31' };
      const closed = await http(t.baseUrl, 'POST', `/api/v5/sites/${siteId}/payroll/closes`, {
        key: t.keys.admin,
        body: period,
      });
      expect(closed.status).toBe(201);
      expect((await rotateMac()).app.get(StoreMac).kid).not.toBe(a);
      const payroll = () =>
        get(`/api/v5/sites/${siteId}/payroll?from=${period.from}&to=${period.to}`);

      // a leaked A vouches for nothing: the close is listed suspect and left under A
      const suspect = await runScript('keys-retag', app.dataDir, ['--except', a]);
      expect(suspect.code).toBe(5);
      expect(suspect.stdout).toContain(
        'payroll closes (period, time, author and totals per worker): 1 read, 0 re-tagged',
      );
      expect(suspect.stdout).toContain(`  "${siteId}|${period.from}"`);

      const run = await runScript('keys-retag', app.dataDir);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).toContain(
        `payroll closes (period, time, author and totals per worker): 1 read, 1 re-tagged under ${app.t.app.get(StoreMac).kid} (1 from ${a})`,
      );
      // and the head of the site's chain of closes (else its payroll reads chain broken)
      expect(run.stdout).toContain(
        `payroll close heads (per site: the latest close's place and digest, and the digest of its closes' periods): 1 read, 1 re-tagged under ${app.t.app.get(StoreMac).kid} (1 from ${a})`,
      );
      // its periods digest with it (else the next read walks every close to make it again)
      const { head } = await app.t.app.get(PayrollCloseRepository).chain(siteId);
      expect(
        app.t.app
          .get(StoreMac)
          .kidOf(
            'payroll-close-periods',
            JSON.stringify([siteId, head!.seq, head!.digest, head!.periods]),
            head!.periodsTag ?? '',
          ),
      ).toBe(app.t.app.get(StoreMac).kid);

      await dropRetired(a);
      const paid = await payroll();
      expect(paid.status).toBe(200);
      expect(paid.body.closed).toEqual({
        ...period,
        at: closed.body.at,
        by: closed.body.by,
      });
      const listed = await get(`/api/v5/sites/${siteId}/payroll/closes`);
      expect(listed.body.closes.map((c: { integrity?: string }) => c.integrity)).not.toContain(
        'tampered',
      );
      expect(listed.body.chain).toBe('verified');
    },
    slowOnMongo(240_000),
  );

  it(
    'should leave a row tampered before the retag tampered, name it and exit non-zero; the genuine rows are re-tagged',
    async () => {
      const { a, plain, chained } = await taggedUnderAThenRotated();
      await storeSet(app.t, 'fraud_events', plain.id, {
        sqlite: { type: 'rapid_repeat' },
        mongo: { type: 'rapid_repeat' },
      });
      const run = await runScript('keys-retag', app.dataDir);
      expect(run.code).toBe(2);
      expect(run.stdout).toContain('1 tampered');
      expect(run.stdout).toContain(`  "${plain.id}"`);
      expect(run.stdout).not.toContain(chained.id);

      await dropRetired(a);
      expect((await detail(plain.id)).integrity).toBe('tampered');
      expect(await detail(chained.id)).toEqual({
        integrity: 'verified',
        reviews: ['verified', 'verified'],
      });
    },
    slowOnMongo(240_000),
  );
  it(
    'should refuse while a live replica tags under another store-MAC key (exit 4, nothing written), go on with --force, and no longer count a replica gone quiet',
    async () => {
      const a = (await app.start()).app.get(StoreMac).kid;
      const e = await flagged();
      // a replica of its own process, started on key A, left running through the rotation
      replica = await startApiProcess({
        DATA_DIR: app.dataDir,
        TRUST_AUTO_BLOCK_FLOOR: '0',
        STORE_MAC_HEARTBEAT_MS: '500',
      });
      const b = (await rotateMac()).app.get(StoreMac).kid;
      expect(b).not.toBe(a);

      // an admin sees every live replica's key id on /health (never the key)
      const health = await get('/health');
      expect(health.body.details.keys.storeMacKid).toBe(b);
      const seen = health.body.details.keys.storeMacReplicas as Array<Record<string, unknown>>;
      expect(seen.map((r) => [r.kid, r.self ?? false]).sort()).toEqual(
        [
          [a, false],
          [b, true],
        ].sort(),
      );
      expect(JSON.stringify(health.body)).not.toContain(secretsOf(app.dataDir).STORE_MAC_KEY);

      const refused = await runScript('keys-retag', app.dataDir);
      expect(refused.code).toBe(4);
      expect(refused.stdout).toContain(`tags under ${a}`);
      expect(refused.stdout).toContain('refused: 1 live replica(s)');
      expect(refused.stdout).not.toContain('fraud events:');

      // --force: the event is still under A (the refused run wrote nothing), re-tagged now
      const forced = await runScript('keys-retag', app.dataDir, ['--force']);
      expect(forced.code).toBe(0);
      expect(forced.stdout).toContain('--force: going on');
      expect(forced.stdout).toContain(`1 re-tagged under ${b} (1 from ${a})`);

      // the replica crashes (SIGKILL: its row stays); past 3 of its heartbeats it is not live
      await replica.kill();
      replica = undefined;
      await new Promise((resolve) => setTimeout(resolve, 3 * 500 + 500));
      const after = await runScript('keys-retag', app.dataDir);
      expect(after.code).toBe(0);
      expect(after.stdout).toContain('1 gone quiet (not counted)');
      expect(after.stdout).toContain('0 re-tagged under');
      expect((await detail(e.id)).integrity).toBe('verified');
    },
    slowOnMongo(240_000),
  );

  it(
    'should exit 4 when a replica starts under the old store-MAC key while it runs (checked again before the verdict), calling no retired key removable',
    async () => {
      const { a } = await taggedUnderAThenRotated();
      const fraud = app.t.app.get(FraudService);
      const registry = app.t.app.get(ReplicaRegistryRepository, { strict: false });
      // no replica under A at the start; one starts under A (its boot records it in the
      // registry) while the command re-tags the first page of fraud events
      const late = 'late-host:4242:0badc0de';
      const retagPage = fraud.retagPage.bind(fraud);
      const spy = jest.spyOn(fraud, 'retagPage').mockImplementationOnce(async (...args) => {
        const now = new Date();
        await registry.record({
          replicaId: late,
          host: 'late-host',
          holds: { storeMacKid: a },
          startedAt: now,
          seenAt: now,
          heartbeatMs: 60_000,
        });
        return retagPage(...args);
      });
      const lines: string[] = [];
      let code: number;
      try {
        code = await retagStoreMac(app.t.app, { except: [], force: false }, (l) => lines.push(l));
      } finally {
        spy.mockRestore();
      }
      const printed = lines.join('\n');
      expect(code).toBe(4);
      expect(printed).toContain(
        'replicas seen (live: a heartbeat within 3 of its STORE_MAC_HEARTBEAT_MS): 0 live',
      );
      expect(printed).toContain('fraud events: 3 read, 3 re-tagged under');
      expect(printed).toContain(`"${late}" on host "late-host" tags under ${a}`);
      expect(printed).toContain(
        'refused at the end: a replica started under another store-MAC key',
      );
      expect(printed).not.toContain('can be removed from STORE_MAC_RETIRED_KEYS');

      // that replica restarted on the current key (its row gone): a run again declares success
      await registry.remove(late);
      const again: string[] = [];
      expect(
        await retagStoreMac(app.t.app, { except: [], force: false }, (l) => again.push(l)),
      ).toBe(0);
      expect(again.join('\n')).toContain(
        `the oldest retired key ${a} can be removed from STORE_MAC_RETIRED_KEYS`,
      );
    },
    slowOnMongo(240_000),
  );

  it(
    'should not re-tag a row that verifies only under a key given to --except: listed as suspect, exit 5; the other retired key still vouches',
    async () => {
      // under A: plain, chained (reviews under A), mixed (a review under A, one under B), and
      // the phone's block state and its three events
      const { a, plain, chained, mixed, phone } = await taggedUnderAThenRotated();
      const underB = await flagged();
      const c = (await rotateMac()).app.get(StoreMac).kid;

      // what is not a key to except: the current one, one not held, none at all
      for (const args of [['--except', c], ['--except', 'ffffffffffffffff'], ['--except']]) {
        const bad = await runScript('keys-retag', app.dataDir, args);
        expect({ args, code: bad.code }).toEqual({ args, code: 64 });
        expect(bad.stdout).not.toContain('fraud events:');
      }

      const run = await runScript('keys-retag', app.dataDir, ['--except', a]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(5);
      expect(run.stdout).toContain(`not trusted (--except): ${a}`);
      expect(run.stdout).toMatch(/1 re-tagged under \w+ \(1 from \w+\)/);
      expect(run.stdout).toContain('0 tampered, 3 suspect');
      expect(run.stdout).toContain(`(3 under ${a})`);
      for (const e of [plain, chained, mixed]) expect(run.stdout).toContain(`  "${e.id}"`);
      expect(run.stdout).not.toContain(underB.id);
      // the phone's rows too: its state and events verify only under A, none re-tagged
      expect(run.stdout).toContain(
        'worker devices (block state and events): 1 read, 0 re-tagged under',
      );
      expect(run.stdout).toContain('0 with tampered rows, 4 suspect rows');
      expect(run.stdout).toContain(`suspect: 4 worker-device rows`);
      expect(run.stdout).toContain(`  "${phone.deviceId}": its block state`);
      expect(run.stdout).toContain(`  "${phone.deviceId}": its "unblocked" event`);
      expect(run.stdout).toContain(`4 suspect worker-device rows left under it (--except)`);

      // A dropped (it leaked): what only A vouched for reads tampered, B's row was re-tagged
      await dropRetired(a);
      expect((await detail(plain.id)).integrity).toBe('tampered');
      expect((await detail(mixed.id)).integrity).toBe('tampered');
      expect(await detail(underB.id)).toEqual({ integrity: 'verified', reviews: [] });
      // the phone's unblock was A's word alone: its state reads tampered, so blocked
      const device = await get(`/api/v5/devices/${phone.deviceId}`);
      expect(device.body).toMatchObject({ isBlocked: true, blockIntegrity: 'tampered' });
      expect(device.body.events.map((e: { integrity: string }) => e.integrity)).toEqual([
        'tampered',
        'tampered',
        'tampered',
      ]);
    },
    slowOnMongo(240_000),
  );

  itOnSqliteFile(
    'should list the kiosk event mark under a key given to --except as suspect with its number, never re-tag it (exit 5), and re-mark it under the current key at the next kiosk change',
    async () => {
      const t = await app.start();
      const a = t.app.get(StoreMac).kid;
      const kiosk = await TestKiosk.registered(t, `TEE-MARK-${id()}`);
      await rotateMac();
      const markRow = () =>
        withStoreFile(app.dataDir, (db) =>
          db.prepare('SELECT seq, tag FROM kiosk_event_mark').get(),
        ) as { seq: number; tag: string };
      const before = markRow();

      const run = await runScript('keys-retag', app.dataDir, ['--except', a]);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(5);
      expect(run.stdout).toContain(
        `suspect: the kiosk event mark (SQLite; seq ${before.seq}) verifies only under a key given to --except (${a}), its number as the numbering stands`,
      );
      expect(run.stdout).toContain(`  "${kiosk.deviceId}"`);
      expect(run.stdout).toContain(`cannot be removed yet: the kiosk event mark`);
      expect(markRow()).toEqual(before);

      // a kiosk change (once the kiosks were checked) writes the mark under the current key
      await TestKiosk.registered(app.t, `TEE-MARK-${id()}`);
      const again = await runScript('keys-retag', app.dataDir, ['--except', a]);
      expect(again.stdout).toContain(
        `kiosk event mark (SQLite; seq ${before.seq + 1}): under the current key`,
      );
    },
    120_000,
  );

  itOnMongo(
    'should count an event deleted between its read and its compare-and-set as deleted, never as re-tagged (MongoDB)',
    async () => {
      await app.start();
      const [gone, kept] = [await flagged(), await flagged()];
      const t = await rotateMac();
      const events = t.app.get<Store, MongoStore>(Store).connection.collection('fraud_events');
      // the command reaches MongoDB through a relay that holds its update of `gone` until the
      // event is deleted: the page was read with it, the compare-and-set then finds nothing
      let deleted = false;
      const relay = await mongoRelay(mongoDatabaseUrl(app.dataDir), async (message) => {
        if (deleted || !isUpdateOf(message, 'fraud_events', gone.id)) return;
        expect((await events.deleteOne({ _id: gone.id as never })).deletedCount).toBe(1);
        deleted = true;
      });
      try {
        const run = await runScript('keys-retag', app.dataDir, [], { DATABASE_URL: relay.url });
        expect(run.stderr).toBe('');
        expect(deleted).toBe(true);
        expect(run.code).toBe(0);
        expect(run.stdout).toMatch(/fraud events: 2 read, 1 re-tagged under \w+ \(1 from \w+\)/);
        expect(run.stdout).toContain('1 deleted meanwhile');
        expect((await detail(kept.id)).integrity).toBe('verified');
      } finally {
        await relay.close();
      }
    },
    slowOnMongo(240_000),
  );
});

/**
 * Whether a MongoDB wire message (OP_MSG) is an `update` command on `collection` naming `id`:
 * the body's first element is the command's name and its value the collection.
 */
function isUpdateOf(message: Buffer, collection: string, id: string): boolean {
  if (message.readInt32LE(12) !== 2013 || message[20] !== 0) return false;
  // header (16), flagBits (4), section kind (1), the body's length (4), the element's type (1)
  const name = Buffer.from(`update\0`);
  if (!message.subarray(26, 26 + name.length).equals(name)) return false;
  const value = 26 + name.length + 4;
  return (
    message.subarray(value, value + collection.length).toString() === collection &&
    message.includes(Buffer.from(id))
  );
}

/**
 * A TCP relay in front of the MongoDB of `url`: the client's messages, one whole wire message
 * at a time, each awaited through `onMessage` before it is passed on (the server's answers
 * pass as they come). Its `url` is the same database through the relay.
 */
async function mongoRelay(
  url: string,
  onMessage: (message: Buffer) => Promise<void>,
): Promise<{ url: string; close: () => Promise<void> }> {
  const target = new URL(url);
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 27017), target.hostname);
    sockets.add(client).add(upstream);
    upstream.pipe(client);
    let pending = Buffer.alloc(0);
    let chain = Promise.resolve();
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
        const message = pending.subarray(0, pending.readInt32LE(0));
        pending = pending.subarray(message.length);
        chain = chain.then(async () => {
          // a failed check is the test's to report (it sees what was done): pass the message on
          await onMessage(message).catch(() => undefined);
          upstream.write(message);
        });
      }
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relayed = new URL(url);
  relayed.hostname = '127.0.0.1';
  relayed.port = String((server.address() as { port: number }).port);
  return {
    url: relayed.toString(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
