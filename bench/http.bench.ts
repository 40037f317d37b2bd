/**
 * HTTP: a small authenticated GET (`GET /api/kiosks?limit=1` with an admin key, default log
 * level, so a request log line per request) on our API, against a bare Nest app answering a
 * small JSON route (bench/support/bare-nest.js). Both servers are up at once, each in its own
 * process; the same keep-alive client drives them in turn, interleaved rounds, medians.
 * Also the server's CPU per request, from /proc. `BENCH_BEFORE_DIR=<older checkout>` adds that
 * checkout's API to the same rounds.
 */
import { Agent, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BenchChild } from './support/child';
import { median, processCpuMs } from './support/proc';
import { now, printRows } from './support';

const ROUNDS = Number(process.env.HTTP_ROUNDS ?? 5);
const REQUESTS = Number(process.env.HTTP_REQUESTS ?? 3000);
const CONCURRENCY = 16;
const ADMIN_KEY = 'mdai_adm_benchbenchbenchbenchbench';

function get(url: string, headers: Record<string, string>, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

interface Rig {
  name: string;
  child: BenchChild;
  url: string;
  headers: Record<string, string>;
}

/** Drives one rig for REQUESTS requests; returns req/s and server CPU µs per request. */
async function drive(rig: Rig): Promise<{ rps: number; cpuUs: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let sent = 0;
  const cpu0 = processCpuMs(rig.child.proc.pid!);
  const t0 = now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (sent < REQUESTS) {
        sent++;
        const status = await get(rig.url, rig.headers, agent);
        if (status !== 200) throw new Error(`${rig.name} answered ${status}`);
      }
    }),
  );
  const ms = now() - t0;
  const cpuMs = processCpuMs(rig.child.proc.pid!) - cpu0;
  agent.destroy();
  return { rps: REQUESTS / (ms / 1000), cpuUs: (cpuMs * 1000) / REQUESTS };
}

export async function run(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-http-'));
  const beforeDataDir = mkdtempSync(join(tmpdir(), 'mdai-bench-http-before-'));
  const env = (dir: string) => ({
    DATA_DIR: dir,
    NODE_ENV: 'development',
    ADMIN_API_KEYS: ADMIN_KEY,
    // the limiter still counts every request (in this process: no REDIS_URL); it must not refuse
    REDIS_URL: '',
    RATE_LIMIT_PER_IP: '100000000',
    RATE_LIMIT_PER_CREDENTIAL: '100000000',
  });
  const ours = BenchChild.start('support/serve-api.ts', [], env(dataDir));
  const bare = BenchChild.start('support/bare-nest.js');
  const beforeDir = process.env.BENCH_BEFORE_DIR;
  const before = beforeDir
    ? BenchChild.startIn(beforeDir, 'support/serve-api.ts', [], env(beforeDataDir))
    : undefined;
  try {
    const rigs: Rig[] = [
      {
        name: 'ours',
        child: ours,
        url: `http://127.0.0.1:${await ours.expect('READY')}/api/kiosks?limit=1`,
        headers: { 'x-api-key': ADMIN_KEY },
      },
      {
        name: 'bare',
        child: bare,
        url: `http://127.0.0.1:${await bare.expect('READY')}/hello`,
        headers: {},
      },
    ];
    if (before) {
      rigs.push({
        name: 'before',
        child: before,
        url: `http://127.0.0.1:${await before.expect('READY')}/api/kiosks?limit=1`,
        headers: { 'x-api-key': ADMIN_KEY },
      });
    }
    for (const rig of rigs) await drive(rig); // warm-up
    const results: Record<string, { rps: number[]; cpuUs: number[] }> = Object.fromEntries(
      rigs.map((rig) => [rig.name, { rps: [] as number[], cpuUs: [] as number[] }]),
    );
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? rigs : [...rigs].reverse();
      for (const rig of order) {
        const r = await drive(rig);
        results[rig.name].rps.push(r.rps);
        results[rig.name].cpuUs.push(r.cpuUs);
      }
    }
    printRows(
      `HTTP (medians of ${ROUNDS} interleaved rounds of ${REQUESTS} requests, ${CONCURRENCY} keep-alive connections; ratio = ours / baseline)`,
      [
        {
          metric: 'authenticated GET /api/kiosks?limit=1 vs bare Nest GET /hello: throughput',
          ours: median(results.ours.rps),
          baseline: median(results.bare.rps),
          unit: 'req/s',
        },
        {
          metric: 'server CPU per request (lower is better)',
          ours: median(results.ours.cpuUs),
          baseline: median(results.bare.cpuUs),
          unit: 'µs',
        },
        ...(results.before
          ? [
              {
                metric: 'before (BENCH_BEFORE_DIR): throughput',
                ours: median(results.before.rps),
                baseline: median(results.bare.rps),
                unit: 'req/s',
              },
              {
                metric: 'before (BENCH_BEFORE_DIR): server CPU per request',
                ours: median(results.before.cpuUs),
                baseline: median(results.bare.cpuUs),
                unit: 'µs',
              },
            ]
          : []),
      ],
    );
  } finally {
    await Promise.all([ours.stop(), bare.stop(), before?.stop()]);
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(beforeDataDir, { recursive: true, force: true });
  }
}
