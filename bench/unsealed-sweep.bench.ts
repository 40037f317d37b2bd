/**
 * The unsealed-tail sweep's checkpoint reads over UNSEALED_SWEEP_SITES logs (default 20,000),
 * each sealed once (a checkpoint signed by the server): what a sweep that finds nothing to seal
 * costs the tlog, in one process on a SQLite store. `before`: each log's latest checkpoint read
 * apart (`TransparencyLogService.latest`, as the sweep read them); `ours`: a page of 500 logs'
 * at once (`latestOfEach`). Both answer every log's size (checked). UNSEALED_SWEEP_ROUNDS
 * interleaved rounds (default 7; which side goes first alternates), medians. Every signature
 * was checked once before the rounds (both sides keep the answer per row), so the rounds time
 * the reads. The sites' heads (`siteHeadPages`) are the same on both sides and
 * left out. The set-up seals every log once: 20,000 seals take several minutes on a loaded
 * 2-core machine (UNSEALED_SWEEP_SITES=4000 about 40 s).
 *
 * Then the sites' heads on MongoDB (MONGODB_URI, else the MongoDB test server when this machine
 * has it: mongomock, whose every read scans, so only the counts carry over to a mongod): one walk
 * of UNSEALED_SWEEP_MONGO_SITES sites (default 20,000, one link each) in pages of 500, `ours`
 * as the sweep reads them (`siteHeadPages`: one aggregation, read off its cursor a page at a
 * time), `before` an aggregation a page (the pipeline with a `$limit` after its `$group`, which
 * grouped every site after the page's first). UNSEALED_SWEEP_STORE=sqlite or mongo runs one part.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoStore } from '@app/persistence';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { TransparencyLogService } from '@app/tlog';
import {
  MongoAttendanceLogRepository,
  siteHeadsPipeline,
} from '../libs/offline-sync/src/infrastructure/persistence/mongo/repositories/mongo-attendance-log.repository';
import {
  MongoTestServer,
  mongoTestServerAvailable,
  startMongoTestServer,
} from '../test/support/mongo-test-server';
import { sqliteTlog } from './support/tlog';
import { median, now, printRows } from './support';

const PAGE = 500;

async function apart(tlog: TransparencyLogService, origins: string[]): Promise<number> {
  let total = 0;
  for (const origin of origins) total += (await tlog.latest(origin))?.size ?? 0;
  return total;
}

async function paged(tlog: TransparencyLogService, origins: string[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < origins.length; i += PAGE) {
    const latest = await tlog.latestOfEach(origins.slice(i, i + PAGE));
    for (const checkpoint of latest.values()) total += checkpoint?.size ?? 0;
  }
  return total;
}

export async function run(): Promise<void> {
  const only = process.env.UNSEALED_SWEEP_STORE;
  if (only !== 'mongo') await checkpoints();
  if (only !== 'sqlite') await mongoHeads();
}

async function checkpoints(): Promise<void> {
  const sites = Number(process.env.UNSEALED_SWEEP_SITES ?? 20_000);
  const rounds = Number(process.env.UNSEALED_SWEEP_ROUNDS ?? 7);
  const dir = mkdtempSync(join(tmpdir(), 'mdai-bench-sweep-'));
  const store = new SqliteStore(join(dir, 'bench.sqlite'));
  try {
    const { tlog } = await sqliteTlog(store, dir);
    const origins = Array.from(
      { length: sites },
      (_, i) => `mdai.local/ledger/site-${String(i).padStart(6, '0')}`,
    );
    const hash = 'ab'.repeat(32);
    for (const [i, origin] of origins.entries())
      await tlog.seal(origin, 1 + (i % 3), async (from, to) => Array(to - from + 1).fill(hash), []);
    const expected = origins.reduce((sum, _, i) => sum + 1 + (i % 3), 0);
    // every row's signature checked once (each side keeps the answer until the row changes)
    if ((await apart(tlog, origins)) !== expected) throw new Error('the sizes read apart differ');
    const times = { ours: [] as number[], before: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      const sides = (['ours', 'before'] as const).slice();
      if (r % 2 === 1) sides.reverse();
      for (const side of sides) {
        const start = now();
        const total = await (side === 'ours' ? paged : apart)(tlog, origins);
        times[side].push(now() - start);
        if (total !== expected) throw new Error(`${side}: the sizes read differ`);
      }
    }
    const ours = median(times.ours);
    const before = median(times.before);
    printRows(`unsealed-tail sweep: the latest checkpoints of ${sites} logs (SQLite)`, [
      {
        metric: 'one sweep (median)',
        ours,
        baseline: before,
        unit: 'ms',
        note: '(lower is better)',
      },
      {
        metric: 'store reads per sweep',
        ours: Math.ceil(sites / PAGE),
        baseline: sites,
        unit: 'reads',
      },
    ]);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The sites' heads on MongoDB: one walk as the sweep reads it against an aggregation a page. */
async function mongoHeads(): Promise<void> {
  let server: MongoTestServer | undefined;
  let uri = process.env.MONGODB_URI;
  if (!uri) {
    if (!mongoTestServerAvailable()) {
      process.stdout.write(
        'unsealed-tail sweep on MongoDB: skipped (no MONGODB_URI, no test server)\n',
      );
      return;
    }
    server = await startMongoTestServer();
    uri = server.uri;
  }
  const sites = Number(process.env.UNSEALED_SWEEP_MONGO_SITES ?? 20_000);
  const rounds = Number(process.env.UNSEALED_SWEEP_ROUNDS ?? 7);
  const mongoose = await import('mongoose');
  const connection = mongoose.createConnection(uri, {
    dbName: `mdai_bench_sweep_${process.pid}`,
    monitorCommands: true,
  });
  await connection.asPromise();
  const store = new MongoStore(connection, true);
  let aggregates = 0;
  connection.getClient().on('commandStarted', (e) => {
    if (e.commandName === 'aggregate') aggregates++;
  });
  try {
    const repo = new MongoAttendanceLogRepository(store);
    await repo.onModuleInit(); // its indexes
    const logs = connection.db!.collection('attendance_logs');
    const siteIds = Array.from({ length: sites }, (_, i) => `site-${String(i).padStart(6, '0')}`);
    for (let i = 0; i < sites; i += 5000) {
      await logs.insertMany(
        siteIds.slice(i, i + 5000).map((siteId, j) => ({ siteId, seq: 1, packetId: `p-${i + j}` })),
      );
    }
    const walks = {
      ours: async () => {
        let count = 0;
        for await (const page of repo.siteHeadPages(PAGE)) count += page.length;
        return count;
      },
      before: async () => {
        let count = 0;
        for (let after = ''; ;) {
          const page = await logs
            .aggregate<{ _id: string }>([...siteHeadsPipeline(after), { $limit: PAGE }])
            .toArray();
          count += page.length;
          if (page.length < PAGE) return count;
          after = page[page.length - 1]._id;
        }
      },
    };
    const times = { ours: [] as number[], before: [] as number[] };
    const reads = { ours: 0, before: 0 };
    for (let r = 0; r < rounds; r++) {
      const sides = (['ours', 'before'] as const).slice();
      if (r % 2 === 1) sides.reverse();
      for (const side of sides) {
        const start = now();
        const from = aggregates;
        const count = await walks[side]();
        times[side].push(now() - start);
        reads[side] = aggregates - from;
        if (count !== sites) throw new Error(`${side}: ${count} sites walked of ${sites}`);
      }
    }
    // the sites each page's $group read: every one after the page's first
    let grouped = 0;
    for (let first = 0; first < sites; first += PAGE) grouped += sites - first;
    printRows(
      `unsealed-tail sweep: the heads of ${sites} sites (MongoDB${server ? ' test server' : ''})`,
      [
        {
          metric: 'one walk (median)',
          ours: median(times.ours),
          baseline: median(times.before),
          unit: 'ms',
          note: '(lower is better)',
        },
        {
          metric: 'aggregations per walk',
          ours: reads.ours,
          baseline: reads.before,
          unit: 'reads',
        },
        { metric: 'sites grouped per walk', ours: sites, baseline: grouped, unit: 'sites' },
      ],
    );
  } finally {
    await connection.dropDatabase().catch(() => undefined);
    await store.close();
    await server?.stop();
  }
}
