/**
 * Vault audit sealing under a flood of refusals: READERS loops of auditor reads of one small
 * file (`GET /api/v5/vault/:id`, 200, audited, with its receipt) until READS are answered,
 * alone, and with anonymous requests (no key, or a wrong one: 401, audited) sent beside them
 * at FLOOD_RPS a second, open loop (as an attacker sends: not waiting for the answers). Every answer waits for its audit record to be sealed under a signed
 * checkpoint. Measured per rig: reads per second alone and under the flood and their median
 * latency (does a flood of refusals starve reads?), refusals per second, the server's CPU per
 * request (/proc, 10 ms ticks over a round), and checkpoints written per audit record (the
 * audit verify's `length` and `checkpointsChecked` before and after each round, outside the
 * timing). `BENCH_BEFORE_DIR=<older checkout>` (e.g. `git archive main` with a `node_modules`
 * link) runs that checkout's API in the same interleaved rounds as the baseline.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchChild } from './support/child';
import { call } from './support/http-call';
import { median, processCpuMs } from './support/proc';
import { now, percentile, printRows } from './support';

const ROUNDS = Number(process.env.VAULT_SEAL_ROUNDS ?? 5);
/** Reads a round, by READERS loops of them. */
const READS = Number(process.env.VAULT_SEAL_READS ?? 300);
const READERS = 4;
/** Anonymous requests a second beside the reads (open loop). */
const FLOOD_RPS = Number(process.env.VAULT_SEAL_FLOOD_RPS ?? 250);
const FLOOD_IN_FLIGHT = 500;
const ADMIN = 'mdai_adm_benchbenchbenchbenchbench';
const AUDITOR = 'mdai_aud_benchbenchbenchbenchbench';
const WRONG = 'mdai_aud_wrongwrongwrongwrongwrong';

interface Rig {
  name: string;
  child: BenchChild;
  base: string;
  fileId: string;
}

interface Round {
  readsPerS: number;
  readP50: number;
  refusalsPerS: number;
  cpuMsPerRequest: number;
  checkpointsPerRecord: number;
}

async function auditTotals(base: string, agent: Agent): Promise<{ records: number; cps: number }> {
  const r = await call(
    `${base}/api/v5/vault/audit/verify`,
    'GET',
    { 'x-api-key': AUDITOR },
    { agent },
  );
  const v = JSON.parse(r.text) as { ok: boolean; length: number; checkpointsChecked: number };
  if (r.status !== 200 || !v.ok) throw new Error(`audit verify failed: ${r.text}`);
  return { records: v.length, cps: v.checkpointsChecked };
}

/**
 * READERS loops of auditor reads until READS are answered, with anonymous requests (no key, or
 * a wrong one) sent beside them at `floodRps` a second, open loop (an attacker does not wait
 * for our answers; at most FLOOD_IN_FLIGHT at once, beyond which a send is skipped).
 */
async function drive(rig: Rig, floodRps: number): Promise<Round> {
  const agent = new Agent({ keepAlive: true, maxSockets: READERS + FLOOD_IN_FLIGHT });
  const before = await auditTotals(rig.base, agent);
  const url = `${rig.base}/api/v5/vault/${rig.fileId}`;
  const readMs: number[] = [];
  let reads = 0;
  let refusals = 0;
  let inFlight = 0;
  let sentFlood = 0;
  const flood: Array<Promise<void>> = [];
  let failure: Error | undefined;
  const cpu0 = processCpuMs(rig.child.proc.pid!);
  const t0 = now();
  const tick = setInterval(() => {
    const due = Math.floor(((now() - t0) / 1000) * floodRps) - sentFlood;
    for (let i = 0; i < due; i++) {
      sentFlood++;
      if (inFlight >= FLOOD_IN_FLIGHT) continue;
      inFlight++;
      const headers: Record<string, string> = { 'x-access-purpose': 'bench review' };
      if (sentFlood % 2 === 1) headers['x-api-key'] = WRONG;
      flood.push(
        call(url, 'GET', headers, { agent }).then(({ status }) => {
          inFlight--;
          if (status === 401) refusals++;
          else failure ??= new Error(`${rig.name} refused with ${status}, not 401`);
        }),
      );
    }
  }, 5);
  await Promise.all(
    Array.from({ length: READERS }, async () => {
      const headers = { 'x-access-purpose': 'bench review', 'x-api-key': AUDITOR };
      while (reads < READS) {
        reads++;
        const started = now();
        const { status } = await call(url, 'GET', headers, { agent });
        if (status !== 200) throw new Error(`${rig.name} read answered ${status}`);
        readMs.push(now() - started);
      }
    }),
  );
  const seconds = (now() - t0) / 1000;
  const cpuMs = processCpuMs(rig.child.proc.pid!) - cpu0;
  clearInterval(tick);
  const answered = refusals;
  await Promise.all(flood);
  if (failure) throw failure;
  const after = await auditTotals(rig.base, agent);
  agent.destroy();
  return {
    readsPerS: readMs.length / seconds,
    readP50: percentile(
      readMs.sort((a, b) => a - b),
      50,
    ),
    refusalsPerS: answered / seconds,
    cpuMsPerRequest: cpuMs / (readMs.length + answered),
    checkpointsPerRecord: (after.cps - before.cps) / (after.records - before.records),
  };
}

async function rigOf(name: string, child: BenchChild): Promise<Rig> {
  const base = `http://127.0.0.1:${await child.expect('READY')}`;
  const agent = new Agent({ keepAlive: false });
  const stored = await call(
    `${base}/api/v5/vault`,
    'POST',
    // bytes, not an image: the vault checks a JPEG's signature
    { 'x-api-key': ADMIN, 'content-type': 'application/octet-stream' },
    { agent, body: randomBytes(4096) },
  );
  if (stored.status !== 201) throw new Error(`${name}: upload answered ${stored.status}`);
  return { name, child, base, fileId: (JSON.parse(stored.text) as { fileId: string }).fileId };
}

export async function run(): Promise<void> {
  const env = (dir: string) => ({
    DATA_DIR: dir,
    NODE_ENV: 'development',
    LOG_LEVEL: 'warn',
    ADMIN_API_KEYS: ADMIN,
    AUDITOR_API_KEYS: AUDITOR,
    REDIS_URL: '',
    RATE_LIMIT_PER_IP: '100000000',
    RATE_LIMIT_PER_CREDENTIAL: '100000000',
  });
  const dirs = [
    mkdtempSync(join(tmpdir(), 'mdai-bench-seal-')),
    mkdtempSync(join(tmpdir(), 'mdai-bench-seal-before-')),
  ];
  const ours = BenchChild.start('support/serve-api.ts', [], env(dirs[0]));
  const beforeDir = process.env.BENCH_BEFORE_DIR;
  const before = beforeDir
    ? BenchChild.startIn(beforeDir, 'support/serve-api.ts', [], env(dirs[1]))
    : undefined;
  try {
    const rigs = [await rigOf('ours', ours), ...(before ? [await rigOf('before', before)] : [])];
    for (const rig of rigs) await drive(rig, FLOOD_RPS); // warm-up
    type Key = keyof Round;
    const results: Record<string, { flood: Round[]; alone: Round[] }> = Object.fromEntries(
      rigs.map((r) => [r.name, { flood: [], alone: [] }]),
    );
    for (let round = 0; round < ROUNDS; round++) {
      for (const rig of round % 2 ? [...rigs].reverse() : rigs) {
        results[rig.name].flood.push(await drive(rig, FLOOD_RPS));
        results[rig.name].alone.push(await drive(rig, 0));
      }
    }
    const med = (name: string, mode: 'flood' | 'alone', key: Key) =>
      results[name] ? median(results[name][mode].map((r) => r[key])) : undefined;
    const rows: Array<[string, string, 'flood' | 'alone', Key]> = [
      ['reads per second, alone', 'reads/s', 'alone', 'readsPerS'],
      ['reads per second, under the flood', 'reads/s', 'flood', 'readsPerS'],
      ['read latency under the flood, median (lower is better)', 'ms', 'flood', 'readP50'],
      ['refusals answered per second (the flood)', 'req/s', 'flood', 'refusalsPerS'],
      [
        'server CPU per request under the flood (lower is better)',
        'ms',
        'flood',
        'cpuMsPerRequest',
      ],
      [
        'checkpoints per audit record under the flood (lower is better)',
        '',
        'flood',
        'checkpointsPerRecord',
      ],
    ];
    printRows(
      `Vault audit sealing under a flood of refusals (${READERS} readers of a 4 KiB file until ${READS} reads, anonymous 401s sent beside them at ${FLOOD_RPS}/s, open loop, or none: "alone"; medians of ${ROUNDS} interleaved rounds; ours = this checkout, baseline = BENCH_BEFORE_DIR's API)`,
      rows.map(([metric, unit, mode, key]) => ({
        metric,
        unit,
        ours: med('ours', mode, key)!,
        baseline: before ? med('before', mode, key) : undefined,
      })),
    );
  } finally {
    await Promise.all([ours.stop(), before?.stop()]);
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  }
}
