/**
 * One-off timing of the trust history read of a `?trust=live` page of 100 devices on SQLite
 * (review M2 of the per-type read): 100,000 events of 1,000 devices (tagged by the server), the
 * page's 100 devices with 3 weighing events each of mixed types, one of them flooded with N more
 * of one type (argument, default 0). `weighingHistories` as the repository reads it (ours: one
 * statement a device, every weighing type's newest 100 joined by `UNION ALL`) against the read
 * before (`perType`: one statement run per device and type, 1,800 a page) and the newest 100
 * across the types with the per-type read where it fills (`across`, MongoDB's read: on SQLite
 * it takes the device index and steps over refused syncs and dismissed rows), each row read and
 * its tag checked, the same answer checked first; interleaved, medians of 100 rounds.
 * `node -r @swc-node/register bench/fraud-weighing-page.ts [flood]`.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { StoreMac } from '@app/tlog';
import { FraudEvent, WEIGHING_EVENT_TYPES } from '../libs/fraud/src/domain/fraud-event';
import { WEIGHING_PER_TYPE } from '../libs/fraud/src/fraud.service';
import { FraudSeal } from '../libs/fraud/src/infrastructure/persistence/fraud-seal';
import {
  SqliteFraudEventRepository,
  WEIGHING_SQL,
} from '../libs/fraud/src/infrastructure/persistence/sqlite/repositories/sqlite-fraud-event.repository';
import { median, now } from './support';

const flood = Number(process.argv[2] ?? 0);
/** The read before: WEIGHING_SQL once per type, a statement run each (18 a device). */
const PER_TYPE_SQL = WEIGHING_SQL.replace('@limit', String(WEIGHING_PER_TYPE));
/** The newest 100 across the types (MongoDB's first read), per type where it fills. */
const ACROSS_SQL = PER_TYPE_SQL.replace(
  'type = @type',
  `type IN (${WEIGHING_EVENT_TYPES.map((t) => `'${t}'`).join(',')})`,
);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mdai-fraud-weighing-page-'));
  const store = new SqliteStore(join(dir, 'weighing.sqlite'));
  try {
    const seal = new FraudSeal(
      new StoreMac({ signingKey: generateKeyPairSync('ed25519').privateKey }),
    );
    const repo = new SqliteFraudEventRepository(store, seal);
    const end = Date.UTC(2026, 2, 1);
    const hex = (i: number, p: string) => p + i.toString(16).padStart(24 - p.length, '0');
    const types = ['impossible_travel', 'invalid_signature', 'rapid_repeat'] as const;
    const events: FraudEvent[] = [];
    for (let i = 0; i < 100_000 + flood; i++) {
      events.push({
        id: hex(i, 'e'),
        type: i < flood ? 'malformed_packet' : types[i % 3],
        deviceId: hex(
          i < flood ? 0 : i - flood < 300 ? Math.floor((i - flood) / 3) : 100 + (i % 900),
          'd',
        ),
        workerId: hex(i % 1000, 'w'),
        siteId: 'site-1',
        packetId: hex(i, 'p'),
        detail: '50 km in a minute',
        at: new Date(end - (i + 1) * 20_000),
      });
    }
    for (let i = 0; i < events.length; i += 10_000)
      await repo.recordAll(events.slice(i, i + 10_000));
    const page = Array.from({ length: 100 }, (_, i) => hex(i, 'd'));
    const from = new Date(end - 30 * 86_400_000).toISOString();
    const to = new Date(end).toISOString();
    const across = store.db.prepare(ACROSS_SQL);
    const perType = store.db.prepare(PER_TYPE_SQL);
    const check = repo as unknown as { toEvent(row: unknown): FraudEvent };
    type Row = { at: string; id: string };
    const newestFirst = (a: Row, b: Row) =>
      a.at < b.at ? 1 : a.at > b.at ? -1 : a.id < b.id ? 1 : -1;
    const expected = await repo.weighingHistories(
      page,
      new Date(from),
      new Date(to),
      WEIGHING_PER_TYPE,
    );
    const same = (got: Map<string, string[]>) => {
      for (const [d, ws] of expected) {
        if (JSON.stringify(ws.map((w) => w.id)) !== JSON.stringify(got.get(d)))
          throw new Error(`differs for ${d}`);
      }
    };
    const ofTypes = (deviceId: string) =>
      WEIGHING_EVENT_TYPES.flatMap((type) => perType.all({ deviceId, type, from, to }) as Row[]);
    const read = (rowsOf: (deviceId: string) => Row[]) => () => {
      const found = new Map<string, string[]>();
      store.db.transaction(() => {
        for (const d of page) {
          const rows = rowsOf(d).sort(newestFirst);
          if (rows.length)
            found.set(
              d,
              rows.map((r) => check.toEvent(r).id),
            );
        }
      })();
      return found;
    };
    const variants: Record<string, () => Map<string, string[]>> = {
      perType: read(ofTypes),
      across: read((deviceId) => {
        const rows = across.all({ deviceId, from, to }) as Row[];
        return rows.length < WEIGHING_PER_TYPE ? rows : ofTypes(deviceId);
      }),
    };
    same(variants.perType());
    same(variants.across());
    const times: Record<string, number[]> = { repository: [], perType: [], across: [] };
    for (let r = 0; r < 100; r++) {
      const order =
        r % 2 ? ['repository', 'perType', 'across'] : ['across', 'perType', 'repository'];
      for (const name of order) {
        const t = now();
        if (name === 'repository')
          await repo.weighingHistories(page, new Date(from), new Date(to), WEIGHING_PER_TYPE);
        else variants[name]();
        times[name].push(now() - t);
      }
    }
    process.stdout.write(
      `flood ${flood}: ` +
        Object.entries(times)
          .map(([k, v]) => `${k} ${median(v).toFixed(2)} ms`)
          .join(', ') +
        '\n',
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
