/**
 * One-off timing of a device's trust history read with its tags checked (review M2): one
 * device with N weighing events in its 30-day window (tagged by the server, every tenth
 * reviewed) among 100,000 events of 1,000 devices, read through `weighingHistories` (each row
 * read and its tag checked) against the covered read of type and time it replaced (the old
 * WEIGHING_SQL, the newest 1,000 of all types), interleaved, medians of 200 rounds. The checked
 * read is bounded per type (WEIGHING_PER_TYPE, 100): the device's events are all of one type, so
 * at 1000 it reads 100 rows (and one empty seek of each other type).
 * `node -r @swc-node/register bench/fraud-weighing-tags-time.ts [events of the device]`
 * (default 30: a phone with a month of findings; 1000: a flood of one type).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { FraudEvent } from '../libs/fraud/src/domain/fraud-event';
import { WEIGHING_PER_TYPE } from '../libs/fraud/src/fraud.service';
import { FraudSeal } from '../libs/fraud/src/infrastructure/persistence/fraud-seal';
import { SqliteFraudEventRepository } from '../libs/fraud/src/infrastructure/persistence/sqlite/repositories/sqlite-fraud-event.repository';
import { median, now } from './support';

const perDevice = Number(process.argv[2] ?? 30);
const OLD_SQL = `SELECT type, at FROM fraud_events
  WHERE device_id = ? AND at >= ? AND at <= ? AND review_decision IS NOT 'dismissed'
    AND type <> 'device_blocked'
  ORDER BY at DESC, id DESC LIMIT 1000`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mdai-fraud-weighing-'));
  const store = new SqliteStore(join(dir, 'weighing.sqlite'));
  try {
    const seal = new FraudSeal(
      new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey }),
    );
    const repo = new SqliteFraudEventRepository(store, seal);
    const end = Date.UTC(2026, 2, 1);
    const hex = (i: number, p: string) => p + i.toString(16).padStart(24 - p.length, '0');
    const events: FraudEvent[] = [];
    for (let i = 0; i < 100_000; i++) {
      events.push({
        id: hex(i, 'e'),
        type: 'impossible_travel',
        deviceId: i < perDevice ? 'dev-target' : hex(i % 1000, 'd'),
        workerId: hex(i % 1000, 'w'),
        siteId: 'site-1',
        packetId: hex(i, 'p'),
        detail: '50 km in a minute',
        at: new Date(end - (i + 1) * 20_000),
      });
    }
    for (let i = 0; i < events.length; i += 10_000)
      await repo.recordAll(events.slice(i, i + 10_000));
    for (let i = 0; i < perDevice; i += 10) {
      await repo.addReview(events[i].id, {
        id: hex(i, 'r'),
        decision: 'confirmed',
        reason: 'seen on camera',
        by: 'admin:key-1',
        at: new Date(end),
      });
    }
    const from = new Date(end - 30 * 86_400_000);
    const to = new Date(end);
    const old = store.db.prepare(OLD_SQL).raw(true);
    const ours: number[] = [];
    const before: number[] = [];
    for (let r = 0; r < 200; r++) {
      const a = async () => {
        const t = now();
        const found = await repo.weighingHistories(['dev-target'], from, to, WEIGHING_PER_TYPE);
        ours.push(now() - t);
        if (found.get('dev-target')!.length !== Math.min(perDevice, WEIGHING_PER_TYPE))
          throw new Error('wrong count');
      };
      const b = () => {
        const t = now();
        old.all('dev-target', from.toISOString(), to.toISOString());
        before.push(now() - t);
      };
      if (r % 2) {
        b();
        await a();
      } else {
        await a();
        b();
      }
    }
    process.stdout.write(
      `${perDevice} events: checked ${(median(ours) * 1000).toFixed(1)} µs, covered ${(median(before) * 1000).toFixed(1)} µs\n`,
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
