/**
 * Ledger verify and export at a large chain, against a raw walk that only hashes.
 *
 * One site's chain of VERIFY_LINKS links (default 1,000,000) is written straight into the
 * store (valid links, as `bench/sync` fills its ledgers), then one append through
 * LedgerService seals the whole backlog into the transparency log (setup, not timed). Then,
 * in interleaved rounds (medians):
 * - ours: `LedgerService.verify` (chain, Merkle tree, every checkpoint and the witness file)
 *   and `LedgerService.exportChain` (every NDJSON line, consumed);
 * - baseline: a raw walk of the same rows with better-sqlite3 `iterate`, rebuilding each
 *   record's hashed text from the stored JCS columns and hashing it (SHA-256), nothing else.
 * While ours runs, the longest event-loop stall is measured (`monitorEventLoopDelay`, max);
 * each side's process CPU time (user + system) is printed too, the steadier measure when the
 * machine is shared.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence/sqlite/sqlite-store';
import { LedgerService } from '@app/offline-sync';
import { EMPTY_HEAD, linkAfter } from '@app/offline-sync/domain/attendance-log';
import { AttendanceLogSqliteMapper } from '@app/offline-sync/infrastructure/persistence/sqlite/mappers/attendance-log.mapper';
import { LEDGER_SQLITE_MIGRATIONS } from '@app/offline-sync/infrastructure/persistence/sqlite/sqlite-ledger.migrations';
import { now, percentile, printRows } from './support';
import { startSyncBenchApi } from './support/crew';

function fillChain(path: string, siteId: string, links: number): void {
  const store = new SqliteStore(path);
  store.migrate('offline-sync.ledger', LEDGER_SQLITE_MIGRATIONS);
  store.db.pragma('synchronous = OFF');
  const insert = store.db.prepare(
    `INSERT INTO attendance_logs (site_id, seq, packet_id, prev_hash, record_hash, data, meta)
     VALUES (@site_id, @seq, @packet_id, @prev_hash, @record_hash, @data, @meta)`,
  );
  const meta = {
    isOfflineSync: true,
    syncTimestamp: new Date().toISOString(),
    deviceTrustScore: 80,
  };
  const start = Date.now() - 6 * 86_400_000;
  let head = EMPTY_HEAD;
  const fill = store.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const person = i % 5000;
      const data = {
        packetId: randomUUID(),
        workerId: `w-${person}`,
        siteId,
        deviceId: `d-${person}`,
        type: i % 2 === 0 ? 'check_in' : 'check_out',
        timestamp: new Date(start + i * 400).toISOString(),
        geo: { lat: 1.00001, lng: 1.00002, accuracyM: 5 },
        signature: 'ab'.repeat(32),
      } as const;
      const log = linkAfter(head, { siteId, packetId: data.packetId, data, meta });
      insert.run(AttendanceLogSqliteMapper.toPersistence(log));
      head = log;
    }
  });
  for (let i = 0; i < links; i += 20_000) fill(i, Math.min(links, i + 20_000));
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.db.close();
}

interface Rowish {
  site_id: string;
  seq: number;
  prev_hash: string;
  record_hash: string;
  data: string;
  meta: string;
}

/** The baseline: read every row of the chain in order and hash its record text. */
function rawWalk(store: SqliteStore, siteId: string): number {
  const rows = store.db
    .prepare<[string], Rowish>(
      'SELECT site_id, seq, prev_hash, record_hash, data, meta FROM attendance_logs WHERE site_id = ? ORDER BY seq',
    )
    .iterate(siteId);
  let n = 0;
  let prev = '0'.repeat(64);
  for (const r of rows) {
    const text = `{"data":${r.data},"meta":${r.meta},"prevHash":"${r.prev_hash}","seq":${r.seq},"siteId":${JSON.stringify(r.site_id)}}`;
    const hash = createHash('sha256').update(text).digest('hex');
    if (hash !== r.record_hash || r.prev_hash !== prev)
      throw new Error(`raw walk: bad link ${r.seq}`);
    prev = hash;
    n++;
  }
  return n;
}

/** Process CPU time (user + system) in ms: steadier than wall time on a shared machine. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

async function timed<T>(
  work: () => Promise<T>,
): Promise<{ ms: number; cpuMs: number; stallMs: number; value: T }> {
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const t0 = now();
  const c0 = cpuMs();
  const value = await work();
  const ms = now() - t0;
  const cpu = cpuMs() - c0;
  delay.disable();
  return { ms, cpuMs: cpu, stallMs: delay.max / 1e6, value };
}

function median(xs: number[]): number {
  return percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
}

export async function run(): Promise<void> {
  const links = Number(process.env.VERIFY_LINKS ?? 1_000_000);
  const rounds = Number(process.env.VERIFY_ROUNDS ?? 3);
  const siteId = 'bench-verify-site';
  const t0 = now();
  const api = await startSyncBenchApi('verify', (dataDir) =>
    fillChain(join(dataDir, 'mdai.sqlite'), siteId, links),
  );
  try {
    const ledger = api.app.get(LedgerService);
    // setup: one more link through the ledger seals the backlog into the tree
    await ledger.append([
      {
        siteId,
        packetId: randomUUID(),
        data: { kind: 'bench_marker', packetId: randomUUID() },
        meta: { isOfflineSync: false, syncTimestamp: new Date().toISOString() },
      },
    ]);
    process.stderr.write(
      `verify bench: ${links} links filled and sealed in ${((now() - t0) / 1000).toFixed(1)} s\n`,
    );
    const store = new SqliteStore(join(api.dataDir, 'mdai.sqlite'));
    const times = { verify: [] as number[], export: [] as number[], raw: [] as number[] };
    const cpu = { verify: [] as number[], export: [] as number[], raw: [] as number[] };
    const stalls = { verify: [] as number[], export: [] as number[] };
    const tasks = [
      async () => {
        const r = await timed(() => ledger.verify(siteId));
        if (!r.value.ok || r.value.length !== links + 1)
          throw new Error(`verify: ${JSON.stringify(r.value)}`);
        times.verify.push(r.ms);
        cpu.verify.push(r.cpuMs);
        stalls.verify.push(r.stallMs);
      },
      async () => {
        const r = await timed(async () => {
          let lines = 0;
          for await (const line of ledger.exportChain(siteId)) lines += line.length > 0 ? 1 : 0;
          return lines;
        });
        if (r.value !== links + 1) throw new Error(`export: ${r.value} lines`);
        times.export.push(r.ms);
        cpu.export.push(r.cpuMs);
        stalls.export.push(r.stallMs);
      },
      async () => {
        const r = await timed(async () => rawWalk(store, siteId));
        if (r.value !== links + 1) throw new Error('raw walk: wrong length');
        times.raw.push(r.ms);
        cpu.raw.push(r.cpuMs);
      },
    ];
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < tasks.length; k++) await tasks[(r + k) % tasks.length]();
    }
    store.db.close();
    const perLink = (ms: number) => (ms * 1000) / (links + 1);
    printRows(`Ledger verify and export (${links.toLocaleString('en')} links)`, [
      {
        metric: 'verify vs raw walk + SHA-256: µs per link (baseline / ours = speed ratio)',
        ours: perLink(median(times.verify)),
        baseline: perLink(median(times.raw)),
        unit: 'µs',
        note: `(speed ${(median(times.raw) / median(times.verify)).toFixed(2)}× the raw walk)`,
      },
      {
        metric: 'export vs raw walk + SHA-256: µs per link',
        ours: perLink(median(times.export)),
        baseline: perLink(median(times.raw)),
        unit: 'µs',
        note: `(speed ${(median(times.raw) / median(times.export)).toFixed(2)}× the raw walk)`,
      },
      {
        metric: 'verify vs raw walk: process CPU µs per link',
        ours: perLink(median(cpu.verify)),
        baseline: perLink(median(cpu.raw)),
        unit: 'µs',
        note: `(CPU speed ${(median(cpu.raw) / median(cpu.verify)).toFixed(2)}× the raw walk)`,
      },
      {
        metric: 'export vs raw walk: process CPU µs per link',
        ours: perLink(median(cpu.export)),
        baseline: perLink(median(cpu.raw)),
        unit: 'µs',
        note: `(CPU speed ${(median(cpu.raw) / median(cpu.export)).toFixed(2)}× the raw walk)`,
      },
      {
        metric: 'longest event-loop stall during verify (max of rounds)',
        ours: Math.max(...stalls.verify),
        unit: 'ms',
      },
      {
        metric: 'longest event-loop stall during export (max of rounds)',
        ours: Math.max(...stalls.export),
        unit: 'ms',
      },
    ]);
  } finally {
    await api.close();
  }
}
