/**
 * Two ledger reads of one 500-packet sync batch, through the SQLite repository (the port the
 * sync calls, rows mapped to domain objects), at LOOKUP_LEDGER_LINKS links (10,000 by
 * default) in a temp file, each against a raw baseline on the same file:
 * - the fraud screen's "previous packet" of each of the batch's 500 packets
 *   (`findPreviousOfWorkers`) against one raw range read of the worker's rows over the
 *   batch's time span (a prepared SELECT on the same index, rows as they come), and the
 *   same answers as data only (`findPreviousDataOfWorkers`, what the sync's screen reads);
 * - the append of the same batch sent again (500 duplicates, `appendToChains`) against the
 *   append of a fresh 500-packet batch (the hashing, the inserts and the indexes).
 * Process CPU time per call, LOOKUP_ROUNDS interleaved rounds (default 30), medians.
 * Before/after: copy this file into an older checkout (`git archive`) and run it there too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '@app/persistence';
import { PendingLogEntry } from '@app/offline-sync/domain/attendance-log';
import { punchEntry } from '@app/offline-sync/testing/punch-entry';
import { SqliteAttendanceLogRepository } from '@app/offline-sync/infrastructure/persistence/sqlite/repositories/sqlite-attendance-log.repository';
import {
  PACKET_AT_MS,
  PACKET_WORKER,
} from '@app/offline-sync/infrastructure/persistence/sqlite/sqlite-ledger.migrations';
import { median } from './support/proc';
import { printRows } from './support';

const LINKS = Number(process.env.LOOKUP_LEDGER_LINKS ?? 10_000);
const ROUNDS = Number(process.env.LOOKUP_ROUNDS ?? 30);
const BATCH = 500;
const PEOPLE = 2_000;
const START = Date.parse('2026-01-01T00:00:00Z');

/** A packet entry as the sync hands it to the ledger. */
function entry(workerId: string, siteId: string, atMs: number): PendingLogEntry {
  const timestamp = new Date(atMs).toISOString();
  return punchEntry({ siteId, workerId, type: 'check_in', timestamp, deviceId: `d-${workerId}` });
}

/** A phone's batch: one worker, packets 400 ms apart, after the fill. */
function batchOf(workerId: string, fromMs: number): PendingLogEntry[] {
  return Array.from({ length: BATCH }, (_, i) => entry(workerId, 'bench-site', fromMs + i * 400));
}

function cpuMs<T>(fn: () => T): [number, T] {
  const start = process.cpuUsage();
  const out = fn();
  const used = process.cpuUsage(start);
  return [(used.user + used.system) / 1000, out];
}

async function cpuMsAsync<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const start = process.cpuUsage();
  const out = await fn();
  const used = process.cpuUsage(start);
  return [(used.user + used.system) / 1000, out];
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mdai-bench-lookups-'));
  const store = new SqliteStore(join(dir, 'ledger.sqlite'));
  try {
    const repo = new SqliteAttendanceLogRepository(store);
    const step = Math.floor((5 * 86_400_000) / LINKS);
    for (let i = 0; i < LINKS; i += 1000) {
      await repo.appendToChains(
        Array.from({ length: Math.min(1000, LINKS - i) }, (_, j) => {
          const n = i + j;
          return entry(`worker-${(n * 7919) % PEOPLE}`, `site-${n % 100}`, START + n * step);
        }),
      );
    }
    // the worker already has packets in the fill; the batch follows them
    const worker = 'worker-0';
    const sent = batchOf(worker, START + 5 * 86_400_000);
    await repo.appendToChains(sent);
    const keys = sent.map((e) => ({
      workerId: worker,
      at: new Date(e.data.timestamp as string),
      packetId: e.packetId,
    }));
    const range = store.db.prepare(
      `SELECT * FROM attendance_logs WHERE ${PACKET_WORKER} = ? AND ${PACKET_AT_MS} BETWEEN ? AND ?`,
    );
    const lo = keys[0].at.getTime() - 86_400_000;
    const hi = keys[keys.length - 1].at.getTime();
    const found = await repo.findPreviousOfWorkers(keys);
    if (found.filter((log) => log !== undefined).length !== BATCH)
      throw new Error('every packet of the batch should have a previous packet');

    const previous: number[] = [];
    const previousData: number[] = [];
    const rawRange: number[] = [];
    const duplicates: number[] = [];
    const fresh: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0;
      const measurePrevious = async () =>
        previous.push((await cpuMsAsync(() => repo.findPreviousOfWorkers(keys)))[0]);
      const measurePreviousData = async () =>
        previousData.push((await cpuMsAsync(() => repo.findPreviousDataOfWorkers(keys)))[0]);
      const measureRange = () => rawRange.push(cpuMs(() => range.all(worker, lo, hi))[0]);
      if (order) {
        await measurePrevious();
        await measurePreviousData();
        measureRange();
      } else {
        measureRange();
        await measurePreviousData();
        await measurePrevious();
      }
      const again = sent.map((e) => ({ ...e }));
      const next = batchOf(`worker-new-${round}`, START + 6 * 86_400_000);
      const measureDuplicates = async () => {
        const [ms, results] = await cpuMsAsync(() => repo.appendToChains(again));
        if (results.some((r) => r.status !== 'duplicate')) throw new Error('not all duplicates');
        duplicates.push(ms);
      };
      const measureFresh = async () =>
        fresh.push((await cpuMsAsync(() => repo.appendToChains(next)))[0]);
      if (order) {
        await measureDuplicates();
        await measureFresh();
      } else {
        await measureFresh();
        await measureDuplicates();
      }
    }
    printRows(
      `Ledger lookups of one ${BATCH}-packet batch at ${LINKS.toLocaleString('en')} links`,
      [
        {
          metric: `"previous packet" of each of ${BATCH} packets (CPU per call) vs one raw range read of the worker's rows`,
          ours: median(previous),
          baseline: median(rawRange),
          unit: 'ms',
        },
        {
          metric: `the same, data only (findPreviousDataOfWorkers, what the sync's fraud screen reads) vs the same raw range read`,
          ours: median(previousData),
          baseline: median(rawRange),
          unit: 'ms',
        },
        {
          metric: `the same batch sent again: append of ${BATCH} duplicates vs append of ${BATCH} new packets (CPU per call)`,
          ours: median(duplicates),
          baseline: median(fresh),
          unit: 'ms',
        },
      ],
    );
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
